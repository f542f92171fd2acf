"""Every setting of an inversion and an edit, in one tree of dataclasses (nanoGPT's ``GPTConfig`` style):

- :class:`InversionConfig` — what :func:`~fatezero_lab.inversion.invert` records and how (steps, store mode, layers);
- :class:`TemporalConfig` — spatial-temporal self-attention, shared by the inversion and its edits;
- :class:`NullTextConfig` — the optional null-text optimisation of an inversion;
- :class:`FateZeroConfig` — the knobs of one edit (the Attention Blending Block);
- :class:`ModelDefaults` — what a model decides when an edit leaves a field open.

Each field carries its help text (``field(metadata={"help": ...})``: what the CLI shows). Fields are normalised and
checked once (``__post_init__``) by one validator per concept (:func:`check_number`, :func:`check_choice`,
:func:`check_window`, :func:`check_threshold`, ...), which raise :class:`ConfigError` naming the field; the fields
left to the model are filled in one place (:meth:`FateZeroConfig.resolved`, :meth:`TemporalConfig.resolved`).

The SD defaults are ours, taken from the reference configs' reconstruction entry (entry 0): 50 DDIM steps, guidance
7.5, cross-attention fusion for the first 80 % of steps, self-attention fusion for the first 60 %, refine-style word
alignment (``is_replace_controller: False``). The authors' attribute edits mostly use refine with 0.5 / 0.5 and no
blend words, their style edits refine 0.5–1.0 with a re-weighted style word (docs/method.md, "What the authors run,
per kind of edit"). Blend threshold 0.3 with a 3×3 dilation and max-normalisation, mask from the cross layers at ¼ of
the latent resolution: the reference's mask recipe.

Step windows are counted as the reference counts them (docs/method.md, "Fusion windows"): a window (start, end) of
N steps covers the integer steps ``int(start·S) <= i < int(end·S)``, with S = N for self-attention and latent blend
and S = N + 1 for cross-attention (its schedule has one entry more than there are steps); latent blend runs where
``int(start·N) < i + 1 < int(end·N)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import InitVar, dataclass, field
from pathlib import Path

import torch

from .prompts import TAILS

CROSS_MODES = ("auto", "replace", "refine")
NORMALISATIONS = ("max", "minmax")
UNCONDITIONALS = ("empty", "source")  # FateZeroConfig.unconditional
REFERENCE_CHOICES = ("first", "previous", "self", "next", "last", "mid", "all")  # or an int offset
GROUPNORM_CHOICES = ("clip", "frame")


class ConfigError(ValueError):
    """A setting that cannot work: ``field`` names the config field (or argument) concerned; the message says what
    was expected and how to fix it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _help(text: str, default=dataclasses.MISSING, factory=dataclasses.MISSING):
    """A dataclass field with its help text (the CLI's ``--help`` reads ``metadata["help"]``)."""
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


# --- one validator per concept ---------------------------------------------------------------------------------------
def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name: str, value, lo: float | None = None, hi: float | None = None, what: str = "a number",
                 integer: bool = False, open_lo: bool = False, hint: str = "", field: str | None = None):
    """``value`` is a number (an int if ``integer``) in [lo, hi] (lo excluded if ``open_lo``); else ConfigError
    naming ``name`` (its ``field``: ``field`` or ``name``)."""
    ok = (isinstance(value, int) and not isinstance(value, bool)) if integer else _is_number(value)
    if ok and lo is not None:
        ok = value > lo if open_lo else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        where = ""
        if lo is not None and hi is not None:
            where = f" in {'(' if open_lo else '['}{lo}, {hi}]" if not integer else f" in {lo}..{hi}"
        elif lo is not None:
            where = f" {'>' if open_lo else '>='} {lo}"
        raise ConfigError(f"{name} must be {what}{where}{hint}, got {value!r}", field or name)
    return value


