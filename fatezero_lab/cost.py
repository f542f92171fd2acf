"""What a computing call will cost on a GPU — time, GPU memory, host memory — said before it runs.

One cost model for every sd-mode call (``invert`` with or without null-text, ``edit`` including the
reconstruction-attention ablation, ``reconstruct``/``sample``, one-shot tuning): time is UNet *rows* × steps × a
per-row time, and memory is the model's weights + a working set per row + the store (the store's bytes come from
:func:`fatezero_lab.memory.estimate_memory`). Every figure is an **estimate until measured on a GPU**; the one GPU
run behind them is docs/gpu_sd.md's H200 table (8 frames, 512², 50 steps, fp16, spatial-temporal attention).

Where the constants come from (all ours; see docs/gpu_sd.md, "The T4 profile")
----------------------------------------------------------------------------
*Time per row.* The H200 table's ``recompute`` row ran 2.2 s of inversion (50 steps × 8 rows = 400 UNet rows) and
6.7 s of editing (50 steps × 24 rows ``[source | uncond | cond]`` = 1200 rows): 8.9 s / 1600 rows = 5.56 ms per
row of SD v1's UNet at a 64² latent (VAE, text encoder and fusion included). Other cards are scaled by their dense
fp16 tensor peak (H200 and H100 SXM 989 TFLOPS, A100 312, T4 65: the vendors' data sheets): a T4 row ≈ 85 ms. A
T4 is a 70 W card that throttles, so its real figure may be slower. Other UNets and sizes scale with the UNet's
parameter count × latent pixels (the stand-in's rows are tiny).

*Training rows.* A backward pass ≈ 2 forward passes, gradient checkpointing adds one more forward: a trained row
counts as 4 rows with checkpointing (3 without). Null-text inversion runs, per step, one conditional row per frame,
at most ``iterations`` forward+backward passes of the unconditional rows, and one guided step (an upper bound:
its early stop can end a step sooner).

*GPU memory* (``torch.cuda.max_memory_allocated`` in the H200 table, not counting the CUDA context, for which
:data:`CUDA_CONTEXT` is added): weights 1.99 GiB (fp16 UNet, VAE, 12-layer text encoder); the ``floor`` row peaked
at 6.05 GiB, in the VAE decoding 8 frames at 512² at once (the floor's 16 UNet rows need less than the 24 rows
below): 4.06 GiB / (8 × 512²) = :data:`VAE_BYTES_PER_PIXEL`; the ``recompute`` row peaked at 6.54 GiB with 24
UNet rows: 4.55 GiB / (24 × 64²) = :data:`UNET_BYTES_PER_ROW_PIXEL` (scaled by the UNet's first width / 320;
fp16, as ``load_pipeline`` picks on CUDA). Training keeps activations for the backward pass: ×2 with checkpointing, ×8 without
(:data:`TRAIN_MEMORY`, our guesses, unmeasured), plus float32 masters, gradients and Adam's two moments of the
trained tensors (16 bytes each) and, for tuning, the tuned copy of the UNet.

*Host memory*: the H200 rows' processes peaked at 6.83 GiB with a 12.6 MiB store: 4.84 GiB of runtime (torch,
CUDA's libraries) + the fp16 weights read through host memory (1.99 GiB); a call adds its store (host memory, as
in the reference).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field

GIB = 2 ** 30

# --- the measured anchor (docs/gpu_sd.md, H200, fp16, 8 frames, 512², 50 steps, recompute) ------------------------
H200_ROW_SECONDS = (2.2 + 6.7) / (50 * 8 + 50 * 24)  # 5.56 ms per SD v1 UNet row at a 64² latent
SD_UNET_PARAMS = 859_520_964  # SD v1's UNet (the measured one): rows of other UNets scale with their size
SD_LATENT_PIXELS = 64 * 64
SD_WIDTH = 320  # SD v1's first UNet width
# dense fp16 tensor-core peak, TFLOPS (data sheets): the per-row time of a card = the H200's × 989 / its peak
GPU_TFLOPS = {"T4": 65.0, "A100": 312.0, "H100": 989.0, "H200": 989.0}
GPU_MEMORY_GIB = {"T4": 15.0, "A100": 40.0, "H100": 80.0, "H200": 141.0}  # the smallest of each card's sizes
MEASURED_TFLOPS = GPU_TFLOPS["H200"]
VAE_BYTES_PER_PIXEL = int((6.05 - 1.99) * GIB / (8 * 512 * 512))  # the floor row's peak: the VAE at 8 × 512²
UNET_BYTES_PER_ROW_PIXEL = int((6.54 - 1.99) * GIB / (24 * 64 * 64))  # recompute's peak: 24 UNet rows at 64²
VAE_BATCH = 8  # decode_latents / encode_frames batch size: frames the VAE holds at once
CUDA_CONTEXT = int(0.5 * GIB)  # the CUDA context and allocator slack max_memory_allocated does not count (ours)
HOST_RUNTIME = int((6.83 - 1.99) * GIB)  # torch + CUDA libraries in the H200 processes, beside the weights
TRAIN_ROWS = {True: 4, False: 3}  # forward-row equivalents of one trained row (checkpointing: one more forward)
TRAIN_MEMORY = {True: 2.0, False: 8.0}  # activation memory of a trained row / an inference row (ours, unmeasured)
ADAM_BYTES = 16  # float32 master + gradient + Adam's two moments per trained value
DEFAULT_GPU = "T4"  # the free Colab card the notebooks are sized for
UNMEASURED = "estimate, unmeasured"


@dataclass
class Estimate:
    """One call's cost on a GPU: forward rows (time) and peak GPU / host memory, with how they were counted."""

    call: str  # what runs, in words
    rows: float  # UNet forward-row equivalents (time = rows × row_seconds on a card)
    row_seconds: float  # one row on the measured H200 at this UNet and latent size
    vram: int  # peak GPU bytes (weights + the largest working set + CUDA context)
    ram: int  # peak host bytes (runtime + weights + the store)
    store: int = 0  # bytes of the attention store (host), from memory.estimate_memory
    notes: list = field(default_factory=list)  # assumptions behind the figure

    def seconds(self, gpu: str = DEFAULT_GPU) -> float:
        """Seconds on ``gpu`` (one of :data:`GPU_TFLOPS`)."""
        if gpu not in GPU_TFLOPS:
            raise ValueError(f"gpu must be one of {list(GPU_TFLOPS)}, got {gpu!r}")
        return self.rows * self.row_seconds * MEASURED_TFLOPS / GPU_TFLOPS[gpu]

    def fits(self, gpu: str = DEFAULT_GPU, host_gib: float = 11.0, gpu_gib: float | None = None) -> bool:
        """True if the peaks stay under ``gpu_gib`` (default: the card's size minus 0.5 GiB) and ``host_gib``."""
        limit = GPU_MEMORY_GIB[gpu] - 0.5 if gpu_gib is None else gpu_gib
        return self.vram <= limit * GIB and self.ram <= host_gib * GIB

    def line(self, gpu: str = DEFAULT_GPU) -> str:
        """'≈ 4.0 min on a T4, 7.1 GiB VRAM, 3.2 GiB RAM (estimate, unmeasured)'."""
        d = duration(self.seconds(gpu))
        return (f"{'' if d.startswith('<') else '≈ '}{d} on {'an' if gpu[0] in 'AH' else 'a'} {gpu}, "
                f"{self.vram / GIB:.1f} GiB VRAM, {self.ram / GIB:.1f} GiB RAM ({UNMEASURED})")

    def __add__(self, other: "Estimate") -> "Estimate":
        """Two calls one after the other: times add, memory peaks take the larger (the row time is re-weighted)."""
        rows = self.rows + other.rows
        sec = (self.rows * self.row_seconds + other.rows * other.row_seconds) / rows if rows else self.row_seconds
        return Estimate(call=f"{self.call}; {other.call}", rows=rows, row_seconds=sec, vram=max(self.vram, other.vram),
                        ram=max(self.ram, other.ram), store=max(self.store, other.store),
                        notes=list(dict.fromkeys(self.notes + other.notes)))

    def __repr__(self) -> str:
        return f"Estimate({self.call}: {self.line()})"


