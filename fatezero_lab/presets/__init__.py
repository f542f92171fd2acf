"""The paper's examples as named presets: clip, prompts and every knob of one FateZero edit, ready to run.

>>> import fatezero_lab as fz
>>> fz.presets.list()                          # name -> one-line description   # doctest: +SKIP
>>> p = fz.presets.load("jeep_watercolor")
>>> p.clip, p.model_id, p.steps, p.target_prompt
('car-turn', 'CompVis/stable-diffusion-v1-4', 50, 'watercolor painting of a silver jeep driving down ...')
>>> frames = p.load_clip()                     # fetches "car-turn" once (fz.data), samples it as the authors do
>>> pipe = fz.load_pipeline(p.model_id)
>>> inv = fz.invert(pipe, frames, p.source_prompt, steps=p.steps, temporal=p.temporal)
>>> out = fz.edit(pipe, inv, p.target_prompt, p.config)

or from a shell: ``python -m fatezero_lab edit --preset jeep_watercolor``.

Each preset is one entry (``index``) of a small YAML file shipped in this folder, written in the authors' config
format (``config/**/*.yaml`` of the FateZero repository) with the same values as their file and only the keys
:mod:`fatezero_lab.reference_config` reads. :func:`load` is :func:`~fatezero_lab.reference_config.read_reference_yaml`
on that file and index, plus what a learner needs besides: which sample clip :func:`fatezero_lab.data.fetch` gets
for it (``clip``), the hub id of the weights (``model_id``: Stable Diffusion v1.4 for every zero-shot example, as in
the authors' configs), and for the shape edits the one-shot tuning the authors ran first (``tuning``; ours is
:func:`fatezero_lab.tuning.tune_on_clip`). Entry 0 of most files is the source caption itself (a reconstruction);
the presets name the edits.

Every preset's clip is an entry of :mod:`fatezero_lab.data`'s manifest, fetched and checked like ``car-turn``: the
authors' own copies of their example clips (the frames they committed to their repository at commit ``a124cbe``,
``data/attribute/*`` and ``data/style/*``: a SHA-256 per file), and for the three skateboarder presets
(``man_*``) the clip ``man_skate``, which exists only in their release archive ``shape.zip`` (no published checksum:
one is recorded at the first download and shown). :func:`run_settings` gives what running a preset takes — its own
frames, sampling, DDIM steps and tuning — lowered to optional caps (a GPU profile's), with a sentence saying what was
capped. The authors' published result of each preset (their GIF) is :func:`fatezero_lab.data.fetch_result`.
See docs/examples.md for the table of presets, clips, frames, steps and licences.
"""

from __future__ import annotations

import builtins
import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path

from ..reference_config import HUB_IDS, ReferenceEdit, read_reference_yaml

PRESET_DIR = Path(__file__).resolve().parent
SD14 = "CompVis/stable-diffusion-v1-4"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
AUTHORS_COMMIT = "9b6cb7b4dea2b2154df71ad7be0f61a66ca46d88"  # the authors' repository the values were read from
KINDS = ("style", "attribute", "shape")


class UnknownPresetError(ValueError):
    """Raised by :func:`load` for a name that is not a preset; the message lists the presets."""


@dataclass(frozen=True)
class Tuning:
    """The one-shot tuning the authors ran before a shape edit (their ``config/tune/*.yaml``).

    Their edit loads the tuned checkpoint (``checkpoint``, a Tune-A-Video UNet fatezero_lab does not load); ours
    tunes ``base_model`` on the clip with :func:`fatezero_lab.tuning.tune_on_clip` for ``steps`` steps at ``lr``
    first. Their tuning also used a regularisation set of generic images and trained temporal convolutions; ours
    trains the query projections and a temporal attention layer only.
    """

    base_model: str  # hub id their tuning started from
    steps: int  # the step count of their checkpoint (jeep_tuned_200 -> 200)
    lr: float  # their learning rate
    checkpoint: str  # their tuned checkpoint on the hub, for reference
    config: str  # their tuning config (relative to their repository)


