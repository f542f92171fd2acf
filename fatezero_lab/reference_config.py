"""Read the authors' YAML edit configs (FateZero's ``config/**/*.yaml``) into fatezero_lab's settings.

>>> ref = read_reference_yaml("config/teaser/jeep_watercolor.yaml", index=1)   # doctest: +SKIP
>>> ref.target_prompt, ref.config.reweight, ref.steps, ref.temporal.reference
('watercolor painting of a silver jeep ...', {'watercolor': 10.0}, 50, ('mid',))

A reference config describes one clip (``dataset_config``), one model (``pretrained_model_path``,
``model_config``) and a *list* of edits: ``editing_config.editing_prompts[i]`` is edited with the knobs of
``editing_config.p2p_config[i]``. :func:`read_reference_yaml` picks one of them (``index``) and returns a
:class:`ReferenceEdit`: the prompts, a :class:`~fatezero_lab.config.FateZeroConfig`, the number of DDIM steps, the
:class:`~fatezero_lab.processors.TemporalConfig` of inversion and edit, the clip's sampling settings and the model
path. Entry 0 is, in most of the authors' files, the source prompt itself: editing the clip towards its own caption,
i.e. a *reconstruction* check (``ReferenceEdit.is_reconstruction``); the edits proper start at index 1.

What each key means was read in the authors' code (``test_fatezero.py``, ``P2pSampleLogger`` in
``p2p_validation_loop.py``, ``p2preplace_edit`` in ``p2p_ddim_spatial_temporal.py``, ``make_controller`` in
``attention_util.py``, ``get_time_words_attention_alpha`` in ``ptp_utils.py``, ``SpatialBlender`` in
``spatial_blend.py``, ``SparseCausalAttention`` / ``least_sc_channel`` in ``models/attention.py``,
``ImageSequenceDataset`` and ``offset_crop`` in ``data/``); docs/method.md has the same keys with the values the
example configs use.

Mapping (their key -> ours)
---------------------------
``pretrained_model_path``
    ``ReferenceEdit.pretrained_model_path`` (as written); :meth:`ReferenceEdit.model_path` finds the folder or maps
    ``stable-diffusion-v1-4``/``-v1-5`` to their hub ids.
``dataset_config.prompt``
    ``source_prompt``: the prompt the clip is DDIM-inverted with (their inversion attention is recorded with it).
``dataset_config.path / n_sample_frame / sampling_rate / start_sample_frame / stride / offset / image_size``
    the fields of the same names. Their loader takes frames ``start + k * sampling_rate`` (k < n_sample_frame; a
    negative n_sample_frame = every frame), crops ``offset`` pixels off each side, resizes the short side and
    centre-crops (:meth:`ReferenceEdit.load_clip` does the same). ``stride`` only spaces windows of a long video
    (their test loader then picks one window at random); we take the first. ``offset`` given as a dict with keys
    missing gets *their function's* defaults for the missing ones (``top`` = 200, the others 0).
``editing_config.editing_prompts[index]``
    ``target_prompt``.
``editing_config.source_prompt`` (else ``editing_prompts[0]``)
    ``alignment_prompt``: the prompt their controller aligns the target with, searches ``blend_words[0]`` in,
    compares word counts with, and (``use_inversion_attention: False``) reconstructs with. Where it differs from
    the inversion prompt it becomes ``config.alignment_prompt`` (ours then does the same) and ``notes`` says so.
``editing_config.num_inference_steps``
    ``steps`` (DDIM steps of inversion and edit).
``editing_config.guidance_scale``
    ``config.guidance``; absent -> 7 (the default of their sample logger; the latent-blend teaser relies on it).
``editing_config.use_inversion_attention``
    ``config.use_inversion_attention``. Their logger writes this value into *every* p2p entry, so a per-entry
    ``use_inversion_attention`` never acts (recorded in ``ignored``). With False, their entry 0 is a plain
    attention-recording pass (no fusion): so is ours (``fuse_cross = False``, ``self_fusion = "none"``).
``editing_config.prompt2prompt_edit``
    absent/False: no attention control at all (plain DDIM from the inverted noise, the ``config/tune`` files) ->
    ``fuse_cross = False``, ``self_fusion = "none"``.
``editing_config.use_invertion_latents`` (sic)
    must be true: we always start from the DDIM inversion of the source clip.
``p2p_config[i].cross_replace_steps``
    ``{default_: x}`` or ``x`` -> ``config.cross_replace_steps`` (a fraction ``f`` = window ``[0, f)``, or a pair);
    no ``default_`` -> the full window (their default). Per-word entries ``{word: window}`` replace the window for that
    target word only: one whose word is not in the target (their exact word match) or whose window equals the
    default changes nothing and is dropped with a note; any other -> ValueError (ours has one window for all words).
``p2p_config[i].self_replace_steps``
    ``config.self_replace_steps`` (fraction or pair).
``p2p_config[i].is_replace_controller`` (default True)
    ``config.cross_mode``: ``"replace"`` only if it is true *and* ``alignment_prompt`` and the target have the same
    number of space-separated **words** (their gate), else ``"refine"``. Their replace mapper copes with a word that
    changes its token count; ours needs equal token counts (the CLI falls back to refine, with a notice).
``p2p_config[i].eq_params {words, values}``
    ``config.reweight`` (word -> multiplier), pairs zipped (the shorter list wins, as theirs). Words are found by an
    exact whitespace split of the target; a word not found there does nothing in theirs and is dropped with a note
    (the ``silver``/``sculpture`` placeholders of many entry-0 blocks).
``p2p_config[i].blend_words [[source words], [target words]]``
    the source list -> ``config.blend_words`` (its maps, from the *source* attention, make the self-attention mask
    ``M_t``; their blender for self-attention uses the source row only); the target list ->
    ``config.target_blend_words``, only with ``blend_latents`` (their latent-blend mask is the union of the source
    words' mask on the source maps and the target words' mask on the edit's maps; nothing else reads the target
    list). A one-list form ``[['man']]``
    gives source words only; a bare string counts as a one-word list. Words missing from the prompt searched
    (``alignment_prompt`` / target, exact match) add nothing in theirs and are dropped with a note.
``p2p_config[i].blend_self_attention`` (default None = off)
    ``config.self_fusion``: with it (and ``blend_th[0] < 1``) ``"masked"``, self-attention
    ``M_t s_edit + (1 - M_t) s_src`` (with no blend word left, M_t = 0: the source); without it ``"full_source"``,
    the source self-attention replaces the edit's entirely.
``p2p_config[i].blend_th [a, b]`` (default [0.3, 0.3])
    ``config.blend_threshold = a``: the mask is ``normalised map > a`` (max-normalised, strict), so any ``a >= 1``
    (the ``[2, 2]`` of the reconstruction entries) gives an empty mask = full source self-attention: read as
    ``config.self_fusion = "full_source"`` (and ``blend_threshold`` left to the model: nothing reads it). ``b`` is
    never read: it would threshold an unpooled "subtract" mask that ``make_controller`` never builds. The latent
    blend uses ``a`` too -> ``config.latent_blend_threshold = min(a, 1)`` (the same empty mask for ``a >= 1``).
``p2p_config[i].blend_latents``
    ``config.latent_blend`` with ``latent_blend_steps = (0.2, 0.8)`` (fixed in their ``make_controller``).
``model_config.SparseCausalAttention_index`` (default [-1, 'first'])
    ``temporal.reference`` entry for entry (``'first'``, ``'last'``, ``'mid'``/``'middle'``, int offsets); ``[]`` ->
    ``temporal.enabled = False`` (plain per-frame self-attention).
``model_config.least_sc_channel`` (default 0)
    ``temporal.min_channels`` (narrower blocks keep per-frame self-attention).
(no key: their inflated UNet)
    ``temporal.groupnorm = "clip"`` always: their pseudo-3-D ResNet blocks normalise over the clip, with or without
    sparse-causal attention.

Fixed in their code and set explicitly in ``config``: ``mask_dilation = 3`` (3x3 max-pool), ``mask_normalise =
"max"``; ``mask_layers`` stays ``"auto"`` (for SD at 512² the same five 16×16 cross layers).

Keys accepted and recorded in ``ReferenceEdit.ignored`` (they do not change the edited frames)
------------------------------------------------------------------------------------------------
top level: ``logdir``, ``seed`` (their global seed: VAE posterior sample and which stride window is shuffled first;
we use the posterior mean), ``mixed_precision``, ``batch_size``, ``gradient_accumulation_steps``, ``verbose``,
``disk_store`` (a memory mode), ``enable_xformers``, ``gradient_checkpointing``, ``use_invertion_latents``
(top level: never read), ``pretrained_epoch_list``, ``test_pipeline_config.num_inference_steps`` (an unresolved
interpolation nobody reads), and the tuning-only keys of ``train_tune_a_video.py`` (``train_steps``,
``validation_steps``, ``checkpointing_steps``, ``learning_rate``, ``scale_lr``, ``lr_scheduler``,
``lr_warmup_steps``, ``use_8bit_adam``, ``adam_beta1``, ``adam_beta2``, ``adam_weight_decay``, ``adam_epsilon``,
``max_grad_norm``, ``train_batch_size``, ``train_temporal_conv``, ``trainer_pipeline_config``);
``dataset_config``: ``class_data_root``, ``class_data_prompt`` (tuning regulariser), ``image_mode``, ``crop``;
``editing_config``: ``clip_length`` (must equal n_sample_frame), ``sample_seeds``, ``num_samples_per_prompt``,
``strength`` (only range-checked by their pipelines), ``annotate``, ``annotate_size``, ``use_make_grid``,
``make_grid``, ``grid_column_size``, ``subdir``, ``traverse_p2p_config``;
``p2p_config[i]``: ``use_inversion_attention`` and ``save_self_attention`` (overwritten by their logger),
``disk_store``; ``model_config``: ``lora`` (a zero-initialised temporal adapter: the identity zero-shot; a tuned
checkpoint carries its own weights), ``temporal_downsample: False``.

Any other key -> ValueError naming the key, the file and the keys known at that place. ``${a.b}`` / ``${..a.b}``
interpolations (OmegaConf style) are resolved where a value is read.

What their format says and ours cannot
--------------------------------------
per-word cross-attention windows; a replace alignment between prompts whose token counts differ; an alignment
prompt different from the inversion prompt; ``temporal_downsample: True``; their ≤32² layer rule and mask layers by
list position (ours: ``invert(max_side=32)`` and ``mask_layers``); a random crop or random stride window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .config import FateZeroConfig, TemporalConfig

# --- the keys known at each place (used / ignored with the reason) ---------------------------------------------------
TOP_USED = ("pretrained_model_path", "dataset_config", "editing_config", "model_config", "test_pipeline_config")
TOP_IGNORED = {
    "logdir": "output folder", "seed": "global seed (VAE posterior sample, stride-window shuffle)",
    "mixed_precision": "fp16/fp32 numerics", "batch_size": "one clip", "gradient_accumulation_steps": "training",
    "verbose": "logging", "disk_store": "a memory mode of the attention store", "enable_xformers": "attention kernel",
    "gradient_checkpointing": "training", "use_invertion_latents": "top-level copy, never read",
    "pretrained_epoch_list": "checkpoint selection", "train_steps": "tuning", "validation_steps": "tuning",
    "checkpointing_steps": "tuning", "learning_rate": "tuning", "scale_lr": "tuning", "lr_scheduler": "tuning",
    "lr_warmup_steps": "tuning", "use_8bit_adam": "tuning", "adam_beta1": "tuning", "adam_beta2": "tuning",
    "adam_weight_decay": "tuning", "adam_epsilon": "tuning", "max_grad_norm": "tuning", "train_batch_size": "tuning",
    "train_temporal_conv": "tuning", "trainer_pipeline_config": "tuning",
}
DATASET_USED = ("path", "prompt", "n_sample_frame", "sampling_rate", "stride", "offset", "start_sample_frame",
                "image_size")
DATASET_IGNORED = {"class_data_root": "tuning regulariser", "class_data_prompt": "tuning regulariser",
                   "image_mode": "frames are read as RGB", "crop": "centre crop (a random crop is not reproducible)"}
OFFSET_DEFAULTS = {"left": 0, "right": 0, "top": 200, "bottom": 0}  # offset_crop's own defaults (top = 200!)
EDITING_USED = ("editing_prompts", "p2p_config", "num_inference_steps", "guidance_scale", "use_inversion_attention",
                "source_prompt", "prompt2prompt_edit", "use_invertion_latents")
EDITING_IGNORED = {
    "clip_length": "frame count of the UNet (checked to equal n_sample_frame)", "sample_seeds": "DDIM with eta=0",
    "num_samples_per_prompt": "DDIM with eta=0", "strength": "only range-checked", "annotate": "figure",
    "annotate_size": "figure", "use_make_grid": "figure", "make_grid": "figure", "grid_column_size": "figure",
    "subdir": "output folder", "traverse_p2p_config": "both branches read p2p_config[i]",
}
P2P_USED = ("cross_replace_steps", "self_replace_steps", "is_replace_controller", "eq_params", "blend_words",
            "blend_self_attention", "blend_th", "blend_latents")
P2P_IGNORED = {"use_inversion_attention": "overwritten by editing_config.use_inversion_attention",
               "save_self_attention": "overwritten by the sample logger", "disk_store": "a memory mode"}
MODEL_USED = ("SparseCausalAttention_index", "least_sc_channel")
MODEL_IGNORED = {"lora": "zero-initialised temporal adapter (identity zero-shot)", "temporal_downsample": "False"}
PIPELINE_TARGETS = {"P2pDDIMSpatioTemporalPipeline": True, "DDIMSpatioTemporalStableDiffusionPipeline": False}
TEMPORAL_NAMES = ("first", "last", "mid", "middle")
HUB_IDS = {"stable-diffusion-v1-4": "CompVis/stable-diffusion-v1-4",
           "stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5"}
LATENT_BLEND_STEPS = (0.2, 0.8)  # fixed in their make_controller


@dataclass
class ReferenceEdit:
    """One edit of an authors' config: what to invert, what to edit towards, and with which settings."""

    path: Path  # the YAML file
    index: int  # which editing prompt
    n_prompts: int  # how many editing prompts the file has
    source_prompt: str  # dataset_config.prompt: the inversion prompt
    target_prompt: str  # editing_prompts[index]
    alignment_prompt: str  # their controller's source prompt (editing_config.source_prompt or editing_prompts[0])
    config: FateZeroConfig  # the fusion knobs (guidance included)
    steps: int  # num_inference_steps: DDIM steps of inversion and edit
    temporal: TemporalConfig  # spatial-temporal self-attention of inversion and edit
    dataset_path: str  # dataset_config.path as written (relative to their repository root)
    n_sample_frame: int = 8  # frames taken (< 0: every frame)
    sampling_rate: int = 1  # every sampling_rate-th frame
    start_sample_frame: int = 0  # first frame taken
    stride: int = -1  # spacing of windows in a long video (tuning); the first window is used
    offset: dict = field(default_factory=lambda: {"left": 0, "right": 0, "top": 0, "bottom": 0})  # pixels cropped
    image_size: int = 512  # short-side resize + centre crop
    pretrained_model_path: str = ""  # as written
    ignored: dict = field(default_factory=dict)  # dotted key -> value, for keys that do not change the edit
    notes: list = field(default_factory=list)  # where this reading drops or reinterprets something

    @property
    def guidance(self) -> float:
        return self.config.guidance

    @property
    def is_reconstruction(self) -> bool:
        """True when the target is the source caption itself (entry 0 of most files): a reconstruction check."""
        return _plain(self.target_prompt) == _plain(self.source_prompt)

    def _find(self, raw: str) -> Path | None:
        """``raw`` as an absolute path, else under the working directory, else under a folder above the YAML file
        (their paths are relative to their repository root, where they run ``test_fatezero.py``)."""
        p = Path(raw).expanduser()
        if p.is_absolute():
            return p if p.exists() else None
        for base in (Path.cwd(), *Path(self.path).resolve().parents):
            if (base / p).exists():
                return base / p
        return None

    def video_path(self) -> Path | None:
        """The clip (``dataset_config.path``) if it can be found, else None."""
        return self._find(self.dataset_path)

    def model_path(self) -> str | None:
        """A local pipeline folder for ``pretrained_model_path``, else the hub id of a base SD model, else None
        (a one-shot tuned checkpoint such as ``./ckpt/jeep_tuned_200`` that is not here)."""
        found = self._find(self.pretrained_model_path) if self.pretrained_model_path else None
        if found is not None and (found / "model_index.json").exists():
            return str(found)
        return HUB_IDS.get(Path(self.pretrained_model_path.rstrip("/")).name)

    def load_clip(self, video=None, size: int | tuple[int, int] | None = None, n_frames: int | None = None):
        """The clip as their loader builds it: frames ``start + k * sampling_rate``, ``offset`` cropped, short side
        resized and centre-cropped to ``size`` (default ``image_size``) -> (F, H, W, 3) float32 in [0, 1]."""
        from . import video as fzvideo

        src = video if video is not None else self.video_path()
        if src is None:
            raise FileNotFoundError(f"the clip {self.dataset_path!r} of {self.path} was not found; pass it explicitly")
        frames = fzvideo.read(src) if isinstance(src, (str, Path)) else src
        n = n_frames if n_frames is not None else self.n_sample_frame
        if n < 0:
            n = len(frames)
        frames = fzvideo.sample_frames(frames, n, start=self.start_sample_frame, stride=self.sampling_rate)
        h, w = frames.shape[1:3]
        o = self.offset
        left = min(o["left"], w - 1)
        right = min(o["right"], w - left - 1)
        top = min(o["top"], h - 1)
        bottom = min(o["bottom"], h - top - 1)
        frames = frames[:, top:h - bottom, left:w - right]
        return fzvideo.resize_crop(frames, size or self.image_size)

    def summary(self) -> str:
        kind = "reconstruction" if self.is_reconstruction else "edit"
        c = self.config
        lines = [f"{self.path} [{self.index}/{self.n_prompts - 1}] ({kind})",
                 f"  source: {self.source_prompt!r}", f"  target: {self.target_prompt!r}",
                 f"  steps={self.steps} guidance={c.guidance} cross={c.cross_replace_steps} ({c.cross_mode}) "
                 f"self={c.self_replace_steps} reweight={c.reweight} blend_words={c.blend_words} "
                 f"threshold={c.blend_threshold} latent_blend={c.latent_blend}",
                 f"  temporal={self.temporal}"]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


