"""How much memory does FateZero's source attention need, and which store mode fits?

The reference code keeps every attention probability map of every inversion step (about 100 GB of host memory for
8 frames × 512² × 50 steps). Three store modes (``invert(..., cache=...)``) give the same edits:

=============  ==========================================================  =====================================
mode           kept per step and layer (frames F, heads h, queries n,        cost during editing
               keys m = refs·n for self-attention, width C)
=============  ==========================================================  =====================================
``maps``       A_src: F·h·n·m values                                        none (the maps are read back)
``inputs``     Q_src (F·n·C) and per-frame K_src (F·n·C; cross: F·n·C)     none (SDPA on the fly)
``recompute``  z_t (F·4·h_lat·w_lat) and, per default mask layer, the      F more rows in each guided UNet call
               head-mean map M_t reads (F·n·tokens, float32)                ([source | uncond | cond])
=============  ==========================================================  =====================================

Each mode's bytes are its own (``StoreMode.layer_bytes``, ``guided_groups``, ``forms_maps`` in
:mod:`fatezero_lab.store_modes`; a registered mode is estimated and chosen like these). :func:`estimate_memory`
counts them from the UNet's layer list (read from the module tree, no allocation) before anything runs;
:func:`choose_cache` picks the fastest mode that fits the memory available (``recompute`` first on CUDA, ``inputs``
first on the CPU: the measured orders).

The prompt-to-prompt ablation's reconstruction pass (``edit(..., use_inversion_attention=False)``) builds a second
store beside the inversion's, in the mode ``STORE_MODES[cache].reconstruction`` (the built-in modes: their own) and
of the same size: :func:`estimate_memory` with that mode gives it. Backpropagation through the UNet (null-text
inversion, one-shot tuning) keeps no store but activations: :func:`estimate_backprop`.

**One memory check** guards every path that builds a store or backpropagates — inversion, the reconstruction pass,
the benchmark's variants, null text, tuning: :func:`require_fits` (``check_fits`` is its store-mode form), called
before any UNet call, refuses with the figure and the fix instead of being killed for memory halfway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config import ConfigError, TemporalConfig
from .models import as_pipeline
from .processors import attention_layers
from .store_modes import STORE_MODES, layer_selected, speed_order


@dataclass
class MemoryEstimate:
    """Bytes for one inversion + edit in one store mode (or, ``cache=""``, one pass that keeps no store)."""

    cache: str
    store_bytes: int  # what the store keeps for the whole inversion
    per_step_bytes: int  # store bytes per step
    working_bytes: int  # peak transient memory beyond the store (UNet activations + one step of attention)
    model_bytes: int  # the pipeline's weights
    device: str  # where the working set lives (the UNet's device)
    store_device: str = "cpu"  # where the store lives (host memory, as in the reference)

    @property
    def total_bytes(self) -> int:
        return self.store_bytes + self.working_bytes + self.model_bytes

    def __repr__(self) -> str:
        gib = 2 ** 30
        return (f"MemoryEstimate(cache={self.cache!r}, store={self.store_bytes / gib:.2f} GiB, "
                f"working={self.working_bytes / gib:.2f} GiB, model={self.model_bytes / gib:.2f} GiB)")


def _dtype_bytes(pipe) -> int:
    return pipe.unet.dtype.itemsize if hasattr(pipe.unet.dtype, "itemsize") else 4


def estimate_memory(pipe, frames: int, height: int, width: int, steps: int, cache: str = "maps", temporal=True,
                    max_side: int = 32, guidance: bool = True, prompt_tokens: int | None = None) -> MemoryEstimate:
    """Estimate the store size and peak working memory of ``invert`` + ``edit`` at this size, before running.

    Counts exactly what :mod:`fatezero_lab.store` keeps (per recorded layer and step); the working memory is the
    UNet's activations for a guided batch of 2·frames (3·frames in ``recompute`` mode, whose source rows run in the
    same call; an empirical 28 activations of the widest level per sample, fitted on the toy model and SD's layout)
    plus, in ``maps`` mode, the largest single map, which is formed explicitly while recording.
    """
    if cache not in STORE_MODES:
        raise ConfigError(f"cache must be one of {list(STORE_MODES)}, got {cache!r}", "cache")
    mode = STORE_MODES[cache]()
    vae_down = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    if height % vae_down or width % vae_down:
        raise ValueError(f"height and width must be multiples of {vae_down}, got {height}x{width}")
    h, w = height // vae_down, width // vae_down
    temporal = TemporalConfig.parse(temporal)
    refs = temporal.frame_indices(frames).shape[1] if (temporal.enabled and frames > 1) else 1
    tokens = pipe.tokenizer.model_max_length
    b = _dtype_bytes(pipe)
    layers = {l.name: l for l in attention_layers(pipe.unet, latent_hw=(h, w)) if layer_selected(l, max_side)}
    mask_layers = set(as_pipeline(pipe).defaults.mask_layers_for(layers, (h, w)))
    per_step = largest_map = 0
    for layer in layers.values():
        n = layer.queries
        if layer.kind == "self":
            m = n * (refs if temporal.enabled and layer.channels >= temporal.min_channels else 1)
        else:
            m = tokens
        per_step += mode.layer_bytes(layer, frames, m, tokens, b, layer.name in mask_layers, prompt_tokens)
        largest_map = max(largest_map, frames * layer.heads * n * m * b)
    latent_step = frames * pipe.unet.config.in_channels * h * w * b
    per_step += latent_step
    widest = pipe.unet.config.block_out_channels[0]
    batch = frames * (mode.guided_groups if guidance else 1)
    working = 28 * batch * h * w * widest * b  # UNet activations
    if mode.forms_maps:  # the largest single stored map is formed explicitly while recording
        working += largest_map
    model = sum(p.numel() * p.element_size() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters())
    embedding = tokens * pipe.unet.config.cross_attention_dim * b
    return MemoryEstimate(cache=cache, store_bytes=per_step * steps + latent_step + embedding, per_step_bytes=per_step,
                          working_bytes=working, model_bytes=model, device=str(pipe.unet.device))


# Activations autograd keeps for one backward pass through the UNet, in units of frames·h·w·(widest channels)
# values at the latent size (h, w). Counted (ours, 2026-12-07) with torch.autograd.graph.saved_tensors_hooks — each
# saved storage once, the weights not counted — on SD v1's UNet layout at a tenth of its widths (every activation is
# proportional to its level's width, so the count per unit does not depend on the scale), fp32 on the CPU, 2 frames,
# spatial-temporal attention, latents 16², 32², 48²: 302–323 units with ∅ requiring grad (null text), 327–348 with the
# to_q weights (tuning), the same per unit at every size (fused attention keeps no maps, as on CUDA). With diffusers'
# gradient checkpointing: the inputs of every checkpointed block (24 units) plus the largest block's activations while
# it is recomputed (27–29 units). Gradients in flight are not counted (require_fits keeps 10 % free). Estimates until
# measured on a GPU.
BACKPROP_ACTIVATIONS = {False: 350.0, True: 55.0}


def estimate_backprop(pipe, frames: int, height: int, width: int, checkpointing: bool, trainable_params: int = 0,
                      extra_bytes: int = 0) -> MemoryEstimate:
    """Estimate the working memory of a pass that backpropagates through the UNet (null-text inversion: ∅'s
    gradient; one-shot tuning: the trained tensors'), before running — no store (``cache=""``).

    working = a · frames · h · w · C_widest · itemsize   (a = :data:`BACKPROP_ACTIVATIONS`[checkpointing])
            + 16 bytes per trainable parameter (a float32 master, its gradient, Adam's two moments) + ``extra_bytes``
    (e.g. a copy of the UNet). The working set lives on the UNet's device.
    """
    vae_down = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    if height % vae_down or width % vae_down:
        raise ValueError(f"height and width must be multiples of {vae_down}, got {height}x{width}")
    h, w = height // vae_down, width // vae_down
    widest = pipe.unet.config.block_out_channels[0]
    activations = BACKPROP_ACTIVATIONS[bool(checkpointing)] * frames * h * w * widest * _dtype_bytes(pipe)
    model = sum(p.numel() * p.element_size() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters())
    return MemoryEstimate(cache="", store_bytes=0, per_step_bytes=0,
                          working_bytes=int(activations) + 16 * trainable_params + extra_bytes, model_bytes=model,
                          device=str(pipe.unet.device))


def available_memory(device: str = "cpu") -> int | None:
    """Bytes available: free GPU memory for CUDA, else the host's MemAvailable (Linux), else None (unknown)."""
    if str(device).startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil  # optional

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def fits(est: MemoryEstimate, host: int | None, gpu: int | None = None, headroom: float = 0.8) -> bool:
    """The store lives in host memory; the working set on the GPU when there is one (else also on the host)."""
    if gpu is None:
        return host is None or est.store_bytes + est.working_bytes <= headroom * host
    return (host is None or est.store_bytes <= headroom * host) and est.working_bytes <= headroom * gpu


def _available(device, host: int | None, gpu: int | None):
    """(host bytes, GPU bytes or None) available now, unless given."""
    on_gpu = str(device).startswith("cuda")
    host = available_memory("cpu") if host is None else host
    gpu = (available_memory("cuda") if on_gpu else None) if gpu is None else gpu
    return host, gpu


def require_fits(est: MemoryEstimate, what: str, fix: str, available: int | None = None,
                 gpu_available: int | None = None, headroom: float = 0.9, size: str = "") -> MemoryEstimate:
    """The one memory check: return ``est`` if it fits the memory available now (``available``: host bytes,
    ``gpu_available``: GPU bytes; None = measured, :func:`available_memory`), else raise MemoryError saying ``what``
    needs how much (at ``size``, e.g. "for 8 frames at 512x512 and 50 steps"), what is available and ``fix`` —
    called before any UNet call of the pass it guards."""
    host, gpu = _available(est.device, available, gpu_available)
    if fits(est, host, gpu, headroom):
        return est
    gib = 2 ** 30
    where = ("an unknown amount of host memory" if host is None else f"{host / gib:.1f} GiB of host memory") + (
        f" and {gpu / gib:.1f} GiB of GPU memory" if gpu is not None else "")
    store = f"{est.store_bytes / gib:.1f} GiB of store + " if est.cache else ""
    raise MemoryError(f"{what} needs about {store}{est.working_bytes / gib:.1f} GiB of working memory"
                      f"{' ' + size if size else ''}, but only {where} is available ({1 - headroom:.0%} of it kept "
                      f"free); {fix}.")


def choose_cache(pipe, frames: int, height: int, width: int, steps: int, temporal=True, max_side: int = 32,
                 available: int | None = None, gpu_available: int | None = None, headroom: float = 0.8,
                 device: str | None = None) -> str:
    """The fastest store mode on ``device`` (None: the UNet's) whose estimate fits (``available``: host bytes;
    ``gpu_available``: GPU bytes; None = measured now).

    The order is :func:`~fatezero_lab.store_modes.speed_order`'s, measured: on CUDA ``recompute`` first (2.3 × faster
    than ``inputs`` at the paper's setting on an H200, docs/gpu_sd.md, and the smallest store), then ``inputs``,
    ``maps``; on the CPU ``inputs`` first (docs/memory.md), then ``maps``, ``recompute``. None fits: the smallest.
    """
    device = str(pipe.unet.device) if device is None else device
    host, gpu = _available(device, available, gpu_available)
    order = speed_order(device)
    for cache in order:
        if fits(estimate_memory(pipe, frames, height, width, steps, cache, temporal, max_side), host, gpu, headroom):
            return cache
    return min(order, key=lambda c: estimate_memory(pipe, frames, height, width, steps, c, temporal,
                                                    max_side).store_bytes)


def check_fits(pipe, frames: int, height: int, width: int, steps: int, cache: str, temporal=True,
               max_side: int = 32, available: int | None = None, gpu_available: int | None = None,
               headroom: float = 0.9, prompt_tokens: int | None = None, what: str | None = None,
               fix: str | None = None) -> MemoryEstimate:
    """:func:`require_fits` for a store of mode ``cache``: MemoryError naming the fastest mode that would fit (or
    ``fix``) if it will not; else the estimate. ``what`` names the pass in the message (default: ``cache=...``)."""
    host, gpu = _available(pipe.unet.device, available, gpu_available)
    est = estimate_memory(pipe, frames, height, width, steps, cache, temporal, max_side, prompt_tokens=prompt_tokens)
    if fix is None:
        ok = [c for c in speed_order(str(pipe.unet.device))
              if fits(estimate_memory(pipe, frames, height, width, steps, c, temporal, max_side,
                                      prompt_tokens=prompt_tokens), host, gpu, headroom)]
        fix = f"cache={ok[0]!r} would fit" if ok else "no store mode fits: use fewer frames, steps or pixels"
    return require_fits(est, what or f"cache={cache!r}", fix, host, gpu, headroom,
                        size=f"for {frames} frames at {height}x{width} and {steps} steps")


def reconstruction_cache(cache: str) -> str:
    """The store mode the reconstruction pass keeps after an inversion in mode ``cache``."""
    if cache not in STORE_MODES:
        raise ConfigError(f"cache must be one of {list(STORE_MODES)}, got {cache!r}", "cache")
    return STORE_MODES[cache].reconstruction


def combined(estimates: list[MemoryEstimate], cache: str = "") -> MemoryEstimate:
    """Stores that live at once (e.g. an inversion's and its reconstruction pass's): their bytes add up; the working
    set is the largest of their passes' (they run one after another)."""
    first = estimates[0]
    return replace(first, cache=cache or "+".join(e.cache for e in estimates),
                   store_bytes=sum(e.store_bytes for e in estimates),
                   per_step_bytes=sum(e.per_step_bytes for e in estimates),
                   working_bytes=max(e.working_bytes for e in estimates))