@dataclass(frozen=True)
class _Entry:
    """Where a preset lives and what the YAML cannot say."""

    name: str
    file: str  # in PRESET_DIR
    index: int  # editing_prompts entry
    kind: str  # "style", "attribute" or "shape"
    clip: str  # name for fatezero_lab.data.fetch (the manifest's entry of the authors' clip)
    description: str  # one line
    mirrors: tuple[str, ...]  # the authors' configs with the same values (relative to their config/ folder)
    tuning: Tuning | None = None


_JEEP_TUNING = Tuning(SD15, 200, 1e-5, "chenyangqi/jeep_tuned_200", "config/tune/jeep.yaml")
_SWAN_TUNING = Tuning(SD15, 150, 1e-5, "chenyangqi/swan_150", "config/tune/swan.yaml")
_MAN_TUNING = Tuning(SD14, 250, 1e-5, "chenyangqi/man_skate_250", "config/tune/man_skate.yaml")
_TEASER_WC = ("teaser/jeep_watercolor.yaml", "style/jeep_watercolor.yaml")
_TEASER_PORSCHE = ("teaser/jeep_posche.yaml", "shape/jeep_posche.yaml")

_ENTRIES = (
    # the teaser
    _Entry("jeep_watercolor", "jeep_watercolor.yaml", 1, "style", "car-turn",
           "teaser: the silver jeep as a watercolor painting ('watercolor' x10)", _TEASER_WC),
    _Entry("jeep_watercolor_10_steps", "jeep_watercolor_10_steps.yaml", 0, "style", "car-turn",
           "teaser watercolor edit in 10 DDIM steps (the authors' low-cost setting)",
           ("low_resource_teaser/jeep_watercolor_ddim_10_steps.yaml",)),
    _Entry("jeep_posche", "jeep_posche.yaml", 1, "shape", "car-turn",
           "teaser shape edit: the jeep becomes a Porsche (one-shot tuned model, blend mask from 'silver jeep')",
           _TEASER_PORSCHE, _JEEP_TUNING),
    _Entry("jeep_posche_latent_blend", "jeep_posche_latent_blend.yaml", 0, "shape", "car-turn",
           "the Porsche shape edit with prompt-to-prompt's local latent blend (one-shot tuned model)",
           ("teaser/jeep_posche_local_latent_blend.yaml",), _JEEP_TUNING),
    # attribute edits
    _Entry("bear_tiger", "bear_tiger_lion_leopard.yaml", 1, "attribute", "bear_tiger_lion_leopard",
           "a brown bear on rocks becomes a red tiger", ("attribute/bear_tiger_lion_leopard.yaml",)),
    _Entry("bear_leopard", "bear_tiger_lion_leopard.yaml", 2, "attribute", "bear_tiger_lion_leopard",
           "a brown bear on rocks becomes a yellow leopard", ("attribute/bear_tiger_lion_leopard.yaml",)),
    _Entry("bear_lion", "bear_tiger_lion_leopard.yaml", 3, "attribute", "bear_tiger_lion_leopard",
           "a brown bear on rocks becomes a brown lion", ("attribute/bear_tiger_lion_leopard.yaml",)),
    _Entry("bus_gpu", "bus_gpu.yaml", 1, "attribute", "bus_gpu",
           "a white and blue bus becomes a black and green GPU ('GPU' x10, 10 % of the steps fused)",
           ("attribute/bus_gpu.yaml",)),
    _Entry("cat_grass", "cat_tiger_leopard_grass.yaml", 1, "attribute", "cat_tiger_leopard_grass",
           "a black cat walking by a wall: the floor becomes grass", ("attribute/cat_tiger_leopard_grass.yaml",)),
    _Entry("cat_tiger", "cat_tiger_leopard_grass.yaml", 2, "attribute", "cat_tiger_leopard_grass",
           "a black cat walking by a wall becomes a red tiger", ("attribute/cat_tiger_leopard_grass.yaml",)),
    _Entry("cat_shiba_inu", "cat_tiger_leopard_grass.yaml", 3, "attribute", "cat_tiger_leopard_grass",
           "a black cat walking by a wall becomes a yellow Shiba Inu", ("attribute/cat_tiger_leopard_grass.yaml",)),
    _Entry("cat_leopard", "cat_tiger_leopard_grass.yaml", 4, "attribute", "cat_tiger_leopard_grass",
           "a black cat walking by a wall becomes a yellow leopard", ("attribute/cat_tiger_leopard_grass.yaml",)),
    _Entry("dog_robotic", "dog_robotic_corgi.yaml", 1, "attribute", "gray_dog",
           "a gray dog on a mat becomes a robotic dog ('robotic' x10)", ("attribute/dog_robotic_corgi.yaml",)),
    _Entry("dog_corgi", "dog_robotic_corgi.yaml", 2, "attribute", "gray_dog",
           "a gray dog on a mat becomes a yellow corgi", ("attribute/dog_robotic_corgi.yaml",)),
    _Entry("duck_rubber", "duck_rubber.yaml", 1, "attribute", "duck_rubber",
           "a sleepy white duck becomes a yellow rubber duck", ("attribute/duck_rubber.yaml",)),
    _Entry("fox_wolf", "fox_wolf_snow.yaml", 1, "attribute", "fox_wolf_snow",
           "a white fox in the grass becomes a grey wolf", ("attribute/fox_wolf_snow.yaml",)),
    _Entry("fox_snow", "fox_wolf_snow.yaml", 2, "attribute", "fox_wolf_snow",
           "a white fox sits in the snow instead of the grass ('snow' x10)", ("attribute/fox_wolf_snow.yaml",)),
    _Entry("rabbit_leaves", "rabbit_strawberry.yaml", 1, "attribute", "rabbit_strawberry",
           "a rabbit eating strawberries becomes a white rabbit eating leaves",
           ("attribute/rabbit_straberry_leaves_flowers.yaml",)),
    _Entry("rabbit_flower", "rabbit_strawberry.yaml", 2, "attribute", "rabbit_strawberry",
           "a rabbit eating strawberries becomes a white rabbit eating a flower",
           ("attribute/rabbit_straberry_leaves_flowers.yaml",)),
    _Entry("rabbit_orange", "rabbit_strawberry.yaml", 3, "attribute", "rabbit_strawberry",
           "a rabbit eating strawberries becomes a white rabbit eating an orange",
           ("attribute/rabbit_straberry_leaves_flowers.yaml",)),
    _Entry("squirrel_robot", "squirrel_carrot.yaml", 1, "attribute", "squirrel_carrot",
           "a squirrel eating a carrot becomes a robot squirrel ('robot' x20)",
           ("attribute/squ_carrot_robot_eggplant.yaml",)),
    _Entry("squirrel_rabbit_eggplant", "squirrel_carrot.yaml", 2, "attribute", "squirrel_carrot",
           "a squirrel eating a carrot becomes a rabbit eating an eggplant",
           ("attribute/squ_carrot_robot_eggplant.yaml",)),
    _Entry("squirrel_robot_mouse", "squirrel_carrot.yaml", 3, "attribute", "squirrel_carrot",
           "a squirrel eating a carrot becomes a robot mouse eating a screwdriver",
           ("attribute/squ_carrot_robot_eggplant.yaml",)),
    _Entry("squirrel_white_mouse", "squirrel_carrot.yaml", 4, "attribute", "squirrel_carrot",
           "a squirrel eating a carrot becomes a white mouse eating a peanut",
           ("attribute/squ_carrot_robot_eggplant.yaml",)),
    _Entry("swan_swarovski", "swan_swarovski.yaml", 1, "attribute", "swan_swarov",
           "a black swan becomes a Swarovski crystal swan", ("attribute/swan_swa.yaml",)),
    # style edits
    _Entry("lily_monet", "lily_monet.yaml", 1, "style", "red_water_lily_opening",
           "a pink water lily opening, as a Claude Monet painting", ("style/lily_monet.yaml",)),
    _Entry("rabbit_pokemon", "rabbit_pokemon.yaml", 1, "style", "rabit",
           "a rabbit eating a watermelon, as a Pokemon cartoon", ("style/rabit_pokemon.yaml",)),
    _Entry("sunflower_van_gogh", "sunflower_van_gogh.yaml", 1, "style", "sunflower",
           "a yellow sunflower, as a Van Gogh painting", ("style/sun_flower_van_gogh.yaml",)),
    _Entry("surf_ukiyo", "surf_ukiyo.yaml", 1, "style", "surf",
           "a kite surfer on a wave, as an Ukiyo-e painting (one frame, as the authors' config)",
           ("style/surf_ukiyo.yaml",)),
    _Entry("swan_cartoon", "swan_cartoon.yaml", 1, "style", "style-blackswan",
           "a black swan swimming, as a cartoon (every sixth frame)", ("style/swan_cartoon.yaml",)),
    _Entry("train_shinkai", "train_shinkai.yaml", 1, "style", "train",
           "a train by a forest in Makoto Shinkai's style (32 frames)", ("style/train_shinkai.yaml",)),
    # shape edits on one-shot tuned models
    _Entry("swan_duck", "swan_duck_flamingo.yaml", 1, "shape", "swan_swarov",
           "the black swan becomes a white duck (one-shot tuned model, 30 steps)",
           ("shape/swan_duck_flamingo.yaml",), _SWAN_TUNING),
    _Entry("swan_flamingo", "swan_duck_flamingo.yaml", 2, "shape", "swan_swarov",
           "the black swan becomes a pink flamingo (one-shot tuned model, 30 steps)",
           ("shape/swan_duck_flamingo.yaml",), _SWAN_TUNING),
    _Entry("man_wonder_woman", "man_skate.yaml", 1, "shape", "man_skate",
           "a skateboarder becomes Wonder Woman (one-shot tuned model)",
           ("shape/man_wonder_bat_spider.yaml",), _MAN_TUNING),
    _Entry("man_spider_man", "man_skate.yaml", 2, "shape", "man_skate",
           "a skateboarder becomes Spider-Man (one-shot tuned model)",
           ("shape/man_wonder_bat_spider.yaml",), _MAN_TUNING),
    _Entry("man_batman", "man_skate.yaml", 3, "shape", "man_skate",
           "a skateboarder becomes Batman (one-shot tuned model)",
           ("shape/man_wonder_bat_spider.yaml",), _MAN_TUNING),
)
_BY_NAME = {e.name: e for e in _ENTRIES}


