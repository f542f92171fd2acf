"""The parts of the Attention Blending Block (paper step 3): how an edit step fuses the source attention.

:class:`~fatezero_lab.editing.EditControl` builds these once per edit from its plan and dispatches to them:

- **cross fusion** (:data:`CROSS_FUSIONS`, by the word alignment's mode): replace or refine, then re-weight;
- **self fusion** (:data:`SELF_FUSIONS`, by ``FateZeroConfig.self_fusion``): masked, full source or none;
- **latent blend** (:data:`LATENT_BLENDS`, by ``FateZeroConfig.latent_blend_mode``): reference or aligned;
- **the blend mask** (:class:`BlendMask`): M_t, the one caller of :func:`~fatezero_lab.masks.mask_from_maps`,
  cached per step and resolution.

A new rule is one class (its equation in its docstring) plus one registry entry, e.g.
``SELF_FUSIONS["half"] = HalfSelfFusion``, then ``edit(..., self_fusion="half")``.

Shapes: the conditional rows' queries ``qc`` (F, heads, n, d), keys/values ``kc``/``vc`` (F, heads, m, d) gathered
across reference frames; cross maps (F, heads, n, tokens); M_t (F, 1, n, 1).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from .masks import mask_from_maps
from .processors import LayerInfo, explicit_attention
from .store_modes import SourceAttention


# --- the blend mask ---------------------------------------------------------------------------------------------------
class BlendMask:
    """M_t from cross-attention maps A_l of the mask layers l (the recipe of :mod:`fatezero_lab.masks`):

        M_t = [ normalise( dilate( mean_{l, heads} Σ_{k ∈ words} A_l[..., k] ) ) > th ]   upsampled to the grid used

    The source maps are the store's (read once per step); a mask given to ``edit(mask=...)`` replaces M_t of self
    fusion (any overlap counts at coarse grids). The self-fusion M_t is built once per step and query resolution and
    kept on the device and dtype of the first layer that asks (a GPU edit copies it once per step).
    """

    def __init__(self, store, plan):
        self.store, self.plan, self.cfg = store, plan, plan.cfg
        self.source_step = 0
        self._maps: list[torch.Tensor] | None = None  # this step's source cross maps of the mask layers
        self._self: dict[tuple[int, int], torch.Tensor | None] = {}  # this step's M_t per query resolution

    def begin_step(self, source_step: int) -> None:
        self.source_step, self._maps, self._self = source_step, None, {}

    def source_maps(self) -> list[torch.Tensor]:
        """The source cross-attention the masks read this step: (F, 1, hw, tokens) per mask layer."""
        if self._maps is None:
            self._maps = [self.store.cross_summary(self.source_step, n) for n in self.cfg.mask_layers]
        return self._maps

    def compute(self, maps: list[torch.Tensor], token_idx: list[int], hw: tuple[int, int],
                threshold: float) -> torch.Tensor:
        """The recipe on ``maps`` (one per mask layer) for tokens ``token_idx`` at grid ``hw`` -> (F, h, w) bool."""
        cfg = self.cfg
        resolutions = [self.store.layers[n].resolution for n in cfg.mask_layers]
        return mask_from_maps(maps, resolutions, token_idx, hw, threshold, cfg.mask_dilation,
                              cfg.mask_normalise)["mask"]

    def self_mask(self, hw: tuple[int, int], like: torch.Tensor | None = None) -> torch.Tensor | None:
        """M_t at query resolution ``hw`` -> (F, 1, h*w, 1) float, or None (no blend words: M_t = 0)."""
        if hw in self._self:
            return self._self[hw]
        override, plan = self.plan.mask_override, self.plan
        if override is not None:  # any overlap with the given mask counts at coarse resolutions
            m = (F.interpolate(override, size=hw, mode="area") > 0).float()  # (frames, 1, h, w)
        elif not plan.blend_idx:
            m = None
        else:
            m = self.compute(self.source_maps(), plan.blend_idx, hw, self.cfg.blend_threshold).float()  # (F, h, w)
        if m is not None:
            m = m.reshape(m.shape[0], 1, -1, 1)  # (frames, 1, h*w, 1)
            if like is not None:
                m = m.to(like.device, like.dtype)
        self._self[hw] = m
        return m


# --- cross-attention fusion -------------------------------------------------------------------------------------------
class CrossFusion:
    """Base of the cross-attention rules: (A_src, A_edit) (F, heads, n, tokens) -> the fused map A."""

    def __init__(self, alignment):
        self.alignment = alignment  # prompts.Alignment: mapper, alpha

    def __call__(self, p_src: torch.Tensor, p_edit: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ReplaceCross(CrossFusion):
    """A = A_src: every target token reads the source map at its own position (equal token counts)."""

    def __call__(self, p_src, p_edit):
        return p_src


class RefineCross(CrossFusion):
    """A[..., j] = α_j A_src[..., m(j)] + (1 − α_j) A_edit[..., j]: target token j reads its source counterpart m(j)
    where it has one (α_j = 1) and keeps its own map otherwise (prompt-to-prompt's refine)."""

    def __call__(self, p_src, p_edit):
        mapped = p_src[..., self.alignment.mapper.to(p_src.device)]
        alpha = self.alignment.alpha.to(p_src.device, p_src.dtype)
        return mapped * alpha + p_edit * (1 - alpha)


class Reweight:
    """A[..., j] ← w_j A[..., j] after the fusion rule ``inner`` (the target words' multipliers, eq_params)."""

    def __init__(self, inner: CrossFusion, weights: torch.Tensor):
        self.inner, self.weights = inner, weights  # weights (tokens,)

    def __call__(self, p_src, p_edit):
        p = self.inner(p_src, p_edit)
        return p * self.weights.to(p)


CROSS_FUSIONS: dict[str, type[CrossFusion]] = {"replace": ReplaceCross, "refine": RefineCross}


def cross_fusion(alignment, weights: torch.Tensor | None):
    """The cross rule of an alignment (by its mode), re-weighted when ``weights`` are given."""
    rule = CROSS_FUSIONS[alignment.mode](alignment)
    return rule if weights is None else Reweight(rule, weights)


# --- self-attention fusion --------------------------------------------------------------------------------------------
class SelfFusion:
    """Base of the self-attention rules: the conditional rows' output s V from the edit's (qc, kc, vc) and the
    source attention ``src`` (a :class:`~fatezero_lab.store_modes.SourceAttention`). ``fuses = False``: the rule
    leaves self-attention alone (the layer runs plain)."""

    fuses: ClassVar[bool] = True

    def __init__(self, mask: BlendMask, fast: bool = True):
        self.mask, self.fast = mask, fast  # fast: fuse outputs with SDPA (never forming the maps)

    def __call__(self, layer: LayerInfo, qc, kc, vc, src: SourceAttention, scale: float) -> torch.Tensor:
        raise NotImplementedError

    def result_mask(self, hw: tuple[int, int]) -> torch.Tensor | None:
        """The mask this rule used at ``hw`` (kept in ``EditResult.masks``), or None."""
        return None


class MaskedSelfFusion(SelfFusion):
    """s = M_t ⊙ s_edit + (1 − M_t) ⊙ s_src, M_t per query row (from the source cross-attention of the blend words;
    M_t = 0 — the source — without them). Because M_t is per query row,

        s V = M_t ⊙ (s_edit V) + (1 − M_t) ⊙ (s_src V),

    so the fast path fuses attention *outputs* computed with fused SDPA and never forms s_edit or s_src."""

    def __call__(self, layer, qc, kc, vc, src, scale):
        m = self.mask.self_mask(layer.resolution, like=qc)  # (F, 1, hw, 1) or None
        if m is None:
            return src.apply(vc)  # s_src V
        if self.fast:
            return m * F.scaled_dot_product_attention(qc, kc, vc, scale=scale) + (1 - m) * src.apply(vc)
        _, p_edit = explicit_attention(qc, kc, vc, scale, upcast=layer.upcast)  # (F, h, hw, refs*hw)
        p = m * p_edit + (1 - m) * src.probabilities().to(p_edit)
        return torch.matmul(p, vc)

    def result_mask(self, hw):
        return self.mask.self_mask(hw)


class FullSourceSelfFusion(SelfFusion):
    """s = s_src: the source self-attention replaces the edit's (the authors' ``blend_th: [2, 2]``)."""

    def __call__(self, layer, qc, kc, vc, src, scale):
        return src.apply(vc)  # s_src V


class NoSelfFusion(SelfFusion):
    """s = s_edit: no self-attention fusion (the edit's own attention)."""

    fuses = False


SELF_FUSIONS: dict[str, type[SelfFusion]] = {"masked": MaskedSelfFusion, "full_source": FullSourceSelfFusion,
                                             "none": NoSelfFusion}


# --- latent blend -----------------------------------------------------------------------------------------------------
class LatentBlend:
    """Prompt-to-prompt's local blend, after the scheduler step:

        z ← z_src + M (z − z_src),   M = M(source words; source maps) ∪ M(target words; the edit's maps)

    thresholded at ``latent_blend_threshold``. Subclasses choose the edit's maps (``accumulate``: summed over the
    steps so far, or this step's) and z_src (``noisier``: the source latent of the timestep the step starts from, or
    the one it ends at)."""

    accumulate: ClassVar[bool] = True
    noisier: ClassVar[bool] = True

    def __init__(self, store, plan, mask: BlendMask):
        self.store, self.plan, self.mask = store, plan, mask
        self.target_cross: dict[str, torch.Tensor] = {}  # the edit's cross maps at the mask layers

    def begin_step(self) -> None:
        if not self.accumulate:
            self.target_cross = {}

    def watches(self, layer: LayerInfo) -> bool:
        """Does the target words' mask read this layer's edit maps?"""
        return bool(self.plan.target_blend_idx) and layer.kind == "cross" and layer.name in self.plan.cfg.mask_layers

    def observe(self, name: str, p_edit: torch.Tensor) -> None:
        prev = self.target_cross.get(name)
        self.target_cross[name] = p_edit if prev is None else prev + p_edit

    def __call__(self, z: torch.Tensor, step: int) -> torch.Tensor:
        plan, hw, th = self.plan, tuple(z.shape[-2:]), self.plan.cfg.latent_blend_threshold
        mask = torch.zeros(z.shape[0], *hw, dtype=torch.bool)
        if plan.blend_idx:
            mask |= self.mask.compute(self.mask.source_maps(), plan.blend_idx, hw, th).cpu()
        if plan.target_blend_idx and self.target_cross:
            maps = [self.target_cross[n] for n in plan.cfg.mask_layers]
            mask |= self.mask.compute(maps, plan.target_blend_idx, hw, th).cpu()
        z_src = self.store.source_latent_after(step, noisier=self.noisier).to(z)
        return z_src + mask[:, None].to(z) * (z - z_src)


class ReferenceLatentBlend(LatentBlend):
    """The authors' choice: the edit's maps summed over the steps so far, z_src one level noisier (the timestep the
    step starts from)."""

    accumulate, noisier = True, True


class AlignedLatentBlend(LatentBlend):
    """This step's maps, and z_src of the timestep the step ends at (ours)."""

    accumulate, noisier = False, False


LATENT_BLENDS: dict[str, type[LatentBlend]] = {"reference": ReferenceLatentBlend, "aligned": AlignedLatentBlend}
