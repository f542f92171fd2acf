"""Every knob of a FateZero edit in one dataclass, validated in one place (nanoGPT's ``GPTConfig`` style).

Defaults follow the reference code's attribute-edit configs (PAPER.md): 50 DDIM steps, guidance 7.5, cross-attention
fusion for the first 80 % of steps, self-attention fusion for the first 60 %, refine-style word alignment
(``is_replace_controller: False``), blend threshold 0.3 with a 3×3 dilation and max-normalisation.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .masks import NORMALISATIONS

CROSS_MODES = ("auto", "replace", "refine")


@dataclass
class FateZeroConfig:
    """The settings of one edit (the inversion's own settings — steps, temporal — must match; checked in edit())."""

    guidance: float = 7.5  # classifier-free guidance scale w of the edit (inversion uses none)
    fuse_cross: bool = True  # Attention Blending Block, cross part: reuse the source cross-attention for shared words
    cross_replace_steps: float | tuple[float, float] | None = None  # fraction of edit steps (or [start, end)) fused;
    #   None = model default (reference and SD: 0.8; a model folder may ship a measured value, see resolved())
    cross_mode: str | None = None  # "replace" (copy every source map; equal token counts), "refine" (shared words),
    #   "auto" (replace if the token counts are equal, else refine: the paper's rule); None = model default (SD: refine)
    reweight: dict = field(default_factory=dict)  # target word -> cross-attention multiplier (eq_params), e.g. {"blue": 2}
    fuse_self: bool = True  # Attention Blending Block, self part: fuse the source self-attention
    self_replace_steps: float | tuple[float, float] = 0.6  # fraction of edit steps (or [start, end)) with self fusion
    blend_words: list = field(default_factory=list)  # source words whose cross-attention makes M_t; [] = no mask
    blend_self_attention: bool = True  # use M_t (s = M s_edit + (1-M) s_src); False = full source self-attention
    blend_threshold: float | None = None  # M_t = normalised map > th; None = model default (SD: 0.3); >= 1: all source
    mask_layers: list | str = "auto"  # cross layers averaged for M_t ("auto": the model's measured/reference choice)
    mask_dilation: int = 3  # max-pool size (odd) applied to the averaged map; 1 = none
    mask_normalise: str | None = None  # "max" (reference: divide by the spatial max), "minmax"; None = model default
    latent_blend: bool = False  # prompt-to-prompt local blend of latents (keep z_src outside the words' mask)
    latent_blend_steps: tuple[float, float] = (0.2, 0.8)  # [start, end) fractions of steps with latent blend
    latent_blend_threshold: float = 0.3  # threshold of the latent-blend mask
    target_blend_words: list = field(default_factory=list)  # target words added to the latent-blend mask
    use_inversion_attention: bool = True  # False: source attention recorded from a reconstruction pass from z_T
    fast_fusion: bool = True  # fuse self-attention on outputs with SDPA (never forming the maps); False = explicit
    seed: int = 0  # seeds nothing random today (DDIM is deterministic); recorded for reproducibility

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check every field; raise ValueError naming the field and what was expected."""
        if not isinstance(self.guidance, (int, float)) or not 0 <= self.guidance <= 50:
            raise ValueError(f"guidance must be a number in [0, 50], got {self.guidance!r}")
        for name in ("cross_replace_steps", "self_replace_steps", "latent_blend_steps"):
            if getattr(self, name) is None and name == "cross_replace_steps":
                continue  # left to the model (resolved())
            setattr(self, name, _window(name, getattr(self, name)))
        if self.cross_mode is not None and self.cross_mode not in CROSS_MODES:
            raise ValueError(f"cross_mode must be one of {list(CROSS_MODES)}, got {self.cross_mode!r}")
        if not isinstance(self.reweight, dict) or any(not isinstance(v, (int, float)) or v < 0
                                                      for v in self.reweight.values()):
            raise ValueError(f"reweight must map words to non-negative numbers, got {self.reweight!r}")
        for name in ("blend_words", "target_blend_words"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
                raise ValueError(f"{name} must be a list of words, got {value!r}")
            setattr(self, name, list(value))
        for name in ("blend_threshold", "latent_blend_threshold"):
            v = getattr(self, name)
            if v is None and name == "blend_threshold":
                continue
            if not isinstance(v, (int, float)) or not 0 <= v <= 2:
                raise ValueError(f"{name} must be a number in [0, 2] (>= 1 means 'no pixel passes'), got {v!r}")
        if not isinstance(self.mask_dilation, int) or self.mask_dilation < 1 or self.mask_dilation % 2 == 0:
            raise ValueError(f"mask_dilation must be an odd integer >= 1, got {self.mask_dilation!r}")
        if self.mask_normalise is not None and self.mask_normalise not in NORMALISATIONS:
            raise ValueError(f"mask_normalise must be one of {list(NORMALISATIONS)}, got {self.mask_normalise!r}")
        if not (self.mask_layers == "auto" or (isinstance(self.mask_layers, (list, tuple)) and self.mask_layers)):
            raise ValueError(f"mask_layers must be 'auto' or a non-empty list of layer names, got {self.mask_layers!r}")
        if self.latent_blend and not (self.blend_words or self.target_blend_words):
            raise ValueError("latent_blend needs blend_words (and/or target_blend_words) to build its mask")

    def resolved(self, model_defaults: dict | None) -> "FateZeroConfig":
        """Fill the fields left to the model (None / "auto") from its measured defaults, else the reference's.

        A model folder's ``toy_model.json`` may carry ``fatezero_defaults`` (the toy model's measured mask layers,
        normalisation, threshold, cross-attention window and word-alignment mode); Stable Diffusion gets the
        reference's values.
        """
        d = model_defaults or {}
        cross = self.cross_replace_steps
        return dataclasses.replace(
            self,
            cross_replace_steps=cross if cross is not None else _window("cross_replace_steps",
                                                                        d.get("cross_replace_steps", 0.8)),
            blend_threshold=self.blend_threshold if self.blend_threshold is not None else d.get("blend_threshold", 0.3),
            mask_normalise=self.mask_normalise or d.get("mask_normalise", "max"),
            mask_layers=self.mask_layers if self.mask_layers != "auto" else (d.get("mask_layers") or "auto"),
            cross_mode=self.cross_mode or d.get("cross_mode", "refine"),
        )

    # --- serialisation ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, d: dict) -> "FateZeroConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown FateZeroConfig field(s) {sorted(unknown)}; fields are {sorted(names)}")
        d = dict(d)
        for k in ("cross_replace_steps", "self_replace_steps", "latent_blend_steps"):
            if isinstance(d.get(k), list):
                d[k] = tuple(d[k])
        return cls(**d)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "FateZeroConfig":
        p = Path(text_or_path) if not str(text_or_path).lstrip().startswith("{") else None
        text = p.read_text() if p is not None else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(json.loads(self.to_json()), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> "FateZeroConfig":
        import yaml

        return cls.from_dict(yaml.safe_load(text))

    def replace(self, **changes) -> "FateZeroConfig":
        return dataclasses.replace(self, **changes)


def _window(name: str, value) -> tuple[float, float]:
    """0.6 -> (0.0, 0.6); (0.2, 0.8) stays; validated as 0 <= start <= end <= 1."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a fraction or a (start, end) pair of fractions, got {value!r}")
    if isinstance(value, (int, float)):
        value = (0.0, float(value))
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a fraction or a (start, end) pair of fractions, got {value!r}")
    start, end = float(value[0]), float(value[1])
    if not 0.0 <= start <= end <= 1.0:
        raise ValueError(f"{name} must satisfy 0 <= start <= end <= 1, got {value!r}")
    return (start, end)


def in_window(window: tuple[float, float], step: int, steps: int) -> bool:
    """Is edit step ``step`` (0-based, of ``steps``) inside the [start, end) fraction window?"""
    return window[0] * steps <= step < window[1] * steps
