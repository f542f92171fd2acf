"""One switch for every notebook: the toy world on a CPU, or Stable Diffusion on the paper's own clip on a GPU.

>>> import fatezero_lab as fz
>>> lab = fz.lab.setup()              # "toy" without CUDA, "sd" with it (or FATEZERO_LAB_MODE=toy|sd)
>>> lab                               # what was chosen and why: model, clip, prompts, frames, size, steps
>>> ex = lab.example("a red circle on grass", "a blue circle on grass", blend_words=["circle"])
>>> inv = fz.invert(lab.pipe, ex.frames, ex.source, steps=lab.steps, temporal=ex.temporal)
>>> out = fz.edit(lab.pipe, inv, ex.target, ex.config)
>>> ex.scores(out.frames)             # toy: ground-truth metrics; sd: the paper's CLIP metrics

Two modes
---------
``toy``
    The shipped toy model on the CPU. Each notebook renders its own toy clip (the caption it passes to
    :meth:`Lab.example`), and every edit has an exact ground truth (``ex.truth``): PSNR/SSIM to the true edit,
    background kept, centroid error, the judge's accuracy, flicker (:func:`fatezero_lab.metrics.toy_edit_metrics`).
``sd``
    Stable Diffusion (the preset's ``model_id``, v1.4) on the paper's teaser clip — ``fz.data.fetch("car-turn")``,
    the 8 frames the authors ship — with the paper's prompts and knobs (:mod:`fatezero_lab.presets`:
    ``jeep_watercolor`` by default; a notebook may ask for another preset of the same clip, e.g. ``jeep_posche``).
    A real clip has no ground truth: ``ex.truth`` is None, :meth:`Example.scores` gives the paper's CLIP metrics
    (Tem-Con, Frame-Acc, CLIP-T; :func:`fatezero_lab.metrics.clip_scores`) and ``ex.missing`` says what cannot be
    measured.

The choice
----------
``setup(mode)`` takes ``mode`` if given, else ``$FATEZERO_LAB_MODE`` (``toy``, ``sd`` or ``auto``), else ``auto``:
``sd`` when CUDA is present (or the stand-in below is asked for), ``toy`` otherwise. In Colab without a GPU the
setup says how to switch the runtime (Runtime > Change runtime type) before running the toy. When ``auto`` picked
``sd`` and the weights or the clip cannot be had (offline, no disk), it says why and runs the toy; an explicit
``sd`` raises instead.

Profiles
--------
``setup(profile=...)`` (or ``$FATEZERO_LAB_PROFILE``) sizes the work: ``paper`` — the preset's own frames and steps
(8 frames, 50 steps, 512²; the toy's 8 and 50); ``t4`` — sd mode capped at 8 frames and 25 steps, sized for a free
Colab T4 (the default for sd mode in Colab or on a card of at most 16 GiB); ``quick`` — 4 frames and 10 steps in
either mode (the default under ``$FZ_FAST=1``, the test suite). ``frames=``/``steps=`` replace the profile's. In sd
mode every computing call (``invert``, ``edit``, ``reconstruct``, ``sample``, ``tune_on_clip``) first prints its
estimated time, GPU and host memory on the profile's card (:mod:`fatezero_lab.cost`: estimates until measured).

In sd mode every preset runs at its own frames, sampling, steps and tuning (the authors' config:
:func:`fatezero_lab.presets.run_settings`; e.g. ``train_shinkai`` 32 frames, ``swan_duck`` 30 steps and 150 tuning
steps), lowered to the profile's caps (``quick`` also caps tuning at 20 steps), and the example's ``note`` says what a
cap lowered; ``Example.steps`` / ``Example.tuning`` are what to run it at.

The stand-in (tests, CI)
------------------------
``$FATEZERO_LAB_SD_STANDIN=1`` makes ``sd`` mode load :func:`standin_pipeline` instead of the download: a real
diffusers ``StableDiffusionPipeline`` with SD v1's layout (4-level UNet with cross-attention in the first three,
4-level VAE, CLIP text tower, 77-token BPE tokenizer, DDIM) at a tenth of its widths, random weights, built from
configs offline in about a second, at 128² — so every ``sd`` code path of the notebooks runs on a CPU in seconds
(its pictures are noise: it has never been trained). The CLIP metrics then use a tiny random CLIP of the same kind.
The clip still comes from :func:`fatezero_lab.data.fetch` (point ``$FATEZERO_LAB_CACHE`` at a cache holding
``car-turn/`` to run offline: ``scripts/test.sh`` copies the authors' frames there).
"""

from __future__ import annotations

import abc
import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from .models import SD_V1_TENTH

MODE_ENV = "FATEZERO_LAB_MODE"  # "toy", "sd" or "auto"
STANDIN_ENV = "FATEZERO_LAB_SD_STANDIN"  # "1": sd mode runs the tiny random-weight stand-in (tests, CI)
FAST_ENV = "FZ_FAST"  # "1": 4 frames, 10 DDIM steps (the test suite)
OUT_ENV = "FATEZERO_LAB_OUT"  # where the gallery writes its videos
MODES = ("auto", "toy", "sd")
SD_PRESET = "jeep_watercolor"  # the paper's teaser edit: the default example of sd mode
TEASER_WORDS = ("jeep", "road")  # words of the teaser's source prompt the notebooks look at (object, background)
TOY_EXAMPLE = {"caption": "a red circle on grass", "target": "a blue circle on grass", "blend_words": ("circle",)}
PROFILE_ENV = "FATEZERO_LAB_PROFILE"  # "paper", "t4" or "quick": frames and steps (and the card estimates are for)
FAST_FRAMES, FAST_STEPS, FAST_TUNING_STEPS = 4, 10, 20
TOY_FRAMES, TOY_STEPS = 8, 50
CLIP_METRICS = ("tem_con", "frame_acc", "clip_t")
# The stand-in (models.SD_V1_TENTH): SD v1's UNet widths (320, 640, 1280, 1280) divided by 10, at 128 px (16² latents).
STANDIN_WIDTHS = SD_V1_TENTH.widths
SD_WIDTH = 320  # SD v1's first UNet width: a preset's min_channels (least_sc_channel) is scaled by WIDTHS[0]/320
STANDIN_SIZE = SD_V1_TENTH.size
STANDIN_VOCAB = 1024  # entries of the stand-in's BPE vocabulary (padded): a full tokenizer, not the toy's closed one
COLAB_NO_GPU = """\
============================================================================================================
This Colab runtime has no GPU, so the notebook runs the CPU toy model instead of Stable Diffusion.
To run Stable Diffusion on the paper's clip: Runtime > Change runtime type > Hardware accelerator: T4 GPU >
Save, then Runtime > Run all (the install cell runs again in the new runtime).
To stay on the CPU and hide this note, set os.environ["FATEZERO_LAB_MODE"] = "toy" before the setup cell.
============================================================================================================"""


