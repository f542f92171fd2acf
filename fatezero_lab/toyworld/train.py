"""Train the toy model from scratch on the toy world, on a CPU: ``python -m fatezero_lab.toyworld.train``.

Stages (each resumable from checkpoints in the run folder; ``--stage all`` runs them in order):

1. ``vae``      AutoencoderKL on random toy frames: L = ||x - D(z)||² + β·KL(q(z|x) || N(0, I)), z ~ q(z|x).
2. ``latents``  render a pool of captioned frames once and cache their VAE posteriors (2× faster UNet training).
3. ``unet``     UNet + text encoder, ε-prediction with min-SNR-γ weighting (Hang et al. 2023):
                L = min(SNR(t), γ)/SNR(t) · ||ε - ε_θ(√ᾱ_t z₀ + √(1-ᾱ_t) ε, t, τ(caption))||², 10 % empty captions
                for classifier-free guidance, EMA of the weights.
4. ``decoder``  optional: fine-tune only the VAE decoder (encoder frozen, so the latents — and the UNet trained on
                them — stay valid): L = ||x − D(E(x))||², sharper textures for a higher round-trip PSNR.
5. ``export``   assemble a ``StableDiffusionPipeline`` from the EMA weights and save it (fp16 safetensors) into the
                package (``fatezero_lab/toyworld/weights/``) or ``--export-to``.

``--quick`` shrinks everything to a few steps of a tiny model (used by the test suite).

Stages 1, 3 and 4 run through one skeleton (:class:`Stage`): load the stage's checkpoint, resume, fit the step count
to a time budget, train, checkpoint and log; a stage stopped by ``--minutes`` raises :class:`StageStopped`, which
``main`` turns into exit code 0 (run the same command again to resume).

On a GPU machine: ``--device cuda --workers 14`` (frames rendered by 14 processes) and ``--vae-minutes`` /
``--unet-minutes`` / ``--decoder-minutes`` to fit each stage's step count to a time budget
(``scripts/train_gpu.sh``: the recipe of the GPU-trained models measured in ``docs/gpu_training.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import world
from ..image_metrics import psnr
from ..processors import AttentionControl, attention_control, explicit_attention
from ..prompts import word_spans
from .model import ToyModelConfig, assemble_pipeline, build_scheduler, build_text_encoder, build_tokenizer, \
    build_unet, build_vae, save_pipeline

PACKAGE_WEIGHTS = Path(__file__).parent / "weights"
# --quick: a few steps of a tiny model (the test suite's smoke runs)
QUICK_TRAIN = dict(vae_steps=2, vae_batch=2, pool=16, unet_steps=2, unet_batch=4, warmup=1, ckpt_every=1)
QUICK_MODEL = dict(vae_channels=(32, 32, 32), unet_channels=(32, 32, 32), text_dim=32, heads=2, transformer_depth=1)


@dataclasses.dataclass
class TrainConfig:
    """Every knob of the toy training run (recorded in ``run/train_config.json``)."""

    run: str = "runs/toy"  # folder for checkpoints, caches and the log
    seed: int = 0  # seeds data, initialisation and noise
    threads: int = 2  # torch CPU threads
    device: str = "cpu"  # where the networks train: "cpu", or "cuda" / "cuda:N" on a GPU machine
    workers: int = 0  # processes that render toy frames (0 = render in the training process: reproducible, resumable)
    vae_steps: int = 1200  # AutoencoderKL optimisation steps
    vae_batch: int = 16  # frames per VAE step
    vae_lr: float = 1e-3  # AdamW learning rate (cosine decay to 5 %)
    vae_kl: float = 1e-6  # β, weight of the KL term
    pool: int = 40_000  # captioned frames rendered and encoded once for UNet training
    two_object_fraction: float = 0.5  # share of two-object scenes in the pool (words must bind to places)
    unet_steps: int = 3500  # UNet + text encoder optimisation steps
    decoder_steps: int = 0  # VAE-decoder fine-tuning steps after the UNet (0 = skip; resumable, can grow later)
    decoder_lr: float = 3e-4  # AdamW learning rate of the decoder fine-tuning (cosine decay to 5 %)
    unet_batch: int = 32  # latents per UNet step
    unet_lr: float = 1e-3  # AdamW learning rate (warm-up, then constant until the last 20 %, then linear decay)
    warmup: int = 200  # warm-up steps
    empty_caption: float = 0.1  # caption dropout for classifier-free guidance
    min_snr_gamma: float = 5.0  # γ of min-SNR loss weighting (0 = plain MSE)
    loc_weight: float = 0.05  # λ of the cross-attention localisation loss (0 = off; see localisation_loss)
    cover_weight: float = 0.0  # λ of the coverage loss: a word's map spread over its whole region (0 = off;
    #   see coverage_loss — the shipped maps sit on the object's core, and replayed they draw a smaller object)
    cover_words: str = "objects"  # words the coverage loss scores: "objects" (colour and shape words, kind 1) or
    #   "all" (the background word too, whose region is the whole background); both darken the edits' background
    #   (docs/toy_edit_quality.md section 10)
    loc_min_side: int = 8  # the loss applies to cross-attention layers whose query grid is at least this wide
    loc_max_t: int = 1000  # the localisation/binding losses apply to samples with timestep t below this (1000 = all)
    bind_weight: float = 0.0  # λ of the pixel-side binding loss (0 = off; see binding_loss)
    ema: float = 0.999  # EMA decay of UNet/text-encoder weights
    ckpt_every: int = 250  # steps between checkpoints
    minutes: float = 0.0  # stop the current stage after this many minutes (0 = no limit); resume later
    vae_minutes: float = 0.0  # > 0: fit the VAE's step count to about this long (speed timed over steps 10-60)
    unet_minutes: float = 0.0  # > 0: likewise for the UNet stage (the learning-rate schedule follows the fitted count)
    decoder_minutes: float = 0.0  # > 0: likewise for the decoder fine-tuning (which then runs even if decoder_steps=0)
    extend: bool = False  # resume a time-fitted stage past its fitted count, to its *_steps (the LR schedule restarts)
    export_to: str = ""  # where `export` writes the pipeline (default: inside the package)
    init_from: str = ""  # an exported toy pipeline folder: fine-tune it (its VAE is kept, the UNet starts from it)
    fp16_export: bool = True  # store the exported weights in fp16 (halves the size; loads as fp32 on CPU)
    # --- toy model v2 (docs/toy_edit_quality.md section 12; scripts/train_v2.sh) ---
    model: str = ""  # JSON overrides of ToyModelConfig, e.g. '{"transformer_depth": 1, "lowest_attention": false}'
    vae_from: str = ""  # an exported toy pipeline whose VAE (and latent scaling) is used as it is: no VAE stage;
    #   the UNet and text encoder train from scratch, with that pipeline's tokenizer
    clip_frames: int = 1  # a training frame is a random frame of a clip this long: 1 = a still frame (the shipped
    #   recipe); 8 = frames of moving clips, with the pan offsets and lighting drift the edited clips have
    pan_fraction: float = 0.5  # with clip_frames > 1: share of those clips filmed by a panning camera
    drift_fraction: float = 0.5  # with clip_frames > 1: share with lighting drift
    radius_min: float = 0.0  # object radii drawn from [radius_min, radius_max] pixels (64-px frame) for every caption,
    radius_max: float = 0.0  #   one object or two (0, 0 = the world's default: 7-13, 7-11 beside another object)
    outside_weight: float = 0.0  # λ of the outside penalty: an object word's map off its object (see outside_loss)
    ckpt_minutes: float = 0.0  # > 0: also save a checkpoint whenever this many minutes passed since the last one
    log_every: int = 0  # > 0: a progress line (step, losses, samples/s) in the log every this many steps
    resume_from: str = ""  # a compact resume point (--stage resume-point): a run folder without a UNet checkpoint
    #   starts from its EMA weights at its step, with a fresh optimiser (see seed_from_resume_point)
    resume_warmup: int = 100  # warm-up steps of that fresh optimiser (the LR schedule continues at the step)

    def __post_init__(self):
        if self.decoder_steps < 0:
            raise ValueError(f"decoder_steps must be >= 0, got {self.decoder_steps}")
        for name in ("vae_steps", "vae_batch", "pool", "unet_steps", "unet_batch", "ckpt_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("loc_weight", "cover_weight", "bind_weight", "outside_weight", "ckpt_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.cover_words not in ("objects", "all"):
            raise ValueError(f"cover_words must be 'objects' or 'all', got {self.cover_words!r}")
        if not 0 < self.loc_max_t <= 1000:
            raise ValueError(f"loc_max_t must be in (0, 1000], got {self.loc_max_t}")
        if not 0 <= self.empty_caption < 1:
            raise ValueError(f"empty_caption must be in [0, 1), got {self.empty_caption}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.clip_frames < 1 or self.log_every < 0 or self.resume_warmup < 1:
            raise ValueError(f"clip_frames and resume_warmup must be >= 1 and log_every >= 0, got {self.clip_frames}, "
                             f"{self.resume_warmup}, {self.log_every}")
        for name in ("pan_fraction", "drift_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.radius_max and not 0 < self.radius_min <= self.radius_max:
            raise ValueError(f"radius range must satisfy 0 < radius_min <= radius_max (or both 0 for the world's "
                             f"default), got {self.radius_min}, {self.radius_max}")
        if self.model:
            try:
                extra = set(json.loads(self.model)) - {f.name for f in dataclasses.fields(ToyModelConfig)}
            except (ValueError, TypeError) as err:
                raise ValueError(f"model must be a JSON object of ToyModelConfig fields, got {self.model!r}") from err
            if extra:
                raise ValueError(f"model names unknown ToyModelConfig field(s) {sorted(extra)}")
        if self.vae_from and not (Path(self.vae_from) / "toy_model.json").is_file():
            raise ValueError(f"vae_from={self.vae_from!r} is not an exported toy pipeline folder (no toy_model.json)")
        if self.resume_from and not (Path(self.resume_from) / "resume.json").is_file():
            raise ValueError(f"resume_from={self.resume_from!r} has no resume.json: write one with --stage "
                             "resume-point --export-to FOLDER")
        for name in ("minutes", "vae_minutes", "unet_minutes", "decoder_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.init_from and not (Path(self.init_from) / "toy_model.json").is_file():
            raise ValueError(f"init_from={self.init_from!r} is not an exported toy pipeline folder (no toy_model.json)")
        if self.device != "cpu" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} but torch sees no CUDA GPU (torch {torch.__version__}); "
                             "use device='cpu'")


class StageStopped(RuntimeError):
    """A stage ran past ``--minutes``: its checkpoint is saved; run the same command again to resume."""


# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------
def random_frame(rng: np.random.Generator, size: int, two_object_fraction: float,
                 with_masks: bool = False, cfg: "TrainConfig | None" = None):
    """One random captioned frame: a one-frame clip with random scene, appearance, pan offset and lighting — or,
    with ``cfg.clip_frames > 1`` or a radius range, a random frame of a random clip of ``cfg``'s recipe (any motion;
    a panning camera and lighting drift with ``cfg.pan_fraction`` / ``cfg.drift_fraction``; radii from
    ``[cfg.radius_min, cfg.radius_max]`` whatever the caption).

    Returns (frame, caption) or, ``with_masks``, (frame, caption, object masks (objects, H, W)).
    """
    n_obj = 2 if rng.random() < two_object_fraction else 1
    if cfg is None or (cfg.clip_frames == 1 and not cfg.radius_max):  # the shipped recipe: still frames
        spec = world.random_spec(int(rng.integers(0, 2**31 - 1)), n_objects=n_obj, frames=1, size=size,
                                 motion="static")
        clip = world.render(spec)
    else:
        seed = int(rng.integers(0, 2**31 - 1))
        motion = str(rng.choice(world.MOTIONS)) if cfg.clip_frames > 1 else "static"
        camera = "pan" if rng.random() < cfg.pan_fraction else "static"
        lighting = "drift" if rng.random() < cfg.drift_fraction else "constant"
        radius = (cfg.radius_min, cfg.radius_max) if cfg.radius_max else None
        spec = world.random_spec(seed, n_objects=n_obj, frames=cfg.clip_frames, size=size, motion=motion,
                                 camera=camera, lighting=lighting, radius_range=radius)
        clip = world.render(spec, only=int(rng.integers(0, cfg.clip_frames)))
    return (clip.frames[0], spec.caption, clip.masks[0]) if with_masks else (clip.frames[0], spec.caption)


class _RandomFrames(torch.utils.data.IterableDataset):
    """Endless random captioned frames for DataLoader worker processes (worker w draws from seed ``(*seed, w)``)."""

    def __init__(self, seed: tuple, size: int, two_object_fraction: float, cfg: "TrainConfig | None" = None):
        super().__init__()
        self.seed, self.size, self.two_object_fraction, self.cfg = seed, size, two_object_fraction, cfg

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([*self.seed, info.id if info is not None else 0])
        while True:
            frame, caption, masks = random_frame(rng, self.size, self.two_object_fraction, with_masks=True,
                                                 cfg=self.cfg)
            padded = np.zeros((2, self.size, self.size), np.float32)  # (2, H, W): one- and two-object scenes alike
            padded[: len(masks)] = masks
            yield np.asarray(frame, np.float32), caption, padded


def frame_batches(cfg: "TrainConfig", size: int, batch: int, two_object_fraction: float,
                  rng: np.random.Generator, seed: tuple):
    """Endless batches ``(frames (B, H, W, 3) in [0, 1], captions, masks (B, 2, H, W))`` of random toy frames.

    ``cfg.workers == 0``: rendered in this process from ``rng`` (whose state goes into the checkpoint, so a resumed
    run continues the same stream). ``cfg.workers > 0``: rendered by that many DataLoader processes seeded from
    ``seed`` (for a GPU, where one process cannot render frames as fast as the networks eat them).
    """
    if cfg.workers == 0:
        while True:
            items = [random_frame(rng, size, two_object_fraction, with_masks=True, cfg=cfg) for _ in range(batch)]
            masks = np.zeros((batch, 2, size, size), np.float32)
            for i, (_, _, m) in enumerate(items):
                masks[i, : len(m)] = m
            yield np.stack([f for f, _, _ in items]), [c for _, c, _ in items], masks
    loader = torch.utils.data.DataLoader(_RandomFrames(seed, size, two_object_fraction, cfg), batch_size=batch,
                                         num_workers=cfg.workers, prefetch_factor=4)
    for frames, captions, masks in loader:
        yield frames.numpy(), list(captions), masks.numpy()


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) in [0, 1] -> (N, 3, H, W) in [-1, 1], the VAE's input range."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2) * 2 - 1


def held_out_frames(n: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(12345)
    return np.stack([random_frame(rng, size, 0.5)[0] for _ in range(n)])


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints and the log
# ---------------------------------------------------------------------------------------------------------------------
def _save(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a killed run never leaves half a checkpoint


def _load(path: Path):
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


def _resume_total(state: dict, steps: int, extend: bool) -> int:
    """A resumed stage's step count: the one fitted to its time budget (if it was), else ``steps``; ``extend``
    trains a fitted stage on to ``steps``."""
    fitted = state.get("fitted_total")
    return steps if (fitted is None or extend) else fitted


def _check_trained(state, stage: str, step: int, total: int, log) -> None:
    """``--stage export`` trains nothing: it needs the stage's checkpoint and says if it stopped early."""
    if state is None:
        raise FileNotFoundError(f"no {stage} checkpoint in the run folder: train first (--stage all)")
    if step < total:
        log(f"{stage}: exporting the checkpoint at step {step} of {total}")


