"""diffusers attention processors: the only place fatezero_lab touches the UNet.

One processor class, :class:`FateZeroAttnProcessor`, is installed on every attention layer with
``unet.set_attn_processor`` (and the originals are put back by :func:`attention_control`, whatever happens). It does
what diffusers' ``AttnProcessor2_0`` does, with two extension points:

1. **Spatial-temporal self-attention** (paper step 4): the keys and values of frame f's self-attention come from
   its reference frames R(f) (default: the first and the previous frame, "sparse-causal"):

       SelfAttn(f) = softmax(Q_f [K_r]_{r∈R(f)}ᵀ / √d) [V_r]_{r∈R(f)}

   No new parameters: a 2-D SD UNet becomes a video model by gathering keys/values across the batch's frames.
2. **A control object** decides how attention is computed for each call — plain SDPA, explicit softmax with the
   probabilities recorded (inversion), or fused with stored/recomputed source attention (editing). See
   ``inversion.py`` and ``editing.py`` for the controls; :class:`AttentionControl` here is the plain one.

Frames travel in the batch: a UNet batch is ``groups × frames`` (e.g. [uncond | cond] × F), so a batch tensor
``(groups*frames, heads, tokens, dim)`` reshapes to ``(groups, frames, heads, tokens, dim)``.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import TemporalConfig  # noqa: F401  (defined with the other settings; importable from here too)


@dataclass
class LayerInfo:
    """What a learner needs to know about one attention layer of the UNet."""

    name: str  # the key in unet.attn_processors, e.g. "down_blocks.0.attentions.0.transformer_blocks.1.attn1.processor"
    kind: str  # "self" (attn1) or "cross" (attn2)
    place: str  # "down", "mid" or "up"
    block: int  # index of the down/up block (0 for mid)
    heads: int = 0  # filled at the first call
    channels: int = 0  # query width (heads * head_dim)
    resolution: tuple[int, int] = (0, 0)  # (h, w) of the query grid, filled at the first call
    upcast: bool = False  # the layer's attn.upcast_attention (SD 2.x): explicit q·kᵀ and softmax run in float32

    @classmethod
    def from_name(cls, name: str) -> "LayerInfo":
        kind = "cross" if ".attn2." in name else "self"
        m = re.match(r"(down|up)_blocks\.(\d+)\.", name)
        place, block = (m.group(1), int(m.group(2))) if m else ("mid", 0)
        return cls(name=name, kind=kind, place=place, block=block)

    @property
    def short(self) -> str:
        """``down0.a0.t1.self`` — compact enough for plot titles."""
        m = re.search(r"attentions\.(\d+)\.transformer_blocks\.(\d+)", self.name)
        at = f".a{m.group(1)}.t{m.group(2)}" if m else ""
        return f"{self.place}{self.block if self.place != 'mid' else ''}{at}.{self.kind}"

    @property
    def queries(self) -> int:
        return self.resolution[0] * self.resolution[1]


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                       mask: torch.Tensor | None = None, upcast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """out = softmax(q kᵀ · scale + mask) v, also returning the probabilities.

    q (B, heads, n, d), k/v (B, heads, m, d) -> out (B, heads, n, d), probs (B, heads, n, m) in q's dtype.
    ``upcast`` (a layer's ``attn.upcast_attention``, set in SD 2.x's UNet config): q kᵀ and the softmax run in
    float32, as diffusers' ``AttnProcessor`` does — in fp16 those scores can overflow to inf and the softmax to NaN.
    """
    qs, ks = (q.float(), k.float()) if upcast else (q, k)
    scores = torch.matmul(qs, ks.transpose(-1, -2)) * scale  # (B, heads, n, m), float32 when upcast
    if mask is not None:
        scores = scores + mask
    probs = scores.softmax(dim=-1).to(q.dtype)  # (B, heads, n, m)
    return torch.matmul(probs, v), probs


def grid_at(latent_hw: tuple[int, int], n_queries: int) -> tuple[int, int]:
    """The (h, w) query grid of a layer with ``n_queries`` positions in a UNet fed ``latent_hw`` latents.

    Each UNet level halves the grid with a stride-2 convolution, which rounds odd sizes up: the grid at downsampling
    2^k is (⌈h/2^k⌉, ⌈w/2^k⌉) — e.g. 65 -> 33 -> 17 -> 9 for SD at 520 px.
    """
    h, w = latent_hw
    for k in range(16):
        gh, gw = h, w
        for _ in range(k):
            gh, gw = -(-gh // 2), -(-gw // 2)
        if gh * gw == n_queries:
            return gh, gw
    raise ValueError(f"no UNet level of a {h}x{w} latent has {n_queries} query positions")


def gather_frames(x: torch.Tensor, n_frames: int, index: torch.Tensor) -> torch.Tensor:
    """Concatenate each frame's reference frames along the token axis.

    x (groups*frames, heads, m, d), index (frames, refs) -> (groups*frames, heads, refs*m, d).
    """
    b, h, m, d = x.shape
    g = b // n_frames
    x = x.view(g, n_frames, h, m, d)
    x = x[:, index.to(x.device)]  # (groups, frames, refs, heads, m, d)
    r = index.shape[1]
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, r * m, d)


class AttentionControl:
    """Plain attention (fused SDPA), with optional spatial-temporal self-attention. Base of every control.

    A control is the one variation point of the guided DDIM loop (``diffusion.ddim_loop``): the loop calls
    :meth:`begin_step` before each UNet call, prepends :meth:`extra_rows` to the UNet batch, and passes the new latent
    through :meth:`end_step`; the processors call :meth:`attend` for every attention layer. Subclasses override these.
    """

    def __init__(self, n_frames: int, temporal: TemporalConfig | bool | str | None = False,
                 latent_hw: tuple[int, int] | None = None, explicit: bool = False,
                 temporal_layers: dict | None = None):
        self.n_frames = n_frames
        self.temporal = TemporalConfig.parse(temporal)
        self.latent_hw = latent_hw  # (h, w) of the UNet input; used to name each layer's resolution
        self.explicit = explicit  # True: use the explicit-softmax path everywhere (for equivalence tests)
        self.temporal_layers = dict(temporal_layers or {})  # one-shot-tuned temporal attention per self layer
        self.step = 0  # the loop's current step (begin_step)
        self.layers: dict[str, LayerInfo] = {}
        self.frame_index = self.temporal.frame_indices(n_frames)  # (frames, refs)

    # --- called by the loop ------------------------------------------------------------------------------------------
    def begin_step(self, step: int, t: int) -> None:
        """Before the UNet call of loop step ``step`` (timestep ``t``)."""
        self.step = step

    def extra_rows(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Latents and prompt embeddings to run in the same UNet call, before the loop's own rows (or None)."""
        return None

    def end_step(self, step: int, z: torch.Tensor) -> torch.Tensor:
        """After the scheduler step: may adjust the new latent ``z`` (F, 4, h, w) and record per-step results."""
        return z

    # --- called by the processor -----------------------------------------------------------------------------------
    def register(self, layer: LayerInfo, attn, n_queries: int, channels: int) -> None:
        if layer.heads == 0:
            layer.heads, layer.channels = attn.heads, channels
            if self.latent_hw is not None:
                layer.resolution = grid_at(self.latent_hw, n_queries)
            else:
                s = int(math.isqrt(n_queries))
                layer.resolution = (s, n_queries // max(s, 1))
            self.layers[layer.name] = layer

    def uses_temporal(self, layer: LayerInfo) -> bool:
        return (self.temporal.enabled and layer.kind == "self" and self.n_frames > 1
                and layer.channels >= self.temporal.min_channels)

    def gather(self, layer: LayerInfo, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spatial-temporal self-attention: per-frame keys/values (B, heads, m, d) -> (B, heads, refs*m, d)."""
        if not self.uses_temporal(layer):
            return k, v
        return gather_frames(k, self.n_frames, self.frame_index), gather_frames(v, self.n_frames, self.frame_index)

    def attend(self, layer: LayerInfo, q, k, v, scale: float, mask=None) -> torch.Tensor:
        """q (B, heads, n, d), per-frame k/v (B, heads, m, d) -> (B, heads, n, d); gathers reference frames first."""
        k, v = self.gather(layer, k, v)  # (B, heads, refs*m, d)
        if mask is not None and mask.shape[-1] != k.shape[2]:
            raise ValueError("attention masks are not supported together with spatial-temporal attention")
        if self.explicit:
            return explicit_attention(q, k, v, scale, mask, upcast=layer.upcast)[0]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


class FateZeroAttnProcessor:
    """``AttnProcessor2_0``'s computation with keys/values gathered across frames and attention delegated to a control."""

    def __init__(self, name: str, control: AttentionControl):
        self.layer = LayerInfo.from_name(name)
        self.control = control

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            b4, c4, h4, w4 = hidden_states.shape
            hidden_states = hidden_states.view(b4, c4, h4 * w4).transpose(1, 2)
        batch, n, _ = hidden_states.shape
        h_in = hidden_states  # (B, n, C): what a tuned temporal-attention branch reads
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, context.shape[1], batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)

        # 1. projections, split into heads
        q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        inner = k.shape[-1]
        d = inner // attn.heads
        q = q.view(batch, -1, attn.heads, d).transpose(1, 2)  # (B, heads, n, d)
        k = k.view(batch, -1, attn.heads, d).transpose(1, 2)  # (B, heads, m, d)
        v = v.view(batch, -1, attn.heads, d).transpose(1, 2)  # (B, heads, m, d)
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        layer = self.layer
        layer.upcast = bool(getattr(attn, "upcast_attention", False))  # the explicit softmax's precision (SD 2.x)
        self.control.register(layer, attn, n, inner)

        # 2. attention, as the control decides (plain / record / fuse); for spatial-temporal self-attention the
        #    control gathers the keys/values of each frame's reference frames (AttentionControl.gather)
        out = self.control.attend(layer, q, k, v, attn.scale, attention_mask)  # (B, heads, n, d)

        # 3. merge heads, output projection, residual — as AttnProcessor2_0
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * d).to(q.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        # 4. a one-shot-tuned model's temporal attention, as a parallel branch (zero at initialisation)
        extra = self.control.temporal_layers.get(layer.name) if layer.kind == "self" else None
        if extra is not None:
            out = out + extra(h_in, self.control.n_frames)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(b4, c4, h4, w4)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def clip_group_norm(x: torch.Tensor, norm: torch.nn.GroupNorm, n_frames: int) -> torch.Tensor:
    """GroupNorm whose statistics pool the frames of each clip in the batch (x: (groups*frames, C, h, w)):

        y = γ · (x − μ_g) / √(σ²_g + ε) + β,   μ_g, σ²_g over (C/G channels) × frames × h × w of one clip

    — what ``nn.GroupNorm`` computes on the reference's (b, c, f, h, w) tensors in its pseudo-3-D ResNet blocks,
    where the 2-D UNet takes each frame alone (μ, σ² over C/G × h × w). Returns (groups*frames, C, h, w).
    """
    b, c, h, w = x.shape
    x5 = x.view(b // n_frames, n_frames, c, h, w).transpose(1, 2)  # (groups, C, frames, h, w)
    y = F.group_norm(x5, norm.num_groups, norm.weight, norm.bias, norm.eps)  # (groups, C, frames, h, w)
    return y.transpose(1, 2).reshape(b, c, h, w)


def clip_norm_modules(unet) -> dict[str, torch.nn.GroupNorm]:
    """The GroupNorms the reference's inflated UNet feeds whole clips: every ResNet block's ``norm1``/``norm2`` and
    the output ``conv_norm_out`` (a transformer's input norm sees one frame at a time there too, so it stays)."""
    return {name: m for name, m in unet.named_modules() if isinstance(m, torch.nn.GroupNorm)
            and (name == "conv_norm_out" or (".resnets." in name and name.endswith((".norm1", ".norm2"))))}


@contextmanager
def attention_control(unet, control: AttentionControl):
    """Install a :class:`FateZeroAttnProcessor` on every attention layer; restore the originals on exit.

    With ``control.temporal.groupnorm == "clip"`` (and more than one frame; None counts as "frame": the entry
    points resolve it with the pipeline's defaults first) the ResNet GroupNorms normalise over
    each clip (:func:`clip_group_norm`). diffusers has no processor for norms, so this is the one place the package
    uses another torch hook: a forward hook on each of those GroupNorms (torch's public ``register_forward_hook``,
    whose return value replaces the module's output), removed on exit with the processors restored. The originals
    come back after success, an exception, or a KeyboardInterrupt in the middle of a loop.
    """
    original = dict(unet.attn_processors)
    handles = []
    # set_attn_processor consumes the dict it is given (docs/method.md, "Measured facts"): always build a fresh one.
    unet.set_attn_processor({name: FateZeroAttnProcessor(name, control) for name in original})
    try:
        if control.temporal.groupnorm == "clip" and control.n_frames > 1:
            def pooled(norm, inputs, output):
                return clip_group_norm(inputs[0], norm, control.n_frames)

            handles = [m.register_forward_hook(pooled) for m in clip_norm_modules(unet).values()]
        yield control
    finally:
        for handle in handles:
            handle.remove()
        unet.set_attn_processor(dict(original))


def attention_layers(unet, latent_hw: tuple[int, int] | None = None) -> list[LayerInfo]:
    """Every attention layer of ``unet`` (in ``unet.attn_processors`` order) with its kind, place, heads, width and
    query grid for a latent of ``latent_hw`` (default: the UNet's ``sample_size``), read from the module tree.

    A layer's grid is its UNet level's: down block i runs at level i, the mid block at the deepest level n − 1 and
    up block i at level n − 1 − i (n = ``len(block_out_channels)``); each level halves the grid with a stride-2
    convolution, which rounds odd sizes up (:func:`grid_at`). No forward pass (tests/test_engine.py checks this
    against one).
    """
    cfg = unet.config
    h, w = latent_hw or ((cfg.sample_size, cfg.sample_size) if isinstance(cfg.sample_size, int) else cfg.sample_size)
    deepest = len(cfg.block_out_channels) - 1
    layers = []
    for name in unet.attn_processors:
        layer = LayerInfo.from_name(name)
        attn = unet.get_submodule(name.removesuffix(".processor"))
        level = {"down": layer.block, "mid": deepest, "up": deepest - layer.block}[layer.place]
        gh, gw = h, w
        for _ in range(level):
            gh, gw = -(-gh // 2), -(-gw // 2)
        layer.heads, layer.channels, layer.resolution = attn.heads, attn.to_k.out_features, (gh, gw)
        layer.upcast = bool(getattr(attn, "upcast_attention", False))
        layers.append(layer)
    return layers