@dataclass(frozen=True)
class Profile:
    """How much a notebook computes: frames and DDIM steps (caps on the preset's own in sd mode), and the card whose
    time :mod:`fatezero_lab.cost` prints before each sd-mode call."""

    name: str
    max_frames: int | None  # at most this many frames (None: the preset's / the toy's own)
    max_steps: int | None  # at most this many DDIM steps (None: the preset's / the toy's own)
    gpu: str | None  # the card of the printed estimates (None: the one present, if the cost model knows it; else T4)
    what: str  # one line for the lab's repr


PROFILES = {  # ours: the t4 caps keep the heaviest sd-mode notebook near 10 min on a T4 (docs/gpu_sd.md, T4 profile)
    "paper": Profile("paper", None, None, None, "the preset's own frames and steps (the paper's: 8 frames, 50 steps)"),
    "t4": Profile("t4", 8, 25, "T4", "sized for a free Colab T4 (15 GB GPU, 12.7 GB RAM): at most 8 frames, 25 steps"),
    "quick": Profile("quick", FAST_FRAMES, FAST_STEPS, "T4", f"a quick look: {FAST_FRAMES} frames, {FAST_STEPS} steps "
                                                             f"(the test suite's fast mode, FZ_FAST=1)"),
}


def _positive(name: str, value, most: int | None = None) -> int | None:
    """``value`` as a positive int (None stays None), or a ValueError naming the argument."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1 or (most and value > most):
        bound = f" and at most {most}" if most else ""
        raise ValueError(f"{name} must be a positive integer{bound}, got {value!r}")
    return int(value)


def resolve_profile(profile: str | None, fast: bool, sd: bool) -> Profile:
    """The profile by name (argument, else ``$FATEZERO_LAB_PROFILE``); unnamed: ``quick`` in fast mode, else ``t4``
    for sd mode on a card of at most 16 GiB or in Colab (or the stand-in), else ``paper``."""
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "").strip().lower() or None
    if name is not None:
        if name not in PROFILES:
            raise ValueError(f"profile must be one of {list(PROFILES)} (argument or ${PROFILE_ENV}), got {name!r}")
        return PROFILES[name]
    if fast:
        return PROFILES["quick"]
    return PROFILES["t4"] if sd and (in_colab() or _small_gpu()) else PROFILES["paper"]


def _small_gpu() -> bool:
    """True without CUDA (the stand-in) or on a card of at most 16 GiB (a T4's class)."""
    import torch

    return not torch.cuda.is_available() or torch.cuda.get_device_properties(0).total_memory <= 16 * 2**30


def _estimate_gpu(profile: Profile) -> str:
    """The card the estimates are printed for: the profile's, else the one present if the cost model knows it."""
    from .cost import DEFAULT_GPU, GPU_TFLOPS

    if profile.gpu is not None:
        return profile.gpu
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return next((g for g in GPU_TFLOPS if g in name), DEFAULT_GPU)


def capped(own_frames: int, own_steps: int, profile: Profile, frames: int | None = None,
           steps: int | None = None) -> tuple[int, int, str]:
    """(frames, steps, note): the toy's own frames and steps under the profile's caps, or ``frames``/``steps`` as
    given; the note says what was capped ('' if nothing). (sd mode asks the presets' own
    :func:`fatezero_lab.presets.run_settings`, which also knows their sampling and tuning.)
    """
    notes = []
    f, n = own_frames, own_steps
    if frames is None and profile.max_frames is not None and own_frames > profile.max_frames:
        f = profile.max_frames
        notes.append(f"{own_frames} -> {f} frames")
    if steps is None and profile.max_steps is not None and own_steps > profile.max_steps:
        n = profile.max_steps
        notes.append(f"{own_steps} -> {n} steps")
    f, n = frames or f, steps or n
    return f, n, (f"capped by the {profile.name!r} profile: {', '.join(notes)}" if notes else "")


def in_colab() -> bool:
    """True inside Google Colab (its ``google.colab`` module is loaded in every Colab kernel)."""
    return "google.colab" in sys.modules


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ------------------------------------------------------------------------------------------------------------ example
# what a learner reads when an example has no blend words (docs/method.md, "What the authors run")
NO_BLEND_WORDS = ("none (full source self-attention in the self window: the layout is kept, as in the authors' style "
                  "and attribute edits)")


@dataclass(repr=False)
class Example:
    """One clip and one edit of it, as a notebook uses them: the same fields in both modes.

    ``frames`` (F, H, W, 3) in [0, 1] is inverted with ``source`` (and ``temporal``), then edited towards ``target``
    with ``config`` (blend words included). In toy mode ``toy_clip``/``truth`` hold the rendered clip and its exact
    edited version (masks included); in sd mode both are None and ``preset`` is the paper's example.
    """

    frames: np.ndarray  # (F, H, W, 3) float32 in [0, 1]
    source: str  # the inversion prompt
    target: str  # the edit prompt
    config: object  # FateZeroConfig: the edit's knobs (the preset's in sd mode)
    temporal: object  # invert's ``temporal``: True (toy) or the preset's TemporalConfig
    words: list  # words of ``source`` the lesson looks at; the first is the edited object's
    mode: str  # "toy" or "sd"
    toy_clip: object = None  # toyworld.Clip (toy): frames + true object masks
    truth: object = None  # toyworld.Clip (toy): the exact ground-truth edit
    preset: object = None  # presets.Preset (sd)
    lab: object = field(default=None, compare=False)  # the Lab (CLIP metrics)
    steps: int | None = None  # DDIM steps to run it at: the preset's own (sd, capped by the lab), the lab's (toy)
    tuning: dict = field(default_factory=dict)  # tune_on_clip's steps and lr (sd: the preset's own, capped; else the lab's)
    note: str = ""  # what the lab's caps lowered ("" when the preset runs at its own settings)

    @property
    def has_ground_truth(self) -> bool:
        """True in toy mode: the renderer draws the exact edited clip."""
        return self.truth is not None

    @property
    def blend_words(self) -> list:
        """The source words whose cross-attention makes the blending mask M_t (may be empty: full source self-attention, as in the authors' style and attribute edits)."""
        return list(self.config.blend_words)

    @property
    def main_metric(self) -> str:
        """The one number a notebook plots: PSNR to the ground truth (toy), CLIP-T (sd)."""
        return "psnr" if self.has_ground_truth else "clip_t"

    @property
    def missing(self) -> str:
        """What cannot be measured on this clip ('' in toy mode)."""
        if self.has_ground_truth:
            return ""
        return ("A real clip has no ground truth: PSNR/SSIM to the true edit, background PSNR, centroid error, the "
                "judge's accuracy and true object masks (mask IoU) are toy-only. Shown instead: the edit beside the "
                "source, attention maps and masks, and the paper's CLIP metrics (Tem-Con: consecutive frames agree; "
                "Frame-Acc: frames closer to the target prompt than to the source; CLIP-T: frame-target similarity).")

    @property
    def reference(self) -> np.ndarray:
        """What an edit's frame-to-frame change is compared with: the true edit (toy), else the source clip
        (its own motion: a real edit should change no more from frame to frame than the source does)."""
        return self.truth.frames if self.has_ground_truth else self.frames

    @property
    def reference_name(self) -> str:
        return "ground truth" if self.has_ground_truth else "source"

    @property
    def title(self) -> str:
        """'source' -> 'target' for figure titles, wrapped at 60 characters."""
        import textwrap

        return "\n".join(textwrap.wrap(f"{self.source!r}", 60) + textwrap.wrap(f"-> {self.target!r}", 60))

    def clips(self, edits: dict | None = None) -> dict:
        """Rows for :func:`fatezero_lab.viz.compare_clips` / :func:`fatezero_lab.video.show`: the source, ``edits``
        (name -> frames), and the ground truth where there is one."""
        rows = {"source": self.frames, **(edits or {})}
        if self.has_ground_truth:
            rows["ground truth"] = self.truth.frames
        return rows

    def scores(self, frames: np.ndarray) -> dict:
        """The edit's scores: toy — :func:`~fatezero_lab.metrics.toy_edit_metrics` against the ground truth;
        sd — the paper's CLIP metrics (NaN, with a note, where the CLIP model cannot be loaded)."""
        if self.has_ground_truth:
            from .bench import changed_object
            from .metrics import toy_edit_metrics

            obj = changed_object(self.toy_clip, self.truth)
            return toy_edit_metrics(frames, self.toy_clip, self.truth, obj=0 if obj is None else obj,
                                    background_edit=obj is None)
        return self.lab.clip_scores(frames, self.source, self.target)

    def object_mask(self, word: str | None = None, size: int | None = None) -> np.ndarray | None:
        """The true mask (F, size, size) bool of the object ``word`` names (default: ``words[0]``); None where there
        is none (sd mode, or a word that names no object)."""
        if self.toy_clip is None:
            return None
        word = word or self.words[0]
        obj = next((i for i, o in enumerate(self.toy_clip.spec.objects) if word in (o.shape, o.colour)), None)
        if obj is None:
            return None
        m = self.toy_clip.masks[:, obj]  # (F, H, W)
        if size is not None and size != m.shape[-1]:
            k = m.shape[-1] // size if m.shape[-1] % size == 0 else None
            if k:  # downsample by striding (the toy's 64 -> 16)
                return m[:, ::k, ::k]
            import torch
            import torch.nn.functional as F

            t = F.interpolate(torch.from_numpy(m[:, None].astype(np.float32)), size=(size, size), mode="nearest")
            return t[:, 0].numpy() > 0.5
        return m

    def mask_quality(self, mask: np.ndarray, word: str | None = None) -> tuple[str, float]:
        """(name, value) of a blend mask's score: IoU with the true object mask (toy), else its area (sd: there is no
        true mask; the area says how much of the frame the edit may change)."""
        from .masks import iou

        true = self.object_mask(word, size=mask.shape[-1])
        if true is None:
            return "area (no true mask)", float(np.asarray(mask, bool).mean())
        return "IoU with the true mask", iou(mask, true)

    def replace(self, **changes) -> "Example":
        """A copy with some fields changed, e.g. ``ex.replace(config=ex.config.replace(reweight={"watercolor": 5}))``."""
        return dataclasses.replace(self, **changes)

    def yardsticks(self, inversion, edited: np.ndarray | None = None, pipe=None, progress: bool = False
                   ) -> "Yardsticks":
        """What this example's edit scores should be read against, from the inversion the notebook already has.

        Three references, each scored like an edit (:meth:`psnr_row`: PSNR in dB to the source over the whole frame
        and over what the edit should keep, and to the ground truth in toy mode):

        - the autoencoder alone, D(E(x)): no latent method gets closer to the source (no UNet pass);
        - the **reconstruction ceiling**: DDIM inversion then plain resampling with the source prompt (guidance 1,
          :func:`fatezero_lab.reconstruct`; one sampling pass) — what the model itself can give back;
        - the **identity edit**: :func:`fatezero_lab.edit` towards the *source* prompt with this example's knobs (one
          edit pass; re-weighting and an alignment prompt dropped: there are no new words) — how much of the
          background an edit that changes nothing keeps, and, against the ground truth, what changing nothing scores.

        ``edited`` (frames of the edit, optional) adds the edit's own row; ``pipe`` is the model the inversion and
        the edit ran on (default: the lab's; e.g. a model tuned on the clip). sd mode has no true mask, so its "kept"
        column is the whole frame.
        """
        from .editing import edit
        from .inversion import reconstruct, vae_roundtrip

        pipe = self.lab.pipe if pipe is None else pipe
        same = self.config.replace(reweight={}, alignment_prompt=None,
                                   target_blend_words=[w for w in self.config.target_blend_words
                                                       if w in self.source.split()])
        frames = {"autoencoder D(E(x))": vae_roundtrip(pipe, self.frames),
                  Yardsticks.RECONSTRUCTION: reconstruct(pipe, inversion, progress=progress),
                  Yardsticks.IDENTITY: edit(pipe, inversion, self.source, same, progress=progress).frames}
        if edited is not None:
            frames["this edit"] = np.asarray(edited)
        rows = {name: self.psnr_row(x) for name, x in frames.items()}
        return Yardsticks(mode=self.mode, rows=rows, frames=frames, steps=inversion.steps)

    def psnr_row(self, frames: np.ndarray) -> dict:
        """PSNR (dB) of ``frames`` as :class:`Yardsticks` lists them: "source" (whole frame vs the source), "kept"
        (vs the source where the edit should change nothing — toy: the ``kept_psnr`` of :meth:`scores`, outside the
        source's and the truth's objects, or inside them for a background edit; sd: no true mask, the whole frame)
        and "truth" (vs the ground truth; NaN in sd mode)."""
        from .image_metrics import psnr

        whole = psnr(frames, self.frames)
        if not self.has_ground_truth:
            return {"source": whole, "kept": whole, "truth": float("nan")}
        s = self.scores(frames)
        return {"source": whole, "kept": s["kept_psnr"], "truth": s["psnr"]}

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        if self.has_ground_truth:
            what = f"toy clip {self.toy_clip!r}; ground truth: the same clip rendered as {self.target!r}"
        else:
            p = self.preset
            what = (f"the paper's clip {p.clip!r} with preset {p.name!r} ({p.kind}: {p.description}); no ground "
                    f"truth: scored with CLIP Tem-Con / Frame-Acc / CLIP-T")
        steps = f", {self.steps} steps" if self.steps else ""
        return (f"Example({self.mode}: {self.source!r} -> {self.target!r}, {f} frames at {h}x{w}{steps}, "
                f"blend words {self.blend_words}, words {self.words})\n  {what}"
                + (f"\n  capped: {self.note}" if self.note else ""))


@dataclass(repr=False)
class Yardsticks:
    """An edit's scores beside what the model alone gives (:meth:`Example.yardsticks`): tells "the method" from
    "the model".

    Read the "kept" column (the background, or for a background edit the objects) top to bottom: autoencoder ->
    reconstruction is what inversion + sampling cost, reconstruction -> identity edit what a guided edit pass with
    fusion costs when it should change nothing (the model), identity edit -> this edit what the edit itself costs
    (the method). In toy mode the truth column compares
    the edit with the identity edit (what changing nothing scores against the true edit) and with the reconstruction's
    PSNR to the source (the model's ceiling: what it gives back of a clip it need not change).
    """

    mode: str  # "toy" or "sd"
    rows: dict  # name -> Example.psnr_row: {"source": dB whole frame, "kept": dB (sd: whole frame), "truth": dB}
    frames: dict  # name -> (F, H, W, 3) frames of each row (for fz.viz.compare_clips)
    steps: int  # DDIM steps of the inversion they share

    IDENTITY: ClassVar[str] = "identity edit (target = source)"
    RECONSTRUCTION: ClassVar[str] = "reconstruction (invert, resample)"

    @property
    def has_ground_truth(self) -> bool:
        """True when the clip has an exact edited version (toy clips; not a real clip, nor your own clip in toy mode)."""
        return not np.isnan(self.rows[self.IDENTITY]["truth"])

    @property
    def ceiling(self) -> float:
        """The reconstruction's PSNR to the source (dB): what the model gives back of a clip it does not edit."""
        return self.rows[self.RECONSTRUCTION]["source"]

    @property
    def identity_kept(self) -> float:
        """PSNR (dB) of the identity edit where an edit should change nothing: what an edit that changes nothing
        keeps."""
        return self.rows[self.IDENTITY]["kept"]

    def beside(self, row: dict, name: str = "the edit") -> str:
        """One line: an edit's PSNR row (:meth:`Example.psnr_row` of any edit of the same clip and inversion) beside
        the identity edit and the reconstruction."""
        e, i, r = row["kept"], self.identity_kept, self.rows[self.RECONSTRUCTION]["kept"]
        where = ("where nothing should change" if self.has_ground_truth else
                 "whole frame vs the source (no true mask)")
        text = (f"{where}: {name} keeps {e:.1f} dB, an edit that changes nothing {i:.1f} dB, the reconstruction "
                f"{r:.1f} dB -> the method costs {i - e:+.1f} dB, the model's edit pass {r - i:+.1f} dB")
        if self.has_ground_truth:
            text += (f"; to the ground truth: {row['truth']:.1f} dB (changing nothing scores "
                     f"{self.rows[self.IDENTITY]['truth']:.1f} dB; the model's ceiling, its reconstruction of the "
                     f"source, {self.ceiling:.1f} dB)")
        return text

    def reading(self) -> str:
        """:meth:`beside` for the edit's own row ('' without one)."""
        return self.beside(self.rows["this edit"]) if "this edit" in self.rows else ""

    def __repr__(self) -> str:
        cols = ("source", "kept", "truth") if self.has_ground_truth else ("source",)
        heads = {"source": "vs source", "kept": "kept", "truth": "vs truth"}
        lines = [f"Yardsticks ({self.mode}, {self.steps} steps, PSNR in dB; the edit's own inversion)",
                 f"  {'':36s}" + "".join(f"{heads[c]:>12s}" for c in cols)]
        for name, row in self.rows.items():
            lines.append(f"  {name:36s}" + "".join(f"{row[c]:12.2f}" for c in cols))
        if self.has_ground_truth:
            lines.append("  (kept: where the edit should change nothing — outside the objects, or inside them for a "
                         "background edit)")
        else:
            lines.append("  (no ground truth and no true mask: PSNR to the source, whole frame)")
        reading = self.reading()
        return "\n".join(lines + ([f"  {reading}"] if reading else []))


# ---------------------------------------------------------------------------------------------------------------- lab
@dataclass(repr=False)
class Lab(abc.ABC):
    """What :func:`setup` chose: the pipeline, the clip and prompts, frames, size and steps, and why.

    One protocol, two classes: :class:`ToyLab` (the toy model, toy clips with an exact ground truth) and
    :class:`SDLab` (Stable Diffusion on the paper's clip, CLIP metrics). Each is complete once constructed: its
    default example (:meth:`example` with no arguments: the toy's red circle turned blue, or the paper's teaser as a
    watercolor) is built in ``__post_init__``, and ``clip``/``source_prompt``/``target_prompt``/``blend_words`` are
    read from it. This base class holds what both share: the pipeline, noise, the CLIP metrics, variants, saving.
    """

    mode: ClassVar[str]  # "toy" or "sd"
    has_ground_truth: ClassVar[bool]  # toy: every edit has an exact answer
    pipe: object  # FateZeroPipeline
    frames: int  # frames per clip
    steps: int  # DDIM steps of inversion and edit
    size: int  # frame side in pixels (square clips)
    fast: bool = False  # $FZ_FAST=1: 4 frames, 10 steps
    standin: bool = False  # sd mode on the tiny random-weight stand-in (tests, CI)
    preset: object = None  # presets.Preset of the default example (sd)
    why: str = ""  # how the mode was chosen
    profile: Profile = PROFILES["paper"]  # frames/steps caps and the card of the printed estimates
    capped: str = ""  # what the profile capped ('' if nothing)
    _clip_model: object = field(default=None, compare=False)
    _clip_error: str | None = field(default=None, compare=False)
    _default: Example | None = field(default=None, init=False, compare=False)

    def __post_init__(self):
        self._default = self.example()

    # --- what each mode decides -------------------------------------------------------------------------------------
    @abc.abstractmethod
    def example(self, caption: str | None = None, target: str | None = None, blend_words=None, words=None,
                preset: str | None = None, motion: str = "left_to_right", seed: int = 0, camera: str = "static",
                lighting: str = "constant") -> Example:
        """The clip and edit of a lesson, in this lab's mode.

        toy: the toy clip of ``caption`` (``motion``, ``seed``, ``camera``, ``lighting`` as in
        :func:`fatezero_lab.toyworld.clip`) edited towards ``target`` with ``blend_words``; ``words`` default to
        the blend words. sd: the paper's preset ``preset`` (default: this lab's, ``jeep_watercolor``) on its clip
        at this lab's frames and size — the toy arguments are not used. With no arguments: the default example.
        """

    @property
    @abc.abstractmethod
    def tuning(self) -> dict:
        """Keyword arguments of :func:`fatezero_lab.tuning.tune_on_clip` for this mode."""

    @abc.abstractmethod
    def gallery_choices(self) -> list[str]:
        """What the gallery (notebook 12) offers."""

    @abc.abstractmethod
    def gallery_info(self, choice: str) -> dict:
        """The prompts and knobs of a gallery choice, without loading its clip: ``source``, ``target``,
        ``blend_words``, ``needs_tuning`` (a shape preset) and ``description`` (sd mode also: the preset's
        ``frames``, ``steps`` and the ``note`` saying what a cap lowered)."""

    @abc.abstractmethod
    def gallery_example(self, choice: str, source: str | None = None, target: str | None = None, blend_words=None,
                        video=None, start: int = 0, stride: int = 1) -> Example:
        """The gallery's edit: ``choice`` (one of :meth:`gallery_choices`), optionally with your own prompts, blend
        words and clip.

        ``video`` (a path: mp4, gif or a folder of frames) replaces the choice's clip: ``self.frames`` frames from
        ``start`` every ``stride``-th, brought to ``self.size`` (:func:`fatezero_lab.video.prepare`). Prompts you type
        keep the preset's knobs, minus the words your prompts lack (re-weighted words, blend words); ``blend_words``
        (a list) replaces the preset's. An own clip or a typed target has no ground truth (toy: unless the target is a
        toy caption of the same toy clip).
        """

    @abc.abstractmethod
    def _describe(self) -> tuple[str, str, str]:
        """(model, clip, ground truth) lines of the repr."""

    # --- the default example ----------------------------------------------------------------------------------------
    @property
    def clip(self) -> np.ndarray:
        """(frames, size, size, 3) the default example's clip."""
        return self._default.frames

    @property
    def source_prompt(self) -> str:
        return self._default.source

    @property
    def target_prompt(self) -> str:
        return self._default.target

    @property
    def blend_words(self) -> list:
        return self._default.blend_words

    # --- shared ---------------------------------------------------------------------------------------------------
    @property
    def device(self):
        return self.pipe.unet.device

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(channels, h, w) of one frame's latent at this lab's size."""
        f = 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)
        return self.pipe.unet.config.in_channels, self.size // f, self.size // f

    def noise(self, n: int = 4, seed: int = 0):
        """``n`` latents z_T ~ N(0, I) of this lab's frame size for :func:`fatezero_lab.sample` (drawn on the CPU from
        ``seed``, so the same on every machine; on the pipeline's device and dtype)."""
        import torch

        z = torch.randn(n, *self.latent_shape, generator=torch.Generator().manual_seed(seed))
        return z.to(self.device, self.pipe.unet.dtype)

    def _check_choice(self, choice: str) -> None:
        if choice not in self.gallery_choices():
            raise ValueError(f"unknown gallery choice {choice!r}; choose one of {self.gallery_choices()}")

    # --- the paper's CLIP metrics (sd mode) --------------------------------------------------------------------------
    def clip_scores(self, frames: np.ndarray, source: str, target: str) -> dict:
        """Tem-Con, Frame-Acc and CLIP-T of ``frames`` (:func:`fatezero_lab.metrics.clip_scores`) with CLIP ViT-B/32
        (the stand-in: a tiny random CLIP). If CLIP cannot be loaded (offline), the values are NaN and the reason is
        printed once."""
        from . import metrics

        model = self.clip_model()
        if model is None:
            return {k: float("nan") for k in CLIP_METRICS}
        return metrics.clip_scores(np.asarray(frames), source, target, clip=model)

    def clip_model(self):
        """(model, tokenizer, image processor) of the CLIP used for the metrics, loaded once; None if unavailable."""
        if self._clip_model is None and self._clip_error is None:
            try:
                self._clip_model = tiny_clip(self.pipe.tokenizer) if self.standin else _load_clip(self.device)
            except (OSError, ValueError) as e:  # offline, gated, no disk: say so once, score NaN
                self._clip_error = str(e).splitlines()[0]
                print(f"CLIP ViT-B/32 could not be loaded ({self._clip_error}): Tem-Con / Frame-Acc / CLIP-T are "
                      f"not computed (NaN). It downloads once (~600 MB) from the Hugging Face hub.")
        return self._clip_model

    def run_variants(self, example: Example, variants: dict, progress: bool = False) -> dict:
        """Edit ``example`` once per variant and score each: {variant: scores}.

        A variant is keyword arguments of :func:`fatezero_lab.edit` (as :data:`fatezero_lab.bench.VARIANTS`), read
        by :func:`fatezero_lab.bench.variant_edit` (as the benchmark reads it): ``blend=True`` keeps the example's
        blend words (else none: full source self-attention), ``temporal`` is the inversion's setting (default: the
        example's); one inversion per temporal setting.
        """
        from .bench import variant_edit
        from .editing import edit
        from .inversion import invert

        invs, rows = {}, {}
        for name, spec in variants.items():
            temporal, kwargs = variant_edit(spec, example.blend_words, example.config.target_blend_words,
                                            temporal=example.temporal)
            key = repr(temporal)
            if key not in invs:
                invs[key] = invert(self.pipe, example.frames, example.source, steps=self.steps, temporal=temporal,
                                   progress=progress)
            out = edit(self.pipe, invs[key], example.target, example.config, progress=progress, **kwargs)
            rows[name] = example.scores(out.frames)
        return rows

    # --- writing -------------------------------------------------------------------------------------------------------
    @property
    def out_dir(self) -> Path:
        """Where :meth:`save` writes: ``$FATEZERO_LAB_OUT``, else /content/fatezero_outputs in Colab (its file pane),
        else ~/fatezero_outputs."""
        env = os.environ.get(OUT_ENV)
        if env:
            return Path(env).expanduser()
        return Path("/content/fatezero_outputs") if in_colab() else Path.home() / "fatezero_outputs"

    def save(self, frames: np.ndarray, name: str, fps: float | None = None) -> Path:
        """Write ``frames`` as ``<out_dir>/<name>.mp4`` (``fps``: default the frames' own, else 8) -> the path."""
        import re

        from .video import write

        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:80] or "edit"
        return write(self.out_dir / f"{stem}.mp4", frames, fps=fps)

    def estimate(self, example: Example | None = None):
        """The cost of inverting and editing ``example`` (default: this lab's) at this lab's frames and steps, on a
        GPU (:mod:`fatezero_lab.cost`; the stand-in's own small figure under the stand-in): a ``cost.Estimate``."""
        from . import cost

        ex = example or self._default
        f, h, w, _ = np.shape(ex.frames)
        return (cost.estimate_invert(self.pipe, f, h, w, self.steps, "recompute", ex.temporal)
                + cost.estimate_edit(self.pipe, f, h, w, self.steps, "recompute", ex.temporal,
                                     reconstruction=not ex.config.use_inversion_attention))

    def _cost_line(self) -> str:
        from .cost import announcing

        gpu = announcing() or _estimate_gpu(self.profile)
        return f"invert + edit of this example {self.estimate().line(gpu)}; each sd-mode call prints its own"

    def __repr__(self) -> str:
        model, clip, truth = self._describe()
        lines = [f"Lab(mode={self.mode!r}{', stand-in' if self.standin else ''}{', fast' if self.fast else ''})",
                 f"  model:        {model}",
                 f"  clip:         {clip}: {self.frames} frames at {self.size}x{self.size}",
                 f"  prompts:      {self.source_prompt!r}",
                 f"             -> {self.target_prompt!r}" + (f" (preset {self.preset.name!r})" if self.preset else ""),
                 f"  blend words:  {self.blend_words or NO_BLEND_WORDS}",
                 f"  steps:        {self.steps} DDIM steps",
                 f"  profile:      {self.profile.name!r}: {self.profile.what}" + (f"; {self.capped}" if self.capped else ""),
                 *([f"  cost:         {self._cost_line()}"] if self.mode == "sd" else []),
                 f"  ground truth: {truth}",
                 f"  chosen:       {self.why}",
                 f"  switch:       set {MODE_ENV}=toy or =sd before the setup cell (or fz.lab.setup('toy'))"]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------ toy lab
