"""Every knob of a FateZero edit in one dataclass, and the per-model defaults it falls back on (nanoGPT's
``GPTConfig`` style): fields are normalised and checked once (``__post_init__``), and the fields left to the model
are filled in one place (:meth:`FateZeroConfig.resolved`).

Defaults follow the reference code's attribute-edit configs (docs/method.md, "The reference code's knobs"): 50 DDIM
steps, guidance 7.5, cross-attention fusion for the first 80 % of steps, self-attention fusion for the first 60 %,
refine-style word alignment (``is_replace_controller: False``), blend threshold 0.3 with a 3×3 dilation and
max-normalisation, mask from the cross layers at ¼ of the latent resolution.

Step windows are counted as the reference counts them (docs/method.md, "Fusion windows"): a window (start, end) of
N steps covers the integer steps ``int(start·S) <= i < int(end·S)``, with S = N for self-attention and latent blend
and S = N + 1 for cross-attention (its schedule has one entry more than there are steps); latent blend runs where
``int(start·N) < i + 1 < int(end·N)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .prompts import TAILS

CROSS_MODES = ("auto", "replace", "refine")
NORMALISATIONS = ("max", "minmax")
UNCONDITIONALS = ("empty", "source")  # FateZeroConfig.unconditional


@dataclass(frozen=True)
class ModelDefaults:
    """What a model decides when an edit's config leaves a field open (``None`` / ``"auto"``).

    Stable Diffusion gets the reference's values (the dataclass defaults); a model folder may ship measured values in
    ``toy_model.json`` under ``fatezero_defaults`` (the toy model does: docs/toy_quality.md).
    """

    cross_replace_steps: float | tuple[float, float] = 0.8  # cross-attention fusion window
    cross_mode: str = "refine"  # word alignment: "refine" (reference), "replace" or "auto" (the paper's rule)
    blend_threshold: float = 0.3  # M_t threshold
    mask_normalise: str = "max"  # M_t normalisation
    mask_layers: tuple[str, ...] | None = None  # cross layers of M_t; None = every cross layer at ¼ resolution
    groupnorm: str = "clip"  # ResNet GroupNorm statistics with spatial-temporal attention on (TemporalConfig):
    #   "clip" pools each clip's frames, as the reference's inflated UNet; "frame" normalises each frame alone
    max_side: int | None = None  # record/fuse attention only at layers with <= max_side² queries (invert's default);
    #   None = the reference's 32 at SD's 64² latent, scaled with the model's own latent (max_side_for: SD 2.x-768: 48)
    source: str = "reference"  # where these values come from ("reference" or the folder they were read from)

    @classmethod
    def from_folder(cls, folder: str | Path | None) -> "ModelDefaults":
        """The measured defaults a pipeline folder ships in ``toy_model.json``, else the reference's."""
        meta = Path(folder) / "toy_model.json" if folder is not None else None
        if meta is None or not meta.exists():
            return cls()
        d = dict(json.loads(meta.read_text()).get("fatezero_defaults", {}))
        known = {f.name for f in dataclasses.fields(cls)} - {"source"}
        kept = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in known}
        return cls(**kept, source=str(folder))

    def max_side_for(self, sample_size) -> int:
        """The largest query grid side whose layers are recorded and fused, for a UNet of ``sample_size`` (its
        config's latent side, an int or (h, w)): this model's value, else the reference's rule scaled with the model.

        The reference stores attention at layers with at most 32² queries: at SD 1.x's 64² latent (512 px) that is
        every level but the finest. A model trained at a larger latent keeps the same levels: 32 · side / 64
        (SD 2.x-768, 96² latents: 48). Smaller models keep 32, so every layer of the toy (16² latents) stays in.
        """
        if self.max_side is not None:
            return self.max_side
        side = max(sample_size) if isinstance(sample_size, (tuple, list)) else int(sample_size)
        return max(32, 32 * side // 64)

    def mask_layers_for(self, layers: dict, latent_hw: tuple[int, int]) -> list[str]:
        """The cross layers M_t averages, among ``layers`` (name -> LayerInfo, the recorded ones) for a latent of
        ``latent_hw``: this model's measured choice, else the reference's — every cross layer at ¼ of the latent
        resolution (SD v1 at 512²: the five 16×16 layers), else the finest recorded cross layers."""
        if self.mask_layers:
            return [n for n in self.mask_layers if n in layers]
        cross = [n for n, l in layers.items() if l.kind == "cross"]
        if not cross:
            raise ValueError("no cross-attention layers were recorded to build a blend mask from")
        side = max(layers[n].resolution[0] for n in cross)  # the finest recorded cross layer
        target = max(1, latent_hw[0] // 4)
        picked = [n for n in cross if layers[n].resolution[0] == target]
        return picked or [n for n in cross if layers[n].resolution[0] == side]


@dataclass
class FateZeroConfig:
    """The settings of one edit (the inversion's own settings — steps, temporal — must match; checked in edit())."""

    guidance: float = 7.5  # classifier-free guidance scale w of the edit (inversion uses none)
    unconditional: str = "empty"  # what the guided loop's unconditional rows read: "empty" (τ(""), the paper) or
    #   "source" (negative-prompt inversion, Miyake et al. 2023, beyond the paper: τ(source prompt), a free stand-in
    #   for null-text inversion's tuned ∅ — guidance then scales ε(target) − ε(source)); see editing.guided_context
    fuse_cross: bool = True  # Attention Blending Block, cross part: reuse the source cross-attention for shared words
    cross_replace_steps: float | tuple[float, float] | None = None  # fraction of edit steps (or [start, end)) fused;
    #   None = model default (reference and SD: 0.8; a model folder may ship a measured value: ModelDefaults)
    cross_mode: str | None = None  # "replace" (copy every source map; equal token counts), "refine" (shared words),
    #   "auto" (replace if the token counts are equal, else refine: the paper's rule); None = model default (SD: refine)
    alignment_prompt: str | None = None  # the source prompt the target is aligned with (word alignment, blend-word
    #   positions) and the reconstruction pass runs with; None = the inversion prompt. The authors' controller takes
    #   editing_prompts[0] / source_prompt here, which may differ from the inversion prompt by a token (their YAMLs:
    #   a trailing comma); docs/reference_parity.md, causes 9-10
    refine_tail: str = "reference"  # refine: what target positions after EOS read — "reference" (the authors': the
    #   same source position) or "from_end" (EOS and padding aligned from the end); see prompts.align
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
    latent_blend_threshold: float = 0.3  # threshold of the latent-blend mask, in [0, 1]
    latent_blend_mode: str = "reference"  # "reference" (the authors': target-word maps summed over the steps so far,
    #   source latent of the timestep the step starts from) or "aligned" (this step's maps, the source latent of the
    #   timestep the step ends at); docs/reference_parity.md, causes 7-8
    target_blend_words: list = field(default_factory=list)  # target words added to the latent-blend mask
    use_inversion_attention: bool = True  # False: source attention recorded from a reconstruction pass from z_T
    fast_fusion: bool = True  # fuse self-attention on outputs with SDPA (never forming the maps); False = explicit

    def __post_init__(self):
        # 1. normalise the shorthand forms (0.6 -> (0.0, 0.6); "circle" -> ["circle"]), checking their shape
        for name in ("cross_replace_steps", "self_replace_steps", "latent_blend_steps"):
            if getattr(self, name) is not None:
                setattr(self, name, _window(name, getattr(self, name)))
        for name in ("blend_words", "target_blend_words"):
            value = getattr(self, name)
            setattr(self, name, [value] if isinstance(value, str) else value)
        # 2. check every field
        self.validate()

    def validate(self) -> None:
        """Check every field (without changing any); raise ValueError naming the field and what was expected."""
        if not isinstance(self.guidance, (int, float)) or isinstance(self.guidance, bool) or not 0 <= self.guidance <= 50:
            raise ValueError(f"guidance must be a number in [0, 50], got {self.guidance!r}")
        if self.unconditional not in UNCONDITIONALS:
            raise ValueError(f"unconditional must be one of {list(UNCONDITIONALS)} (\"source\": negative-prompt "
                             f"inversion), got {self.unconditional!r}")
        if self.latent_blend_mode not in ("reference", "aligned"):
            raise ValueError(f"latent_blend_mode must be 'reference' or 'aligned', got {self.latent_blend_mode!r}")
        if self.alignment_prompt is not None and not isinstance(self.alignment_prompt, str):
            raise ValueError(f"alignment_prompt must be a string or None (= the inversion prompt), "
                             f"got {self.alignment_prompt!r}")
        if self.refine_tail not in TAILS:
            raise ValueError(f"refine_tail must be one of {list(TAILS)}, got {self.refine_tail!r}")
        if self.cross_mode is not None and self.cross_mode not in CROSS_MODES:
            raise ValueError(f"cross_mode must be one of {list(CROSS_MODES)}, got {self.cross_mode!r}")
        if not isinstance(self.reweight, dict) or any(not isinstance(v, (int, float)) or v < 0
                                                      for v in self.reweight.values()):
            raise ValueError(f"reweight must map words to non-negative numbers, got {self.reweight!r}")
        for name in ("blend_words", "target_blend_words"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
                raise ValueError(f"{name} must be a list of words, got {value!r}")
        b = self.blend_threshold
        if b is not None and (not isinstance(b, (int, float)) or not 0 <= b <= 2):
            raise ValueError(f"blend_threshold must be a number in [0, 2] (>= 1 means 'no pixel passes': full source "
                             f"self-attention), got {b!r}")
        b = self.latent_blend_threshold
        if not isinstance(b, (int, float)) or not 0 <= b <= 1:
            raise ValueError(f"latent_blend_threshold must be a number in [0, 1], got {b!r}")
        if not isinstance(self.mask_dilation, int) or self.mask_dilation < 1 or self.mask_dilation % 2 == 0:
            raise ValueError(f"mask_dilation must be an odd integer >= 1, got {self.mask_dilation!r}")
        if self.mask_normalise is not None and self.mask_normalise not in NORMALISATIONS:
            raise ValueError(f"mask_normalise must be one of {list(NORMALISATIONS)}, got {self.mask_normalise!r}")
        if not (self.mask_layers == "auto" or (isinstance(self.mask_layers, (list, tuple)) and self.mask_layers)):
            raise ValueError(f"mask_layers must be 'auto' or a non-empty list of layer names, got {self.mask_layers!r}")
        if self.latent_blend and not (self.blend_words or self.target_blend_words):
            raise ValueError("latent_blend needs blend_words (and/or target_blend_words) to build its mask")

    def resolved(self, defaults: ModelDefaults, store=None) -> "FateZeroConfig":
        """The one resolution step: fill the fields left to the model (None / "auto") from ``defaults``.

        With the ``store`` the edit reads, ``mask_layers`` becomes a list of full layer names (short names such as
        ``down2.a0.t0.cross`` are accepted; an unknown name raises ValueError listing the recorded ones).
        """
        if not isinstance(defaults, ModelDefaults):
            raise TypeError(f"defaults must be ModelDefaults, got {type(defaults).__name__}")
        cfg = dataclasses.replace(
            self,
            cross_replace_steps=self.cross_replace_steps if self.cross_replace_steps is not None
            else defaults.cross_replace_steps,
            blend_threshold=self.blend_threshold if self.blend_threshold is not None else defaults.blend_threshold,
            mask_normalise=self.mask_normalise or defaults.mask_normalise,
            cross_mode=self.cross_mode or defaults.cross_mode,
        )
        if store is not None:
            cfg.mask_layers = (defaults.mask_layers_for(store.layers, store.latent_hw) if self.mask_layers == "auto"
                               else store.choose_layers("cross", self.mask_layers))
        return cfg

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

    @classmethod
    def from_reference_yaml(cls, path: str | Path, index: int = 0) -> "FateZeroConfig":
        """The knobs of edit ``index`` of one of the authors' YAML configs (``reference_config.read_reference_yaml``
        returns its prompts, steps, temporal setting and clip too)."""
        from .reference_config import from_reference_yaml

        return from_reference_yaml(path, index)

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


def step_range(window: tuple[float, float], slots: int) -> range:
    """The integer steps a (start, end) fraction window covers, as the reference counts: int(start·S) ≤ i < int(end·S).

    ``slots`` S is the number of steps for self-attention fusion and latent blend, steps + 1 for cross-attention
    fusion (the reference's cross schedule has steps + 1 entries).
    """
    return range(int(window[0] * slots), int(window[1] * slots))