class Logger:
    def __init__(self, run: Path):
        self.file = open(run / "log.txt", "a")

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        tqdm.write(line)
        self.file.write(line + "\n")
        self.file.flush()


# ---------------------------------------------------------------------------------------------------------------------
# The stage skeleton (stages 1, 3 and 4)
# ---------------------------------------------------------------------------------------------------------------------
class _StepFit:
    """Fits a stage's step count to a time budget: times steps 10..60, then
    total = 60 + (budget − time spent so far) / (seconds per step). Inactive when ``minutes`` is 0 or on resume."""

    PROBE = (10, 60)

    def __init__(self, minutes: float, total: int, step: int, name: str, log: "Logger"):
        self.on = minutes > 0 and step < self.PROBE[0]
        self.minutes, self.total, self.name, self.log = minutes, total, name, log
        self.t_stage, self.t_probe = time.time(), None

    def __call__(self, step: int) -> int:
        """Call after each step; returns the (possibly fitted) total step count."""
        if self.on and step == self.PROBE[0]:
            self.t_probe = time.time()
        elif self.on and step == self.PROBE[1]:
            per_step = (time.time() - self.t_probe) / (self.PROBE[1] - self.PROBE[0])
            left = self.minutes * 60 - (time.time() - self.t_stage)
            self.total, self.on = self.PROBE[1] + 1 + max(0, int(left / per_step)), False
            self.log(f"{self.name}: {per_step * 1000:.1f} ms/step -> {self.total} steps fit in {self.minutes} min")
        return self.total