@dataclass(repr=False)
class ToyLab(Lab):
    """The shipped toy model on the CPU; each lesson renders its own toy clip, with an exact ground truth."""

    mode: ClassVar[str] = "toy"
    has_ground_truth: ClassVar[bool] = True

    @classmethod
    def setup(cls, fast: bool = False, device=None, why: str = "", profile: Profile | None = None,
              frames: int | None = None, steps: int | None = None) -> "ToyLab":
        """The toy model (``load_pipeline("toy")``) at 8 frames and 50 steps (fast / the ``quick`` profile: 4 and
        10; the ``t4`` profile sizes sd mode only); ``frames``/``steps`` replace them."""
        from . import cost
        from .models import load_pipeline

        profile = profile or PROFILES["quick" if fast else "paper"]
        caps = PROFILES["paper"] if profile.name == "t4" else profile  # a GPU profile: the toy runs its own
        frames, steps, note = capped(TOY_FRAMES, TOY_STEPS, caps, frames, steps)
        pipe = load_pipeline("toy", device=device)
        cost.announce(None)  # the toy on a CPU: no GPU estimates
        return cls(pipe=pipe, frames=frames, steps=steps, size=pipe.resolution[0], fast=profile.name == "quick",
                   why=why, profile=profile, capped=note)

    def example(self, caption: str | None = None, target: str | None = None, blend_words=None, words=None,
                preset: str | None = None, motion: str = "left_to_right", seed: int = 0, camera: str = "static",
                lighting: str = "constant") -> Example:
        if caption is None and target is None and blend_words is None and self._default is not None:
            return self._default
        from .config import FateZeroConfig
        from .toyworld import clip as toy_clip

        if caption is None:
            caption, target = TOY_EXAMPLE["caption"], TOY_EXAMPLE["target"] if target is None else target
        target = caption if target is None else target  # no target: a lesson that only inverts
        blend = list(TOY_EXAMPLE["blend_words"] if blend_words is None and caption == TOY_EXAMPLE["caption"]
                     else blend_words or [])
        c = toy_clip(caption, motion=motion, frames=self.frames, seed=seed, camera=camera, lighting=lighting,
                     size=self.size)
        return Example(frames=c.frames, source=caption, target=target, config=FateZeroConfig(blend_words=blend),
                       temporal=True, words=list(words or blend or caption.split()[2:3]), mode="toy",
                       toy_clip=c, truth=c.edited(target), lab=self, steps=self.steps, tuning=self.tuning)

    @property
    def tuning(self) -> dict:
        """The toy's 300 tuning steps (20 in fast mode)."""
        return {"steps": FAST_TUNING_STEPS if self.fast else 300}

    def gallery_choices(self) -> list[str]:
        """The toy benchmark's edits (the presets' words are not in the toy model's vocabulary)."""
        from .bench import SUITE

        return [f"toy {i}: {c.source} -> {c.target}" for i, c in enumerate(SUITE)]

    def _case(self, choice: str):
        from .bench import SUITE

        self._check_choice(choice)
        return SUITE[int(choice.split(":")[0].split()[1])]

    def gallery_info(self, choice: str) -> dict:
        c = self._case(choice)
        return {"source": c.source, "target": c.target, "blend_words": [c.blend], "needs_tuning": c.kind == "shape",
                "description": f"toy {c.kind} edit (motion {c.motion}, seed {c.seed}); exact ground truth"}

    def gallery_example(self, choice: str, source: str | None = None, target: str | None = None, blend_words=None,
                        video=None, start: int = 0, stride: int = 1) -> Example:
        from . import video as fzvideo

        case = self._case(choice)
        ex = self.example(case.source, target or case.target, [case.blend] if blend_words is None else blend_words,
                          motion=case.motion, seed=case.seed, camera=case.camera, lighting=case.lighting)
        if source not in (None, case.source) or video is not None:  # your own clip or caption: no ground truth
            frames = ex.frames if video is None else fzvideo.prepare(video, n_frames=self.frames, size=self.size,
                                                                     start=start, stride=stride)
            ex = dataclasses.replace(ex, frames=frames, source=source or case.source, toy_clip=None, truth=None)
        return ex

    def _describe(self) -> tuple[str, str, str]:
        return (f"the toy model (shipped, trained on the toy world) on {self.device}",
                f"toy clips rendered per notebook (default: {self.source_prompt!r})",
                "yes: every toy edit has an exact ground truth (PSNR, background kept, judge accuracy, flicker)")


