"""DDIM inversion of a whole clip with the source prompt (no classifier-free guidance).

DDIM's deterministic update run backwards in time maps the clean latents z_0 to a noise latent z_T that DDIM
sampling maps back to (almost exactly) z_0:

    z_{t+1} = √ᾱ_{t+1} · (z_t − √(1−ᾱ_t) ε_θ(z_t, t+1, p_src)) / √ᾱ_t + √(1−ᾱ_{t+1}) · ε_θ(z_t, t+1, p_src)

(diffusers' ``DDIMInverseScheduler``; the UNet is evaluated at the *target* timestep, the same pairing the
denoising pass uses, so inversion step j and denoising step T−1−j see the same timestep.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .config import ConfigError, InversionConfig, NullTextConfig, TemporalConfig
from .cost import announced
from .diffusion import (check_frames, check_prompt, ddim_inverse_scheduler, ddim_loop, decode_latents,
                        encode_frames, encode_prompt, sample, tokens)
from .null_text import NullText, optimise_null_text, check_memory as check_null_text_memory
from .models import FateZeroPipeline, as_pipeline
from .processors import AttentionControl, LayerInfo, attention_control
from .store import AttentionStore, SourceAttention
from .store_modes import STORE_MODES, StoreMode, layer_selected, store_mode


class RecordControl(AttentionControl):
    """Records the source attention at the selected layers (at most ``max_side``² queries) of every step.

    What it keeps is its store mode's choice (``keep``: a name of ``store_modes.STORE_MODES`` or a mode): ``"maps"``
    computes attention explicitly and keeps the probabilities (the reference behaviour), ``"inputs"`` runs fused SDPA
    and keeps the queries and per-frame keys, ``"recompute"`` keeps only the head-mean maps of the
    ``summary_layers`` that the blending mask reads (the model's default mask layers). ``rows`` selects the batch rows
    to record (e.g. the conditional half of a guided batch); ``n_tokens`` cuts the summaries to the prompt's own
    tokens. What it keeps is in ``recorded[step][layer name]`` (on ``device``) and the layers it selected in
    ``selected`` (UNet order).
    """

    def __init__(self, n_frames: int, temporal, latent_hw, max_side: int, keep: str | StoreMode = "maps",
                 rows: slice = slice(None), n_tokens: int | None = None, device: str = "cpu",
                 summary_layers: list[str] | None = None, temporal_layers: dict | None = None):
        super().__init__(n_frames, temporal, latent_hw, temporal_layers=temporal_layers)
        self.mode = keep if isinstance(keep, StoreMode) else store_mode(keep)
        self.max_side, self.rows, self.n_tokens, self.device = max_side, rows, n_tokens, device
        self.summary_layers = None if summary_layers is None else set(summary_layers)  # None: every selected layer
        self.recorded: dict[int, dict[str, SourceAttention]] = {}
        self.selected: dict[str, LayerInfo] = {}

    def attend(self, layer, q, k, v, scale, mask=None):
        if not layer_selected(layer, self.max_side):
            return super().attend(layer, q, k, v, scale, mask)
        self.selected.setdefault(layer.name, layer)
        if self.summary_layers is not None and layer.name not in self.summary_layers:
            return super().attend(layer, q, k, v, scale, mask)
        out, item = self.mode.record(self, layer, q, k, v, scale, mask)  # what the store mode keeps
        self.recorded.setdefault(self.step, {})[layer.name] = item.to(self.device)
        return out


def capture_attention(pipe, z: torch.Tensor, t: int, embedding: torch.Tensor, temporal=False, max_side: int = 32,
                      keep: str = "inputs") -> tuple[dict[str, SourceAttention], dict[str, LayerInfo]]:
    """Attention of one UNet call ε_θ(z, t, p) at every selected layer -> ({layer: attention}, {layer: info}).

    ``z`` (F, 4, h, w), ``embedding`` (1, tokens, dim). Runs under its own attention control.
    """
    pipe = as_pipeline(pipe)
    temporal = TemporalConfig.parse(temporal).resolved(pipe.defaults)
    control = RecordControl(len(z), temporal, tuple(z.shape[-2:]), max_side, keep=keep,
                            temporal_layers=pipe.temporal_layers)
    z = z.to(pipe.unet.device, pipe.unet.dtype)
    emb = embedding.to(pipe.unet.device, pipe.unet.dtype).expand(len(z), -1, -1)  # (F, tokens, dim)
    with torch.no_grad(), attention_control(pipe.unet, control):
        pipe.unet(z, t, encoder_hidden_states=emb)
    return control.recorded.get(0, {}), control.selected


@dataclass
class SourceRecomputer:
    """Gives back the source attention of one inversion step on request ("recompute" mode's inspection path).

    Attention at inversion step j is a pure function of (z_j, t_j, p_src), so one more UNet call recomputes it —
    under its own attention control, never inside another's. Editing does not use this: it runs the source rows in
    its own guided UNet call (``editing.EditControl``).
    """

    pipe: FateZeroPipeline
    latents: list[torch.Tensor]  # z_j the inversion's UNet saw, (F, 4, h, w) each
    timesteps: list[int]
    embedding: torch.Tensor  # (1, tokens, dim)
    temporal: TemporalConfig
    max_side: int

    def attention(self, step: int) -> dict[str, SourceAttention]:
        found, _ = capture_attention(self.pipe, self.latents[step], self.timesteps[step], self.embedding,
                                     self.temporal, self.max_side, keep="inputs")
        return found


@dataclass
class Inversion:
    """The result of :func:`invert`: the latent trajectory z_0 … z_T of every frame, and the attention store."""

    prompt: str  # the source prompt
    frames: np.ndarray  # (F, H, W, 3) the source clip
    latents: torch.Tensor  # (steps + 1, F, 4, h, w): latents[0] = z_0 = E(x), latents[-1] = z_T
    timesteps: list[int]  # the UNet timestep of each inversion step (ascending)
    store: AttentionStore | None = None  # the recorded source attention (see store.py)
    temporal: TemporalConfig = field(default_factory=lambda: TemporalConfig(enabled=False))
    null_text: NullText | None = None  # tuned unconditional embeddings (invert(null_text=...)); edit uses them

    @property
    def z_T(self) -> torch.Tensor:
        return self.latents[-1]

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        return (f"Inversion(prompt={self.prompt!r}, frames={f}, size={h}x{w}, steps={self.steps}, "
                f"temporal={list(self.temporal.reference) if self.temporal.enabled else 'off'}, "
                f"groupnorm={self.temporal.groupnorm!r}, "
                f"store={self.store.cache if self.store else None!r}"
                + (f", null_text={self.null_text!r})" if self.null_text is not None else ")"))


@announced  # its cost estimate is printed first in sd mode (cost.py)
@torch.no_grad()
def invert(pipe, frames, prompt: str, steps: int = 50, temporal=True, cache: str = "auto", max_side: int | None = None,
           record: bool = True, null_text=False, progress: bool = True) -> Inversion:
    """DDIM-invert ``frames`` (F, H, W, 3) with ``prompt`` (no guidance), recording the source attention.

    Args:
        temporal: spatial-temporal self-attention — True (first + previous frame), False, reference frame name(s)
            or a :class:`TemporalConfig`. Editing must use the same setting.
        cache: ``"auto"`` (default) picks the fastest mode whose memory estimate fits (see ``memory.py``);
            ``"maps"`` stores every attention probability map of every step (the reference behaviour);
            ``"inputs"`` stores the queries/keys that produce them; ``"recompute"`` stores only the latents and
            the blending mask's head-mean cross maps (editing recomputes the source attention in its own UNet call).
        max_side: record/edit attention only at layers with at most ``max_side``² query positions; None = the
            model's (``pipe.max_side``: the reference's 32 at SD 1.x's 64² latent, 48 for SD 2.x-768).
        record: False runs a plain inversion (no store).
        null_text: also tune the unconditional embedding of every denoising step so that guided sampling retraces
            this inversion (null-text inversion, beyond the paper; ``null_text.py``) — True (w = 7.5, 10 Adam
            steps per step, lr 1e-2, early stop 1e-5), a :class:`NullTextConfig` or a dict of its fields.
            ``edit``, ``reconstruct`` and the reconstruction-attention ablation then use it.
    """
    pipe = as_pipeline(pipe)
    # 0. check every input before any compute
    frames = check_frames(frames)
    check_prompt(pipe, prompt, "prompt")
    settings = InversionConfig(steps=int(steps) if isinstance(steps, np.integer) else steps, cache=cache,
                               max_side=max_side, record=record)  # checks each setting
    steps = settings.steps
    temporal = TemporalConfig.parse(temporal).resolved(pipe.defaults)  # the model decides what is left open
    null_cfg = NullTextConfig.parse(null_text)
    if cache != "auto" and cache not in STORE_MODES:
        raise ConfigError(f"cache must be 'auto' or one of {list(STORE_MODES)}, got {cache!r}", "cache")
    max_side = pipe.max_side if max_side is None else max_side
    f, h, w, _ = frames.shape
    store_bytes = 0
    if record:  # refuse, with the mode that would fit, rather than be killed for memory halfway
        from .memory import check_fits, choose_cache

        if cache == "auto":
            cache = choose_cache(pipe, f, h, w, steps, temporal, max_side)
        store_bytes = check_fits(pipe, f, h, w, steps, cache, temporal, max_side,
                                 prompt_tokens=len(tokens(pipe, prompt))).store_bytes
    if null_cfg is not None:  # null text backpropagates through the UNet after the store is built: checked now too
        check_null_text_memory(pipe, f, h, w, null_cfg, store_bytes)
    # 1. encode the frames and the source prompt
    z = encode_frames(pipe, frames)  # (F, 4, h, w)
    emb = encode_prompt(pipe, prompt)  # (1, tokens, dim)
    toks = tokens(pipe, prompt)
    # 2. run DDIM backwards (no guidance), recording the attention the chosen cache mode keeps
    if record:
        mode = store_mode(cache)
        control = RecordControl(len(z), temporal, tuple(z.shape[-2:]), max_side, keep=mode, n_tokens=len(toks),
                                summary_layers=mode.record_layers(pipe, tuple(z.shape[-2:]), max_side),
                                temporal_layers=pipe.temporal_layers)
    else:
        control = AttentionControl(len(z), temporal, tuple(z.shape[-2:]), temporal_layers=pipe.temporal_layers)
    sched = ddim_inverse_scheduler(pipe, steps)
    latents = torch.stack(ddim_loop(pipe, z, sched, emb.expand(len(z), -1, -1), control, None, progress,
                                    "DDIM inversion"))  # (steps + 1, F, 4, h, w)
    timesteps = [int(t) for t in sched.timesteps]
    # 3. the store: what was recorded, with everything its inspection API needs
    store = None
    if record:
        seen = [latents[i] for i in range(steps + 1)]  # the z the UNet saw at step i, then z_T (views, no copies)
        recomputer = (SourceRecomputer(pipe, seen, timesteps, emb.detach().cpu(), temporal, max_side)
                      if mode.source_rows else None)
        store = AttentionStore(prompt=prompt, tokens=toks, n_frames=len(z), temporal=temporal, tokenizer=pipe.tokenizer,
                               cache=cache, max_side=max_side, layers=control.selected, timesteps=timesteps,
                               latents=seen, embedding=emb.detach().cpu(), defaults=pipe.defaults,
                               data=control.recorded, recomputer=recomputer)
    # 4. null-text inversion (optional): tune ∅ per step along the trajectory just computed
    nt = optimise_null_text(pipe, latents, emb, temporal, null_cfg, progress) if null_cfg is not None else None
    return Inversion(prompt=prompt, frames=frames, latents=latents, timesteps=timesteps, store=store,
                     temporal=temporal, null_text=nt)


@announced  # its cost estimate is printed first in sd mode (cost.py)
@torch.no_grad()
def reconstruct(pipe, inversion: Inversion, guidance: float | None = None, progress: bool = True) -> np.ndarray:
    """Plain DDIM sampling from z_T with the source prompt -> frames; at guidance 1 this undoes the inversion.

    ``guidance`` None: 1, or the null-text guidance when the inversion has tuned ∅ (which it then uses: sampling
    at that guidance retraces the inversion too).
    """
    pipe = as_pipeline(pipe)
    nt = inversion.null_text
    if guidance is None:
        guidance = nt.config.guidance if nt is not None else 1.0
    z0 = sample(pipe, inversion.z_T, inversion.prompt, steps=inversion.steps, guidance=guidance,
                temporal=inversion.temporal, progress=progress, null_text=nt)
    return decode_latents(pipe, z0)


def vae_roundtrip(pipe, frames) -> np.ndarray:
    """D(E(x)): the best any latent method can do — the ceiling for reconstruction PSNR."""
    return decode_latents(pipe, encode_frames(pipe, frames))
