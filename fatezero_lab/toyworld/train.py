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

On a GPU machine: ``--device cuda --workers 14`` (frames rendered by 14 processes) and ``--vae-minutes`` /
``--unet-minutes`` / ``--decoder-minutes`` to fit each stage's step count to a time budget
(``scripts/train_gpu.sh``: the recipe of the GPU-trained models measured in ``docs/gpu_training.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
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
from ..processors import AttentionControl, attention_control, explicit_attention
from .model import ToyModelConfig, assemble_pipeline, build_scheduler, build_text_encoder, build_tokenizer, \
    build_unet, build_vae, save_pipeline

PACKAGE_WEIGHTS = Path(__file__).parent / "weights"


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

    def __post_init__(self):
        if self.decoder_steps < 0:
            raise ValueError(f"decoder_steps must be >= 0, got {self.decoder_steps}")
        for name in ("vae_steps", "vae_batch", "pool", "unet_steps", "unet_batch", "ckpt_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.loc_max_t <= 1000:
            raise ValueError(f"loc_max_t must be in (0, 1000], got {self.loc_max_t}")
        if not 0 <= self.empty_caption < 1:
            raise ValueError(f"empty_caption must be in [0, 1), got {self.empty_caption}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
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


# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------
def random_frame(rng: np.random.Generator, size: int, two_object_fraction: float,
                 with_masks: bool = False):
    """One random captioned frame: a one-frame clip with random scene, appearance, pan offset and lighting.

    Returns (frame, caption) or, ``with_masks``, (frame, caption, object masks (objects, H, W)).
    """
    n_obj = 2 if rng.random() < two_object_fraction else 1
    spec = world.random_spec(int(rng.integers(0, 2**31 - 1)), n_objects=n_obj, frames=1, size=size, motion="static")
    clip = world.render(spec)
    return (clip.frames[0], spec.caption, clip.masks[0]) if with_masks else (clip.frames[0], spec.caption)


class _RandomFrames(torch.utils.data.IterableDataset):
    """Endless random captioned frames for DataLoader worker processes (worker w draws from seed ``(*seed, w)``)."""

    def __init__(self, seed: tuple, size: int, two_object_fraction: float):
        super().__init__()
        self.seed, self.size, self.two_object_fraction = seed, size, two_object_fraction

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([*self.seed, info.id if info is not None else 0])
        while True:
            frame, caption, masks = random_frame(rng, self.size, self.two_object_fraction, with_masks=True)
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
            items = [random_frame(rng, size, two_object_fraction, with_masks=True) for _ in range(batch)]
            masks = np.zeros((batch, 2, size, size), np.float32)
            for i, (_, _, m) in enumerate(items):
                masks[i, : len(m)] = m
            yield np.stack([f for f, _, _ in items]), [c for _, c, _ in items], masks
    loader = torch.utils.data.DataLoader(_RandomFrames(seed, size, two_object_fraction), batch_size=batch,
                                         num_workers=cfg.workers, prefetch_factor=4)
    for frames, captions, masks in loader:
        yield frames.numpy(), list(captions), masks.numpy()


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


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) in [0, 1] -> (N, 3, H, W) in [-1, 1], the VAE's input range."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2) * 2 - 1


def held_out_frames(n: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(12345)
    return np.stack([random_frame(rng, size, 0.5)[0] for _ in range(n)])


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (computed on the [0, 1] scale)."""
    mse = ((a - b) / 2).pow(2).mean().item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


# ---------------------------------------------------------------------------------------------------------------------
# Checkpoints
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
# Stage 1: VAE
# ---------------------------------------------------------------------------------------------------------------------
def train_vae(cfg: TrainConfig, mcfg: ToyModelConfig, run: Path, log: Logger, train: bool = True):
    ckpt_path = run / "vae.pt"
    dev = torch.device(cfg.device)
    vae = build_vae(mcfg).to(dev)
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    step, rng, total = 0, np.random.default_rng([cfg.seed, 1]), cfg.vae_steps
    state = _load(ckpt_path)
    if state is not None:
        vae.load_state_dict(state["model"])
        if state.get("opt") is not None:  # absent in a run seeded from an export
            opt.load_state_dict(state["opt"])
        step, rng, total = state["step"], state["rng"], _resume_total(state, cfg.vae_steps, cfg.extend)
        log(f"vae: resumed at step {step}")
    if step >= total or not train:
        _check_trained(state, "vae", step, total, log)
        return vae.eval()
    fit = _StepFit(cfg.vae_minutes, total, step, "vae", log)
    batches = frame_batches(cfg, mcfg.image_size, cfg.vae_batch, 0.5, rng, (cfg.seed, 1, step))
    t_start = time.time()
    bar = tqdm(total=total, initial=step, desc="VAE")
    vae.train()
    while step < total:
        # 1. a fresh batch of random frames
        x = frames_to_tensor(next(batches)[0]).to(dev)  # (B, 3, H, W)
        # 2. cosine learning-rate decay to 5 %
        lr = cfg.vae_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total)))
        for g in opt.param_groups:
            g["lr"] = lr
        # 3. reconstruction + β·KL
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample
        mse = F.mse_loss(rec, x)
        loss = mse + cfg.vae_kl * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        total = bar.total = fit(step)
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(psnr=f"{10 * math.log10(4.0 / max(mse.item(), 1e-12)):.1f}dB")
        stop = cfg.minutes and time.time() - t_start > cfg.minutes * 60
        if step % cfg.ckpt_every == 0 or step == total or stop:
            _save(ckpt_path, model=vae.state_dict(), opt=opt.state_dict(), step=step, rng=rng,
                  fitted_total=total if cfg.vae_minutes and not fit.on else None)
            log(f"vae: step {step} loss {loss.item():.5f}")
        if stop:
            log(f"vae: stopped after {cfg.minutes} min at step {step} (resume by running again)")
            raise SystemExit(0)
    bar.close(), batches.close()
    vae.eval()
    with torch.no_grad():
        x = frames_to_tensor(held_out_frames(64, mcfg.image_size)).to(dev)
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
    log(f"vae: held-out round-trip PSNR {psnr(rec, x):.2f} dB ({(time.time() - t_start) / 60:.1f} min)")
    return vae


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


def word_targets(tok, captions: list[str], masks: torch.Tensor, max_length: int):
    """Where each word should look: (B, tokens, h, w) region per token, (B, tokens) weights and (B, tokens) kinds.

    An object's colour and shape words -> that object's mask (kind 1); the background word -> everything outside the
    objects (kind 2); "a", "and", "on" (kind 3), BOS, EOS and pads (kind 0) -> unconstrained (weight 0).
    """
    b, _, h, w = masks.shape
    region = torch.zeros(b, max_length, h, w)
    weight = torch.zeros(b, max_length)
    kind = torch.zeros(b, max_length, dtype=torch.long)
    for i, cap in enumerate(captions):
        if not cap:
            continue
        obj = -1
        for word, idx in _spans(tok, cap):
            if word in world.COLOURS:
                obj += 1
            if word in world.COLOURS or word in world.SHAPES:
                region[i, idx[0]], weight[i, idx[0]], kind[i, idx[0]] = masks[i, obj], 1.0, 1
            elif word in world.BACKGROUNDS:
                region[i, idx[0]] = (1 - masks[i].sum(0)).clamp(0, 1)
                weight[i, idx[0]], kind[i, idx[0]] = 1.0, 2
            elif idx[0] < max_length:
                kind[i, idx[0]] = 3
    return region, weight, kind


def word_table(tok, captions: list[str], max_length: int) -> torch.Tensor:
    """Each caption's tokens as (B, tokens, 2) long: [:, :, 0] = whose region (0/1 = first/second object,
    2 = background, -1 = none), [:, :, 1] = kind as in ``word_targets``. Computed once per distinct caption, so the
    UNet stage can build its targets with tensor ops (``targets_from_table``) instead of a Python loop per step."""
    unique = sorted(set(captions))
    rows = torch.full((len(unique), max_length, 2), -1, dtype=torch.long)
    rows[..., 1] = 0
    for r, cap in enumerate(unique):
        obj = -1
        for word, idx in (_spans(tok, cap) if cap else ()):
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
    """``word_targets`` from a ``word_table`` slice (B, tokens, 2) and masks (B, 2, h, w), with tensor ops only."""
    owner, kind = table[..., 0], table[..., 1]  # (B, tokens)
    background = (1 - masks.sum(1, keepdim=True)).clamp(0, 1)  # (B, 1, h, w)
    choices = torch.cat([masks, background, torch.zeros_like(background)], 1)  # (B, 4, h, w): obj 0, obj 1, bg, none
    pick = torch.where(owner < 0, 3, owner)  # (B, tokens)
    region = torch.gather(choices, 1, pick[..., None, None].expand(-1, -1, *masks.shape[2:]))  # (B, tokens, h, w)
    weight = (owner >= 0).to(masks.dtype)  # (B, tokens)
    return region, weight, kind


@functools.lru_cache(maxsize=4096)
def _spans_cached(tok_id: int, cap: str):
    from ..prompts import word_spans

    return tuple((w, tuple(i)) for w, i in word_spans(_TOKENIZERS[tok_id], cap))


_TOKENIZERS: dict = {}


def _spans(tok, cap: str):
    _TOKENIZERS[id(tok)] = tok
    return _spans_cached(id(tok), cap)


def localisation_loss(maps: list, region: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L_loc = − mean_{layers, words} log Σ_{p ∈ region(word)} Â[p, word], with Â[·, word] = A[·, word] / Σ_p A[p, word]
    (mean over heads): each word's attention, as a distribution over pixels, should fall on its own region —
    SD's "a word's map is near zero where the word is absent", taught with the renderer's masks."""
    losses = []
    for hw, probs in maps:
        col = probs.mean(1).transpose(1, 2)  # (B, tokens, n)
        dist = col / col.sum(-1, keepdim=True).clamp_min(1e-8)
        r = F.adaptive_avg_pool2d(region, hw).flatten(2)  # (B, tokens, n) coverage in [0, 1]
        inside = (dist * r).sum(-1).clamp_min(1e-6)  # (B, tokens)
        losses.append(-(inside.log() * weight).sum() / weight.sum().clamp_min(1.0))
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


def train_unet(cfg: TrainConfig, mcfg: ToyModelConfig, pool: dict, run: Path, log: Logger,
               train: bool = True):
    ckpt_path = run / "unet.pt"
    if cfg.init_from:  # the export's own vocabulary: the BPE learner may order its single-letter tokens differently
        from transformers import CLIPTokenizer

        tok = CLIPTokenizer.from_pretrained(Path(cfg.init_from) / "tokenizer")
    else:
        tok = build_tokenizer(mcfg.max_length)
    te = build_text_encoder(len(tok), mcfg, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
    unet = build_unet(mcfg)
    dev = torch.device(cfg.device)
    unet.to(dev), te.to(dev)
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.unet_lr, weight_decay=0.01)
    ema_unet, ema_te = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(te).requires_grad_(False)
    ema_params = list(ema_unet.parameters()) + list(ema_te.parameters())  # in the order of `params`
    step, gen, total = 0, torch.Generator().manual_seed(cfg.seed), cfg.unet_steps
    state = _load(ckpt_path)
    if state is not None:
        unet.load_state_dict(state["unet"]), te.load_state_dict(state["te"])
        if state.get("opt") is not None:  # absent in a run seeded from an export: a fresh optimiser
            opt.load_state_dict(state["opt"])
        ema_unet.load_state_dict(state["ema_unet"]), ema_te.load_state_dict(state["ema_te"])
        step, total = state["step"], _resume_total(state, cfg.unet_steps, cfg.extend)
        gen.set_state(state["gen"])
        log(f"unet: resumed at step {step}")
    if step >= total or not train:
        _check_trained(state, "unet", step, total, log)
        return ema_unet.eval(), ema_te.eval(), tok
    sched = build_scheduler()
    alphas_cumprod = sched.alphas_cumprod.to(dev)  # (1000,)
    snr = alphas_cumprod / (1 - alphas_cumprod)
    scaling = pool["scaling_factor"]
    unique = sorted(set(pool["captions"]))  # a few thousand distinct captions: tokenize each once
    row = {c: i for i, c in enumerate(unique)}
    ids_all = _tokenize(tok, unique, mcfg.max_length)[[row[c] for c in pool["captions"]]]  # (pool, max_length)
    ids_all = ids_all.to(dev)
    ids_empty = _tokenize(tok, [""], mcfg.max_length)[0].to(dev)
    pool_mean, pool_std = pool["mean"].to(dev), pool["std"].to(dev)  # (pool, 4, h, w) fp16
    if "masks" in pool:  # where each word should look, per pool item (for the localisation/binding losses)
        pool_masks = pool["masks"].to(dev)  # (pool, 2, h, w) fp16 coverage
        pool_words = word_table(tok, pool["captions"], mcfg.max_length).to(dev)  # (pool, tokens, 2)
    n_pool = len(pool["captions"])
    unet.train(), te.train()
    capture = CaptureCross((mcfg.image_size // 4,) * 2, cfg.loc_min_side)
    use_loc = (cfg.loc_weight > 0 or cfg.bind_weight > 0) and "masks" in pool
    ctx = attention_control(unet, capture) if use_loc else contextlib.nullcontext()
    ctx.__enter__()  # processors stay installed for the whole stage (restored below)
    t_start, losses, loc_losses, bind_losses = time.time(), [], [], []
    fit = _StepFit(cfg.unet_minutes, total, step, "unet", log)
    bar = tqdm(total=total, initial=step, desc="UNet")
    while step < total:
        # 1. a batch of cached posteriors -> z0 ~ q(z|x), scaled to unit variance (random numbers drawn on the CPU
        #    from one seeded generator, so a run is the same on any device)
        idx = torch.randint(0, n_pool, (cfg.unet_batch,), generator=gen)
        idx_dev = idx.to(dev)
        mean, std = pool_mean[idx_dev].float(), pool_std[idx_dev].float()
        z0 = (mean + std * torch.randn(mean.shape, generator=gen).to(dev)) * scaling  # (B, 4, h, w)
        # 2. captions, with 10 % dropped to the empty prompt for classifier-free guidance
        drop = (torch.rand(cfg.unet_batch, generator=gen) < cfg.empty_caption).to(dev)
        ids = torch.where(drop[:, None], ids_empty, ids_all[idx_dev])  # (B, max_length)
        # 3. forward diffusion: z_t = sqrt(a_t) z0 + sqrt(1 - a_t) eps
        t = torch.randint(0, sched.config.num_train_timesteps, (cfg.unet_batch,), generator=gen).to(dev)
        eps = torch.randn(z0.shape, generator=gen).to(dev)
        a = alphas_cumprod[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * z0 + (1 - a).sqrt() * eps
        # 4. predict eps; min-SNR-gamma weighted MSE
        emb = te(ids).last_hidden_state  # (B, max_length, text_dim)
        capture.maps = []
        pred = unet(zt, t, encoder_hidden_states=emb).sample
        w = (torch.clamp(snr[t], max=cfg.min_snr_gamma) / snr[t]) if cfg.min_snr_gamma > 0 else torch.ones_like(snr[t])
        loss = (w * (pred - eps).pow(2).mean(dim=(1, 2, 3))).mean()
        if use_loc:  # 4b. localisation loss on the captured cross-attention
            table = pool_words[idx_dev]  # (B, tokens, 2): (owner, kind); a dropped caption has no targets
            table[drop] = torch.tensor([-1, 0], device=dev)
            region, weight, kind = targets_from_table(table, pool_masks[idx_dev].float())
            keep = (t < cfg.loc_max_t)[:, None]  # (B, 1): only these samples' words are asked to localise
            weight, kind = weight * keep, kind * keep
            if cfg.loc_weight > 0:
                loc = localisation_loss(capture.maps, region, weight)
                loc_losses.append(loc.detach())
                loss = loss + cfg.loc_weight * loc
            if cfg.bind_weight > 0:  # 4c. pixel-side binding loss on the same maps
                bind = binding_loss(capture.maps, region, kind)
                bind_losses.append(bind.detach())
                loss = loss + cfg.bind_weight * bind
        # 5. learning-rate schedule and the optimiser step
        lr = cfg.unet_lr * min(1.0, (step + 1) / cfg.warmup) * min(1.0, (total - step) / (0.2 * total))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        # 6. EMA of the weights (warms up so early checkpoints are usable)
        decay = min(cfg.ema, (1 + step) / (10 + step))
        with torch.no_grad():  # e ← decay·e + (1 − decay)·p, as one fused call over all tensors (GPU: few launches)
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, params, alpha=1 - decay)
        step += 1
        total = bar.total = fit(step)
        losses.append(loss.detach())
        bar.update(1)
        stop = cfg.minutes and time.time() - t_start > cfg.minutes * 60
        save = step % cfg.ckpt_every == 0 or step == total or stop
        if step % 10 == 0 or save:  # float() syncs a GPU: only every 10 steps
            losses, loc_losses, bind_losses = ([float(x) for x in xs[-50:]] for xs in (losses, loc_losses, bind_losses))
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}")
        if save:
            _save(ckpt_path, unet=unet.state_dict(), te=te.state_dict(), opt=opt.state_dict(),
                  ema_unet=ema_unet.state_dict(), ema_te=ema_te.state_dict(), step=step, gen=gen.get_state(),
                  fitted_total=total if cfg.unet_minutes and not fit.on else None)
            log(f"unet: step {step} loss(50) {np.mean(losses[-50:]):.4f} loc(50) "
                f"{np.mean(loc_losses[-50:]) if loc_losses else float('nan'):.3f} "
                f"{f'bind(50) {np.mean(bind_losses[-50:]):.3f} ' if bind_losses else ''}lr {lr:.2e} "
                f"({(time.time() - t_start) / 60:.1f} min this session)")
        if stop:
            log(f"unet: stopped after {cfg.minutes} min at step {step} (resume by running again)")
            raise SystemExit(0)
    bar.close()
    ctx.__exit__(None, None, None)
    return ema_unet.eval(), ema_te.eval(), tok


# ---------------------------------------------------------------------------------------------------------------------
# Stage 4: decoder fine-tuning
# ---------------------------------------------------------------------------------------------------------------------
def finetune_decoder(cfg: TrainConfig, mcfg: ToyModelConfig, vae, run: Path, log: Logger, train: bool = True):
    """Train D only, on the posterior mean of a frozen E: the latent space the UNet learned does not move."""
    ckpt_path = run / "decoder.pt"
    dev = next(vae.parameters()).device
    trainable = list(vae.post_quant_conv.parameters()) + list(vae.decoder.parameters())
    opt = torch.optim.AdamW(trainable, lr=cfg.decoder_lr, weight_decay=0.0)
    step, rng = 0, np.random.default_rng([cfg.seed, 4])
    total = cfg.decoder_steps or (10**9 if cfg.decoder_minutes else 0)  # 10**9: until the fit sets the count
    state = _load(ckpt_path)
    if state is not None:
        vae.load_state_dict(state["model"])
        if state.get("opt") is not None:  # absent in a run seeded from an export
            opt.load_state_dict(state["opt"])
        step, rng, total = state["step"], state["rng"], _resume_total(state, cfg.decoder_steps, cfg.extend)
        log(f"decoder: resumed at step {step}")
    if step >= total or not train:
        _check_trained(state, "decoder", step, total, log)
        return vae.eval()
    encoder_state = {k: v.clone() for k, v in vae.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}
    fit = _StepFit(cfg.decoder_minutes, total, step, "decoder", log)
    batches = frame_batches(cfg, mcfg.image_size, cfg.vae_batch, 0.5, rng, (cfg.seed, 4, step))
    t_start = time.time()
    bar = tqdm(total=total, initial=step, desc="VAE decoder")
    vae.train()
    while step < total:
        x = frames_to_tensor(next(batches)[0]).to(dev)  # (B, 3, H, W)
        lr = cfg.decoder_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / total)))
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        mse = F.mse_loss(vae.decode(z).sample, x)
        opt.zero_grad(set_to_none=True)
        mse.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        step += 1
        total = bar.total = fit(step)
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(psnr=f"{10 * math.log10(4.0 / max(mse.item(), 1e-12)):.1f}dB")
        stop = cfg.minutes and time.time() - t_start > cfg.minutes * 60
        if step % cfg.ckpt_every == 0 or step == total or stop:
            _save(ckpt_path, model=vae.state_dict(), opt=opt.state_dict(), step=step, rng=rng,
                  fitted_total=total if cfg.decoder_minutes and not fit.on else None)
            log(f"decoder: step {step} mse {mse.item():.5f}")
        if stop:
            log(f"decoder: stopped after {cfg.minutes} min at step {step} (resume by running again)")
            raise SystemExit(0)
    bar.close(), batches.close()
    for k, v in vae.state_dict().items():  # the encoder really stayed frozen
        if k in encoder_state:
            assert torch.equal(v, encoder_state[k]), k
    vae.eval()
    with torch.no_grad():
        x = frames_to_tensor(held_out_frames(64, mcfg.image_size)).to(dev)
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
    log(f"decoder: held-out round-trip PSNR {psnr(rec, x):.2f} dB ({(time.time() - t_start) / 60:.1f} min)")
    return vae