def from_reference_yaml(path, index: int = 0) -> FateZeroConfig:
    """The :class:`FateZeroConfig` of edit ``index`` of an authors' YAML config (see :func:`read_reference_yaml`)."""
    return read_reference_yaml(path, index).config


def read_reference_yaml(path, index: int = 0) -> ReferenceEdit:
    """Read edit ``index`` of one of the authors' YAML configs (``config/**/*.yaml`` of the FateZero repository).

    ``index`` selects ``editing_config.editing_prompts[index]`` and ``p2p_config[index]``. Entry 0 is usually the
    source prompt itself, i.e. a reconstruction (``is_reconstruction``); the edits start at 1. Raises
    ValueError for an unknown key (naming it, the file and the known keys), an index out of range, or a setting
    fatezero_lab cannot express; FileNotFoundError for a missing file. The module docstring has the full mapping.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference config {str(path)!r} does not exist")
    try:
        root = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML: {e}") from e
    return _Reader(path, root).read(index)


class _Reader:
    def __init__(self, path: Path, root):
        if not isinstance(root, dict):
            raise ValueError(f"{path} does not hold a mapping of settings (got {type(root).__name__})")
        self.path, self.root = path, root
        self.ignored: dict = {}
        self.notes: list[str] = []

    # --- helpers ------------------------------------------------------------------------------------------------------
    def fail(self, msg: str):
        raise ValueError(f"{self.path}: {msg}")

    def section(self, where: str, d, used, ignored: dict) -> dict:
        """Check ``d``'s keys; record the ignored ones; return d (None -> {})."""
        if d is None:
            return {}
        if not isinstance(d, dict):
            self.fail(f"{where or 'the file'} must be a mapping, got {d!r}")
        known = set(used) | set(ignored)
        for k, v in d.items():
            key = f"{where}.{k}" if where else str(k)
            if k not in known:
                raise ValueError(f"unknown key {key!r} in {self.path}; known keys there: {sorted(known)}")
            if k in ignored:
                self.ignored[key] = v
        return d

    def resolve(self, value, container: list, depth: int = 0):
        """Resolve ``${a.b}`` (from the root) and ``${..a.b}`` (relative, OmegaConf style) in a string value."""
        if not isinstance(value, str) or "${" not in value:
            return value
        if depth > 10:
            self.fail(f"interpolation loop at {value!r}")

        def lookup(ref: str):
            dots = len(ref) - len(ref.lstrip("."))
            if dots:
                if dots - 1 > len(container):
                    self.fail(f"interpolation {ref!r} climbs above the file's root")
                keys = container[:len(container) - (dots - 1)] + ref[dots:].split(".")
            else:
                keys = ref.split(".")
            node = self.root
            for k in keys:
                if not isinstance(node, dict) or k not in node:
                    self.fail(f"interpolation ${{{ref}}} names {'.'.join(keys)!r}, which the file does not have")
                node = node[k]
            return self.resolve(node, keys[:-1], depth + 1)

        whole = re.fullmatch(r"\$\{([^}]*)\}", value)
        if whole:
            return lookup(whole.group(1))
        return re.sub(r"\$\{([^}]*)\}", lambda m: str(lookup(m.group(1))), value)

    def number(self, key: str, value, integer: bool = False, minimum=None):
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if not ok or isinstance(value, bool) or (minimum is not None and value < minimum):
            kind = "an integer" if integer else "a number"
            self.fail(f"{key} must be {kind}" + (f" >= {minimum}" if minimum is not None else "") + f", got {value!r}")
        return value

    def flag(self, key: str, value, default):
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"{key} must be true or false, got {value!r}")
        return value

    def window(self, key: str, value) -> tuple[float, float]:
        """A fraction f (-> [0, f)) or a [start, end] pair; an end past 1 covers every step, as theirs."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (0.0, value)
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)):
            self.fail(f"{key} must be a fraction or a [start, end] pair, got {value!r}")
        start, end = float(value[0]), float(value[1])
        if end > 1.0:
            self.notes.append(f"{key}: end {end} > 1 covers every step; read as 1.0")
            end = 1.0
        if not 0.0 <= start <= end:
            self.fail(f"{key} must satisfy 0 <= start <= end, got {value!r}")
        return (start, end)

    def keep_words(self, key: str, words, their_prompt: str, our_prompt: str, role: str) -> list[str]:
        """The words their exact whitespace match finds in ``their_prompt`` (and ours in ``our_prompt``); the others
        are dropped with a note — in their code they select no token, so they change nothing."""
        kept, dropped = [], []
        for w in words:
            if not isinstance(w, str):
                self.fail(f"{key}: words must be strings (word positions are not supported), got {w!r}")
            if w in their_prompt.split(" ") and _our_match(our_prompt, w):
                kept.append(w)
            else:
                dropped.append(w)
        if dropped:
            self.notes.append(f"{key}: {dropped} not in the {role} {their_prompt!r}; they select no token in the "
                              f"reference, so they are dropped")
        return kept

    # --- the file -----------------------------------------------------------------------------------------------------
    def read(self, index: int) -> ReferenceEdit:
        root = self.section("", self.root, TOP_USED, TOP_IGNORED)
        for need in ("pretrained_model_path", "dataset_config", "editing_config"):
            if need not in root:
                self.fail(f"missing the key {need!r}")
        ds = self.dataset(root["dataset_config"])
        ed = self.section("editing_config", root["editing_config"], EDITING_USED, EDITING_IGNORED)
        p2p_on = self.pipeline(root.get("test_pipeline_config"), ed)
        prompts = ed.get("editing_prompts")
        if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
            self.fail(f"editing_config.editing_prompts must be a non-empty list of prompts, got {prompts!r}")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(prompts):
            self.fail(f"index {index!r} is out of range: editing_config.editing_prompts has {len(prompts)} "
                      f"prompt(s), indices 0..{len(prompts) - 1}")
        target = prompts[index]
        alignment = self.resolve(ed.get("source_prompt"), ["editing_config"])
        if alignment is None:
            alignment = prompts[0]
        if not isinstance(alignment, str):
            self.fail(f"editing_config.source_prompt must be a prompt, got {alignment!r}")
        steps = self.number("editing_config.num_inference_steps", ed.get("num_inference_steps"), True, 1)
        guidance = ed.get("guidance_scale", 7.0)
        guidance = float(self.number("editing_config.guidance_scale", guidance, minimum=0))
        if "guidance_scale" not in ed:
            self.notes.append("guidance_scale is absent: their sample logger's default 7 is used")
        if not self.flag("editing_config.use_invertion_latents", ed.get("use_invertion_latents"), False):
            self.fail("editing_config.use_invertion_latents must be true: fatezero_lab always edits from the DDIM "
                      "inversion of the source clip")
        if "clip_length" in ed:
            clip_length = self.resolve(ed["clip_length"], ["editing_config"])
            self.ignored["editing_config.clip_length"] = clip_length
            if ds["n_sample_frame"] > 0 and clip_length != ds["n_sample_frame"]:
                self.fail(f"editing_config.clip_length {clip_length!r} differs from dataset_config.n_sample_frame "
                          f"{ds['n_sample_frame']}; fatezero_lab edits every frame it inverts")
        use_inv = ed.get("use_inversion_attention")
        p2p = self.p2p_entries(ed.get("p2p_config"), len(prompts), p2p_on)
        if p2p_on:
            if use_inv is None:
                self.fail("editing_config.use_inversion_attention is required with prompt2prompt_edit (their inversion "
                          "and their edit default it differently)")
            use_inv = self.flag("editing_config.use_inversion_attention", use_inv, True)
            if index == 0 and not use_inv:
                self.notes.append("use_inversion_attention is false: their entry 0 is a plain pass that records the "
                                  "attention the later entries fuse; here a plain pass (no fusion)")
                cfg = self.config(FateZeroConfig, guidance=guidance, fuse_cross=False, self_fusion="none",
                                  use_inversion_attention=False)
            else:
                cfg = self.entry(p2p[index], index, target, alignment, ds["prompt"], guidance, use_inv)
        else:
            self.notes.append("prompt2prompt_edit is off: plain DDIM from the inverted noise with the target prompt "
                              "(no attention fusion)")
            use_inv = self.flag("editing_config.use_inversion_attention", use_inv, True)
            cfg = self.config(FateZeroConfig, guidance=guidance, fuse_cross=False, self_fusion="none",
                              use_inversion_attention=use_inv)
        if p2p_on and alignment != ds["prompt"] and _plain(alignment) == _plain(ds["prompt"]):
            self.notes.append(f"their alignment prompt {alignment!r} and inversion prompt {ds['prompt']!r} differ only "
                              f"in punctuation or case (a token more or less, which matters to cross_mode='replace')")
        if p2p_on and _plain(alignment) != _plain(ds["prompt"]):
            self.notes.append(f"their controller aligns the target with {alignment!r} (editing_prompts[0] or "
                              f"source_prompt), not with the inversion prompt {ds['prompt']!r}: so does "
                              f"config.alignment_prompt")
        if _plain(target) == _plain(ds["prompt"]):
            self.notes.append("the target is the source caption: a reconstruction, not an edit")
        temporal = self.temporal(root.get("model_config"))
        return ReferenceEdit(
            path=self.path, index=index, n_prompts=len(prompts), source_prompt=ds["prompt"], target_prompt=target,
            alignment_prompt=alignment, config=cfg, steps=steps, temporal=temporal, dataset_path=ds["path"],
            n_sample_frame=ds["n_sample_frame"], sampling_rate=ds["sampling_rate"],
            start_sample_frame=ds["start_sample_frame"], stride=ds["stride"], offset=ds["offset"],
            image_size=ds["image_size"], pretrained_model_path=self.pretrained(root["pretrained_model_path"]),
            ignored=self.ignored, notes=self.notes)

    def pretrained(self, value) -> str:
        value = self.resolve(value, [])
        if not isinstance(value, str) or not value:
            self.fail(f"pretrained_model_path must be a path, got {value!r}")
        return value

    def dataset(self, d) -> dict:
        d = self.section("dataset_config", d, DATASET_USED, DATASET_IGNORED)
        out = {}
        for key in ("path", "prompt"):
            value = self.resolve(d.get(key), ["dataset_config"])
            if not isinstance(value, str) or not value:
                self.fail(f"dataset_config.{key} must be a non-empty string, got {value!r}")
            out[key] = value
        out["n_sample_frame"] = self.number("dataset_config.n_sample_frame", d.get("n_sample_frame", 8), True)
        if out["n_sample_frame"] == 0:
            self.fail("dataset_config.n_sample_frame must not be 0")
        out["sampling_rate"] = self.number("dataset_config.sampling_rate", d.get("sampling_rate", 1), True, 1)
        out["stride"] = self.number("dataset_config.stride", d.get("stride", -1), True)
        start = d.get("start_sample_frame", 0)
        out["start_sample_frame"] = self.number("dataset_config.start_sample_frame", 0 if start is None else start,
                                                True, 0)
        out["image_size"] = self.number("dataset_config.image_size", d.get("image_size", 512), True, 8)
        if d.get("crop", "center") != "center":
            self.notes.append(f"dataset_config.crop {d['crop']!r}: a centre crop is used")
        offset = d.get("offset")
        if offset is None:
            out["offset"] = {k: 0 for k in OFFSET_DEFAULTS}
        else:
            offset = self.section("dataset_config.offset", offset, tuple(OFFSET_DEFAULTS), {})
            missing = [k for k in OFFSET_DEFAULTS if k not in offset or offset[k] is None]
            if missing:
                self.notes.append(f"dataset_config.offset lacks {missing}: their offset_crop defaults apply "
                                  f"(top=200, others 0)")
            out["offset"] = {k: self.number(f"dataset_config.offset.{k}",
                                            OFFSET_DEFAULTS[k] if offset.get(k) is None else offset[k], True, 0)
                             for k in OFFSET_DEFAULTS}
        return out

    def pipeline(self, tp, ed) -> bool:
        """Whether attention control runs: prompt2prompt_edit with their p2p pipeline."""
        tp = self.section("test_pipeline_config", tp, ("target",), {"num_inference_steps": "never read"})
        target = tp.get("target", "video_diffusion.pipelines.stable_diffusion.SpatioTemporalStableDiffusionPipeline")
        name = str(target).rsplit(".", 1)[-1]
        if name not in PIPELINE_TARGETS:
            self.fail(f"test_pipeline_config.target {target!r} is not one of the pipelines fatezero_lab reproduces "
                      f"({sorted(PIPELINE_TARGETS)})")
        p2p_on = self.flag("editing_config.prompt2prompt_edit", ed.get("prompt2prompt_edit"), False)
        if p2p_on and not PIPELINE_TARGETS[name]:
            self.fail(f"prompt2prompt_edit needs the P2pDDIMSpatioTemporalPipeline, not {target!r}")
        return p2p_on

    def p2p_entries(self, p2p, n_prompts: int, p2p_on: bool) -> dict:
        if p2p is None:
            if p2p_on:
                self.fail("prompt2prompt_edit is on but editing_config.p2p_config is missing")
            return {}
        if not isinstance(p2p, dict):
            self.fail(f"editing_config.p2p_config must map prompt indices to settings, got {p2p!r}")
        entries = {}
        for k, v in p2p.items():
            i = int(k) if isinstance(k, int) or (isinstance(k, str) and k.isdigit()) else None
            if i is None or isinstance(k, bool):
                self.fail(f"editing_config.p2p_config keys must be prompt indices, got {k!r}")
            where = f"editing_config.p2p_config.{k}"
            if v is None:  # an empty entry: their logger would fail on it
                entries[i] = None
                continue
            entries[i] = self.section(where, v, P2P_USED, P2P_IGNORED)
            if entries[i].get("eq_params") is not None:
                self.section(f"{where}.eq_params", entries[i]["eq_params"], ("words", "values"), {})
        if p2p_on:
            missing = [i for i in range(n_prompts) if entries.get(i) is None]
            if missing:
                self.fail(f"editing_config.p2p_config has no settings for prompt(s) {missing}")
        return entries

    def entry(self, e: dict, index: int, target: str, alignment: str, source: str, guidance: float,
              use_inv: bool) -> FateZeroConfig:
        where = f"editing_config.p2p_config.{index}"
        for need in ("cross_replace_steps", "self_replace_steps"):
            if e.get(need) is None:
                self.fail(f"{where}.{need} is required (their pipeline reads it unconditionally)")
        if "use_inversion_attention" in e and e["use_inversion_attention"] != use_inv:
            self.notes.append(f"{where}.use_inversion_attention={e['use_inversion_attention']} is overwritten by "
                              f"editing_config.use_inversion_attention={use_inv}, as in their logger")
        cross = self.cross_window(e["cross_replace_steps"], f"{where}.cross_replace_steps", target)
        self_window = self.window(f"{where}.self_replace_steps", e["self_replace_steps"])
        # replace vs refine: their gate compares space-separated word counts of the alignment prompt and the target
        replace = self.flag(f"{where}.is_replace_controller", e.get("is_replace_controller"), True)
        same_words = len(alignment.split(" ")) == len(target.split(" "))
        if replace and not same_words:
            self.notes.append(f"{where}.is_replace_controller is true but the prompts have different word counts "
                              f"({len(alignment.split(' '))} vs {len(target.split(' '))}): refine, as theirs")
        mode = "replace" if replace and same_words else "refine"
        reweight = self.reweight(e.get("eq_params"), f"{where}.eq_params", target)
        # blending
        th = e.get("blend_th", (0.3, 0.3))
        if isinstance(th, (int, float)) and not isinstance(th, bool):
            th = (th, th)
        if not isinstance(th, (list, tuple)) or not th:
            self.fail(f"{where}.blend_th must be a [threshold, threshold] pair, got {th!r}")
        a = float(self.number(f"{where}.blend_th[0]", th[0], minimum=0))
        blend_self = self.flag(f"{where}.blend_self_attention", e.get("blend_self_attention"), False)
        blend_latents = self.flag(f"{where}.blend_latents", e.get("blend_latents"), False)
        src_words, tgt_words = self.blend_words(e.get("blend_words"), f"{where}.blend_words")
        src_words = self.keep_words(f"{where}.blend_words[0]", src_words, alignment, source, "alignment prompt")
        tgt_words = self.keep_words(f"{where}.blend_words[1]", tgt_words, target, target, "target")
        if tgt_words and not blend_latents:
            self.notes.append(f"{where}.blend_words[1] {tgt_words} is read only by the latent blend, which is off")
            tgt_words = []
        if src_words and not (blend_self or blend_latents):
            self.notes.append(f"{where}.blend_words {src_words} are unused: blend_self_attention and blend_latents are "
                              f"off (full source self-attention)")
            src_words = []
        if blend_latents and not (src_words or tgt_words):
            self.notes.append(f"{where}.blend_latents has no blend word left: latent blend off")
            blend_latents = False
        return self.config(
            FateZeroConfig, guidance=guidance, fuse_cross=True, cross_replace_steps=cross, cross_mode=mode,
            reweight=reweight, self_fusion="masked" if blend_self and a < 1 else "full_source",
            self_replace_steps=self_window, blend_words=src_words,
            blend_threshold=a if a < 1 else None, mask_layers="auto", mask_dilation=3,
            mask_normalise="max", latent_blend=blend_latents, latent_blend_steps=LATENT_BLEND_STEPS,
            latent_blend_threshold=min(a, 1.0), target_blend_words=tgt_words, use_inversion_attention=use_inv,
            alignment_prompt=None if alignment == source else alignment)

    def cross_window(self, value, key: str, target: str) -> tuple[float, float]:
        if not isinstance(value, dict):
            return self.window(key, value)
        default = self.window(f"{key}.default_", value["default_"]) if "default_" in value else (0.0, 1.0)
        for word, w in value.items():
            if word == "default_":
                continue
            win = self.window(f"{key}.{word}", w)
            if not isinstance(word, str) or word not in target.split(" "):
                self.notes.append(f"{key}.{word}: not a word of the target, so it changes nothing; dropped")
            elif win == default:
                self.notes.append(f"{key}.{word}: the same window as default_; dropped")
            else:
                self.fail(f"{key}.{word}: a per-word cross-attention window ({win} for {word!r}, {default} for the "
                          f"other words) cannot be expressed; fatezero_lab has one window for all words")
        return default

    def reweight(self, eq, key: str, target: str) -> dict:
        if eq is None:
            return {}
        words, values = eq.get("words"), eq.get("values")
        if isinstance(words, str):
            words = [words]
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = [values]
        if not isinstance(words, list) or not isinstance(values, list):
            self.fail(f"{key} must hold lists 'words' and 'values', got {eq!r}")
        if len(words) != len(values):
            self.notes.append(f"{key}: {len(words)} words and {len(values)} values; the first "
                              f"{min(len(words), len(values))} pairs are used (zip), as theirs")
        pairs = list(zip(words, values))
        kept = set(self.keep_words(f"{key}.words", [w for w, _ in pairs], target, target, "target"))
        out = {}
        for w, v in pairs:
            if w in kept:
                out[w] = float(self.number(f"{key}.values ({w!r})", v, minimum=0))
        return out

    def blend_words(self, value, key: str) -> tuple[list, list]:
        if value is None or value == "None":
            return [], []
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 2:
            self.fail(f"{key} must be [[source words], [target words]] (or [[source words]]), got {value!r}")
        lists = [[v] if isinstance(v, str) else v for v in value]
        if not all(isinstance(v, (list, tuple)) for v in lists):
            self.fail(f"{key} must be [[source words], [target words]], got {value!r}")
        return list(lists[0]), list(lists[1]) if len(lists) > 1 else []

    def temporal(self, mc) -> TemporalConfig:
        mc = self.section("model_config", mc, MODEL_USED, MODEL_IGNORED)
        if mc.get("temporal_downsample"):
            self.fail("model_config.temporal_downsample (temporal down-sampling convolutions) cannot be expressed")
        index = mc.get("SparseCausalAttention_index", [-1, "first"])
        if not isinstance(index, list):
            self.fail(f"model_config.SparseCausalAttention_index must be a list, got {index!r}")
        for r in index:
            if not ((isinstance(r, int) and not isinstance(r, bool)) or r in TEMPORAL_NAMES):
                self.fail(f"model_config.SparseCausalAttention_index entry {r!r}: expected an int offset or one of "
                          f"{list(TEMPORAL_NAMES)}")
        least = self.number("model_config.least_sc_channel", mc.get("least_sc_channel", 0), True, 0)
        # their inflated UNet normalises its ResNet blocks over the clip whatever the attention does
        if not index:
            return TemporalConfig(enabled=False, min_channels=least, groupnorm="clip")
        return TemporalConfig(reference=tuple(index), min_channels=least, groupnorm="clip")

    def config(self, cls, **fields) -> FateZeroConfig:
        try:
            return cls(**fields)
        except ValueError as e:
            self.fail(f"the settings cannot be expressed as a FateZeroConfig: {e}")


def _plain(prompt: str) -> str:
    """A prompt without case, trailing punctuation of words or extra spaces (to compare captions)."""
    return " ".join(w.strip(",.").lower() for w in prompt.split())


def _our_match(prompt: str, word: str) -> bool:
    """Whether fatezero_lab's word lookup (prompts.word_token_indices) finds ``word`` in ``prompt``."""
    return any(w.lower().strip(",.") == word.lower() for w in prompt.split())


__all__ = ["ReferenceEdit", "from_reference_yaml", "read_reference_yaml"]