class Stage:
    """One trained stage: load its checkpoint ``<run>/<name>.pt`` → resume → fit the step count to ``minutes`` →
    train, with a checkpoint and a log line every ``cfg.ckpt_every`` steps and at the end; after ``cfg.minutes`` it
    saves a checkpoint and raises :class:`StageStopped`.

    A subclass says what differs: ``name`` (log prefix, checkpoint file), ``desc`` (progress bar) and the methods
    ``checkpoint()`` -> dict / ``restore(state)`` (what its checkpoint holds besides ``step`` and ``fitted_total``),
    ``session()`` (a context manager the loop runs inside: a stream of frames, attention processors),
    ``train_step(step, total)`` (one optimisation step), ``postfix()`` -> dict and ``summary()`` -> str (what the
    progress bar and the log line show).
    """

    name = desc = ""
    batch = 0  # samples per step (for the samples/s of the log lines)

    def __init__(self, cfg: TrainConfig, run: Path, log: Logger, steps: int, minutes: float, total: int | None = None):
        self.cfg, self.log, self.path = cfg, log, run / f"{self.name}.pt"
        self.steps, self.minutes = steps, minutes  # the configured step count; its time budget (0 = none)
        self.step, self.total = 0, steps if total is None else total  # a fresh start
        self.t_start = self.t_saved = time.time()
        self.rate_mark = (self.t_start, 0)  # (time, step) of the last log line

    def rate(self) -> str:
        """Samples per second since the last log line."""
        (t0, s0), now = self.rate_mark, time.time()
        self.rate_mark = (now, self.step)
        return f"{(self.step - s0) * self.batch / max(now - t0, 1e-9):.1f} samples/s"

    def run(self, train: bool = True) -> bool:
        """Resume and train to the step count. False when nothing trained: the checkpoint was done, or ``train`` is
        False (export), where a missing checkpoint raises FileNotFoundError."""
        state = _load(self.path)
        if state is not None:
            self.restore(state)
            self.step, self.total = state["step"], _resume_total(state, self.steps, self.cfg.extend)
            self.log(f"{self.name}: resumed at step {self.step}")
        if self.step >= self.total or not train:
            _check_trained(state, self.name, self.step, self.total, self.log)
            return False
        fit = _StepFit(self.minutes, self.total, self.step, self.name, self.log)
        self.t_start = self.t_saved = time.time()
        self.rate_mark = (self.t_start, self.step)
        with tqdm(total=self.total, initial=self.step, desc=self.desc) as bar, self.session():
            while self.step < self.total:
                # 1. one optimisation step, as the stage defines it
                self.train_step(self.step, self.total)
                # 2. count it (a time-fitted stage learns its step count at step 60)
                self.step += 1
                self.total = bar.total = fit(self.step)
                bar.update(1)
                # 3. every 10 steps and at checkpoints: the progress bar (reading a loss syncs a GPU)
                stop = self.cfg.minutes and time.time() - self.t_start > self.cfg.minutes * 60
                due = self.cfg.ckpt_minutes and time.time() - self.t_saved > self.cfg.ckpt_minutes * 60
                save = self.step % self.cfg.ckpt_every == 0 or self.step == self.total or stop or due
                progress = self.cfg.log_every and self.step % self.cfg.log_every == 0
                if self.step % 10 == 0 or save or progress:
                    bar.set_postfix(self.postfix())
                # 4. checkpoint (written atomically) and log line; a fitted step count is stored for resumed runs
                if save:
                    _save(self.path, **self.checkpoint(), step=self.step,
                          fitted_total=self.total if self.minutes and not fit.on else None)
                    self.t_saved = time.time()
                    self.log(f"{self.name}: step {self.step} {self.summary()} {self.rate()} (checkpoint)")
                elif progress:
                    self.log(f"{self.name}: step {self.step}/{self.total} {self.summary()} {self.rate()}")
                if stop:
                    raise StageStopped(f"{self.name}: stopped after {self.cfg.minutes} min at step {self.step} "
                                       "(resume by running again)")
        return True

    def minutes_spent(self) -> float:
        return (time.time() - self.t_start) / 60


