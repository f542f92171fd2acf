"""Store modes: what an inversion keeps of its attention, and how an edit gets that source attention back.

FateZero fuses the attention of the *inversion* pass into the edit. Attention at inversion step j is a pure function
of (z_j, t_j, p_src), so a store may keep it in several forms that give the same edit (tested to 1e-6 in float64):

- ``"maps"`` keeps every probability map A = softmax(q kᵀ · scale) (the reference's behaviour);
- ``"inputs"`` keeps the queries and per-frame keys (q, k) and forms A from them on use;
- ``"recompute"`` keeps only the latents and the head-mean cross maps of the default mask layers; the edit runs the
  source pass inside its own UNet call as extra batch rows ``[source | uncond | cond]``.

The prompt-to-prompt ablation's reconstruction pass (``use_inversion_attention=False``, guided DDIM from z_T with
the source prompt) is a store too, replayed in forward order; each mode says which mode it keeps in
(``reconstruction``: the built-in modes keep their own form, so a ``recompute`` inversion never builds a large one).

Each mode is a small class behind one protocol (:class:`StoreMode`): what to record (``records``, ``record``), the
source attention of a step (``step_source``), the extra batch rows of the edit call (``extra_rows``) and its bytes
(``layer_bytes``, ``guided_groups``, ``forms_maps``). ``invert``, ``edit``, the memory estimates and the CLI read the
one registry, :data:`STORE_MODES`: a new mode is one class plus one entry there.

Shapes: cross maps ``(frames, heads, h*w, tokens)``; self maps ``(frames, heads, h*w, refs*h*w)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .config import check_choice
from .processors import AttentionControl, LayerInfo, attention_layers, explicit_attention, gather_frames


@dataclass
class SourceAttention:
    """One layer's source attention at one step: the probabilities, or the queries/keys that produce them.

    ``probs`` (frames, heads, n, m) in "maps" mode; ``q`` (frames, heads, n, d) and ``k`` (frames, heads, m, d) in
    "inputs"/"recompute" mode, from which ``softmax(q kᵀ · scale)`` gives the same probabilities on request.
    """

    scale: float
    probs: torch.Tensor | None = None
    q: torch.Tensor | None = None
    k: torch.Tensor | None = None
    index: torch.Tensor | None = None  # (frames, refs): for self-attention, k is per frame and gathered on use

    def keys(self, device=None, dtype=None) -> torch.Tensor:
        """The keys the queries attend to: (frames, heads, refs*m, d), gathered across reference frames if needed."""
        k = self.k.to(device or self.k.device, dtype or self.k.dtype)
        return k if self.index is None else gather_frames(k, k.shape[0], self.index)

    def probabilities(self) -> torch.Tensor:
        if self.probs is not None:
            return self.probs
        # QKᵀ and the softmax in float32 whatever the store's dtype: fp16 logits can overflow at SD 2.x's scales (the
        # reason for its upcast_attention, which the explicit attention path honours per layer); the maps are read
        # rarely (masks, cross-attention replacement), so upcasting always costs little
        dtype = torch.promote_types(self.q.dtype, torch.float32)  # fp16/bf16 -> fp32; fp32 and fp64 stay
        logits = torch.matmul(self.q.to(dtype), self.keys(dtype=dtype).transpose(-1, -2)) * self.scale  # (frames, heads, n, m)
        return logits.softmax(-1).to(self.q.dtype)

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """A_src · V for values ``v`` (frames, heads, m, d) -> (frames, heads, n, d), without forming A_src if we can."""
        if self.probs is not None:
            return torch.matmul(self.probs.to(v.device, v.dtype), v)
        return F.scaled_dot_product_attention(self.q.to(v.device, v.dtype), self.keys(v.device, v.dtype), v,
                                              scale=self.scale)

    def to(self, device) -> "SourceAttention":
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return SourceAttention(self.scale, mv(self.probs), mv(self.q), mv(self.k), self.index)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.probs, self.q, self.k) if t is not None)


def layer_selected(layer: LayerInfo, max_side: int) -> bool:
    """The reference stores and edits attention only at layers with at most ``max_side``² query positions."""
    return layer.resolution[0] <= max_side and layer.resolution[1] <= max_side


def cross_summary(probs: torch.Tensor, n_tokens: int | None = None) -> torch.Tensor:
    """What the blending mask reads of a cross-attention map: the mean over heads, the prompt's own tokens.

    (frames, heads, hw, tokens) -> (frames, 1, hw, n_tokens) float32.
    """
    return probs.float().mean(1, keepdim=True)[..., :n_tokens]


class StoreMode:
    """The protocol of a store mode (the base class keeps every map; subclasses change what differs).

    ``control`` below is the inversion's :class:`~fatezero_lab.inversion.RecordControl` (its ``rows``, ``n_tokens``,
    ``gather``); ``store`` an :class:`~fatezero_lab.store.AttentionStore`.
    """

    name: ClassVar[str] = ""
    speed_rank: ClassVar[int] = 0  # choose_cache tries the modes from the lowest rank (the fastest) up, on the CPU
    cuda_speed_rank: ClassVar[int] = 0  # the same on CUDA (measured orders: docs/memory.md, docs/gpu_sd.md)
    source_rows: ClassVar[bool] = False  # True: the edit runs the source pass as extra rows of its own UNet call
    guided_groups: ClassVar[int] = 2  # UNet batch rows per frame of a guided edit call ([uncond | cond])
    forms_maps: ClassVar[bool] = False  # recording forms whole maps: the largest one counts as working memory
    reconstruction: ClassVar[str] = "recompute"  # the mode a reconstruction pass (use_inversion_attention=False)
    #   keeps: the built-in modes their own; a new mode the smallest store unless it says otherwise

    # --- 1. inversion: what to record ------------------------------------------------------------------------------
    def record_layers(self, pipe, latent_hw: tuple[int, int], max_side: int,
                      mask_layers: list[str] | None = None) -> list[str] | None:
        """The selected layers this mode records (None: every one). ``mask_layers``: the cross layers whose mask maps
        the edit will read (None: the model's default mask layers; a reconstruction pass knows its edit's)."""
        return None

    def record(self, control, layer: LayerInfo, q, k, v, scale: float, mask=None):
        """Attention of the batch q/k/v (B, heads, n|m, d) -> (out (B, heads, n, d), what to keep of ``control.rows``)."""
        raise NotImplementedError

    # --- 2. editing: the source attention of a step, extra rows of the edit's UNet call ------------------------------
    def step_source(self, store, step: int) -> dict[str, SourceAttention]:
        """Every recorded layer's source attention at store step ``step``, as the edit reads it."""
        return store.source(step)

    def extra_rows(self, store, step: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Latents and prompt embeddings the edit runs before its own rows in the same UNet call (or None)."""
        return None

    def inspect(self, store, step: int) -> dict[str, SourceAttention]:
        """Every recorded layer's attention at ``step`` for the inspection API (``store.self_attention``, ...)."""
        return store.source(step)

    def summarised_layers(self, store) -> set[str]:
        """The cross layers whose mask maps this store gives without a UNet call."""
        return set(store.layer_names("cross"))

    def cross_summary(self, store, step: int, name: str) -> torch.Tensor:
        """The blending mask's view of cross layer ``name`` at ``step``: (frames, 1, hw, tokens), head-averaged."""
        return cross_summary(store.source(step)[name].probabilities())

    # --- 3. memory -----------------------------------------------------------------------------------------------------
    def layer_bytes(self, layer: LayerInfo, frames: int, keys: int, tokens: int, itemsize: int, mask_layer: bool,
                    prompt_tokens: int | None) -> int:
        """Bytes this mode keeps of one recorded layer per step (``keys``: m, the keys a query reads)."""
        raise NotImplementedError


class MapsMode(StoreMode):
    """Keep A = softmax(q kᵀ · scale) of every recorded layer (the reference's behaviour): frames·heads·n·m values."""

    name, speed_rank, cuda_speed_rank, forms_maps, reconstruction = "maps", 1, 2, True, "maps"

    def record(self, control, layer, q, k, v, scale, mask=None):
        kg, vg = control.gather(layer, k, v)  # (B, heads, refs*m, d)
        out, probs = explicit_attention(q, kg, vg, scale, mask, upcast=layer.upcast)  # probs (B, heads, n, m)
        return out, SourceAttention(scale, probs=probs[control.rows].detach())

    def layer_bytes(self, layer, frames, keys, tokens, itemsize, mask_layer, prompt_tokens):
        return frames * layer.heads * layer.queries * keys * itemsize


class InputsMode(StoreMode):
    """Keep the queries and per-frame keys (q, k): A = softmax(q kᵀ · scale) is formed on use (the reference-frame
    gather redone then); fused SDPA while recording."""

    name, speed_rank, cuda_speed_rank, reconstruction = "inputs", 0, 1, "inputs"

    def record(self, control, layer, q, k, v, scale, mask=None):
        out = AttentionControl.attend(control, layer, q, k, v, scale, mask)  # plain fused attention
        index = control.frame_index if control.uses_temporal(layer) else None
        rows = control.rows
        return out, SourceAttention(scale, q=q[rows].detach(), k=k[rows].detach(), index=index)

    def layer_bytes(self, layer, frames, keys, tokens, itemsize, mask_layer, prompt_tokens):
        n = layer.queries
        if layer.kind == "self":
            return frames * 2 * n * layer.channels * itemsize  # q and per-frame k
        return frames * (n + tokens) * layer.channels * itemsize


class RecomputeMode(StoreMode):
    """Keep the latents (always kept) and the head-mean cross maps of the mask layers; the edit runs the source pass
    as extra batch rows of its own UNet call (3F rows instead of 2F), and the inspection API recomputes a step with
    one UNet call (:meth:`AttentionStore.recompute_source`).

    The source attention of store step j is a pure function of the latent the pass's UNet saw, its timestep and the
    store's prompt, so the edit replays, at its step i (j = T−1−i for an inversion store, j = i for a reconstruction
    store, ``AttentionStore.source_step``):

        A_src = softmax(q(z_j, t_j, p_src) · k(z_j, t_j, p_src)ᵀ · scale)     in the rows ε_θ(z_j, t_j, p_src)

    — for an inversion store z_j is the inversion's latent (unguided pass); for a reconstruction store it is the
    *guided* reconstruction's latent z̄_i (its guidance changes the trajectory, not the attention of the p_src rows:
    the [uncond | cond] rows of a UNet call do not see each other).
    """

    name, speed_rank, cuda_speed_rank, source_rows, guided_groups = "recompute", 2, 0, True, 3
    reconstruction = "recompute"

    def record_layers(self, pipe, latent_hw, max_side, mask_layers=None):
        if mask_layers is not None:
            return list(mask_layers)
        layers = {l.name: l for l in attention_layers(pipe.unet, latent_hw) if layer_selected(l, max_side)}
        return pipe.defaults.mask_layers_for(layers, latent_hw)

    def record(self, control, layer, q, k, v, scale, mask=None):
        kg, vg = control.gather(layer, k, v)  # (B, heads, refs*m, d)
        out, probs = explicit_attention(q, kg, vg, scale, mask, upcast=layer.upcast)  # probs (B, heads, n, tokens)
        return out, SourceAttention(scale, probs=cross_summary(probs[control.rows].detach(), control.n_tokens))

    def step_source(self, store, step):
        return {}  # the source attention is computed in the edit's own UNet call (extra_rows)

    def extra_rows(self, store, step):
        emb = store.embedding.expand(store.n_frames, -1, -1)  # (F, tokens, dim)
        return store.latents[step], emb

    def inspect(self, store, step):
        return store.recompute_source(step)  # one UNet call

    def summarised_layers(self, store):
        return set(store.data.get(0, {}))

    def cross_summary(self, store, step, name):
        kept = store.data.get(step, {}).get(name)
        if kept is not None:
            return kept.probs
        return cross_summary(store.recompute_source(step)[name].probabilities())  # another layer: one UNet call

    def layer_bytes(self, layer, frames, keys, tokens, itemsize, mask_layer, prompt_tokens):
        if layer.kind == "cross" and mask_layer:  # the mask's head-mean maps, float32
            return frames * layer.queries * (prompt_tokens or tokens) * 4
        return 0


STORE_MODES: dict[str, type[StoreMode]] = {"maps": MapsMode, "inputs": InputsMode, "recompute": RecomputeMode}


def store_mode(name: str) -> StoreMode:
    """The registered mode ``name`` (ConfigError, field "cache", listing the registered ones, if unknown)."""
    return STORE_MODES[check_choice("cache", name, STORE_MODES)]()


def speed_order(device: str = "cpu") -> list[str]:
    """The registered modes, fastest first on ``device`` (what ``memory.choose_cache`` tries).

    Measured orders: on the CPU ``inputs`` first (1.03–1.18 × plain inversion + sampling; docs/memory.md), on CUDA
    ``recompute`` first (1.59 × against ``inputs``' 3.72 × on an H200: copying the stored queries and keys to host
    memory costs more than the extra source rows; docs/gpu_sd.md)."""
    cuda = str(device).startswith("cuda")
    return sorted(STORE_MODES, key=lambda n: STORE_MODES[n].cuda_speed_rank if cuda else STORE_MODES[n].speed_rank)