# ---------------------------------------------------------------------------------------------------------------------
# Stage 5: export
# ---------------------------------------------------------------------------------------------------------------------
def seed_from_export(cfg: TrainConfig, run: Path, log: Logger) -> tuple[ToyModelConfig, float]:
    """Start a run from an exported toy pipeline (``--init-from``): its VAE becomes the trained VAE stage and its
    UNet/text encoder the UNet stage's step 0 (weights and EMA; a fresh optimiser). Checkpoints already in the run
    folder win, so a seeded run resumes like any other. Returns the folder's model config and latent scaling."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel

    folder = Path(cfg.init_from)
    meta = json.loads((folder / "toy_model.json").read_text())["toy_model_config"]
    mcfg = ToyModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta.items()})
    vae = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32)
    if not (run / "vae.pt").exists():
        _save(run / "vae.pt", model=vae.state_dict(), opt=None, step=cfg.vae_steps, rng=np.random.default_rng(),
              fitted_total=None)
    if not (run / "unet.pt").exists():
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", torch_dtype=torch.float32).state_dict()
        te = CLIPTextModel.from_pretrained(folder / "text_encoder", torch_dtype=torch.float32).state_dict()
        _save(run / "unet.pt", unet=unet, te=te, ema_unet=unet, ema_te=te, opt=None, step=0,
              gen=torch.Generator().manual_seed(cfg.seed).get_state(), fitted_total=None)
        log(f"init: run seeded from {folder} (VAE kept; UNet and text encoder fine-tuned from its weights)")
    return mcfg, float(vae.config.scaling_factor)


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all", "vae", "latents", "unet", "decoder", "export"])
    ap.add_argument("--quick", action="store_true", help="a few steps of a tiny model (smoke test)")
    for f in dataclasses.fields(TrainConfig):
        ap.add_argument("--" + f.name.replace("_", "-"), type=type(f.default) if f.type != "bool" else int,
                        default=None, help=f"default {f.default}")
    args = ap.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if getattr(args, f.name) is not None}
    mcfg = ToyModelConfig()
    if args.quick:
        overrides = {"vae_steps": 2, "vae_batch": 2, "pool": 16, "unet_steps": 2, "unet_batch": 4, "warmup": 1,
                     "ckpt_every": 1, **overrides}
        mcfg = ToyModelConfig(vae_channels=(32, 32, 32), unet_channels=(32, 32, 32), text_dim=32, heads=2,
                              transformer_depth=1)
    cfg = TrainConfig(**overrides)
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
    (run / "train_config.json").write_text(json.dumps({"train": dataclasses.asdict(cfg),
                                                       "model": dataclasses.asdict(mcfg)}, indent=2))
    t0 = time.time()
    train = args.stage != "export"  # export writes the pipeline from the checkpoints as they are
    vae = train_vae(cfg, mcfg, run, log, train)
    if args.stage == "vae":
        return
    if args.stage == "decoder":  # the decoder alone: it may run beside the UNet stage, as the encoder stays frozen
        finetune_decoder(cfg, mcfg, vae, run, log)
        return
    pool = build_latent_pool(cfg, mcfg, vae, run, log, train, scaling)
    if args.stage == "latents":
        return
    unet, te, tok = train_unet(cfg, mcfg, pool, run, log, train)
    if args.stage == "unet":
        return
    if (run / "decoder.pt").exists() or (train and (cfg.decoder_steps > 0 or cfg.decoder_minutes > 0)):
        vae = finetune_decoder(cfg, mcfg, vae, run, log, train)
    export(cfg, mcfg, vae, unet, te, tok, pool["scaling_factor"], run, log)
    log(f"done in {(time.time() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