@dataclass(repr=False)
class Preset(ReferenceEdit):
    """One of the paper's edits: a :class:`~fatezero_lab.reference_config.ReferenceEdit` (prompts, ``config``,
    ``steps``, ``temporal``, the clip's sampling, ``image_size``) read from a packaged YAML file, plus its name, its
    sample clip, the weights it was made with and, for shape edits, the one-shot tuning to run first."""

    name: str = ""
    kind: str = ""  # "style", "attribute" or "shape"
    description: str = ""  # one line
    clip: str | None = None  # fatezero_lab.data.fetch name (every packaged preset has one); None: pass a video
    model_id: str = SD14  # hub id of the weights: the model to load (tuned presets: the base of the tuning)
    tuning: Tuning | None = None  # one-shot tuning to run before the edit (shape presets), else None
    mirrors: tuple = ()  # the authors' config files with the same values (relative to their config/ folder)

    @property
    def needs_tuning(self) -> bool:
        """True for the shape edits the authors ran on a one-shot tuned model."""
        return self.tuning is not None

    @property
    def n_frames(self) -> int:
        """How many frames the preset edits (the authors' ``n_sample_frame``)."""
        return self.n_sample_frame

    def run_settings(self, max_frames: int | None = None, max_steps: int | None = None,
                     max_tuning_steps: int | None = None, why: str = "") -> "RunSettings":
        """What running this preset takes (:func:`run_settings`): its own frames, sampling, steps and tuning, each
        lowered to its cap where one is given, and a sentence saying what was capped."""
        return run_settings(self, max_frames, max_steps, max_tuning_steps, why)

    def paper_result(self, part: str = "result", cache_dir=None, quiet: bool = False):
        """The authors' published result of this preset (their GIF; :func:`fatezero_lab.data.fetch_result`)."""
        from .. import data

        return data.fetch_result(self.name, cache_dir=cache_dir, part=part, quiet=quiet)

    def reference_edit(self) -> ReferenceEdit:
        """The plain :class:`ReferenceEdit` (what ``read_reference_yaml(self.path, self.index)`` returns)."""
        return ReferenceEdit(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ReferenceEdit)})

    def load_clip(self, video=None, size: int | tuple[int, int] | None = None, n_frames: int | None = None,
                  cache_dir=None):
        """The preset's clip, sampled and cropped as the authors' loader does: ``n_frames`` (default
        ``n_sample_frame``) frames ``start_sample_frame + k * sampling_rate``, short side resized and centre-cropped
        to ``size`` (default ``image_size``) -> (F, H, W, 3) float32 in [0, 1].

        ``video`` (a path or an array) is used if given; else the authors' ``dataset_config.path`` if it exists under
        the working directory; else the sample clip ``clip`` through :func:`fatezero_lab.data.fetch` (downloaded and
        checked once, then read from the cache; its frames carry the source frame rate). A copy whose ``clip`` was
        cleared raises FileNotFoundError saying what to pass.
        """
        if video is not None or self.video_path() is not None:
            return super().load_clip(video, size=size, n_frames=n_frames)
        from .. import data

        name = check_clip(self)
        if any(self.offset.values()):  # never true for the packaged presets (tested); kept for edited copies
            return super().load_clip(data.clip_dir(name, cache_dir), size=size, n_frames=n_frames)
        n = self.n_sample_frame if n_frames is None else n_frames
        return data.fetch(name, cache_dir=cache_dir, n_frames=None if n < 0 else n, size=size or self.image_size,
                          start=self.start_sample_frame, stride=self.sampling_rate)

    def summary(self) -> str:
        """Several lines: what the preset edits, with which model, frames, steps and knobs."""
        return self._describe(notes=True)

    def _describe(self, notes: bool) -> str:
        c, t = self.config, self.temporal
        frames = f"{self.n_sample_frame} frames" if self.n_sample_frame > 0 else "every frame"
        every = "consecutive" if self.sampling_rate == 1 else f"one in {self.sampling_rate}"
        start = f" from frame {self.start_sample_frame}" if self.start_sample_frame else ""
        clip = f"fz.data.fetch({self.clip!r})" if self.clip else f"a copy of the authors' {self.dataset_path!r}"
        model = self.model_id + (f" (their config: {self.pretrained_model_path})"
                                 if Path(self.pretrained_model_path).name not in HUB_IDS else "")
        temporal = (f"frames {builtins.list(t.reference)} from {t.min_channels} channels up" if t.enabled else "off")
        lines = [f"Preset {self.name!r} ({self.kind}): {self.description}",
                 f"  source: {self.source_prompt!r}",
                 f"  target: {self.target_prompt!r}",
                 f"  clip:   {clip}; {frames} ({every}{start}) at {self.image_size}x{self.image_size}",
                 f"  model:  {model}"]
        if self.tuning is not None:
            tu = self.tuning
            lines.append(f"  tuning: one-shot on the clip first, {tu.steps} steps at lr {tu.lr:g} from {tu.base_model} "
                         f"(theirs: {tu.checkpoint})")
        lines += [f"  steps={self.steps} guidance={c.guidance} cross={c.cross_replace_steps} ({c.cross_mode}) "
                  f"self={c.self_replace_steps} reweight={c.reweight}",
                  f"  blend_words={c.blend_words} threshold={c.blend_threshold} latent_blend={c.latent_blend} "
                  f"temporal: {temporal}",
                  f"  file: {self.path} [entry {self.index}]; same values as the authors' "
                  f"{', '.join('config/' + m for m in self.mirrors)}"]
        if notes:
            lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._describe(notes=False)


