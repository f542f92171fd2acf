"""The blending mask M_t: where the edited words live, from the *source* cross-attention of the inversion.

The reference recipe (docs/method.md, "The blending mask"), each stage one argument here and every intermediate returned:

1. take the cross-attention of the blend words' tokens at ``layers`` (SD: the five 16×16 cross layers) at step t,
   **sum** over the words' tokens:                       a_l = Σ_{k ∈ words} A_l[..., k]           (frames, heads, hw)
2. **mean** over layers and heads:                       ā = mean_{l, heads} a_l                   (frames, h, w)
3. **dilate** with a k×k max-pool (stride 1):            ā' = maxpool_k(ā)
4. **upsample** (nearest) to the resolution it is used at
5. **normalise** per frame: by the spatial max (reference) — ā'/max ā' — or min-max: (ā' − min)/(max − min)
6. **threshold**:                                        M_t = [normalised > th]                   (frames, H, W)

M_t is then applied per query row of self-attention: s_fused = M_t ⊙ s_edit + (1 − M_t) ⊙ s_src.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .config import NORMALISATIONS, check_choice, check_dilation, check_threshold


@dataclass
class MaskResult:
    """Every stage of :func:`blend_mask`; arrays are (frames, h, w) unless noted."""

    words: list
    step: int
    layers: list[str]
    per_layer: np.ndarray  # (layers, frames, h, w): summed over the words' tokens, mean over heads
    mean: np.ndarray  # mean over layers
    dilated: np.ndarray  # after the max-pool
    upsampled: np.ndarray  # at the output resolution
    normalised: np.ndarray  # in [0, 1]
    mask: np.ndarray  # bool, normalised > threshold
    threshold: float
    normalise: str
    dilation: int

    @property
    def area(self) -> float:
        """Fraction of pixels inside the mask (mean over frames)."""
        return float(self.mask.mean())

    def stages(self) -> dict[str, np.ndarray]:
        """The stages in order, for plotting: name -> (frames, h, w)."""
        return {"sum over tokens (mean layers)": self.mean, f"dilate {self.dilation}x{self.dilation}": self.dilated,
                "upsample": self.upsampled, f"normalise ({self.normalise})": self.normalised,
                f"> {self.threshold}": self.mask.astype(np.float32)}

    def __repr__(self) -> str:
        return (f"MaskResult(words={self.words}, step={self.step}, layers={len(self.layers)}, "
                f"threshold={self.threshold}, normalise={self.normalise!r}, dilation={self.dilation}, "
                f"shape={self.mask.shape}, area={self.area:.3f})")


def mask_from_maps(maps: list[torch.Tensor], resolutions: list[tuple[int, int]], token_idx: list[int],
                   out_hw: tuple[int, int], threshold: float = 0.3, dilation: int = 3, normalise: str = "max"
                   ) -> dict[str, torch.Tensor]:
    """The recipe on raw cross-attention maps (each (frames, heads, hw, tokens)); returns every stage as tensors.

    Layers at different resolutions are brought to the first layer's resolution (bilinear) before the mean.
    """
    check_mask_args(threshold, dilation, normalise)
    base_hw = tuple(resolutions[0])
    per_layer = []
    for a, hw in zip(maps, resolutions):
        s = a.float().mean(1)[..., token_idx].sum(-1)  # (frames, hw): mean heads, sum tokens
        g = s.view(s.shape[0], 1, *hw)
        if tuple(hw) != base_hw:
            g = F.interpolate(g, size=base_hw, mode="bilinear", align_corners=False)
        per_layer.append(g[:, 0])  # (frames, h, w)
    stacked = torch.stack(per_layer)  # (layers, frames, h, w)
    mean = stacked.mean(0)  # (frames, h, w)
    dilated = F.max_pool2d(mean[:, None], dilation, stride=1, padding=dilation // 2)[:, 0] if dilation > 1 else mean
    up = F.interpolate(dilated[:, None], size=tuple(out_hw), mode="nearest")[:, 0]  # (frames, H, W)
    flat = up.flatten(1)
    if normalise == "max":
        norm = up / flat.max(1).values.clamp_min(1e-12).view(-1, 1, 1)
    else:
        lo, hi = flat.min(1).values.view(-1, 1, 1), flat.max(1).values.view(-1, 1, 1)
        norm = (up - lo) / (hi - lo).clamp_min(1e-12)
    return {"per_layer": stacked, "mean": mean, "dilated": dilated, "upsampled": up, "normalised": norm,
            "mask": norm > threshold}


def check_mask_args(threshold: float, dilation: int, normalise: str) -> None:
    """The recipe's arguments, by the config's validators (ConfigError naming the argument)."""
    check_threshold("threshold", threshold)
    check_dilation("dilation", dilation)
    check_choice("normalise", normalise, NORMALISATIONS)


def default_mask_layers(store) -> list[str]:
    """The cross layers M_t averages by default for ``store``'s model (:meth:`ModelDefaults.mask_layers_for`)."""
    return store.defaults.mask_layers_for(store.layers, store.latent_hw)


def blend_mask(store, words, step: int, threshold: float | None = None, layers: list[str] | str | None = "auto",
               dilation: int = 3, normalise: str | None = None, resolution: int | tuple[int, int] | None = None
               ) -> MaskResult:
    """M_t for ``words`` at store step ``step`` (see the module docstring); every stage in the result.

    ``threshold``/``normalise``/``layers`` left at None/"auto" take the store's model defaults
    (:class:`~fatezero_lab.config.ModelDefaults`: the toy model's measured rule, else the reference recipe:
    max-normalisation, threshold 0.3, the ¼-resolution cross layers).
    """
    defaults = store.defaults
    threshold = defaults.blend_threshold if threshold is None else threshold
    normalise = normalise or defaults.mask_normalise
    words = [words] if isinstance(words, (str, int)) else list(words)
    if not words:
        raise ValueError("blend_mask needs at least one word")
    check_mask_args(threshold, dilation, normalise)
    token_idx = sorted({i for w in words for i in store.token_indices(w)})
    names = default_mask_layers(store) if layers in (None, "auto") else store.choose_layers("cross", layers)
    if resolution is None:
        selves = store.layer_names("self")
        finest = max((store.layers[n].resolution for n in selves), default=store.layers[names[0]].resolution)
        out_hw = tuple(finest)
    else:
        out_hw = (resolution, resolution) if isinstance(resolution, int) else tuple(resolution)
    st = mask_from_maps([store.cross_summary(step, n) for n in names], [store.layers[n].resolution for n in names],
                        token_idx, out_hw, threshold, dilation, normalise)
    return MaskResult(words=words, step=step, layers=names, threshold=threshold, normalise=normalise,
                      dilation=dilation, **{k: v.numpy() for k, v in st.items()})


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (any shape)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0
