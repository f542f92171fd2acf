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
from tqdm.auto import tqdm

from .diffusion import (check_frames, check_prompt, ddim_inverse_scheduler, decode_latents, encode_frames,
                        encode_prompt, psnr, sample, tokens)
from .processors import AttentionControl, TemporalConfig, attention_control, explicit_attention
from .store import CACHE_MODES, AttentionStore, SourceAttention, layer_selected


class RecordControl(AttentionControl):
    """Inversion's control: at the store's layers, keep what the source attention needs.

    ``keep="maps"``: compute attention explicitly and keep the probabilities (the reference behaviour);
    ``keep="inputs"``: run fused SDPA and keep the queries and (frame-gathered) keys;
    ``keep=None``: keep nothing (recompute mode: only the layer list is registered).
    Kept items go to ``store.put`` at ``self.step``, or into ``self.captured`` when ``self.step < 0``.
    ``rows`` selects the batch rows to record (the conditional half of a guided batch).
    """

    def __init__(self, store: AttentionStore, latent_hw, keep: str | None = "maps", rows: slice = slice(None)):
        super().__init__(store.n_frames, store.temporal, latent_hw)
        self.store, self.keep, self.rows = store, keep, rows
        self.captured: dict[str, SourceAttention] = {}
        self._raw_k: torch.Tensor | None = None  # this call's keys before the frame gather (inputs mode keeps these)

    def gather(self, layer, k, v):
        self._raw_k = k  # (B, heads, m, d), per frame
        return super().gather(layer, k, v)

    def attend(self, layer, q, k, v, scale, mask=None):
        if not layer_selected(layer, self.store.max_side) or self.keep is None:
            if layer_selected(layer, self.store.max_side):
                self.store.layers.setdefault(layer.name, layer)
            return super().attend(layer, q, k, v, scale, mask)
        self.store.layers.setdefault(layer.name, layer)
        if self.keep == "maps":
            out, probs = explicit_attention(q, k, v, scale, mask)  # probs (B, heads, n, m)
            item = SourceAttention(scale, probs=probs[self.rows].detach())
        else:  # queries and per-frame keys; the reference-frame gather is redone on use (2x smaller for first+previous)
            out = super().attend(layer, q, k, v, scale, mask)
            temporal = self.uses_temporal(layer)
            raw = self._raw_k if temporal else k
            item = SourceAttention(scale, q=q[self.rows].detach(), k=raw[self.rows].detach(),
                                   index=self._index if temporal else None)
        if self.step < 0:
            self.captured[layer.name] = item
        else:
            self.store.put(self.step, layer, item)
        return out


@dataclass
class Inversion:
    """The result of :func:`invert`: the latent trajectory z_0 … z_T of every frame, and the attention store."""

    prompt: str  # the source prompt
    frames: np.ndarray  # (F, H, W, 3) the source clip
    latents: torch.Tensor  # (steps + 1, F, 4, h, w): latents[0] = z_0 = E(x), latents[-1] = z_T
    timesteps: list[int]  # the UNet timestep of each inversion step (ascending)
    store: AttentionStore | None = None  # the recorded source attention (see store.py)
    temporal: TemporalConfig = field(default_factory=lambda: TemporalConfig(enabled=False))

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
                f"store={self.store.cache if self.store else None!r})")


def check_steps(steps, name: str = "steps") -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 1000:
        raise ValueError(f"{name} must be an integer in 1..1000, got {steps!r}")
    return int(steps)