def _cosine_lr(base: float, step: int, total: int) -> float:
    """lr = base · (0.05 + 0.95 · ½ (1 + cos(π · step / total))): cosine decay to 5 %."""
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total)))


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def _optimiser_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params: list) -> None:
    """Backpropagate ``loss``; one optimiser step with the gradient norm clipped to 1."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


# ---------------------------------------------------------------------------------------------------------------------
# Stage 1: VAE
# ---------------------------------------------------------------------------------------------------------------------
class _VaeStage(Stage):
    """The VAE on a stream of random frames: AdamW on ``params`` (here all), cosine decay from ``lr`` to 5 %.
    Checkpoint ``{model, opt, rng, step, fitted_total}``, ``rng`` the frame stream ``default_rng([seed, stream])``."""

    name, desc, stream, loss_name = "vae", "VAE", 1, "loss"

    def __init__(self, cfg: TrainConfig, mcfg: ToyModelConfig, vae, params: list, lr: float, run: Path, log: Logger,
                 steps: int, minutes: float, total: int | None = None):
        super().__init__(cfg, run, log, steps, minutes, total)
        self.vae, self.params, self.lr, self.size = vae, params, lr, mcfg.image_size
        self.dev = next(vae.parameters()).device
        self.opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        self.rng = np.random.default_rng([cfg.seed, self.stream])
        self.batch = cfg.vae_batch

    def checkpoint(self) -> dict:
        return dict(model=self.vae.state_dict(), opt=self.opt.state_dict(), rng=self.rng)

    def restore(self, state: dict) -> None:
        self.vae.load_state_dict(state["model"])
        if state.get("opt") is not None:  # absent in a run seeded from an export
            self.opt.load_state_dict(state["opt"])
        self.rng = state["rng"]

    @contextlib.contextmanager
    def session(self):
        self.batches = frame_batches(self.cfg, self.size, self.cfg.vae_batch, 0.5, self.rng,
                                     (self.cfg.seed, self.stream, self.step))
        self.vae.train()
        try:
            yield
        finally:
            self.batches.close()  # stops the render workers

    def train_step(self, step: int, total: int) -> None:
        # 1. a fresh batch of random frames
        x = frames_to_tensor(next(self.batches)[0]).to(self.dev)  # (B, 3, H, W) in [-1, 1]
        # 2. cosine learning-rate decay to 5 %
        _set_lr(self.opt, _cosine_lr(self.lr, step, total))
        # 3. the stage's loss
        rec, loss = self.reconstruct(x)
        # 4. the optimiser step
        _optimiser_step(self.opt, loss, self.params)
        self.x, self.rec, self.loss = x, rec.detach(), loss.detach()

    def reconstruct(self, x: torch.Tensor):
        """L = ||x − D(z)||² + β·KL(q(z|x) || N(0, I)), z ~ q(z|x); returns (D(z), L)."""
        post = self.vae.encode(x).latent_dist
        rec = self.vae.decode(post.sample()).sample
        return rec, F.mse_loss(rec, x) + self.cfg.vae_kl * post.kl().mean()

    def postfix(self) -> dict:
        return {"psnr": f"{psnr(self.rec, self.x, peak=2.0):.1f}dB"}  # of the last batch

    def summary(self) -> str:
        return f"{self.loss_name} {self.loss.item():.5f}"

    @torch.no_grad()
    def report(self) -> None:
        """After training: PSNR of x against D(mode of q(z|x)) on 64 held-out frames (the same frames every time)."""
        self.vae.eval()
        x = frames_to_tensor(held_out_frames(64, self.size)).to(self.dev)
        rec = self.vae.decode(self.vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
        self.log(f"{self.name}: held-out round-trip PSNR {psnr(rec, x, peak=2.0):.2f} dB "
                 f"({self.minutes_spent():.1f} min)")


def train_vae(cfg: TrainConfig, mcfg: ToyModelConfig, run: Path, log: Logger, train: bool = True):
    vae = build_vae(mcfg).to(torch.device(cfg.device))
    stage = _VaeStage(cfg, mcfg, vae, list(vae.parameters()), cfg.vae_lr, run, log, cfg.vae_steps, cfg.vae_minutes)
    if stage.run(train):
        stage.report()
    return vae.eval()


# ---------------------------------------------------------------------------------------------------------------------
# Stage 2: latent pool
# ---------------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def build_latent_pool(cfg: TrainConfig, mcfg: ToyModelConfig, vae, run: Path, log: Logger, train: bool = True,
                      scaling: float | None = None) -> dict:
    """Render ``cfg.pool`` captioned frames once and cache their VAE posteriors; ``scaling`` (a model being
    fine-tuned) fixes the latent scaling factor instead of measuring it."""
    path = run / "latents.pt"
    pool = _load(path)
    if not train:
        _check_trained(pool, "latents", 0, 0, log)
        return pool
    if pool is not None and len(pool["captions"]) == cfg.pool and ("masks" in pool or cfg.loc_weight == 0):
        return pool
    keep_scaling = pool["scaling_factor"] if pool is not None else scaling  # a UNet may already be trained with it
    vae.eval()
    dev = next(vae.parameters()).device
    stream = 2 if pool is None else 3
    batches = frame_batches(cfg, mcfg.image_size, 256, cfg.two_object_fraction,
                            np.random.default_rng([cfg.seed, stream]), (cfg.seed, stream))
    means, stds, captions, masks = [], [], [], []
    lat = mcfg.image_size // 4
    for _ in tqdm(range(0, cfg.pool, 256), desc="latent pool"):
        n = min(256, cfg.pool - len(captions))
        frames, caps, m = next(batches)
        dist = vae.encode(frames_to_tensor(frames[:n]).to(dev)).latent_dist
        means.append(dist.mean.half().cpu()), stds.append(dist.std.half().cpu())
        captions += caps[:n]
        masks.append(F.avg_pool2d(torch.from_numpy(m[:n]), mcfg.image_size // lat).half())  # (n, 2, lat, lat) coverage
    batches.close()  # stops the render workers
    mean, std = torch.cat(means), torch.cat(stds)
    scaling = keep_scaling or float(1.0 / mean.float().std())  # like SD's 0.18215: unit-variance latents
    pool = {"mean": mean, "std": std, "captions": captions, "scaling_factor": scaling, "masks": torch.cat(masks)}
    _save(path, **pool)
    log(f"latents: {len(captions)} frames cached, scaling_factor {scaling:.4f}")
    return pool


# ---------------------------------------------------------------------------------------------------------------------
# Stage 3: UNet + text encoder
# ---------------------------------------------------------------------------------------------------------------------
class CaptureCross(AttentionControl):
    """Training-time control: explicit cross-attention (with gradients) at layers >= min_side, kept for the loss."""

    def __init__(self, latent_hw, min_side: int):
        super().__init__(n_frames=1, temporal=False, latent_hw=latent_hw)
        self.min_side, self.maps = min_side, []

    def attend(self, layer, q, k, v, scale, mask=None):
        if layer.kind == "cross" and layer.resolution[0] >= self.min_side:
            out, probs = explicit_attention(q, k, v, scale, mask)
            self.maps.append((layer.resolution, probs))  # (B, heads, n, tokens)
            return out
        return super().attend(layer, q, k, v, scale, mask)


def word_table(tok, captions: list[str], max_length: int) -> torch.Tensor:
    """Where each caption's words should look, as (B, tokens, 2) long: [:, :, 0] = whose region (0/1 = first/second
    object, 2 = background, -1 = none), [:, :, 1] = kind: an object's colour and shape words -> that object (kind 1);
    the background word -> everything outside the objects (kind 2); "a", "and", "on" (kind 3), BOS, EOS and pads
    (kind 0) -> unconstrained. Computed once per distinct caption; the UNet stage builds it once for the whole pool
    and expands a batch's rows with tensor ops (``targets_from_table``)."""
    unique = sorted(set(captions))
    rows = torch.full((len(unique), max_length, 2), -1, dtype=torch.long)
    rows[..., 1] = 0
    for r, cap in enumerate(unique):
        obj = -1
        for word, idx in word_spans(tok, cap):
            if word in world.COLOURS:
                obj += 1
            if word in world.COLOURS or word in world.SHAPES:
                rows[r, idx[0]] = torch.tensor([obj, 1])
            elif word in world.BACKGROUNDS:
                rows[r, idx[0]] = torch.tensor([2, 2])
            elif idx[0] < max_length:
                rows[r, idx[0], 1] = 3
    index = {c: i for i, c in enumerate(unique)}
    return rows[[index[c] for c in captions]]


def targets_from_table(table: torch.Tensor, masks: torch.Tensor):
    """A ``word_table`` slice (B, tokens, 2) and masks (B, 2, h, w) -> (B, tokens, h, w) region per token,
    (B, tokens) weights (1 where the word has a region) and (B, tokens) kinds, with tensor ops only."""
    owner, kind = table[..., 0], table[..., 1]  # (B, tokens)
    background = (1 - masks.sum(1, keepdim=True)).clamp(0, 1)  # (B, 1, h, w)
    choices = torch.cat([masks, background, torch.zeros_like(background)], 1)  # (B, 4, h, w): obj 0, obj 1, bg, none
    pick = torch.where(owner < 0, 3, owner)  # (B, tokens)
    region = torch.gather(choices, 1, pick[..., None, None].expand(-1, -1, *masks.shape[2:]))  # (B, tokens, h, w)
    weight = (owner >= 0).to(masks.dtype)  # (B, tokens)
    return region, weight, kind


