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
counts them from the UNet's layer list (read from the module tree, no allocation) before anything runs; :func:`choose_cache` picks the fastest mode that fits the memory available, and
:func:`check_fits` refuses with a clear message instead of being killed for memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError, TemporalConfig
from .models import as_pipeline
from .processors import attention_layers
from .store_modes import STORE_MODES, layer_selected, speed_order


@dataclass
class MemoryEstimate:
    """Bytes for one inversion + edit in one store mode."""

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


def _available(pipe, host: int | None, gpu: int | None):
    on_gpu = str(pipe.unet.device).startswith("cuda")
    host = available_memory("cpu") if host is None else host
    gpu = (available_memory("cuda") if on_gpu else None) if gpu is None else gpu
    return host, gpu


def choose_cache(pipe, frames: int, height: int, width: int, steps: int, temporal=True, max_side: int = 32,
                 available: int | None = None, gpu_available: int | None = None, headroom: float = 0.8) -> str:
    """The fastest store mode whose estimate fits (``available``: host bytes; ``gpu_available``: GPU bytes)."""
    host, gpu = _available(pipe, available, gpu_available)
    order = speed_order()
    for cache in order:
        if fits(estimate_memory(pipe, frames, height, width, steps, cache, temporal, max_side), host, gpu, headroom):
            return cache
    return order[-1]  # the slowest mode, the smallest store


def check_fits(pipe, frames: int, height: int, width: int, steps: int, cache: str, temporal=True,
               max_side: int = 32, available: int | None = None, gpu_available: int | None = None,
               headroom: float = 0.9) -> MemoryEstimate:
    """Raise MemoryError (naming the fastest mode that would fit) if ``cache`` will not fit; else the estimate."""
    host, gpu = _available(pipe, available, gpu_available)
    est = estimate_memory(pipe, frames, height, width, steps, cache, temporal, max_side)
    if fits(est, host, gpu, headroom):
        return est
    gib = 2 ** 30
    ok = [c for c in speed_order()
          if fits(estimate_memory(pipe, frames, height, width, steps, c, temporal, max_side), host, gpu, headroom)]
    hint = f"cache={ok[0]!r} would fit" if ok else "no store mode fits: use fewer frames, steps or pixels"
    where = f"{host / gib:.1f} GiB of host memory" + (f" and {gpu / gib:.1f} GiB of GPU memory" if gpu else "")
    raise MemoryError(
        f"cache={cache!r} needs about {est.store_bytes / gib:.1f} GiB of store + {est.working_bytes / gib:.1f} GiB "
        f"working memory for {frames} frames at {height}x{width} and {steps} steps, but only {where} is available; "
        f"{hint}.")