# ------------------------------------------------------------------------------------------------------------- sd lab
@dataclass(repr=False)
class SDLab(Lab):
    """Stable Diffusion (or its tiny stand-in) on the paper's clip with a preset's prompts and knobs; CLIP metrics."""

    mode: ClassVar[str] = "sd"
    has_ground_truth: ClassVar[bool] = False
    # caps on every preset's own settings (presets.run_settings): None = the preset's own value
    _max_frames: int | None = None  # frames per clip (fast: 4)
    _max_steps: int | None = None  # DDIM steps (fast: 10)
    _max_tuning_steps: int | None = None  # one-shot tuning steps (fast: 20)
    _caps_why: str = ""  # who set the caps, named when one lowers a preset's setting (e.g. "fast mode")

    @classmethod
    def setup(cls, preset: str = SD_PRESET, fast: bool = False, standin: bool = False, device=None,
              why: str = "", profile: Profile | None = None, frames: int | None = None,
              steps: int | None = None, max_frames: int | None = None, max_steps: int | None = None,
              max_tuning_steps: int | None = None, caps_why: str = "") -> "SDLab":
        """The preset's model (the stand-in with ``standin``) at the preset's own frames, steps and tuning
        (:func:`fatezero_lab.presets.run_settings`) under the profile's caps (fast / ``quick``: 4 frames, 10 steps, 20
        tuning steps; ``t4``: at most 8 frames and 25 steps) or the ``max_*`` caps given, or ``frames``/``steps`` as
        given; the preset's clip is fetched here (an offline machine fails now). From here on each sd-mode call prints
        its cost estimate (:mod:`fatezero_lab.cost`) on the profile's card."""
        from . import cost, presets
        from .models import default_device, load_pipeline

        p = presets.load(preset)
        presets.check_clip(p)  # a preset whose clip fz.data cannot fetch: say so before any download
        profile = profile or PROFILES["quick" if fast else "paper"]
        if frames is not None and 0 < p.n_frames < frames:
            raise ValueError(f"frames={frames}: preset {p.name!r} samples {p.n_frames} frames of its clip; ask for "
                             f"at most {p.n_frames}")
        # the caps: the ones given, else the profile's (quick also caps one-shot tuning)
        max_frames = max_frames if max_frames is not None else profile.max_frames
        max_steps = max_steps if max_steps is not None else profile.max_steps
        if max_tuning_steps is None and profile.name == "quick":
            max_tuning_steps = FAST_TUNING_STEPS
        caps_why = caps_why or f"the {profile.name!r} profile"
        s = presets.run_settings(p, max_frames, max_steps, max_tuning_steps, caps_why)
        frames, steps = frames or s.frames, steps or s.steps
        if standin:
            import torch

            device = device or default_device()
            pipe = standin_pipeline(dtype=torch.float16 if device == "cuda" else None).to(device)
        else:
            pipe = load_pipeline(p.model_id, device=device)
        cost.announce(_estimate_gpu(profile))
        return cls(pipe=pipe, frames=frames, steps=steps, size=pipe.resolution[0], fast=profile.name == "quick",
                   standin=standin, preset=p, why=why, profile=profile, capped=s.note, _max_frames=max_frames,
                   _max_steps=max_steps, _max_tuning_steps=max_tuning_steps, _caps_why=caps_why)

    def _settings(self, preset: str):
        """:func:`fatezero_lab.presets.run_settings` of ``preset`` under this lab's caps: its own frames, sampling,
        steps and tuning, lowered to the caps, with a note saying what was capped."""
        from . import presets

        return presets.run_settings(preset, self._max_frames, self._max_steps, self._max_tuning_steps, self._caps_why)

    def example(self, caption: str | None = None, target: str | None = None, blend_words=None, words=None,
                preset: str | None = None, motion: str = "left_to_right", seed: int = 0, camera: str = "static",
                lighting: str = "constant") -> Example:
        name = preset or self.preset.name
        if name == self.preset.name and self._default is not None:
            return self._default
        return self._preset_example(name)

    def _preset_example(self, name: str) -> Example:
        from . import presets

        p = presets.load(name)
        n = self._settings(name).frames
        same_clip = self._default is not None and (p.clip, p.start_sample_frame, p.sampling_rate, n) == (
            self.preset.clip, self.preset.start_sample_frame, self.preset.sampling_rate, len(self._default.frames))
        frames = self._default.frames if same_clip else p.load_clip(n_frames=n, size=self.size)
        return self._preset_example_for(p, frames)

    def _preset_example_for(self, p, frames) -> Example:
        """Preset ``p``'s edit of ``frames``, at the preset's own steps and tuning under this lab's caps (the note,
        printed here, says what a cap lowered)."""
        temporal = p.temporal
        if self.standin and temporal.min_channels:  # the preset's channel floor, at the stand-in's widths
            temporal = dataclasses.replace(temporal, min_channels=temporal.min_channels * STANDIN_WIDTHS[0] // SD_WIDTH)
        words = list(TEASER_WORDS) if p.clip == "car-turn" else (list(p.config.blend_words) or p.source_prompt.split()[2:3])
        s = self._settings(p.name)
        if s.note:
            print(s.note)
        return Example(frames=frames, source=p.source_prompt, target=p.target_prompt, config=p.config,
                       temporal=temporal, words=words, mode="sd", preset=p, lab=self, steps=s.steps,
                       tuning=s.tuning or self.tuning, note=s.note)  # no tuning of its own: the lesson's

    @property
    def tuning(self) -> dict:
        """The shape lesson's tuning: the default preset's if it is a shape preset, else ``jeep_posche``'s (the
        teaser's shape edit) — steps and learning rate of the authors' tune config, under this lab's caps (fast: 20
        steps). A gallery example carries its own preset's (``Example.tuning``)."""
        name = self.preset.name if self.preset is not None and self.preset.needs_tuning else "jeep_posche"
        return self._settings(name).tuning

    def gallery_choices(self) -> list[str]:
        """Every preset of the paper."""
        from . import presets

        return presets.names()

    def gallery_info(self, choice: str) -> dict:
        from . import presets

        self._check_choice(choice)
        p = presets.load(choice)
        s = self._settings(choice)
        run = f"{s.frames} frames, {s.steps} DDIM steps" + (f", {s.tuning_steps} tuning steps" if s.tuning else "")
        return {"source": p.source_prompt, "target": p.target_prompt, "blend_words": list(p.config.blend_words),
                "needs_tuning": p.needs_tuning, "steps": s.steps, "frames": s.frames, "note": s.note,
                "description": f"[{p.kind}] {p.description}; clip {p.clip!r}; {run}"
                               + (f" ({s.note})" if s.note else "")}

    def gallery_example(self, choice: str, source: str | None = None, target: str | None = None, blend_words=None,
                        video=None, start: int = 0, stride: int = 1) -> Example:
        from . import presets
        from . import video as fzvideo

        self._check_choice(choice)
        if video is None:
            ex = self._preset_example(choice)
        else:
            n = max(self._settings(choice).frames, 1)  # the preset's frame count (capped) from your clip
            frames = fzvideo.prepare(video, n_frames=n, size=self.size, start=start, stride=stride)
            ex = self._preset_example_for(presets.load(choice), frames)
        src, tgt = source or ex.source, target or ex.target
        cfg = ex.config
        if (src, tgt) != (ex.source, ex.target):  # your prompts: the preset's knobs, minus words they lack
            cfg = cfg.replace(alignment_prompt=None if src != ex.source else cfg.alignment_prompt,
                              reweight={w: v for w, v in cfg.reweight.items() if w in tgt.split()},
                              blend_words=[w for w in cfg.blend_words if w in src.split()],
                              target_blend_words=[w for w in cfg.target_blend_words if w in tgt.split()])
        if blend_words is not None:
            cfg = cfg.replace(blend_words=list(blend_words))
        if cfg.latent_blend and not (cfg.blend_words or cfg.target_blend_words):
            cfg = cfg.replace(latent_blend=False)
        return dataclasses.replace(ex, source=src, target=tgt, config=cfg)

    def _describe(self) -> tuple[str, str, str]:
        dtype = str(self.pipe.unet.dtype).replace("torch.", "")
        model = (f"the SD stand-in: SD v1's layout, tiny, random weights, on {self.device} (tests/CI: its frames "
                 f"are noise)" if self.standin else f"{self.pipe.name} on {self.device} ({dtype})")
        return (model, f"{self.preset.clip!r} (the authors' clip of preset {self.preset.name!r}, fz.data.fetch)",
                "no: a real clip; scores are the paper's CLIP Tem-Con / Frame-Acc / CLIP-T")


LABS = {cls.mode: cls for cls in (ToyLab, SDLab)}  # mode -> class


# -------------------------------------------------------------------------------------------------------------- setup
def setup(mode: str | None = None, fast: bool | None = None, standin: bool | None = None, preset: str = SD_PRESET,
          device: str | None = None, quiet: bool = False, profile: str | None = None, frames: int | None = None,
          steps: int | None = None) -> Lab:
    """Pick the mode and build everything a notebook needs (see the module docstring): a :class:`ToyLab` or an
    :class:`SDLab`.

    Args:
        mode: "toy", "sd" or "auto"; default ``$FATEZERO_LAB_MODE``, else "auto" (sd with CUDA, else toy).
        fast: 4 frames and 10 steps; default ``$FZ_FAST == "1"``.
        standin: sd mode on :func:`standin_pipeline`; default ``$FATEZERO_LAB_SD_STANDIN``.
        preset: the sd mode's default example (a name of :func:`fatezero_lab.presets.names` whose clip
            :func:`fatezero_lab.data.fetch` can get).
        device: where the pipeline goes (default: CUDA if present, else the CPU).
        quiet: print neither the Colab no-GPU note nor a fallback's reason (fz.data still prints the clip's licence
            the first time it is fetched in a session).
        profile: "paper" (the preset's own frames and steps), "t4" (at most 8 frames and 25 steps: a free Colab T4)
            or "quick" (4 frames, 10 steps); default ``$FATEZERO_LAB_PROFILE``, else "quick" in fast mode, "t4" for
            sd mode in Colab or on a card of at most 16 GiB, else "paper" (:data:`PROFILES`). sd mode prints each
            computing call's estimated time and memory on the profile's card before it runs (:mod:`fatezero_lab.cost`).
        frames, steps: replace the profile's (positive integers; sd: at most the preset's frames).
    """
    asked = os.environ.get(MODE_ENV, "auto") if mode is None else mode
    asked = str(asked).strip().lower() or "auto"
    if asked not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)} (argument or ${MODE_ENV}), got {asked!r}")
    fast = os.environ.get(FAST_ENV) == "1" if fast is None else bool(fast)
    standin = _flag(STANDIN_ENV) if standin is None else bool(standin)
    frames, steps = _positive("frames", frames), _positive("steps", steps, most=1000)
    say = (lambda *a: None) if quiet else print
    sd = asked == "sd" or (asked == "auto" and (standin or _cuda()))
    prof = resolve_profile(profile, fast, sd)  # checked before any download
    toy = dict(profile=resolve_profile(profile, fast, False), frames=frames, steps=steps)
    if asked == "sd":
        why = f"asked for ({'argument' if mode is not None else '$' + MODE_ENV})"
        return SDLab.setup(preset, fast, standin, device, why, prof, frames, steps)
    if asked == "toy":
        return ToyLab.setup(fast, device, f"asked for ({'argument' if mode is not None else '$' + MODE_ENV})", **toy)
    if sd:
        why = "a CUDA GPU is present" if not standin else f"${STANDIN_ENV} is set (the tiny SD stand-in)"
        try:
            return SDLab.setup(preset, fast, standin, device, f"auto: {why}", prof, frames, steps)
        except (OSError, ValueError, RuntimeError) as e:  # no weights, no clip, offline, no disk: run the toy, loudly
            say(f"Stable Diffusion mode could not start: {type(e).__name__}: {e}\n-> running the toy model instead "
                f"(set {MODE_ENV}=sd to make this an error).")
            return ToyLab.setup(fast, device, f"auto: sd failed ({type(e).__name__}), fell back to the toy", **toy)
    if in_colab():
        say(COLAB_NO_GPU)
    return ToyLab.setup(fast, device, "auto: no CUDA GPU" + (" (Colab: switch the runtime to a GPU for SD)"
                                                              if in_colab() else ""), **toy)


