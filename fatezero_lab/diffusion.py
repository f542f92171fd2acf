"""Latent diffusion basics shared by inversion and editing: encode/decode frames, embed prompts, DDIM sampling.

Frames travel in the batch dimension of the 2-D UNet: a clip of F frames is a batch of F latents (F, 4, h, w).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .cost import announced


def check_frames(frames, name: str = "frames") -> np.ndarray:
    """Validate a clip: (F, H, W, 3) floats in [0, 1], H and W multiples of 8. Returns it as float32."""
    if isinstance(frames, (list, tuple)) and frames:  # a list of frames: all of one size, said per frame
        shapes = [np.shape(f) for f in frames]
        for i, s in enumerate(shapes):
            if s != shapes[0]:
                raise ValueError(f"{name}[{i}] has shape {s} but {name}[0] has {shapes[0]}: every frame of a clip "
                                 f"must have the same size (fatezero_lab.video.resize_crop brings them to one)")
    arr = np.asarray(frames)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        raise ValueError(f"{name} must be a clip of shape (frames, height, width, 3); got one image {arr.shape} — "
                         f"wrap it as {name}[None]")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (frames, height, width, 3); got {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has no frames")
    if arr.shape[1] % 8 or arr.shape[2] % 8:
        raise ValueError(f"{name} height and width must be multiples of 8; got {arr.shape[1]}x{arr.shape[2]} "
                         f"(use fatezero_lab.video.resize_crop)")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} values must be finite; {int((~np.isfinite(arr)).sum())} are NaN or infinite")
    if arr.min() < -1e-3 or arr.max() > 1 + 1e-3:
        raise ValueError(f"{name} values must be in [0, 1] (float) or 0..255 (uint8); "
                         f"got range [{float(arr.min()):.3g}, {float(arr.max()):.3g}]")
    return np.clip(arr, 0.0, 1.0)


def check_prompt(pipe, prompt, name: str = "prompt") -> str:
    """A prompt must be a string that fits the tokenizer; for the toy model, every word must be in its vocabulary."""
    if not isinstance(prompt, str):
        raise TypeError(f"{name} must be a string, got {type(prompt).__name__}")
    tok = pipe.tokenizer
    vocab = tok.get_vocab()
    if len(vocab) < 1000:  # a toy vocabulary: say which words it does not know
        unknown = [w for w in prompt.lower().split() if w + "</w>" not in vocab]
        if unknown:
            from .toyworld import vocabulary

            known = [w for w in vocabulary() if w + "</w>" in vocab] or sorted(k[:-4] for k in vocab if k.endswith("</w>"))
            raise ValueError(f"{name} {prompt!r} uses word(s) {unknown} the toy model does not know; "
                             f"its words are: {', '.join(known)}")
    n_ids = len(tok(prompt, add_special_tokens=True, verbose=False).input_ids)
    if n_ids > tok.model_max_length:
        raise ValueError(f"{name} {prompt!r} is {n_ids} tokens; the tokenizer takes at most {tok.model_max_length}")
    return prompt


def device_dtype(pipe) -> tuple[torch.device, torch.dtype]:
    return pipe.unet.device, pipe.unet.dtype


@torch.no_grad()
def encode_frames(pipe, frames: np.ndarray, batch_size: int = 8) -> torch.Tensor:
    """z0 = E(x) · s: the VAE posterior mean of each frame, scaled by the VAE's ``scaling_factor``. -> (F, 4, h, w)"""
    device, dtype = device_dtype(pipe)
    x = torch.from_numpy(check_frames(frames)).permute(0, 3, 1, 2) * 2 - 1  # (F, 3, H, W) in [-1, 1]
    out = []
    for i in range(0, len(x), batch_size):
        dist = pipe.vae.encode(x[i:i + batch_size].to(device, pipe.vae.dtype)).latent_dist
        out.append(dist.mean)
    return (torch.cat(out) * pipe.vae.config.scaling_factor).to(dtype)