def duration(seconds: float) -> str:
    """'< 1 s', '45 s', '4.0 min', '1.3 h'."""
    if seconds < 0.5:
        return "< 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# ------------------------------------------------------------------------------------------------------- the model
def _shape(pipe, height: int, width: int) -> tuple[int, int]:
    """(latent pixels, frame pixels) at this frame size."""
    from .models import as_pipeline

    pipe = as_pipeline(pipe)
    down = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    if height % down or width % down:
        raise ValueError(f"height and width must be multiples of {down}, got {height}x{width}")
    return (height // down) * (width // down), height * width


def _row_seconds(pipe, latent_pixels: int) -> float:
    """One UNet row on the H200 (measured anchor), scaled by UNet size × latent pixels."""
    params = sum(p.numel() for p in pipe.unet.parameters())
    return H200_ROW_SECONDS * (params / SD_UNET_PARAMS) * (latent_pixels / SD_LATENT_PIXELS)


def _unet_row_bytes(pipe, latent_pixels: int) -> int:
    """Working bytes of one inference row of this UNet at this latent size (fp16 calibration, scaled)."""
    width = pipe.unet.config.block_out_channels[0]  # (fp16 on a GPU, as load_pipeline picks there)
    return int(UNET_BYTES_PER_ROW_PIXEL * latent_pixels * width / SD_WIDTH)


def _weights(pipe) -> int:
    """The pipeline's weights as they sit on a GPU (fp16: what load_pipeline picks on CUDA)."""
    from .models import as_pipeline

    pipe = as_pipeline(pipe)
    return sum(p.numel() * min(p.element_size(), 2) for m in (pipe.unet, pipe.vae, pipe.text_encoder)
               for p in m.parameters())


def _vae_bytes(frames: int, frame_pixels: int) -> int:
    return VAE_BYTES_PER_PIXEL * min(frames, VAE_BATCH) * frame_pixels


def _memory(pipe, weights_extra: int, working: int, frames: int, frame_pixels: int, store: int) -> tuple[int, int]:
    """(GPU, host) peaks: weights + the larger of the UNet's and the VAE's working set + context; runtime + store."""
    w = _weights(pipe)
    vram = w + weights_extra + max(working, _vae_bytes(frames, frame_pixels)) + CUDA_CONTEXT
    ram = HOST_RUNTIME + w + store
    return vram, ram


def _store_bytes(pipe, frames, height, width, steps, cache, temporal) -> int:
    from .memory import estimate_memory

    return estimate_memory(pipe, frames, height, width, steps, cache, temporal).store_bytes


def estimate_invert(pipe, frames: int, height: int, width: int, steps: int, cache: str = "recompute", temporal=True,
                    record: bool = True, null_text=None, checkpointing: bool = True) -> Estimate:
    """DDIM inversion of ``frames`` frames (F rows per step) with its store; with ``null_text`` (a
    :class:`~fatezero_lab.config.NullTextConfig`, a dict of its fields or True) also null-text inversion: per step
    F conditional rows, at most ``iterations`` trained passes of F rows, one guided step (2F rows)."""
    from .config import NullTextConfig

    lat, pix = _shape(pipe, height, width)
    rows = frames * steps
    store = _store_bytes(pipe, frames, height, width, steps, cache, temporal) if record else 0
    per_row = _unet_row_bytes(pipe, lat)
    working, extra = frames * per_row, 0
    notes = [f"{cache} store" if record else "no store"]
    call = f"invert {frames} frames × {steps} steps" + (f" ({cache} store)" if record else "")
    cfg = NullTextConfig.parse(null_text)
    if cfg is not None:
        # the conditional rows, the trained unconditional passes (an upper bound: early stop), the guided step
        rows += steps * (frames + cfg.iterations * frames * TRAIN_ROWS[checkpointing] + 2 * frames)
        working = max(working, int(frames * per_row * TRAIN_MEMORY[checkpointing]))
        extra = steps * pipe.tokenizer.model_max_length * pipe.unet.config.cross_attention_dim * 4  # ∅_i, float32
        call += f" + null-text ({cfg.iterations} Adam steps per step at most)"
        notes.append("null text: UNet frozen, ∅ in float32, gradient checkpointing on CUDA" if checkpointing
                     else "null text without gradient checkpointing")
    vram, ram = _memory(pipe, extra, working, frames, pix, store)
    return Estimate(call, rows, _row_seconds(pipe, lat), vram, ram, store, notes)


def estimate_edit(pipe, frames: int, height: int, width: int, steps: int, cache: str = "recompute", temporal=True,
                  reconstruction: bool = False) -> Estimate:
    """A FateZero edit: ``guided_groups`` × F rows per step (recompute: [source | uncond | cond], else [uncond |
    cond]). ``reconstruction`` (``use_inversion_attention=False``) first runs a guided reconstruction (2F rows per
    step) whose attention the edit replays.

    The reconstruction pass is counted in the recompute design (issue 30 item 1, the engine's branch: it keeps the
    reconstruction's latents and the mask layers' summaries, and the edit recomputes its source attention in 3F
    rows); until that lands, the code keeps an ``inputs`` store there (~11.8 GiB of host memory at 8 × 512² × 50).
    """
    from .store_modes import STORE_MODES

    lat, pix = _shape(pipe, height, width)
    groups = STORE_MODES[cache].guided_groups
    store = _store_bytes(pipe, frames, height, width, steps, cache, temporal)
    call = f"edit {frames} frames × {steps} steps ({cache} store)"
    notes = [f"{cache} store"]
    if reconstruction:
        groups = STORE_MODES["recompute"].guided_groups
        store += _store_bytes(pipe, frames, height, width, steps, "recompute", temporal)
        call += " + reconstruction pass"
        notes.append("reconstruction attention counted in the recompute design (engine branch, issue 30 item 1)")
    rows = steps * groups * frames + (steps * 2 * frames if reconstruction else 0)
    vram, ram = _memory(pipe, 0, groups * frames * _unet_row_bytes(pipe, lat), frames, pix, store)
    return Estimate(call, rows, _row_seconds(pipe, lat), vram, ram, store, notes)


def estimate_sample(pipe, n: int, height: int, width: int, steps: int, guidance: float = 7.5) -> Estimate:
    """Plain DDIM sampling (``sample``/``reconstruct``) of ``n`` latents: 2n rows per step with guidance, n at w = 1."""
    lat, pix = _shape(pipe, height, width)
    groups = 1 if guidance == 1 else 2
    vram, ram = _memory(pipe, 0, groups * n * _unet_row_bytes(pipe, lat), n, pix, 0)
    return Estimate(f"sample {n} latents × {steps} steps (w = {guidance:g})", steps * groups * n,
                    _row_seconds(pipe, lat), vram, ram, 0, [])


def estimate_tuning(pipe, frames: int, height: int, width: int, steps: int, checkpointing: bool = True,
                    copy_pipe: bool = True) -> Estimate:
    """One-shot tuning (:func:`fatezero_lab.tuning.tune_on_clip`): ``steps`` trained passes of F rows in mixed
    precision; the tuned copy of the UNet, float32 masters + Adam of the trained tensors (to_q of every attention
    layer and one temporal attention block, 4 C² values, per self-attention layer)."""
    import re

    from .processors import attention_layers
    from .tuning import TRAINABLE_PATTERNS

    lat, pix = _shape(pipe, height, width)
    trained = sum(p.numel() for n, p in pipe.unet.named_parameters() if any(re.search(t, n) for t in TRAINABLE_PATTERNS))
    temporal_layers = sum(4 * l.channels ** 2 + 5 * l.channels for l in attention_layers(pipe.unet) if l.kind == "self")
    unet = sum(p.numel() * min(p.element_size(), 2) for p in pipe.unet.parameters())
    extra = (unet if copy_pipe else 0) + 2 * temporal_layers + ADAM_BYTES * (trained + temporal_layers)
    working = int(frames * _unet_row_bytes(pipe, lat) * TRAIN_MEMORY[checkpointing])
    vram, ram = _memory(pipe, extra, working, frames, pix, 0)
    notes = ["mixed precision" + (", gradient checkpointing" if checkpointing else ", no checkpointing")]
    return Estimate(f"tune {frames} frames × {steps} steps", steps * frames * TRAIN_ROWS[checkpointing] + frames,
                    _row_seconds(pipe, lat), vram, ram, 0, notes)


# ---------------------------------------------------------------------------------------------- said before a call
_state = {"gpu": None, "depth": 0, "say": print}  # gpu None: silent (toy mode); depth: calls inside a call stay quiet


def announce(gpu: str | None = DEFAULT_GPU, say=print) -> None:
    """From now on, print each estimated call's cost on ``gpu`` before it runs (None: stop). ``fz.lab.setup`` turns
    it on in sd mode (the profile's card) and off in toy mode."""
    if gpu is not None and gpu not in GPU_TFLOPS:
        raise ValueError(f"gpu must be one of {list(GPU_TFLOPS)} or None, got {gpu!r}")
    _state.update(gpu=gpu, say=say)


def announcing() -> str | None:
    """The card estimates are printed for, or None."""
    return _state["gpu"]


def _frames_hw(frames) -> tuple[int, int, int]:
    import numpy as np

    f, h, w = np.shape(frames)[:3]
    return int(f), int(h), int(w)


def _of_invert(a) -> Estimate:
    f, h, w = _frames_hw(a["frames"])
    cache = a.get("cache", "auto")
    # "auto" on a GPU: recompute (the measured order: issue 30 item 5, choose_cache on CUDA)
    est = estimate_invert(a["pipe"], f, h, w, int(a.get("steps", 50)), "recompute" if cache == "auto" else cache,
                          a.get("temporal", True), a.get("record", True), a.get("null_text") or None)
    if cache == "auto" and a.get("record", True):
        est.call = est.call.replace("(recompute store)", "(cache='auto': recompute on a GPU)")
    return est


def _of_edit(a) -> Estimate:
    inv = a["inversion"]
    f, h, w = _frames_hw(inv.frames)
    cfg = a.get("config")
    over = a.get("overrides", {})
    recon = not over.get("use_inversion_attention", True if cfg is None else cfg.use_inversion_attention)
    return estimate_edit(a["pipe"], f, h, w, inv.steps, inv.store.cache, inv.temporal, reconstruction=recon)


def _of_reconstruct(a) -> Estimate:
    inv = a["inversion"]
    f, h, w = _frames_hw(inv.frames)
    g = a.get("guidance")
    g = (inv.null_text.config.guidance if inv.null_text is not None else 1.0) if g is None else g
    return estimate_sample(a["pipe"], f, h, w, inv.steps, g)


def _of_sample(a) -> Estimate:
    from .models import as_pipeline

    z = a["z_T"]
    down = 2 ** (len(as_pipeline(a["pipe"]).vae.config.block_out_channels) - 1)
    return estimate_sample(a["pipe"], z.shape[0], z.shape[-2] * down, z.shape[-1] * down, int(a.get("steps", 50)),
                           a.get("guidance", 7.5))


def _of_tuning(a) -> Estimate:
    f, h, w = _frames_hw(a["frames"])
    ckpt = a.get("gradient_checkpointing")
    return estimate_tuning(a["pipe"], f, h, w, int(a.get("steps", 300)), True if ckpt is None else bool(ckpt),
                           a.get("copy_pipe", True))


ESTIMATORS = {"invert": _of_invert, "edit": _of_edit, "reconstruct": _of_reconstruct, "sample": _of_sample,
              "tune_on_clip": _of_tuning}  # a computing function's name -> its estimate from its bound arguments


def estimate_call(func, *args, **kwargs) -> Estimate:
    """The estimate of ``func(*args, **kwargs)`` (one of :data:`ESTIMATORS`' functions) without running it."""
    sig = inspect.signature(getattr(func, "__wrapped__", func))
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return ESTIMATORS[func.__name__](dict(bound.arguments))


def announced(func):
    """Decorator of a computing call: print its estimate (:func:`announce`'s card) before it runs; nested calls (a
    ``reconstruct`` inside another call) stay quiet. An argument the estimate cannot read is left to the call itself
    to reject (its own checks come first and say what is wrong)."""
    if func.__name__ not in ESTIMATORS:
        raise ValueError(f"no estimator for {func.__name__!r}; known: {list(ESTIMATORS)}")

    @functools.wraps(func)
    def run(*args, **kwargs):
        gpu = _state["gpu"]
        if gpu is not None and _state["depth"] == 0:
            try:
                est = estimate_call(func, *args, **kwargs)
            except (TypeError, ValueError, AttributeError, KeyError):  # bad input: the call's own check says why
                est = None
            if est is not None:
                _state["say"](f"[cost] {est.call}: {est.line(gpu)}")
        _state["depth"] += 1
        try:
            return func(*args, **kwargs)
        finally:
            _state["depth"] -= 1

    return run


__all__ = ["DEFAULT_GPU", "Estimate", "GPU_TFLOPS", "announce", "announced", "announcing", "duration",
           "estimate_call", "estimate_edit", "estimate_invert", "estimate_sample", "estimate_tuning"]