def word_targets(tok, captions: list[str], masks: torch.Tensor, max_length: int):
    """Where each word should look, for captions and their object masks (B, objects ≤ 2, h, w): (B, tokens, h, w)
    region per token, (B, tokens) weights and (B, tokens) kinds (see ``word_table``)."""
    masks = F.pad(masks.float(), (0, 0, 0, 0, 0, 2 - masks.shape[1]))  # (B, 2, h, w): a missing object is empty
    return targets_from_table(word_table(tok, captions, max_length), masks)


def word_distributions(maps: list, region: torch.Tensor):
    """Per captured layer: (Â, r), each (B, tokens, n) — Â[·, w] = A[·, w] / Σ_p A[p, w] each word's attention as a
    distribution over the layer's n pixels (mean over heads), r each word's region pooled to that grid (in [0, 1])."""
    for hw, probs in maps:
        col = probs.mean(1).transpose(1, 2)  # (B, tokens, n)
        yield col / col.sum(-1, keepdim=True).clamp_min(1e-8), F.adaptive_avg_pool2d(region, hw).flatten(2)


def localisation_loss(maps: list, region: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L_loc = − mean_{layers, words} log Σ_{p ∈ region(word)} Â[p, word], with Â[·, word] = A[·, word] / Σ_p A[p, word]
    (mean over heads): each word's attention, as a distribution over pixels, should fall on its own region —
    SD's "a word's map is near zero where the word is absent", taught with the renderer's masks."""
    losses = []
    for dist, r in word_distributions(maps, region):
        inside = (dist * r).sum(-1).clamp_min(1e-6)  # (B, tokens)
        losses.append(-(inside.log() * weight).sum() / weight.sum().clamp_min(1.0))
    return torch.stack(losses).mean()


def coverage_loss(maps: list, region: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L_cov = mean_{layers, words} KL(R̂ ‖ Â), R̂[p] = r[p] / Σ_p r[p] the word's region as a uniform distribution,
    Â as in :func:`localisation_loss`: 0 when the word's attention is spread evenly over its whole region, large
    when it sits on a few pixels of it. L_loc only asks for the mass to be inside; the shipped model's maps put
    0.66–0.95 of it inside the object but reach half their maximum on 12–33 % of the object's cells, and a source
    map replayed for a new word draws the new object that small (docs/toy_edit_quality.md, section 9)."""
    losses = []
    for dist, r in word_distributions(maps, region):
        target = r / r.sum(-1, keepdim=True).clamp_min(1e-8)  # (B, tokens, n) uniform over the region
        kl = (target * (target.clamp_min(1e-8).log() - dist.clamp_min(1e-8).log())).sum(-1)  # (B, tokens)
        has = weight * (r.sum(-1) > 0)  # a region too small for this grid has no target here
        losses.append((kl * has).sum() / has.sum().clamp_min(1.0))
    return torch.stack(losses).mean()


def outside_loss(maps: list, region: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L_out = mean_{layers, words} ō / (ō + ī), ō = Σ_p (1 − r[p]) Â[p] / Σ_p (1 − r[p]) the word's map's mean
    value off its region, ī = Σ_p r[p] Â[p] / Σ_p r[p] its mean value on it (Â as in :func:`localisation_loss`; r the
    region's coverage of each cell, so partly covered edge cells count partly): 0 when nothing lies off the region,
    ½ for a flat map, → 1 when the map avoids the region.

    The companion of :func:`coverage_loss`. L_loc = −log Σ_{p ∈ region} Â[p] scores the mass inside, which a small
    object holds even when a low, wide skirt spreads over the background; the blend mask reads the map relative to
    its level on the object (max-normalised, > 0.3), so the skirt's *level* is what grows the mask (the coverage
    fine-tunes' B3 0.66 → 0.38, docs/toy_edit_quality.md section 10). Ours, not the paper's."""
    losses = []
    for dist, r in word_distributions(maps, region):
        out = ((1 - r) * dist).sum(-1) / (1 - r).sum(-1).clamp_min(1e-8)  # (B, tokens) mean off the region
        inside = (r * dist).sum(-1) / r.sum(-1).clamp_min(1e-8)  # (B, tokens) mean on it
        share = out / (out + inside).clamp_min(1e-12)
        has = weight * (r.sum(-1) > 0) * ((1 - r).sum(-1) > 0)  # both sides present on this grid
        losses.append((share * has).sum() / has.sum().clamp_min(1.0))
    return torch.stack(losses).mean()


def binding_loss(maps: list, region: torch.Tensor, kind: torch.Tensor) -> torch.Tensor:
    """L_bind = − mean_{layers, object pixels p} log( Σ_{w ∈ words of p's object} A[p, w] / Σ_{w ∈ all words} A[p, w] )
    (mean over heads; BOS/EOS/pads — the attention sink — left out of both sums).

    The pixel side of word binding: among the caption's words, an object's pixels should read *their own* colour and
    shape words (SD's object pixels read the object's noun), not "a" or "on". Without it the toy model's object
    pixels gave "a" ~0.3 of their attention and the colour word ~0.03, so cross-attention fusion (which copies the
    source maps of shared words) left the new colour word almost unread and colour edits did not happen.
    """
    obj_words = (kind == 1).float()  # (B, tokens)
    words = (kind > 0).float()
    losses = []
    for hw, probs in maps:
        a = probs.mean(1)  # (B, n, tokens)
        r = F.adaptive_avg_pool2d(region, hw).flatten(2) * obj_words[..., None]  # (B, tokens, n) own-object coverage
        own = (a * r.transpose(1, 2)).sum(-1)  # (B, n): attention to the words of the pixel's own object
        total = (a * words[:, None]).sum(-1).clamp_min(1e-8)  # (B, n): attention to any word
        cover = r.amax(1)  # (B, n): how much of the pixel is object
        share = (own / total).clamp(1e-6, 1.0)
        losses.append(-(share.log() * cover).sum() / cover.sum().clamp_min(1.0))
    return torch.stack(losses).mean()


def _tokenize(tok, captions: list[str], max_length: int) -> torch.Tensor:
    return tok(captions, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt").input_ids


def _tokenizer(cfg: TrainConfig, mcfg: ToyModelConfig):
    """The export's own vocabulary (``init_from``, ``vae_from``; a resume point carries its run's): the BPE learner
    may order its single-letter tokens differently on another machine, and the text encoder's rows follow the ids."""
    for folder in (cfg.resume_from, cfg.init_from, cfg.vae_from):
        if folder and (Path(folder) / "tokenizer").is_dir():
            from transformers import CLIPTokenizer

            return CLIPTokenizer.from_pretrained(Path(folder) / "tokenizer")
    return build_tokenizer(mcfg.max_length)


class _UnetStage(Stage):
    """UNet + text encoder on the cached latent pool; an EMA of both is what gets exported. Checkpoint
    ``{unet, te, opt, ema_unet, ema_te, gen, step, fitted_total}``, ``gen`` the CPU generator of all its noise."""

    name, desc = "unet", "UNet"

    def __init__(self, cfg: TrainConfig, mcfg: ToyModelConfig, pool: dict, run: Path, log: Logger):
        super().__init__(cfg, run, log, cfg.unet_steps, cfg.unet_minutes)
        self.mcfg, self.pool, self.dev = mcfg, pool, torch.device(cfg.device)
        self.tok = tok = _tokenizer(cfg, mcfg)
        self.te = build_text_encoder(len(tok), mcfg, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id).to(self.dev)
        self.unet = build_unet(mcfg).to(self.dev)
        self.params = list(self.unet.parameters()) + list(self.te.parameters())
        self.opt = torch.optim.AdamW(self.params, lr=cfg.unet_lr, weight_decay=0.01)
        self.ema_unet = copy.deepcopy(self.unet).requires_grad_(False)
        self.ema_te = copy.deepcopy(self.te).requires_grad_(False)
        self.ema_params = list(self.ema_unet.parameters()) + list(self.ema_te.parameters())  # in the order of params
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.batch = cfg.unet_batch
        self.warm_from, self.warm_steps = 0, cfg.warmup  # the LR warm-up: from this step, this long

    def checkpoint(self) -> dict:
        return dict(unet=self.unet.state_dict(), te=self.te.state_dict(), opt=self.opt.state_dict(),
                    ema_unet=self.ema_unet.state_dict(), ema_te=self.ema_te.state_dict(), gen=self.gen.get_state(),
                    warm_from=self.warm_from, warm_steps=self.warm_steps)

    def restore(self, state: dict) -> None:
        self.unet.load_state_dict(state["unet"]), self.te.load_state_dict(state["te"])
        if state.get("opt") is not None:  # absent in a run seeded from an export: a fresh optimiser
            self.opt.load_state_dict(state["opt"])
        self.ema_unet.load_state_dict(state["ema_unet"]), self.ema_te.load_state_dict(state["ema_te"])
        self.gen.set_state(state["gen"])
        # a run started from a compact resume point warms its fresh optimiser up again from the recorded step
        self.warm_from, self.warm_steps = state.get("warm_from", 0), state.get("warm_steps", self.cfg.warmup)

    @contextlib.contextmanager
    def session(self):
        """The loop's fixed inputs (noise schedule, tokenised captions, per-word targets) and, for the
        localisation/binding losses, processors that capture the cross-attention maps for the whole loop."""
        cfg, pool, dev, max_length = self.cfg, self.pool, self.dev, self.mcfg.max_length
        sched = build_scheduler()
        self.n_timesteps = sched.config.num_train_timesteps
        self.alphas_cumprod = sched.alphas_cumprod.to(dev)  # (1000,)
        self.snr = self.alphas_cumprod / (1 - self.alphas_cumprod)
        unique = sorted(set(pool["captions"]))  # a few thousand distinct captions: tokenize each once
        row = {c: i for i, c in enumerate(unique)}
        self.ids_all = _tokenize(self.tok, unique, max_length)[[row[c] for c in pool["captions"]]].to(dev)  # (pool, L)
        self.ids_empty = _tokenize(self.tok, [""], max_length)[0].to(dev)
        self.pool_mean, self.pool_std = pool["mean"].to(dev), pool["std"].to(dev)  # (pool, 4, h, w) fp16
        self.use_loc = (cfg.loc_weight > 0 or cfg.bind_weight > 0 or cfg.cover_weight > 0
                        or cfg.outside_weight > 0) and "masks" in pool
        if self.use_loc:  # where each word should look, per pool item
            self.pool_masks = pool["masks"].to(dev)  # (pool, 2, h, w) fp16 coverage
            self.pool_words = word_table(self.tok, pool["captions"], max_length).to(dev)  # (pool, tokens, 2)
        self.capture = CaptureCross((self.mcfg.image_size // 4,) * 2, cfg.loc_min_side)
        self.losses, self.loc_losses, self.bind_losses, self.cover_losses, self.out_losses = [], [], [], [], []
        self.unet.train(), self.te.train()
        with attention_control(self.unet, self.capture) if self.use_loc else contextlib.nullcontext():
            yield

    def train_step(self, step: int, total: int) -> None:
        """L = min(SNR(t), γ)/SNR(t) · ||ε − ε_θ(√ᾱ_t z₀ + √(1−ᾱ_t) ε, t, τ(caption))||²
        (+ λ_loc · L_loc + λ_cov · L_cov + λ_out · L_out + λ_bind · L_bind on the captured cross-attention), then the
        EMA of the weights."""
        cfg, dev, gen, batch = self.cfg, self.dev, self.gen, self.cfg.unet_batch
        # 1. a batch of cached posteriors -> z0 ~ q(z|x), scaled to unit variance (random numbers drawn on the CPU
        #    from one seeded generator, so a run is the same on any device)
        idx = torch.randint(0, len(self.pool["captions"]), (batch,), generator=gen).to(dev)
        mean, std = self.pool_mean[idx].float(), self.pool_std[idx].float()
        z0 = (mean + std * torch.randn(mean.shape, generator=gen).to(dev)) * self.pool["scaling_factor"]  # (B, 4, h, w)
        # 2. captions, a share (cfg.empty_caption) dropped to the empty prompt for classifier-free guidance
        drop = (torch.rand(batch, generator=gen) < cfg.empty_caption).to(dev)
        ids = torch.where(drop[:, None], self.ids_empty, self.ids_all[idx])  # (B, max_length)
        # 3. forward diffusion: z_t = sqrt(a_t) z0 + sqrt(1 - a_t) eps
        t = torch.randint(0, self.n_timesteps, (batch,), generator=gen).to(dev)
        eps = torch.randn(z0.shape, generator=gen).to(dev)
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        # 4. predict eps; min-SNR-gamma weighted MSE
        emb = self.te(ids).last_hidden_state  # (B, max_length, text_dim)
        self.capture.maps = []
        pred = self.unet(zt, t, encoder_hidden_states=emb).sample
        snr = self.snr[t]
        w = (torch.clamp(snr, max=cfg.min_snr_gamma) / snr) if cfg.min_snr_gamma > 0 else torch.ones_like(snr)
        loss = (w * (pred - eps).pow(2).mean(dim=(1, 2, 3))).mean()
        if self.use_loc:  # 4b. localisation loss on the captured cross-attention
            table = self.pool_words[idx]  # (B, tokens, 2): (owner, kind); a dropped caption has no targets
            table[drop] = torch.tensor([-1, 0], device=dev)
            region, weight, kind = targets_from_table(table, self.pool_masks[idx].float())
            keep = (t < cfg.loc_max_t)[:, None]  # (B, 1): only these samples' words are asked to localise
            weight, kind = weight * keep, kind * keep
            if cfg.loc_weight > 0:
                loc = localisation_loss(self.capture.maps, region, weight)
                self.loc_losses.append(loc.detach())
                loss = loss + cfg.loc_weight * loc
            if cfg.cover_weight > 0:  # 4c. coverage: each word's map spread over its whole region
                scored = weight * (kind == 1) if cfg.cover_words == "objects" else weight  # (B, tokens)
                cover = coverage_loss(self.capture.maps, region, scored)
                self.cover_losses.append(cover.detach())
                loss = loss + cfg.cover_weight * cover
            if cfg.outside_weight > 0:  # 4d. outside penalty: the object words' maps kept off the background
                out = outside_loss(self.capture.maps, region, weight * (kind == 1))
                self.out_losses.append(out.detach())
                loss = loss + cfg.outside_weight * out
            if cfg.bind_weight > 0:  # 4e. pixel-side binding loss on the same maps
                bind = binding_loss(self.capture.maps, region, kind)
                self.bind_losses.append(bind.detach())
                loss = loss + cfg.bind_weight * bind
        # 5. learning-rate schedule (warm-up, constant, linear decay over the last 20 %) and the optimiser step
        warm = min(1.0, (step + 1 - self.warm_from) / self.warm_steps)
        self.lr = cfg.unet_lr * warm * min(1.0, (total - step) / (0.2 * total))
        _set_lr(self.opt, self.lr)
        _optimiser_step(self.opt, loss, self.params)
        # 6. EMA of the weights (warms up so early checkpoints are usable)
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():  # e ← decay·e + (1 − decay)·p, as one fused call over all tensors (GPU: few launches)
            torch._foreach_mul_(self.ema_params, decay)
            torch._foreach_add_(self.ema_params, self.params, alpha=1 - decay)
        self.losses.append(loss.detach())

    def postfix(self) -> dict:
        # the recent losses as floats (float() syncs a GPU: asked for every 10 steps and at checkpoints only)
        self.losses, self.loc_losses, self.bind_losses, self.cover_losses, self.out_losses = (
            [float(x) for x in xs[-50:]] for xs in (self.losses, self.loc_losses, self.bind_losses,
                                                    self.cover_losses, self.out_losses))
        return {"loss": f"{np.mean(self.losses[-50:]):.4f}"}

    def summary(self) -> str:
        loc = np.mean(self.loc_losses[-50:]) if self.loc_losses else float("nan")
        bind = f"bind(50) {np.mean(self.bind_losses[-50:]):.3f} " if self.bind_losses else ""
        cover = f"cover(50) {np.mean(self.cover_losses[-50:]):.3f} " if self.cover_losses else ""
        out = f"out(50) {np.mean(self.out_losses[-50:]):.3f} " if self.out_losses else ""
        return (f"loss(50) {np.mean(self.losses[-50:]):.4f} loc(50) {loc:.3f} {bind}{cover}{out}lr {self.lr:.2e} "
                f"({self.minutes_spent():.1f} min this session)")


def train_unet(cfg: TrainConfig, mcfg: ToyModelConfig, pool: dict, run: Path, log: Logger, train: bool = True):
    stage = _UnetStage(cfg, mcfg, pool, run, log)
    stage.run(train)
    return stage.ema_unet.eval(), stage.ema_te.eval(), stage.tok


# ---------------------------------------------------------------------------------------------------------------------
# Stage 4: decoder fine-tuning
# ---------------------------------------------------------------------------------------------------------------------
class _DecoderStage(_VaeStage):
    """The VAE stage on the decoder alone: ``params`` are D's, the frozen encoder's latent space (which the UNet
    learned) does not move."""

    name, desc, stream, loss_name = "decoder", "VAE decoder", 4, "mse"

    @contextlib.contextmanager
    def session(self):
        frozen = {k: v.clone() for k, v in self.vae.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}
        with super().session():
            yield
        for k, v in self.vae.state_dict().items():  # the encoder really stayed frozen
            if k in frozen:
                assert torch.equal(v, frozen[k]), k

    def reconstruct(self, x: torch.Tensor):
        """L = ||x − D(E(x))||², E(x) the mean of the frozen encoder's posterior; returns (D(E(x)), L)."""
        with torch.no_grad():
            z = self.vae.encode(x).latent_dist.mean
        rec = self.vae.decode(z).sample
        return rec, F.mse_loss(rec, x)


def finetune_decoder(cfg: TrainConfig, mcfg: ToyModelConfig, vae, run: Path, log: Logger, train: bool = True):
    params = list(vae.post_quant_conv.parameters()) + list(vae.decoder.parameters())
    total = cfg.decoder_steps or (10**9 if cfg.decoder_minutes else 0)  # 10**9: until the fit sets the count
    stage = _DecoderStage(cfg, mcfg, vae, params, cfg.decoder_lr, run, log, cfg.decoder_steps, cfg.decoder_minutes,
                          total)
    if stage.run(train):
        stage.report()
    return vae.eval()


# ---------------------------------------------------------------------------------------------------------------------
# Stage 5: export
# ---------------------------------------------------------------------------------------------------------------------
def seed_from_export(cfg: TrainConfig, run: Path, log: Logger) -> tuple[ToyModelConfig, float]:
    """Start a run from an exported toy pipeline (``--init-from``): its VAE becomes the trained VAE stage and its
    UNet/text encoder the UNet stage's step 0 (weights and EMA; a fresh optimiser). Checkpoints already in the run
    folder win, so a seeded run resumes like any other. Returns the folder's model config and latent scaling."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    folder = Path(cfg.init_from)
    meta = json.loads((folder / "toy_model.json").read_text())["toy_model_config"]
    mcfg = ToyModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta.items()})
    scaling = seed_vae_from_export(folder, cfg, run)
    if not (run / "unet.pt").exists():
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32).state_dict()
        te = CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=torch.float32).state_dict()
        _save(run / "unet.pt", unet=unet, te=te, ema_unet=unet, ema_te=te, opt=None, step=0,
              gen=torch.Generator().manual_seed(cfg.seed).get_state(), fitted_total=None)
        log(f"init: run seeded from {folder} (VAE kept; UNet and text encoder fine-tuned from its weights)")
    return mcfg, scaling


def seed_vae_from_export(folder: Path, cfg: TrainConfig, run: Path) -> float:
    """The exported pipeline's VAE becomes the run's trained VAE stage (unless the run has one); returns its latent
    scaling factor (``--init-from`` and ``--vae-from``)."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(Path(folder) / "vae", torch_dtype=torch.float32)
    if not (run / "vae.pt").exists():
        _save(run / "vae.pt", model=vae.state_dict(), opt=None, step=cfg.vae_steps, rng=np.random.default_rng(),
              fitted_total=None)
    return float(vae.config.scaling_factor)


# ---------------------------------------------------------------------------------------------------------------------
# Compact resume points: a run continued on another machine (docs/toy_edit_quality.md section 12)
# ---------------------------------------------------------------------------------------------------------------------
RESUME_FIELDS_FREE = {"run", "minutes", "threads", "device", "workers", "resume_from", "export_to", "ckpt_every",
                      "ckpt_minutes", "log_every", "resume_warmup"}  # may differ between the stretches of one run


def export_resume_point(cfg: TrainConfig, mcfg: ToyModelConfig, run: Path, out: Path, log: Logger) -> Path:
    """Write the UNet stage's compact resume point into ``out``: the EMA weights of the UNet and the text encoder in
    fp16 (safetensors), the tokenizer, and ``resume.json`` (step, step count, the exact training and model config,
    the data seed, the latent scaling) plus a README — no optimiser state (the full checkpoint, with fp32 weights,
    their EMA and Adam's two moments, is ~8× larger). Files are written to temporary names and renamed."""
    from safetensors.torch import save_file

    state = _load(run / "unet.pt")
    if state is None:
        raise FileNotFoundError(f"no unet checkpoint in {run}: train first (--stage unet)")
    out.mkdir(parents=True, exist_ok=True)
    for name, key in (("unet_ema.safetensors", "ema_unet"), ("text_encoder_ema.safetensors", "ema_te")):
        tmp = out / (name + ".tmp")
        save_file({k: v.detach().to(torch.float16).contiguous() for k, v in state[key].items()}, str(tmp))
        tmp.replace(out / name)
    _tokenizer(cfg, mcfg).save_pretrained(out / "tokenizer")
    total = _resume_total(state, cfg.unet_steps, cfg.extend)
    scaling = _scaling_of_run(cfg, run)
    meta = {"step": state["step"], "unet_steps": total, "samples": state["step"] * cfg.unet_batch,
            "data_seed": cfg.seed, "scaling_factor": scaling, "written": time.strftime("%Y-%m-%d %H:%M:%S"),
            "train_config": dataclasses.asdict(cfg), "model": dataclasses.asdict(mcfg)}
    (out / "resume.json.tmp").write_text(json.dumps(meta, indent=2))
    (out / "resume.json.tmp").replace(out / "resume.json")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file() and f.name != "README.md")
    (out / "README.md").write_text(
        f"# Toy model v2: compact resume point\n\n"
        f"Written {meta['written']} from `{run}`: UNet step **{state['step']} of {total}** "
        f"({meta['samples']:,} of {total * cfg.unet_batch:,} samples, batch {cfg.unet_batch}); {size / 1e6:.1f} MB.\n"
        f"EMA weights of the UNet and text encoder (fp16), the tokenizer, and `resume.json` (the exact recipe, the "
        f"data seed {cfg.seed}, the latent scaling {scaling:.4f}); no optimiser state.\n\n"
        f"Continue (docs/toy_edit_quality.md section 12): `bash scripts/train_v2.sh` — it resumes the local full "
        f"checkpoint in runs/v2 if there is one, else starts from this point (weights from here, a fresh optimiser "
        f"warmed up over {cfg.resume_warmup} steps, the learning-rate schedule continuing at step {state['step']}; the "
        f"latent pool is rebuilt from the data seed first). Write a new point with "
        f"`bash scripts/train_v2.sh export-resume`.\n")
    log(f"resume point: step {state['step']} of {total} written to {out} ({size / 1e6:.1f} MB)")
    return out


def _scaling_of_run(cfg: TrainConfig, run: Path) -> float:
    if cfg.vae_from or cfg.init_from:
        folder = Path(cfg.vae_from or cfg.init_from) / "vae" / "config.json"
        return float(json.loads(folder.read_text())["scaling_factor"])
    return float(_load(run / "latents.pt")["scaling_factor"])


def seed_from_resume_point(cfg: TrainConfig, mcfg: ToyModelConfig, run: Path, log: Logger) -> None:
    """A run folder without a UNet checkpoint starts from ``cfg.resume_from``: its EMA weights become the weights and
    the EMA, the step is the recorded one (so the learning-rate schedule continues there), the optimiser is fresh and
    warms up over ``cfg.resume_warmup`` steps; the noise generator is re-seeded from (seed, step). The recipe must be
    the recorded one (fields in ``RESUME_FIELDS_FREE`` may differ)."""
    from safetensors.torch import load_file

    folder = Path(cfg.resume_from)
    meta = json.loads((folder / "resume.json").read_text())
    if meta["model"] != json.loads(json.dumps(dataclasses.asdict(mcfg))):
        raise ValueError(f"resume point {folder} was trained with model {meta['model']}, this run has "
                         f"{dataclasses.asdict(mcfg)}: pass the same --model")
    now = json.loads(json.dumps(dataclasses.asdict(cfg)))
    differ = sorted(k for k, v in meta["train_config"].items() if k not in RESUME_FIELDS_FREE and now.get(k) != v)
    if differ:
        raise ValueError(f"resume point {folder} was trained with a different recipe: "
                         + ", ".join(f"{k}={meta['train_config'][k]!r} (now {now.get(k)!r})" for k in differ))
    if (run / "unet.pt").exists():
        return  # the local full checkpoint wins
    unet = {k: v.float() for k, v in load_file(str(folder / "unet_ema.safetensors")).items()}
    te = {k: v.float() for k, v in load_file(str(folder / "text_encoder_ema.safetensors")).items()}
    step = int(meta["step"])
    _save(run / "unet.pt", unet=unet, te=te, ema_unet=unet, ema_te=te, opt=None, step=step,
          gen=torch.Generator().manual_seed(cfg.seed * 1_000_003 + step).get_state(), fitted_total=None,
          warm_from=step, warm_steps=cfg.resume_warmup)
    log(f"resume: run seeded from the compact resume point {folder} at step {step} (EMA weights, fresh optimiser, "
        f"warm-up {cfg.resume_warmup} steps)")


def export(cfg: TrainConfig, mcfg: ToyModelConfig, vae, unet, te, tok, scaling: float, run: Path, log: Logger) -> Path:
    vae.register_to_config(scaling_factor=scaling)
    pipe = assemble_pipeline(vae.eval().cpu(), te.eval().cpu(), tok, unet.eval().cpu())
    if cfg.fp16_export:
        pipe.to(torch.float16)
    out = Path(cfg.export_to) if cfg.export_to else PACKAGE_WEIGHTS
    info = {"train_config": dataclasses.asdict(cfg), "exported": time.strftime("%Y-%m-%d %H:%M:%S")}
    save_pipeline(pipe, out, mcfg, info)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    log(f"export: pipeline written to {out} ({size / 1e6:.1f} MB)")
    return out


def run_stages(stage: str, cfg: TrainConfig, mcfg: ToyModelConfig, run: Path, log: Logger,
               scaling: float | None = None) -> None:
    """Run ``stage`` ("all", "vae", "latents", "unet", "decoder", "export" or "resume-point") and the stages it
    needs."""
    t0 = time.time()
    if stage == "resume-point":  # the compact resume point of the UNet stage, nothing trained
        export_resume_point(cfg, mcfg, run, Path(cfg.export_to or run / "resume_point"), log)
        return
    train = stage != "export"  # export writes the pipeline from the checkpoints as they are
    vae = train_vae(cfg, mcfg, run, log, train)
    if stage == "vae":
        return
    if stage == "decoder":  # the decoder alone: it may run beside the UNet stage, as the encoder stays frozen
        finetune_decoder(cfg, mcfg, vae, run, log)
        return
    pool = build_latent_pool(cfg, mcfg, vae, run, log, train, scaling)
    if stage == "latents":
        return
    unet, te, tok = train_unet(cfg, mcfg, pool, run, log, train)
    if stage == "unet":
        return
    if (run / "decoder.pt").exists() or (train and (cfg.decoder_steps > 0 or cfg.decoder_minutes > 0)):
        vae = finetune_decoder(cfg, mcfg, vae, run, log, train)
    export(cfg, mcfg, vae, unet, te, tok, pool["scaling_factor"], run, log)
    log(f"done in {(time.time() - t0) / 60:.1f} min")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all",
                    choices=["all", "vae", "latents", "unet", "decoder", "export", "resume-point"])
    ap.add_argument("--quick", action="store_true", help="a few steps of a tiny model (smoke test)")
    for f in dataclasses.fields(TrainConfig):
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default) if f.type != "bool" else int,
                        default=None, help=f"default {f.default}")
    args = ap.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if getattr(args, f.name) is not None}
    cfg = TrainConfig(**({**QUICK_TRAIN, **overrides} if args.quick else overrides))
    sizes = {**(QUICK_MODEL if args.quick else {}), **(json.loads(cfg.model) if cfg.model else {})}
    mcfg = ToyModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in sizes.items()})
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    if cfg.device != "cpu":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # fp32 weights, TF32 matmuls
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest convolutions once
    run = Path(cfg.run)
    run.mkdir(parents=True, exist_ok=True)
    log = Logger(run)
    scaling = None
    if cfg.init_from:
        mcfg, scaling = seed_from_export(cfg, run, log)
    elif cfg.vae_from:  # the VAE's sizes are the export's; the UNet's are this run's
        scaling = seed_vae_from_export(Path(cfg.vae_from), cfg, run)
        theirs = json.loads((Path(cfg.vae_from) / "toy_model.json").read_text())["toy_model_config"]
        mcfg = dataclasses.replace(mcfg, **{k: tuple(theirs[k]) if isinstance(theirs[k], list) else theirs[k]
                                            for k in ("image_size", "vae_channels", "vae_layers")})
    if cfg.resume_from and args.stage != "resume-point":
        seed_from_resume_point(cfg, mcfg, run, log)
    (run / "train_config.json").write_text(json.dumps({"train": dataclasses.asdict(cfg),
                                                       "model": dataclasses.asdict(mcfg)}, indent=2))
    try:
        run_stages(args.stage, cfg, mcfg, run, log, scaling)
    except StageStopped as stopped:  # --minutes ran out: the checkpoint is saved; exit 0 so that scripts go on
        log(str(stopped))
        raise SystemExit(0) from None


if __name__ == "__main__":
    main()