def check_choice(name: str, value, choices, hint: str = ""):
    """``value`` is one of ``choices``; else ConfigError listing them."""
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}{hint}, got {value!r}", name)
    return value


def check_threshold(name: str, value):
    """A mask threshold: a number in [0, 1] (a pixel is in the mask where its normalised map exceeds it)."""
    return check_number(name, value, 0, 1)


def check_dilation(name: str, value):
    """A mask dilation: an odd max-pool size >= 1 (1 = none)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ConfigError(f"{name} must be an odd integer >= 1 (a max-pool size; 1 = none), got {value!r}", name)
    return value


def check_window(name: str, value) -> tuple[float, float]:
    """A step window: 0.6 -> (0.0, 0.6); (0.2, 0.8) stays; validated as 0 <= start <= end <= 1."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a fraction or a (start, end) pair of fractions, got {value!r}", name)
    if isinstance(value, (int, float)):
        value = (0.0, float(value))
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise ConfigError(f"{name} must be a fraction or a (start, end) pair of fractions, got {value!r}", name)
    start, end = float(value[0]), float(value[1])
    if not 0.0 <= start <= end <= 1.0:
        raise ConfigError(f"{name} must satisfy 0 <= start <= end <= 1, got {value!r}", name)
    return (start, end)


def check_words(name: str, value) -> list:
    """A list of words ("circle" -> ["circle"])."""
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
        raise ConfigError(f"{name} must be a list of words, got {value!r}", name)
    return value


def step_range(window: tuple[float, float], slots: int) -> range:
    """The integer steps a (start, end) fraction window covers, as the reference counts: int(start·S) ≤ i < int(end·S).

    ``slots`` S is the number of steps for self-attention fusion and latent blend, steps + 1 for cross-attention
    fusion (the reference's cross schedule has steps + 1 entries).
    """
    return range(int(window[0] * slots), int(window[1] * slots))


# --- what a model decides ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelDefaults:
    """What a model decides when an edit's config leaves a field open (``None`` / ``"auto"``).

    Stable Diffusion gets the reference's values (the dataclass defaults); a model folder may ship measured values in
    ``toy_model.json`` under ``fatezero_defaults`` (the toy model does: docs/toy_quality.md).
    """

    cross_replace_steps: float | tuple[float, float] = _help("cross-attention fusion window", 0.8)
    cross_mode: str = _help('word alignment: "refine" (most reference configs), "replace" or "auto" (ours: replace when '
                            'the token counts match, else refine)', "refine")
    blend_threshold: float = _help("M_t threshold", 0.3)
    mask_normalise: str = _help("M_t normalisation", "max")
    mask_layers: tuple[str, ...] | None = _help("cross layers of M_t; None = every cross layer at ¼ resolution", None)
    groupnorm: str = _help('ResNet GroupNorm statistics with spatial-temporal attention on (TemporalConfig): "clip" '
                           'pools each clip\'s frames, as the reference\'s inflated UNet; "frame" normalises each '
                           'frame alone', "clip")
    max_side: int | None = _help("record/fuse attention only at layers with <= max_side² queries (invert's default); "
                                 "None = the reference's 32 at SD's 64² latent, scaled with the model's own latent "
                                 "(max_side_for: SD 2.x-768: 48)", None)
    source: str = _help('where these values come from ("reference" or the folder they were read from)', "reference")

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


