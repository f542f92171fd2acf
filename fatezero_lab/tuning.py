"""Shape-aware editing: one-shot video tuning (Tune-A-Video style) before FateZero's fusion (paper step 5).

Zero-shot, fused self-attention keeps the source's shape. FateZero's shape edits use a base model tuned on the
source clip itself: Tune-A-Video trains the query projections of the spatial self- and cross-attention
(``attn1.to_q``, ``attn2.to_q``) and a new **temporal attention** layer, with the usual denoising loss on the clip
and its source prompt:

    L = E_{t, ε} || ε − ε_θ(√ᾱ_t z_0 + √(1−ᾱ_t) ε, t, p_src) ||²     (all frames share t and are denoised together)

The temporal layer attends, at every spatial position, across the frames:
``TempAttn(h)[f, p] = Σ_g softmax_g(q_f · k_g / √d) v_g`` with q, k, v from the features of that position in frames
f, g. It is owned by the attention *processor* of each self-attention layer (no UNet fork, no monkey-patching): the
processor adds it as a parallel branch, ``attn1(h) + TempAttn(h)``, and its output projection starts at zero, so the
tuned model begins exactly as the base model.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import FateZeroPipeline, as_pipeline
from .cost import announced

TRAINABLE_PATTERNS = (r"\.attn1\.to_q\.", r"\.attn2\.to_q\.")
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what denoising_target can train towards


class TemporalAttention(nn.Module):
    """Attention across frames at each spatial position; zero-initialised output (starts as a no-op)."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(channels, channels, bias=False)
        self.to_v = nn.Linear(channels, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, h: torch.Tensor, n_frames: int) -> torch.Tensor:
        """h (groups*frames, n, C) -> (groups*frames, n, C)."""
        b, n, c = h.shape
        g = b // n_frames
        x = self.norm(h).view(g, n_frames, n, c).permute(0, 2, 1, 3).reshape(g * n, n_frames, c)  # (g*n, frames, C)
        d = c // self.heads
        q, k, v = (p(x).view(g * n, n_frames, self.heads, d).transpose(1, 2) for p in (self.to_q, self.to_k, self.to_v))
        y = F.scaled_dot_product_attention(q, k, v)  # (g*n, heads, frames, d)
        y = self.to_out(y.transpose(1, 2).reshape(g * n, n_frames, c))
        return y.view(g, n, n_frames, c).permute(0, 2, 1, 3).reshape(b, n, c)


def add_temporal_layers(pipe) -> nn.ModuleDict:
    """Create one zero-initialised TemporalAttention per self-attention layer; they live in
    ``pipe.temporal_layers`` (a :class:`~fatezero_lab.models.FateZeroPipeline` field), beside the UNet — its own
    weights and state_dict stay untouched, and every control hands them to the processors."""
    from .processors import attention_layers

    if not isinstance(pipe, FateZeroPipeline):
        raise TypeError("add_temporal_layers needs a FateZeroPipeline (fatezero_lab.load_pipeline or "
                        "fatezero_lab.as_pipeline(diffusers_pipeline)): the layers live in its temporal_layers")
    layers = [l for l in attention_layers(pipe.unet) if l.kind == "self"]
    mods = nn.ModuleDict({_key(l.name): TemporalAttention(l.channels, l.heads) for l in layers})
    mods.to(pipe.unet.device, pipe.unet.dtype)
    pipe.temporal_layers = {k.replace("__", "."): m for k, m in mods.items()}
    return mods


def _key(name: str) -> str:
    return name.replace(".", "__")  # ModuleDict keys cannot hold dots


def temporal_layers(pipe) -> dict[str, nn.Module]:
    """{processor name: TemporalAttention} of a tuned pipeline (empty for a base model)."""
    return dict(as_pipeline(pipe).temporal_layers)


def _own_copy(pipe):
    """A pipeline that shares the VAE and text encoder with ``pipe`` but owns a copy of its UNet."""
    inner = copy.copy(pipe.diffusers)  # shallow: share VAE/text encoder
    inner.unet = copy.deepcopy(pipe.unet)
    return FateZeroPipeline(inner, pipe.defaults, name=pipe.name)


@dataclass
class TuneReport:
    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    trainable: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        first = np.mean(self.losses[:10]) if self.losses else float("nan")
        last = np.mean(self.losses[-10:]) if self.losses else float("nan")
        return (f"TuneReport(steps={self.steps}, loss {first:.4f} -> {last:.4f}, {len(self.trainable)} tensors, "
                f"{self.seconds:.0f} s)")