@dataclass(frozen=True)
class RunSettings:
    """What running a preset takes: the authors' frames, sampling, DDIM steps and one-shot tuning of that example,
    each lowered to a cap where one is given (:func:`run_settings`), and a sentence saying what was capped."""

    preset: str  # the preset's name
    frames: int  # frames to edit: the preset's n_sample_frame (-1: every frame of the clip), or the cap
    start: int  # the first frame taken (the preset's start_sample_frame)
    stride: int  # one frame in ``stride`` (the preset's sampling_rate); a cap on frames keeps the sampling
    steps: int  # DDIM steps of inversion and edit: the preset's num_inference_steps, or the cap
    tuning_steps: int | None  # one-shot tuning steps before the edit (shape presets), or the cap; None: no tuning
    tuning_lr: float | None  # the tuning's learning rate (their config/tune/*.yaml), None without tuning
    own: dict  # the preset's own values {"frames", "steps", "tuning_steps"} before any cap
    note: str = ""  # "" when nothing was capped; else one sentence naming each capped setting and why

    @property
    def capped(self) -> bool:
        """True when a cap lowered any of the preset's settings."""
        return bool(self.note)

    @property
    def tuning(self) -> dict:
        """Keyword arguments of :func:`fatezero_lab.tuning.tune_on_clip` (``steps``, ``lr``); {} without tuning."""
        return {} if self.tuning_steps is None else {"steps": self.tuning_steps, "lr": self.tuning_lr}