# ---------------------------------------------------------------------------------------------------------- stand-ins
def _standin_words() -> list[str]:
    """Words the stand-in's BPE learns as whole tokens: every preset's prompts and the toy world's words."""
    import re

    from . import presets
    from .toyworld import vocabulary

    words = set(vocabulary())
    for f in presets.files():
        for line in f.read_text(encoding="utf-8").splitlines():
            m = re.match(r'\s*(?:-|prompt:)\s*"(.*)"', line)
            if m:
                words.update(re.findall(r"[a-z]+", m.group(1).lower()))
    return sorted(words)


STANDIN_TOKENIZER = Path(__file__).parent / "standin_tokenizer"  # vocab.json + merges.txt of the stand-in


def learn_standin_tokenizer(folder: Path = STANDIN_TOKENIZER, max_length: int = 77):
    """Learn the stand-in's BPE tokenizer (:func:`fatezero_lab.toyworld.model.bpe_tokenizer`, the toy model's learner)
    over the presets' and the toy world's words and save it to ``folder``; ``standin_tokenizer`` loads it from there.

    Learnt once and shipped, not at every start: the ``tokenizers`` BPE trainer breaks ties between equally frequent
    pairs in hash-map order, so two processes learn the same tokens and merges in a different order, and the stand-in's
    random text embeddings would then meet a different id per word in every run. Rerun after changing the presets:
    ``python -c "import fatezero_lab.lab as l; l.learn_standin_tokenizer()"`` (tests/test_lab.py checks it is current).
    """
    import string

    from .toyworld.model import bpe_tokenizer

    alphabet = string.ascii_lowercase + string.digits + ".,'!?-:;()&/"
    tok = bpe_tokenizer(sorted(_standin_words()), max_length, alphabet=alphabet, vocab_size=STANDIN_VOCAB,
                        pad_vocab_to=STANDIN_VOCAB)
    Path(folder).mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    return tok