def denoising_target(prediction_type: str, z0: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor):
    """What the UNet is trained to predict from z_t = √ᾱ_t z_0 + √(1−ᾱ_t) ε, per the scheduler's ``prediction_type``:
    ``epsilon`` → ε (SD v1, SD 2.x base), ``v_prediction`` → v = √ᾱ_t ε − √(1−ᾱ_t) z_0 (SD 2.x 768), ``sample`` → z_0.
    """
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "v_prediction":
        return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * z0
    if prediction_type == "sample":
        return z0
    raise ValueError(f"scheduler prediction_type={prediction_type!r} is not supported by one-shot tuning "
                     f"(expected one of {PREDICTION_TYPES})")


def trainable_parameters(pipe) -> int:
    """How many values one-shot tuning trains: the ``to_q`` projections of every attention layer and, per
    self-attention layer of C channels, a new temporal attention layer (LayerNorm 2C, q/k/v 3C², out C² + C)."""
    from .processors import attention_layers

    pipe = as_pipeline(pipe)
    to_q = sum(p.numel() for n, p in pipe.unet.named_parameters() if any(re.search(t, n) for t in TRAINABLE_PATTERNS))
    temporal = sum(4 * l.channels ** 2 + 3 * l.channels for l in attention_layers(pipe.unet) if l.kind == "self")
    return to_q + temporal


def check_memory(pipe, frames: int, height: int, width: int, checkpointing: bool, copy_pipe: bool = True):
    """The one memory check (:func:`fatezero_lab.memory.require_fits`) for tuning ``frames`` frames at ``height`` x
    ``width``, before any UNet call: the backward pass's activations, the trained tensors with their float32 masters,
    gradients and AdamW moments, and (``copy_pipe``) the UNet's copy. Returns the estimate or raises MemoryError."""
    from .memory import estimate_backprop, require_fits

    pipe = as_pipeline(pipe)
    copy_bytes = sum(p.numel() * p.element_size() for p in pipe.unet.parameters()) if copy_pipe else 0
    est = estimate_backprop(pipe, frames, height, width, checkpointing, trainable_parameters(pipe), copy_bytes)
    fixes = (["gradient_checkpointing=True (one more forward per step, about 6x less activation memory)"]
             * (not checkpointing) + ["copy_pipe=False (tunes the pipeline itself)"] * bool(copy_pipe)
             + ["fewer frames or pixels"])
    return require_fits(est, "one-shot tuning (backpropagation through the UNet)", "use " + ", or ".join(fixes),
                        size=f"for {frames} frames at {height}x{width}")