# --- spatial-temporal attention ---------------------------------------------------------------------------------------
@dataclass
class TemporalConfig:
    """Spatial-temporal self-attention: which frames each frame's self-attention reads keys/values from.

    Each entry of ``reference`` names, for every frame f of F, one frame whose keys/values f reads (entries are
    concatenated along the key axis): ``"first"`` (0), ``"last"`` (F−1), ``"mid"`` (⌊(F−1)/2⌋), ``"previous"``
    (f−1), ``"self"`` (f), ``"next"`` (f+1), an int offset d (f+d; previous = −1), all clipped to [0, F−1], or
    ``"all"`` (every frame). The reference code's ``SparseCausalAttention_index`` uses the same vocabulary
    (``['mid']`` in its zero-shot configs, ``[-1, 'first']`` = previous + first by default).
    """

    enabled: bool = _help("False: plain per-frame self-attention (the image model)", True)
    reference: tuple = _help('the frames each frame reads keys/values from: "first", "previous", "self", "next", '
                             '"last", "mid", "all" or int offsets; ("self",) equals plain attention',
                             ("first", "previous"))
    min_channels: int = _help("only layers whose query width is >= this get it (the reference's least_sc_channel)", 0)
    groupnorm: str | None = _help('ResNet GroupNorm statistics: "clip" (pooled over the frames of each prompt\'s '
                                  'clip, as the reference\'s inflated UNet computes) or "frame" (each frame alone, as '
                                  'the 2-D model was trained); None = the model\'s choice when enabled '
                                  '(ModelDefaults.groupnorm: SD "clip", the toy "frame"), else "frame"', None)

    def __post_init__(self):
        if isinstance(self.reference, (str, int)):
            self.reference = (self.reference,)
        self.reference = tuple("mid" if r == "middle" else r for r in self.reference)
        bad = [r for r in self.reference
               if not (r in REFERENCE_CHOICES or (isinstance(r, int) and not isinstance(r, bool)))]
        if bad or not self.reference:
            raise ConfigError(f"temporal reference frames {list(self.reference)} invalid; choose a non-empty list of "
                              f"{list(REFERENCE_CHOICES)} or int offsets", "temporal.reference")
        check_number("temporal.min_channels", self.min_channels, 0)
        if self.groupnorm is not None:
            check_choice("temporal.groupnorm", self.groupnorm, GROUPNORM_CHOICES, " or None (the model's choice)")

    def resolved(self, defaults: ModelDefaults) -> "TemporalConfig":
        """Fill ``groupnorm`` left to the model (None) from ``defaults``: its choice when spatial-temporal attention
        is on, per-frame statistics (the image model) when it is off."""
        if self.groupnorm is not None:
            return self
        return dataclasses.replace(self, groupnorm=defaults.groupnorm if self.enabled else "frame")

    def frame_indices(self, n_frames: int) -> torch.Tensor:
        """(frames, refs) long tensor: row f lists the frames whose keys/values frame f attends to."""
        fixed = {"first": 0, "last": n_frames - 1, "mid": (n_frames - 1) // 2}
        offsets = {"previous": -1, "self": 0, "next": 1}
        rows = []
        for f in range(n_frames):
            idx: list[int] = []
            for r in self.reference:
                if r == "all":
                    idx.extend(range(n_frames))
                elif r in fixed:
                    idx.append(fixed[r])
                else:
                    idx.append(min(max(f + offsets.get(r, r), 0), n_frames - 1))
            rows.append(idx)
        return torch.tensor(rows, dtype=torch.long)

    @classmethod
    def parse(cls, value) -> "TemporalConfig":
        """Accept True/False, a TemporalConfig, a reference entry or a list of them."""
        if isinstance(value, cls):
            return value
        if value is True or value is None:
            return cls()
        if value is False or value == "none":
            return cls(enabled=False)
        if isinstance(value, (str, list, tuple)) or (isinstance(value, int) and not isinstance(value, bool)):
            return cls(reference=tuple(value) if isinstance(value, (list, tuple)) else (value,))
        raise TypeError(f"temporal must be True/False, a TemporalConfig or reference frame name(s) from "
                        f"{list(REFERENCE_CHOICES) + ['none']}; got {value!r}")


# --- inversion ----------------------------------------------------------------------------------------------------------
@dataclass
class InversionConfig:
    """What :func:`~fatezero_lab.inversion.invert` runs and records (its keyword arguments, checked in one place).

    The store mode names are those of :data:`fatezero_lab.store_modes.STORE_MODES` (checked by ``invert``, which
    reads the registry).
    """

    steps: int = _help("DDIM steps of the inversion (and of every edit of it)", 50)
    cache: str = _help('what the attention store keeps: "auto" (the fastest mode whose memory estimate fits), '
                       '"maps" (every probability map, the reference), "inputs" (the queries and keys) or '
                       '"recompute" (latents and the mask\'s cross maps; the edit reruns the source pass)', "auto")
    max_side: int | None = _help("record/edit attention only at layers with at most max_side² queries; None = the "
                                 "model's (the reference's 32 at SD 1.x's 64² latent)", None)
    record: bool = _help("False: a plain inversion (no attention store)", True)

    def __post_init__(self):
        check_number("steps", self.steps, 1, 1000, "an integer", integer=True)
        if not isinstance(self.cache, str):
            raise ConfigError(f"cache must be 'auto' or a store mode name, got {self.cache!r}", "cache")
        m = self.max_side
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ConfigError(f"max_side must be a positive integer (or None: the model's), got {m!r}", "max_side")


@dataclass
class NullTextConfig:
    """Settings of the per-step optimisation of the unconditional embedding (null-text inversion)."""

    guidance: float = _help("w the embeddings are tuned for: use the edit's guidance (the reference's 7.5)", 7.5)
    iterations: int = _help("at most this many Adam steps per denoising step (Mokady et al.: 10)", 10)
    lr: float = _help("Adam learning rate, decayed linearly to half over the steps", 1e-2)
    early_stop: float = _help("a step stops once the latent MSE to the inversion is below this", 1e-5)
    gradient_checkpointing: bool | None = _help("recompute the UNet's activations in the backward pass (less memory, "
                                                "a second forward); None: on CUDA only", None)

    def __post_init__(self):
        check_number("null_text guidance", self.guidance, 1, 50, open_lo=True, field="null_text.guidance",
                     hint=" (at w = 1 the unconditional branch has no effect: plain inversion already reconstructs)")
        check_number("null_text iterations", self.iterations, 1, 1000, "an integer", integer=True,
                     field="null_text.iterations")
        check_number("null_text lr", self.lr, 0, 1, open_lo=True, field="null_text.lr")
        check_number("null_text early_stop", self.early_stop, 0, field="null_text.early_stop")
        if self.gradient_checkpointing not in (None, True, False):
            raise ConfigError(f"null_text gradient_checkpointing must be True, False or None (on CUDA only), got "
                              f"{self.gradient_checkpointing!r}", "null_text.gradient_checkpointing")

    @classmethod
    def parse(cls, value) -> "NullTextConfig | None":
        """False/None -> None (off), True -> the defaults, a NullTextConfig or a dict of its fields."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise TypeError(f"null_text must be True/False, a NullTextConfig or a dict of its fields; got {value!r}")


# --- the edit ---------------------------------------------------------------------------------------------------------
LEGACY_SELF_FUSION = ("fuse_self", "blend_self_attention")  # keyword aliases of self_fusion (InitVars below)


@dataclass
class FateZeroConfig:
    """The settings of one edit (the inversion's own settings — steps, temporal — must match; checked in edit()).

    Self-attention fusion is one explicit choice, ``self_fusion`` (a name of :data:`fatezero_lab.fusion.SELF_FUSIONS`;
    ``latent_blend_mode`` one of :data:`~fatezero_lab.fusion.LATENT_BLENDS`: both checked against their registries
    when the edit is planned). The older keywords still work as aliases: ``fuse_self=False`` means
    ``self_fusion="none"``, ``blend_self_attention=False`` means ``"full_source"``, and a ``blend_threshold`` in
    [1, 2] (the authors' ``blend_th: [2, 2]``: no pixel passes) means ``"full_source"``.
    """

    guidance: float = _help("classifier-free guidance scale w of the edit (inversion uses none)", 7.5)
    unconditional: str = _help('what the guided loop\'s unconditional rows read: "empty" (τ(""), the paper) or '
                               '"source" (negative-prompt inversion, Miyake et al. 2023, beyond the paper: τ(source '
                               'prompt), a free stand-in for null-text inversion\'s tuned ∅ — guidance then scales '
                               'ε(target) − ε(source))', "empty")
    fuse_cross: bool = _help("Attention Blending Block, cross part: reuse the source cross-attention for shared words",
                             True)
    cross_replace_steps: float | tuple[float, float] | None = _help(
        "fraction of edit steps (or [start, end)) with cross-attention fusion; None = the model's default (SD: 0.8, "
        "ours: the reference's reconstruction-entry and watercolor window; their attribute edits mostly use 0.5)", None)
    cross_mode: str | None = _help('"replace" (copy every source map; equal token counts), "refine" (shared words), '
                                   '"auto" (replace if the token counts are equal, else refine: ours; the authors\' code needs '
                                   'is_replace_controller and equal word counts); '
                                   'None = the model\'s default (SD: refine)', None)
    alignment_prompt: str | None = _help(
        "the source prompt the target is aligned with (word alignment, blend-word positions) and the reconstruction "
        "pass runs with; None = the inversion prompt. The authors' controller takes editing_prompts[0] / "
        "source_prompt here, which may differ from the inversion prompt by a token (their YAMLs: a trailing comma)",
        None)
    refine_tail: str = _help('refine: what target positions after EOS read — "reference" (the authors\': the same '
                             'source position) or "from_end" (EOS and padding aligned from the end)', "reference")
    reweight: dict = _help('target word -> cross-attention multiplier (eq_params), e.g. {"blue": 2}', factory=dict)
    self_fusion: str = _help('Attention Blending Block, self part: "masked" (s = M_t s_edit + (1 − M_t) s_src, M_t '
                             'from the blend words; without blend words M_t = 0: the source), "full_source" (s = '
                             's_src) or "none" (the edit\'s own self-attention)', "masked")
    self_replace_steps: float | tuple[float, float] = _help(
        "fraction of edit steps (or [start, end)) with self-attention fusion", 0.6)
    blend_words: list = _help("source words whose cross-attention makes M_t; [] = no mask", factory=list)
    blend_threshold: float | None = _help("M_t = normalised map > th, th in [0, 1]; None = the model's default "
                                          "(SD: 0.3)", None)
    mask_layers: list | str = _help('cross layers averaged for M_t ("auto": the model\'s measured/reference choice)',
                                    "auto")
    mask_dilation: int = _help("max-pool size (odd) applied to the averaged map; 1 = none", 3)
    mask_normalise: str | None = _help('"max" (reference: divide by the spatial max), "minmax"; None = the model\'s '
                                       'default', None)
    latent_blend: bool = _help("prompt-to-prompt local blend of latents (keep z_src outside the words' mask)", False)
    latent_blend_steps: tuple[float, float] = _help("[start, end) fractions of steps with latent blend", (0.2, 0.8))
    latent_blend_threshold: float = _help("threshold of the latent-blend mask, in [0, 1]", 0.3)
    latent_blend_mode: str = _help('"reference" (the authors\': target-word maps summed over the steps so far, '
                                   'source latent of the timestep the step starts from) or "aligned" (this step\'s '
                                   'maps, the source latent of the timestep the step ends at)', "reference")
    target_blend_words: list = _help("target words added to the latent-blend mask", factory=list)
    use_inversion_attention: bool = _help("False: source attention recorded from a reconstruction pass from z_T "
                                          "(prompt-to-prompt)", True)
    fast_fusion: bool = _help("fuse self-attention on outputs with SDPA (never forming the maps); False = explicit "
                              "maps", True)
    # keyword aliases of self_fusion (not fields: not stored, not serialised)
    fuse_self: InitVar[bool | None] = None
    blend_self_attention: InitVar[bool | None] = None

    def __post_init__(self, fuse_self=None, blend_self_attention=None):
        # 1. the older keywords -> the explicit self-fusion choice
        self._translate_legacy(fuse_self, blend_self_attention)
        # 2. normalise the shorthand forms (0.6 -> (0.0, 0.6); "circle" -> ["circle"]), checking their shape
        for name in ("cross_replace_steps", "self_replace_steps", "latent_blend_steps"):
            if getattr(self, name) is not None:
                setattr(self, name, check_window(name, getattr(self, name)))
        for name in ("blend_words", "target_blend_words"):
            setattr(self, name, check_words(name, getattr(self, name)))
        # 3. check every field
        self.validate()

    def _translate_legacy(self, fuse_self, blend_self_attention) -> None:
        """fuse_self / blend_self_attention / a threshold in [1, 2] -> ``self_fusion`` (see the class docstring)."""
        b = self.blend_threshold
        sentinel = _is_number(b) and 1 <= b <= 2  # the authors' "no pixel passes": an empty mask
        if fuse_self is None and blend_self_attention is None and not sentinel:
            return
        fuse = self.self_fusion != "none" if fuse_self is None else bool(fuse_self)
        blend = self.self_fusion != "full_source" if blend_self_attention is None else bool(blend_self_attention)
        if sentinel:
            blend, self.blend_threshold = False, None
        self.self_fusion = "none" if not fuse else ("masked" if blend else "full_source")

    def validate(self) -> None:
        """Check every field (without changing any); raise ConfigError naming the field and what was expected."""
        check_number("guidance", self.guidance, 0, 50)
        check_choice("unconditional", self.unconditional, UNCONDITIONALS, ' ("source": negative-prompt inversion)')
        if self.alignment_prompt is not None and not isinstance(self.alignment_prompt, str):
            raise ConfigError(f"alignment_prompt must be a string or None (= the inversion prompt), "
                              f"got {self.alignment_prompt!r}", "alignment_prompt")
        check_choice("refine_tail", self.refine_tail, TAILS)
        if self.cross_mode is not None:
            check_choice("cross_mode", self.cross_mode, CROSS_MODES)
        if not isinstance(self.reweight, dict) or any(not _is_number(v) or v < 0 for v in self.reweight.values()):
            raise ConfigError(f"reweight must map words to non-negative numbers, got {self.reweight!r}", "reweight")
        for name, examples in (("self_fusion", "'masked', 'full_source', 'none'"),
                               ("latent_blend_mode", "'reference', 'aligned'")):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ConfigError(f"{name} must be the name of a registered rule ({examples}; fusion.py), "
                                  f"got {getattr(self, name)!r}", name)
        for name in ("blend_words", "target_blend_words"):
            check_words(name, getattr(self, name))
        if self.blend_threshold is not None:
            check_threshold("blend_threshold", self.blend_threshold)
        check_threshold("latent_blend_threshold", self.latent_blend_threshold)
        check_dilation("mask_dilation", self.mask_dilation)
        if self.mask_normalise is not None:
            check_choice("mask_normalise", self.mask_normalise, NORMALISATIONS)
        if not (self.mask_layers == "auto" or (isinstance(self.mask_layers, (list, tuple)) and self.mask_layers)):
            raise ConfigError(f"mask_layers must be 'auto' or a non-empty list of layer names, "
                              f"got {self.mask_layers!r}", "mask_layers")
        if self.latent_blend and not (self.blend_words or self.target_blend_words):
            raise ConfigError("latent_blend needs blend_words (and/or target_blend_words) to build its mask",
                              "latent_blend")

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
        """The config of ``to_dict``'s dict (older dicts with ``fuse_self`` / ``blend_self_attention`` read too)."""
        names = {f.name for f in dataclasses.fields(cls)} | set(LEGACY_SELF_FUSION)
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown FateZeroConfig field(s) {sorted(unknown)}; fields are {sorted(names)}",
                              sorted(unknown)[0])
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