def standin_tokenizer(max_length: int = 77):
    """A CLIP-style BPE ``CLIPTokenizer`` (77 tokens, ``</w>`` word ends) learnt offline over the presets' and the toy
    world's words, with every letter, digit and common punctuation mark as a fallback token (any English prompt
    tokenizes, unknown words into pieces, as in SD's tokenizer), padded to ``STANDIN_VOCAB`` entries. Loaded from the
    files shipped in ``fatezero_lab/standin_tokenizer/`` (:func:`learn_standin_tokenizer` wrote them), so every
    process gets the same ids."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(STANDIN_TOKENIZER, model_max_length=max_length)


def standin_pipeline(seed: int = 0, dtype=None):
    """The tiny SD stand-in: :func:`fatezero_lab.models.random_sd_pipeline` with layout ``SD_V1_TENTH`` — SD v1's
    layout at a tenth of its widths (UNet 32/64/128/128, 8 heads, cross-attention dim 32, one layer per block where SD
    has two: a third faster; a 4-level VAE; a 2-layer, 32-wide ``CLIPTextModel`` with :func:`standin_tokenizer`),
    random weights, built from configs offline (~1 s), 128² frames (16² latents) -> FateZeroPipeline. The reference's
    defaults apply (it is not the toy model), so every sd code path runs; its frames are noise (never trained).
    """
    from .models import SD_V1_TENTH, random_sd_pipeline

    return random_sd_pipeline(seed, dtype=dtype, layout=SD_V1_TENTH, tokenizer=standin_tokenizer(),
                              name="SD v1 stand-in (tiny, random weights)")


def tiny_clip(tokenizer, seed: int = 0):
    """(model, tokenizer, image processor): a tiny random-weight ``CLIPModel`` built from configs, standing in for
    CLIP ViT-B/32 in the metrics when the SD stand-in runs (offline). Its scores are well-formed numbers, not
    judgements."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(seed)
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": tokenizer.model_max_length,
            "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return CLIPModel(cfg).eval(), tokenizer, proc


def _load_clip(device):
    from .metrics import DEFAULT_CLIP, load_clip

    return load_clip(DEFAULT_CLIP, device=str(device))


__all__ = ["CLIP_METRICS", "LABS", "MODES", "MODE_ENV", "OUT_ENV", "PROFILES", "PROFILE_ENV", "SD_PRESET",
           "STANDIN_ENV", "TEASER_WORDS", "Example", "Lab", "Profile", "SDLab", "ToyLab", "Yardsticks", "capped",
           "in_colab", "learn_standin_tokenizer", "resolve_profile", "setup", "standin_pipeline", "standin_tokenizer",
           "tiny_clip"]
