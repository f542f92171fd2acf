"""Null-text inversion (Mokady et al., CVPR 2023; Video-P2P uses it for video) — beyond the FateZero paper.

FateZero inverts without guidance, ε_θ(z, t, p_src), but edits with classifier-free guidance,

    ε̂(z, t, ∅, p) = ε_θ(z, t, ∅) + w · (ε_θ(z, t, p) − ε_θ(z, t, ∅)),

so even with the source prompt the guided loop leaves the inversion trajectory z*_T … z*_0 from its first step
(on the toy, guided reconstruction falls well below the unguided one: measured in docs/toy_edit_quality.md). Null-text
inversion keeps the prompt and the weights and tunes the *unconditional* embedding, one per denoising step i
(timestep t_i, from z̄_0 = z*_T):

    ∅_i = argmin_∅ ‖ z*_{next} − DDIM(z̄_i, ε̂(z̄_i, t_i, ∅, p_src)) ‖²,     z̄_{i+1} = DDIM(z̄_i, ε̂(z̄_i, t_i, ∅_i, p_src))

(Adam from ∅_{i−1}, the first from τ(""); z*_{next} is the inversion latent one level cleaner). Sampling with these
∅_i and the source prompt then retraces the inversion; an edit uses them in its unconditional rows, so what moves
away from the source is what the target prompt and the attention fusion change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import NullTextConfig  # noqa: F401  (the settings live in the one config tree)


@dataclass
class NullText:
    """The tuned unconditional embeddings of one inversion, and how the optimisation went."""

    embeddings: torch.Tensor  # (steps, 1, tokens, dim): ∅_i of denoising step i (i = 0 starts from z_T), float32
    #   (float64 for a float64 UNet): cast to the UNet's dtype where used
    config: NullTextConfig
    losses: list[float] = field(default_factory=list)  # latent MSE to the inversion after each step's optimisation
    iterations: list[int] = field(default_factory=list)  # Adam steps each denoising step took
    seconds: float = 0.0

    def uncond(self, step: int, n: int) -> torch.Tensor:
        """∅ of denoising step ``step`` for ``n`` rows -> (n, tokens, dim)."""
        return self.embeddings[step].expand(n, -1, -1)

    def __repr__(self) -> str:
        worst = max(self.losses) if self.losses else float("nan")
        return (f"NullText(steps={len(self.embeddings)}, guidance={self.config.guidance}, "
                f"iterations={sum(self.iterations)} (≤ {self.config.iterations}/step), worst step MSE {worst:.2e}, "
                f"{self.seconds:.0f} s)")


def uses_checkpointing(pipe, config: NullTextConfig) -> bool:
    """``config.gradient_checkpointing``, None resolved: on for a CUDA UNet only."""
    if config.gradient_checkpointing is None:
        return pipe.unet.device.type == "cuda"
    return bool(config.gradient_checkpointing)


def check_memory(pipe, frames: int, height: int, width: int, config: NullTextConfig, store_bytes: int = 0):
    """The one memory check (:func:`fatezero_lab.memory.require_fits`) for null-text inversion of ``frames`` frames
    at ``height`` x ``width``, before any UNet call; ``store_bytes``: host memory an attention store recorded first
    will hold. Returns the estimate, or raises MemoryError with the figure and the fix."""
    from .memory import available_memory, estimate_backprop, require_fits

    checkpointing = uses_checkpointing(pipe, config)
    est = estimate_backprop(pipe, frames, height, width, checkpointing)
    host = available_memory("cpu")
    fix = ("invert with null_text=dict(gradient_checkpointing=True) (one more forward per Adam step, about 6x less "
           "activation memory), or use fewer frames or pixels" if not checkpointing
           else "use fewer frames or pixels")
    return require_fits(est, "null-text inversion (backpropagation through the UNet)", fix,
                        available=None if host is None else max(host - store_bytes, 0),
                        size=f"for {frames} frames at {height}x{width}")


def optimise_null_text(pipe, latents: torch.Tensor, embedding: torch.Tensor, temporal, config: NullTextConfig,
                       progress: bool = True) -> NullText:
    """Tune ∅_i for every denoising step (module docstring) along the inversion trajectory ``latents``
    ((steps + 1, F, 4, h, w), z*_0 … z*_T) of the source prompt's ``embedding`` (1, tokens, dim).

    Half-precision UNets (SD on CUDA loads fp16) are handled as one-shot tuning handles them: ∅ is a float32 master
    copy, cast to the UNet's dtype for each call (Adam's update and its ε = 1e-8 are lost in fp16: a frozen ∅ or
    NaN), the loss is taken in float32, and an fp16 backward goes through a loss scaler (``GradScaler``: small fp16
    gradients underflow to 0; a step whose gradient overflowed is skipped). The UNet's parameters are frozen for the
    duration (no weight gradients are built; their ``requires_grad`` is restored after), and gradient checkpointing
    (``config.gradient_checkpointing``; default on CUDA only) trades a second forward for activation memory.
    The tuned ∅_i are returned in the master dtype (float32, or float64 for a float64 UNet).
    """
    from .diffusion import ddim_scheduler, encode_prompt
    from .models import as_pipeline
    from .processors import AttentionControl, attention_control

    pipe = as_pipeline(pipe)
    t0 = time.time()
    steps, n = len(latents) - 1, latents.shape[1]
    sched = ddim_scheduler(pipe, steps)
    unet, w = pipe.unet, float(config.guidance)
    dtype, device_type = unet.dtype, unet.device.type
    master = torch.promote_types(dtype, torch.float32)  # ∅'s dtype while tuning: fp16/bf16 -> fp32; fp32, fp64 stay
    cond = embedding.to(unet.device, dtype).expand(n, -1, -1)  # (F, tokens, dim)
    null = encode_prompt(pipe, "").to(master).detach().clone()  # (1, tokens, dim): ∅ of the first step
    scaler = torch.amp.GradScaler(device_type, enabled=dtype == torch.float16 and device_type == "cuda")
    checkpointing = uses_checkpointing(pipe, config)
    control = AttentionControl(n, temporal, tuple(latents.shape[-2:]), temporal_layers=pipe.temporal_layers)
    z = latents[-1].to(unet.device, dtype)  # z̄_0 = z*_T, (F, 4, h, w)
    out, losses, used = [], [], []
    # 0. freeze the UNet (∅ alone gets a gradient) and checkpoint it if asked; both undone in `finally`
    grads_before = [p.requires_grad for p in unet.parameters()]
    checkpointing_before = unet.is_gradient_checkpointing
    unet.requires_grad_(False)
    if checkpointing and not checkpointing_before:
        unet.enable_gradient_checkpointing()
    try:
        with attention_control(unet, control):
            for i, t in enumerate(tqdm(sched.timesteps, desc="null-text inversion", disable=not progress,
                                       leave=False)):
                target = latents[steps - 1 - i].to(unet.device, master)  # z* one level cleaner, (F, 4, h, w)
                # 1. the conditional prediction does not depend on ∅: once per step
                with torch.no_grad():
                    eps_c = unet(z, t, encoder_hidden_states=cond).sample  # (F, 4, h, w)
                # 2. Adam on the float32 ∅ (from the previous step's) until the guided step lands on z*
                null = null.detach().clone().requires_grad_(True)
                opt = torch.optim.Adam([null], lr=config.lr * (1 - 0.5 * i / steps))
                k = 0
                with torch.enable_grad():
                    for k in range(1, config.iterations + 1):
                        uncond = null.to(dtype).expand(n, -1, -1)  # (F, tokens, dim), cast per call
                        eps_u = unet(z, t, encoder_hidden_states=uncond).sample  # (F, 4, h, w)
                        z_next = sched.step(eps_u + w * (eps_c - eps_u), t, z).prev_sample
                        loss = F.mse_loss(z_next.to(master), target)
                        if loss.item() < config.early_stop:
                            break
                        (grad,) = torch.autograd.grad(scaler.scale(loss), null)  # (1, tokens, dim), scaled
                        null.grad = grad
                        scaler.step(opt)  # unscales; skips a step whose gradient overflowed
                        scaler.update()
                # 3. take the step with the tuned ∅ (the next step starts from where this one lands)
                with torch.no_grad():
                    null = null.detach()
                    eps_u = unet(z, t, encoder_hidden_states=null.to(dtype).expand(n, -1, -1)).sample
                    z = sched.step(eps_u + w * (eps_c - eps_u), t, z).prev_sample
                    losses.append(float(F.mse_loss(z.to(master), target)))
                out.append(null.clone().cpu())  # a copy: the next step's Adam updates ∅ in place
                used.append(k)
    finally:  # even after an error or Ctrl-C: the UNet as it was
        if checkpointing and not checkpointing_before:
            unet.disable_gradient_checkpointing()
        for p, flag in zip(unet.parameters(), grads_before):
            p.requires_grad_(flag)
    return NullText(embeddings=torch.stack(out), config=config, losses=losses, iterations=used,
                    seconds=time.time() - t0)