def run_settings(preset: "str | Preset", max_frames: int | None = None, max_steps: int | None = None,
                 max_tuning_steps: int | None = None, why: str = "") -> RunSettings:
    """The settings preset ``preset`` (a name or a :class:`Preset`) runs at: its own frames (``n_sample_frame``),
    sampling (``start_sample_frame``, ``sampling_rate``), DDIM steps (``num_inference_steps``) and, for shape
    presets, one-shot tuning (steps and learning rate of the authors' ``config/tune/*.yaml``), each lowered to the
    cap given (``None``: no cap). A cap on frames keeps the authors' sampling: the first ``max_frames`` of their
    frames. ``why`` (e.g. "the t4 profile") is named in the note, the one sentence that says what was capped
    ("" when nothing was).

    >>> run_settings("train_shinkai", max_frames=8, why="the t4 profile").note
    "the t4 profile caps preset 'train_shinkai': 8 of its 32 frames (the first 8 of the authors' sampling, one in 7)"
    """
    for arg, value in (("max_frames", max_frames), ("max_steps", max_steps), ("max_tuning_steps", max_tuning_steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{arg} must be a positive int or None (no cap), got {value!r}")
    p = load(preset) if isinstance(preset, str) else preset
    tuning = p.tuning
    own = {"frames": p.n_sample_frame, "steps": p.steps, "tuning_steps": tuning.steps if tuning else None}
    frames = own["frames"] if max_frames is None or 0 < own["frames"] <= max_frames else max_frames
    steps = min(own["steps"], max_steps) if max_steps is not None else own["steps"]
    tsteps = own["tuning_steps"]
    if tsteps is not None and max_tuning_steps is not None:
        tsteps = min(tsteps, max_tuning_steps)
    parts = []
    if frames != own["frames"]:
        of = f"its {own['frames']} frames" if own["frames"] > 0 else "every frame of its clip"
        every = f", one in {p.sampling_rate}" if p.sampling_rate > 1 else ""
        parts.append(f"{frames} of {of} (the first {frames} of the authors' sampling{every})")
    if steps != own["steps"]:
        parts.append(f"{steps} of its {own['steps']} DDIM steps")
    if tsteps != own["tuning_steps"]:
        parts.append(f"{tsteps} of its {own['tuning_steps']} tuning steps")
    note = f"{why or 'the caps'} {'caps' if why else 'cap'} preset {p.name!r}: {', '.join(parts)}" if parts else ""
    return RunSettings(preset=p.name, frames=frames, start=p.start_sample_frame, stride=p.sampling_rate, steps=steps,
                       tuning_steps=tsteps, tuning_lr=tuning.lr if tuning else None, own=own, note=note)


class PresetList(dict):
    """``name -> one-line description`` of the presets, printed as an aligned table."""

    def __repr__(self) -> str:
        if not self:
            return "(no presets)"
        width = max(len(n) for n in self)
        return "\n".join(f"{n:<{width}}  {d}" for n, d in self.items())

    def _repr_pretty_(self, p, cycle):  # IPython / Jupyter
        p.text(repr(self))


def names() -> builtins.list[str]:
    """Every preset name, in the order of :func:`list`."""
    return [e.name for e in _ENTRIES]


def list(kind: str | None = None) -> PresetList:  # noqa: A001 - fz.presets.list() is the public name
    """The presets (``name -> one-line description``), optionally only one ``kind``: "style", "attribute" or
    "shape". The description names the clip (:func:`fatezero_lab.data.fetch`) and says when a preset needs a one-shot
    tuned model."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {builtins.list(KINDS)} or None, got {kind!r}")
    out = PresetList()
    for e in _ENTRIES:
        if kind is None or e.kind == kind:
            out[e.name] = f"[{e.kind}] {e.description}; clip {e.clip!r}"
    return out


def path(name: str) -> Path:
    """The packaged YAML file (authors' format) that holds preset ``name``."""
    return PRESET_DIR / _entry(name).file


def files() -> builtins.list[Path]:
    """Every packaged preset file (some hold several presets: one per editing prompt)."""
    return sorted({PRESET_DIR / e.file for e in _ENTRIES})


def load(name: str) -> Preset:
    """Preset ``name``: ``read_reference_yaml(path(name), index)`` with the preset's clip, model and tuning.

    Raises :class:`UnknownPresetError` (a ValueError) naming the available presets for an unknown name.
    """
    e = _entry(name)
    ref = read_reference_yaml(PRESET_DIR / e.file, e.index)
    model_id = e.tuning.base_model if e.tuning else HUB_IDS.get(Path(ref.pretrained_model_path).name, SD14)
    fields = {f.name: getattr(ref, f.name) for f in dataclasses.fields(ReferenceEdit)}
    return Preset(**fields, name=e.name, kind=e.kind, description=e.description, clip=e.clip, model_id=model_id,
                  tuning=e.tuning, mirrors=e.mirrors)


def check_clip(preset: Preset) -> str:
    """``preset.clip`` if :func:`fatezero_lab.data.fetch` can get it (the manifest lists it, with its URL and its
    checksums or, for a release archive, the checksum recorded at first download); else FileNotFoundError saying
    what to do. Offline: nothing is downloaded here."""
    from .. import data

    if preset.clip is None:  # an edited copy whose clip was cleared: only a video of one's own will do
        raise FileNotFoundError(
            f"preset {preset.name!r} names no sample clip (its dataset path is {preset.dataset_path!r}): pass a "
            f"folder of frames or a video (video=... / --video), or try the preset's prompts on a clip of your own")
    known = data.list_clips()
    if preset.clip not in known:
        raise FileNotFoundError(
            f"preset {preset.name!r} uses the clip {preset.clip!r}, which fatezero_lab.data's manifest does not "
            f"list (it has: {', '.join(known)}); pass the clip's frames yourself (video=... / --video)")
    return preset.clip


def _entry(name: str) -> _Entry:
    if isinstance(name, str) and name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(str(name), _BY_NAME, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownPresetError(f"unknown preset {name!r}.{hint} Available presets: {', '.join(_BY_NAME)} "
                             f"(fz.presets.list() describes each one)")


__all__ = ["KINDS", "PRESET_DIR", "Preset", "PresetList", "RunSettings", "Tuning", "UnknownPresetError", "check_clip",
           "files", "list", "load", "names", "path", "run_settings"]
