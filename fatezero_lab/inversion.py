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
                        encode_prompt, psnr, sample)


@dataclass
class Inversion:
    """The result of :func:`invert`: the latent trajectory z_0 … z_T of every frame and what produced it."""

    prompt: str  # the source prompt
    frames: np.ndarray  # (F, H, W, 3) the source clip
    latents: torch.Tensor  # (steps + 1, F, 4, h, w): latents[0] = z_0 = E(x), latents[-1] = z_T
    timesteps: list[int]  # the UNet timestep of each inversion step (ascending)

    @property
    def z_T(self) -> torch.Tensor:
        return self.latents[-1]

    @property
    def steps(self) -> int:
        return len(self.timesteps)

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        return (f"Inversion(prompt={self.prompt!r}, frames={f}, size={h}x{w}, steps={self.steps}, "
                f"latents={tuple(self.latents.shape)})")


@torch.no_grad()
def invert(pipe, frames, prompt: str, steps: int = 50, progress: bool = True) -> Inversion:
    """DDIM-invert ``frames`` (F, H, W, 3) with ``prompt``; returns the whole latent trajectory."""
    frames = check_frames(frames)
    check_prompt(pipe, prompt, "prompt")
    if not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise ValueError(f"steps must be an integer in 1..1000, got {steps!r}")
    # 1. encode the frames and the source prompt
    z = encode_frames(pipe, frames)  # (F, 4, h, w)
    cond = encode_prompt(pipe, prompt).expand(len(z), -1, -1)  # (F, tokens, dim)
    # 2. run DDIM backwards, keeping every latent
    sched = ddim_inverse_scheduler(pipe, steps)
    latents = [z]
    for t in tqdm(sched.timesteps, desc="DDIM inversion", disable=not progress, leave=False):
        eps = pipe.unet(z, t, encoder_hidden_states=cond).sample
        z = sched.step(eps, t, z).prev_sample
        latents.append(z)
    return Inversion(prompt=prompt, frames=frames, latents=torch.stack(latents),
                     timesteps=[int(t) for t in sched.timesteps])


@torch.no_grad()
def reconstruct(pipe, inversion: Inversion, guidance: float = 1.0, progress: bool = True) -> np.ndarray:
    """Plain DDIM sampling from z_T with the source prompt -> frames; at guidance 1 this undoes the inversion."""
    z0 = sample(pipe, inversion.z_T, inversion.prompt, steps=inversion.steps, guidance=guidance, progress=progress)
    return decode_latents(pipe, z0)


def vae_roundtrip(pipe, frames) -> np.ndarray:
    """D(E(x)): the best any latent method can do — the ceiling for reconstruction PSNR."""
    return decode_latents(pipe, encode_frames(pipe, frames))


def reconstruction_report(pipe, frames, prompt: str, steps: int = 50) -> dict:
    """PSNR of the VAE round trip and of inversion + reconstruction, in dB."""
    inv = invert(pipe, frames, prompt, steps=steps, progress=False)
    rec = reconstruct(pipe, inv, progress=False)
    return {"vae_psnr": psnr(vae_roundtrip(pipe, frames), frames), "inversion_psnr": psnr(rec, frames)}