@torch.no_grad()
def invert(pipe, frames, prompt: str, steps: int = 50, temporal=True, cache: str = "auto", max_side: int = 32,
           record: bool = True, progress: bool = True) -> Inversion:
    """DDIM-invert ``frames`` (F, H, W, 3) with ``prompt`` (no guidance), recording the source attention.

    Args:
        temporal: spatial-temporal self-attention — True (first + previous frame), False, reference frame name(s)
            or a :class:`TemporalConfig`. Editing must use the same setting.
        cache: ``"auto"`` (default) picks the fastest mode whose memory estimate fits (see ``memory.py``);
            ``"maps"`` stores every attention probability map of every step (the reference behaviour);
            ``"inputs"`` stores the queries/keys that produce them; ``"recompute"`` stores only the latents and
            recomputes a step's attention when asked (editing runs one source pass per step).
        max_side: record/edit attention only at layers with at most ``max_side``² query positions (reference: 32).
        record: False runs a plain inversion (no store).
    """
    # 0. check every input before any compute
    frames = check_frames(frames)
    check_prompt(pipe, prompt, "prompt")
    steps = check_steps(steps)
    temporal = TemporalConfig.parse(temporal)
    if cache != "auto" and cache not in CACHE_MODES:
        raise ValueError(f"cache must be 'auto' or one of {list(CACHE_MODES)}, got {cache!r}")
    if not isinstance(max_side, int) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    if record:  # refuse, with the mode that would fit, rather than be killed for memory halfway
        from .memory import check_fits, choose_cache

        f, h, w, _ = frames.shape
        if cache == "auto":
            cache = choose_cache(pipe, f, h, w, steps, temporal, max_side)
        check_fits(pipe, f, h, w, steps, cache, temporal, max_side)
    elif cache == "auto":
        cache = "recompute"
    # 1. encode the frames and the source prompt
    z = encode_frames(pipe, frames)  # (F, 4, h, w)
    emb = encode_prompt(pipe, prompt)  # (1, tokens, dim)
    cond = emb.expand(len(z), -1, -1)  # (F, tokens, dim)
    store = AttentionStore(prompt=prompt, tokens=tokens(pipe, prompt), n_frames=len(z), temporal=temporal,
                           cache=cache, max_side=max_side, embedding=emb.detach().cpu(),
                           defaults=dict(getattr(pipe, "fatezero_defaults", {}) or {}))
    store._tokenizer = pipe.tokenizer
    control = RecordControl(store, tuple(z.shape[-2:]), keep=None if cache == "recompute" else cache)
    if not record:
        control = AttentionControl(len(z), temporal, tuple(z.shape[-2:]))
    # 2. run DDIM backwards, keeping every latent (and, in maps mode, every attention map)
    sched = ddim_inverse_scheduler(pipe, steps)
    latents = [z]
    with attention_control(pipe.unet, control):
        for i, t in enumerate(tqdm(sched.timesteps, desc="DDIM inversion", disable=not progress, leave=False)):
            control.step = i
            eps = pipe.unet(z, t, encoder_hidden_states=cond).sample
            z = sched.step(eps, t, z).prev_sample
            latents.append(z)
    latents = torch.stack(latents)  # (steps + 1, F, 4, h, w)
    timesteps = [int(t) for t in sched.timesteps]
    if record:
        store.timesteps = timesteps
        store.latents = [latents[i] for i in range(steps)]  # the z the UNet saw at step i (views, no copies)
        if cache == "recompute":
            store._recompute = lambda step: recompute_maps(pipe, store, step)
    return Inversion(prompt=prompt, frames=frames, latents=latents, timesteps=timesteps,
                     store=store if record else None, temporal=temporal)


@torch.no_grad()
def recompute_maps(pipe, store: AttentionStore, step: int) -> dict[str, SourceAttention]:
    """Attention at store step ``step`` is a pure function of (z_step, t_step, p_src): run the UNet once more and
    capture the queries/keys of every stored layer (maps are formed only if someone asks for them)."""
    control = RecordControl(store, tuple(store.latents[step].shape[-2:]), keep="inputs")
    control.step = -1  # capture into control.captured instead of the store
    z = store.latents[step].to(pipe.unet.device, pipe.unet.dtype)
    emb = store.embedding.to(pipe.unet.device, pipe.unet.dtype).expand(len(z), -1, -1)
    with attention_control(pipe.unet, control):
        pipe.unet(z, store.timesteps[step], encoder_hidden_states=emb)
    return control.captured


@torch.no_grad()
def reconstruct(pipe, inversion: Inversion, guidance: float = 1.0, progress: bool = True) -> np.ndarray:
    """Plain DDIM sampling from z_T with the source prompt -> frames; at guidance 1 this undoes the inversion."""
    z0 = sample(pipe, inversion.z_T, inversion.prompt, steps=inversion.steps, guidance=guidance,
                temporal=inversion.temporal, progress=progress)
    return decode_latents(pipe, z0)


def vae_roundtrip(pipe, frames) -> np.ndarray:
    """D(E(x)): the best any latent method can do — the ceiling for reconstruction PSNR."""
    return decode_latents(pipe, encode_frames(pipe, frames))


def reconstruction_report(pipe, frames, prompt: str, steps: int = 50) -> dict:
    """PSNR of the VAE round trip and of inversion + reconstruction, in dB."""
    inv = invert(pipe, frames, prompt, steps=steps, temporal=False, record=False, progress=False)
    rec = reconstruct(pipe, inv, progress=False)
    return {"vae_psnr": psnr(vae_roundtrip(pipe, frames), frames), "inversion_psnr": psnr(rec, frames)}