@announced  # its cost estimate is printed first in sd mode (cost.py)
def tune_on_clip(pipe, frames, prompt: str, steps: int = 300, lr: float = 1e-4, seed: int = 0, temporal=True,
                 progress: bool = True, copy_pipe: bool = True, gradient_checkpointing: bool | None = None):
    """Tune ``pipe`` one-shot on ``frames`` with ``prompt``; returns (tuned pipeline, TuneReport).

    Trains ``attn1.to_q``, ``attn2.to_q`` and new temporal attention layers; everything else stays frozen. With
    ``copy_pipe`` the base pipeline is left untouched (its UNet is copied). The loss's target follows the scheduler's
    ``prediction_type`` (:func:`denoising_target`).

    Half-precision UNets (SD on CUDA loads fp16) train in mixed precision, as Tune-A-Video does: the trained tensors
    are kept in float32 while tuning (AdamW's update and ε = 1e-8 are lost in fp16), the forward runs under
    ``torch.autocast`` in the UNet's dtype, fp16 gradients go through a loss scaler, and the tuned tensors are cast
    back to the UNet's dtype at the end. ``gradient_checkpointing`` (default: on for CUDA) trades a second forward
    for activation memory — 8 frames at 512² otherwise exceed a 15 GB T4. Refused with MemoryError, before any UNet
    call, when the estimate of all that does not fit (:func:`check_memory`).
    """
    from .diffusion import check_frames, check_prompt, encode_frames, encode_prompt
    from .processors import AttentionControl, TemporalConfig, attention_control

    pipe = as_pipeline(pipe)
    frames = check_frames(frames)
    check_prompt(pipe, prompt)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    prediction_type = pipe.scheduler.config.get("prediction_type", "epsilon")
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"scheduler prediction_type={prediction_type!r} is not supported by one-shot tuning "
                         f"(expected one of {PREDICTION_TYPES})")
    device_type = pipe.unet.device.type
    checkpointing = device_type == "cuda" if gradient_checkpointing is None else bool(gradient_checkpointing)
    check_memory(pipe, frames.shape[0], frames.shape[1], frames.shape[2], checkpointing, copy_pipe)
    import time

    t0 = time.time()
    if copy_pipe:
        pipe = _own_copy(pipe)
    unet = pipe.unet
    mods = add_temporal_layers(pipe)
    unet.requires_grad_(False)
    names = [n for n, _ in unet.named_parameters() if any(re.search(p, n) for p in TRAINABLE_PATTERNS)]
    params = [p for n, p in unet.named_parameters() if n in names]
    params += list(mods.parameters())
    dtype = unet.dtype
    mixed = dtype in (torch.float16, torch.bfloat16)
    for p in params:
        if mixed:
            p.data = p.data.float()  # float32 master copy of each trained tensor
        p.requires_grad_(True)
    if checkpointing:
        unet.enable_gradient_checkpointing()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    scaler = torch.amp.GradScaler(device_type, enabled=mixed and dtype == torch.float16 and device_type == "cuda")
    z0 = encode_frames(pipe, frames)  # (F, 4, h, w)
    emb = encode_prompt(pipe, prompt).expand(len(z0), -1, -1)  # (F, tokens, dim)
    acp = pipe.scheduler.alphas_cumprod.to(z0.device)
    g = torch.Generator().manual_seed(seed)
    temporal = TemporalConfig.parse(temporal).resolved(pipe.defaults)
    control = AttentionControl(len(z0), temporal, tuple(z0.shape[-2:]), temporal_layers=pipe.temporal_layers)
    report = TuneReport(steps=steps, trainable=names + [f"temporal.{k}" for k in mods.keys()])
    unet.train()
    try:
        with attention_control(unet, control):
            for _ in tqdm(range(steps), desc="one-shot tuning", disable=not progress, leave=False):
                # 1. one timestep for the whole clip, fresh noise per frame
                t = int(torch.randint(0, len(acp), (1,), generator=g))
                eps = torch.randn(z0.shape, generator=g).to(z0)  # (F, 4, h, w)
                zt = acp[t].sqrt() * z0 + (1 - acp[t]).sqrt() * eps
                target = denoising_target(prediction_type, z0, eps, acp[t])
                # 2. denoising loss (autocast in the UNet's dtype when mixed); gradients into to_q and temporal layers
                with torch.autocast(device_type, dtype=dtype, enabled=mixed):
                    pred = unet(zt, t, encoder_hidden_states=emb).sample  # (F, 4, h, w)
                loss = F.mse_loss(pred.float(), target.float())
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                report.losses.append(loss.item())
    finally:  # even after an error or Ctrl-C: an inference-ready UNet (with copy_pipe=False it is the caller's)
        if checkpointing:
            unet.disable_gradient_checkpointing()
        unet.eval()
        unet.requires_grad_(False)
        mods.requires_grad_(False)
        for p in params:
            p.data = p.data.to(dtype)  # back to the UNet's dtype for inference
    report.seconds = time.time() - t0
    pipe.tuned_on = prompt
    return pipe, report


def save_tuned(pipe, path: str | Path) -> Path:
    """Save the tuned tensors (the to_q weights and the temporal layers) as one safetensors file."""
    from safetensors.torch import save_file

    pipe = as_pipeline(pipe)
    state = {n: p.detach().cpu().contiguous() for n, p in pipe.unet.named_parameters()
             if any(re.search(pat, n) for pat in TRAINABLE_PATTERNS)}
    mods = nn.ModuleDict({_key(k): m for k, m in pipe.temporal_layers.items()})
    for k, v in mods.state_dict().items():
        state[f"temporal.{k}"] = v.detach().cpu().contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def load_tuned(pipe, path: str | Path, copy_pipe: bool = True):
    """Apply tuned tensors saved by :func:`save_tuned` to (a copy of) ``pipe``."""
    from safetensors.torch import load_file

    state = load_file(str(path))
    pipe = as_pipeline(pipe)
    if copy_pipe:
        pipe = _own_copy(pipe)
    mods = add_temporal_layers(pipe)
    mods.load_state_dict({k[len("temporal."):]: v for k, v in state.items() if k.startswith("temporal.")})
    unet_state = {k: v for k, v in state.items() if not k.startswith("temporal.")}
    missing = set(unet_state) - {n for n, _ in pipe.unet.named_parameters()}
    if missing:
        raise ValueError(f"{path} holds tensors this UNet does not have, e.g. {sorted(missing)[:3]}")
    pipe.unet.load_state_dict(unet_state, strict=False)
    mods.requires_grad_(False)
    return pipe