@torch.no_grad()
def decode_latents(pipe, latents: torch.Tensor, batch_size: int = 8) -> np.ndarray:
    """x = D(z / s) -> frames (F, H, W, 3) float32 in [0, 1]."""
    out = []
    for i in range(0, len(latents), batch_size):
        z = latents[i:i + batch_size].to(pipe.vae.device, pipe.vae.dtype) / pipe.vae.config.scaling_factor
        out.append(pipe.vae.decode(z).sample.float().clamp(-1, 1).cpu())
    x = torch.cat(out)
    return ((x + 1) / 2).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def encode_prompt(pipe, prompt: str) -> torch.Tensor:
    """Text embedding p = τ(prompt) padded to the tokenizer's max length -> (1, tokens, dim)."""
    tok = pipe.tokenizer
    ids = tok(prompt, padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt").input_ids
    return pipe.text_encoder(ids.to(pipe.text_encoder.device))[0].to(pipe.unet.dtype)


def tokens(pipe, prompt: str) -> list[str]:
    """The prompt's tokens as the UNet sees them, without the trailing pads: ``['<bos>', 'a', 'red', ..., '<eos>']``."""
    tok = pipe.tokenizer
    ids = tok(prompt, truncation=True).input_ids
    return [t.replace("</w>", "") for t in tok.convert_ids_to_tokens(ids)]


def ddim_scheduler(pipe, steps: int):
    """A fresh ``DDIMScheduler`` (``steps_offset=1``) with ``steps`` timesteps: [T-…, …, 1]."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(pipe.scheduler.config, steps_offset=1)
    sched.set_timesteps(steps, device=pipe.unet.device)
    return sched


def ddim_inverse_scheduler(pipe, steps: int):
    """A fresh ``DDIMInverseScheduler`` whose timesteps are the DDIM ones reversed: [1, …, T-…]."""
    from diffusers import DDIMInverseScheduler

    sched = DDIMInverseScheduler.from_config(pipe.scheduler.config, steps_offset=1)
    sched.set_timesteps(steps, device=pipe.unet.device)
    return sched


@torch.no_grad()
def ddim_loop(pipe, z: torch.Tensor, scheduler, context: torch.Tensor, control, guidance: float | None = None,
              progress: bool = True, desc: str = "DDIM") -> list[torch.Tensor]:
    """The one DDIM loop of the package — sampling, inversion and editing differ only in ``scheduler``, ``context``,
    ``guidance`` and the ``control`` (an :class:`~fatezero_lab.processors.AttentionControl`). ``context`` is one
    tensor for every step, or a list with one per step (null-text inversion tunes ∅ per step).

    With guidance w (classifier-free guidance; ``context`` = [uncond | cond], (2F, tokens, dim)):

        ε̂ = ε_θ(z_t, t, ∅) + w · (ε_θ(z_t, t, p) − ε_θ(z_t, t, ∅)),

    without (``guidance=None``; ``context`` = cond, (F, tokens, dim)): ε̂ = ε_θ(z_t, t, p). Then the scheduler's
    deterministic DDIM update — forward (denoising) for a ``DDIMScheduler``,
    z_{t−1} = √ᾱ_{t−1} · (z_t − √(1−ᾱ_t) ε̂)/√ᾱ_t + √(1−ᾱ_{t−1}) · ε̂, or backwards (inversion) for a
    ``DDIMInverseScheduler``. Returns the trajectory [z, z_1, …, z_steps] (steps + 1 latents, (F, 4, h, w) each).
    """
    from .processors import attention_control

    groups = 1 if guidance is None else 2
    latents = [z]
    with attention_control(pipe.unet, control):
        for i, t in enumerate(tqdm(scheduler.timesteps, desc=desc, disable=not progress, leave=False)):
            # 1. the control prepares step i (e.g. the source attention of the matching inversion step)
            control.begin_step(i, int(t))
            # 2. the UNet batch: the control's extra rows (if any), then one copy of z per guidance group
            ctx = context[i] if isinstance(context, (list, tuple)) else context  # (groups*F, tokens, dim)
            z_in = torch.cat([z] * groups)  # (groups*F, 4, h, w)
            extra = control.extra_rows()
            if extra is not None:
                z_in = torch.cat([extra[0].to(z_in), z_in])  # (E + groups*F, 4, h, w)
                ctx = torch.cat([extra[1].to(ctx), ctx])  # (E + groups*F, tokens, dim)
            eps = pipe.unet(z_in, t, encoder_hidden_states=ctx).sample[len(z_in) - groups * len(z):]
            # 3. classifier-free guidance
            if guidance is not None:
                eps_u, eps_c = eps.chunk(2)
                eps = eps_u + guidance * (eps_c - eps_u)
            # 4. the DDIM update (forward or inverse, as the scheduler says)
            z = scheduler.step(eps, t, z).prev_sample
            # 5. the control may adjust the new latent (latent blend) and record what it needs
            z = control.end_step(i, z)
            latents.append(z)
    return latents


@announced  # its cost estimate is printed first in sd mode (cost.py)
@torch.no_grad()
def sample(pipe, z_T: torch.Tensor, prompt: str | list[str], steps: int = 50, guidance: float = 7.5,
           negative_prompt: str = "", temporal=False, progress: bool = True, null_text=None) -> torch.Tensor:
    """Plain DDIM sampling from z_T with classifier-free guidance (no attention fusion) -> z_0 (see ``ddim_loop``).

    ``prompt`` is one prompt for every latent, or a list with one prompt per latent; guidance 1 runs the
    conditional branch alone. ``null_text`` (a :class:`~fatezero_lab.null_text.NullText` of ``steps`` steps)
    replaces the negative prompt's embedding with its tuned ∅ of each step.
    """
    from .models import as_pipeline
    from .processors import AttentionControl, TemporalConfig

    pipe = as_pipeline(pipe)
    temporal = TemporalConfig.parse(temporal).resolved(pipe.defaults)
    n = len(z_T)
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if len(prompts) not in (1, n):
        raise ValueError(f"got {len(prompts)} prompts for {n} latents; give one prompt or one per latent")
    for p in prompts:
        check_prompt(pipe, p)
    cond = torch.cat([encode_prompt(pipe, p) for p in prompts]).expand(n, -1, -1)  # (F, tokens, dim)
    uncond = encode_prompt(pipe, negative_prompt).expand(n, -1, -1)
    if null_text is not None and len(null_text.embeddings) != steps:
        raise ValueError(f"null_text holds {len(null_text.embeddings)} steps but sampling runs {steps}")
    control = AttentionControl(n, temporal, tuple(z_T.shape[-2:]), temporal_layers=pipe.temporal_layers)
    w = None if guidance == 1.0 else guidance
    if w is None:
        context = cond
    elif null_text is not None:  # one context per step: [∅_i | cond]
        context = [torch.cat([null_text.uncond(i, n).to(cond), cond]) for i in range(steps)]
    else:
        context = torch.cat([uncond, cond])
    return ddim_loop(pipe, z_T.clone(), ddim_scheduler(pipe, steps), context, control, w, progress,
                     "DDIM sampling")[-1]
