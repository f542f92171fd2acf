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

``$FZ_FAST=1`` (the test suite) takes 4 frames and 10 DDIM steps in either mode; otherwise the toy runs 8 frames
and 50 steps, SD the preset's (8 frames, 50 steps, 512²).

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

import dataclasses
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODE_ENV = "FATEZERO_LAB_MODE"  # "toy", "sd" or "auto"
STANDIN_ENV = "FATEZERO_LAB_SD_STANDIN"  # "1": sd mode runs the tiny random-weight stand-in (tests, CI)
FAST_ENV = "FZ_FAST"  # "1": 4 frames, 10 DDIM steps (the test suite)
OUT_ENV = "FATEZERO_LAB_OUT"  # where the gallery writes its videos
MODES = ("auto", "toy", "sd")
SD_PRESET = "jeep_watercolor"  # the paper's teaser edit: the default example of sd mode
TEASER_WORDS = ("jeep", "road")  # words of the teaser's source prompt the notebooks look at (object, background)
TOY_EXAMPLE = {"caption": "a red circle on grass", "target": "a blue circle on grass", "blend_words": ("circle",)}
FAST_FRAMES, FAST_STEPS = 4, 10
TOY_FRAMES, TOY_STEPS = 8, 50
CLIP_METRICS = ("tem_con", "frame_acc", "clip_t")
# The stand-in: SD v1's UNet widths (320, 640, 1280, 1280) divided by 10, and its resolution (128 px, 16² latents).
STANDIN_WIDTHS = (32, 64, 128, 128)
SD_WIDTH = 320  # SD v1's first UNet width: a preset's min_channels (least_sc_channel) is scaled by WIDTHS[0]/320
STANDIN_SIZE = 128
STANDIN_VOCAB = 1024  # entries of the stand-in's BPE vocabulary (padded): a full tokenizer, not the toy's closed one
COLAB_NO_GPU = """\
============================================================================================================
This Colab runtime has no GPU, so the notebook runs the CPU toy model instead of Stable Diffusion.
To run Stable Diffusion on the paper's clip: Runtime > Change runtime type > Hardware accelerator: T4 GPU >
Save, then Runtime > Run all (the install cell runs again in the new runtime).
To stay on the CPU and hide this note, set os.environ["FATEZERO_LAB_MODE"] = "toy" before the setup cell.
============================================================================================================"""


def in_colab() -> bool:
    """True inside Google Colab (its ``google.colab`` module is loaded in every Colab kernel)."""
    return "google.colab" in sys.modules


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


# ------------------------------------------------------------------------------------------------------------ example
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

    @property
    def has_ground_truth(self) -> bool:
        """True in toy mode: the renderer draws the exact edited clip."""
        return self.truth is not None

    @property
    def blend_words(self) -> list:
        """The source words whose cross-attention makes the blending mask M_t (may be empty: a style edit)."""
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

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        if self.has_ground_truth:
            what = f"toy clip {self.toy_clip!r}; ground truth: the same clip rendered as {self.target!r}"
        else:
            p = self.preset
            what = (f"the paper's clip {p.clip!r} with preset {p.name!r} ({p.kind}: {p.description}); no ground "
                    f"truth: scored with CLIP Tem-Con / Frame-Acc / CLIP-T")
        return (f"Example({self.mode}: {self.source!r} -> {self.target!r}, {f} frames at {h}x{w}, "
                f"blend words {self.blend_words}, words {self.words})\n  {what}")


# ---------------------------------------------------------------------------------------------------------------- lab
@dataclass(repr=False)
class Lab:
    """What :func:`setup` chose: the pipeline, the clip and prompts, frames, size and steps, and why.

    ``clip``/``source_prompt``/``target_prompt``/``blend_words`` are the mode's default example
    (:meth:`example` with no arguments): the toy's red circle turned blue, or the paper's teaser as a watercolor.
    """

    mode: str  # "toy" or "sd"
    pipe: object  # FateZeroPipeline
    frames: int  # frames per clip
    steps: int  # DDIM steps of inversion and edit
    size: int  # frame side in pixels (square clips)
    clip: np.ndarray  # (frames, size, size, 3) the default example's clip
    source_prompt: str
    target_prompt: str
    blend_words: list
    has_ground_truth: bool  # toy: every edit has an exact answer
    fast: bool = False  # $FZ_FAST=1: 4 frames, 10 steps
    standin: bool = False  # sd mode on the tiny random-weight stand-in (tests, CI)
    preset: object = None  # presets.Preset of the default example (sd)
    why: str = ""  # how the mode was chosen
    _clip_model: object = field(default=None, compare=False)
    _clip_error: str | None = field(default=None, compare=False)
    _default: Example | None = field(default=None, compare=False)

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

    def example(self, caption: str | None = None, target: str | None = None, blend_words=None, words=None,
                preset: str | None = None, motion: str = "left_to_right", seed: int = 0, camera: str = "static",
                lighting: str = "constant") -> Example:
        """The clip and edit of a lesson, in this lab's mode.

        toy: the toy clip of ``caption`` (``motion``, ``seed``, ``camera``, ``lighting`` as in
        :func:`fatezero_lab.toyworld.clip`) edited towards ``target`` with ``blend_words``; ``words`` default to
        the blend words. sd: the paper's preset ``preset`` (default: this lab's, ``jeep_watercolor``) on its clip
        at this lab's frames and size — the toy arguments are not used. With no arguments: the default example.
        """
        if self.mode == "toy":
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
                           toy_clip=c, truth=c.edited(target), lab=self)
        name = preset or self.preset.name
        if name == self.preset.name and self._default is not None:
            return self._default
        return self._sd_example(name)

    def _sd_example(self, name: str) -> Example:
        from . import presets

        p = presets.load(name)
        same_clip = self._default is not None and (p.clip, p.start_sample_frame, p.sampling_rate) == (
            self.preset.clip, self.preset.start_sample_frame, self.preset.sampling_rate)
        frames = self._default.frames if same_clip else p.load_clip(n_frames=self.frames, size=self.size)
        return self._sd_example_for(p, frames)

    def _sd_example_for(self, p, frames) -> Example:
        """Preset ``p``'s edit of ``frames``."""
        temporal = p.temporal
        if self.standin and temporal.min_channels:  # the preset's channel floor, at the stand-in's widths
            temporal = dataclasses.replace(temporal, min_channels=temporal.min_channels * STANDIN_WIDTHS[0] // SD_WIDTH)
        words = list(TEASER_WORDS) if p.clip == "car-turn" else (list(p.config.blend_words) or p.source_prompt.split()[2:3])
        return Example(frames=frames, source=p.source_prompt, target=p.target_prompt, config=p.config,
                       temporal=temporal, words=words, mode="sd", preset=p, lab=self)

    @property
    def tuning(self) -> dict:
        """Keyword arguments of :func:`fatezero_lab.tuning.tune_on_clip` for this mode: the toy's 300 steps, the
        shape preset's steps and learning rate in sd mode (20 steps in fast mode)."""
        if self.mode == "toy":
            return {"steps": 20 if self.fast else 300}
        from . import presets

        t = presets.load("jeep_posche").tuning
        return {"steps": 20 if self.fast else t.steps, "lr": t.lr}

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

        A variant is keyword arguments of :func:`fatezero_lab.edit` (as :data:`fatezero_lab.bench.VARIANTS`):
        ``blend=True`` keeps the example's blend words (else none: full source self-attention), ``temporal`` is the
        inversion's setting (default: the example's); one inversion per temporal setting.
        """
        from .editing import edit
        from .inversion import invert

        invs, rows = {}, {}
        for name, spec in variants.items():
            spec = dict(spec)
            temporal = spec.pop("temporal", example.temporal)
            key = repr(temporal)
            if key not in invs:
                invs[key] = invert(self.pipe, example.frames, example.source, steps=self.steps, temporal=temporal,
                                   progress=progress)
            spec["blend_words"] = example.blend_words if spec.pop("blend", False) else []
            if spec.get("latent_blend") and not spec["blend_words"]:
                spec["latent_blend"] = False
            out = edit(self.pipe, invs[key], example.target, example.config, progress=progress, **spec)
            rows[name] = example.scores(out.frames)
        return rows

    # --- the gallery (notebook 10) -----------------------------------------------------------------------------------
    def gallery_choices(self) -> list[str]:
        """What the gallery offers: every preset of the paper (sd), or the toy benchmark's edits (toy: the presets'
        words are not in the toy model's vocabulary)."""
        if self.mode == "sd":
            from . import presets

            return presets.names()
        from .bench import SUITE

        return [f"toy {i}: {c.source} -> {c.target}" for i, c in enumerate(SUITE)]

    def gallery_info(self, choice: str) -> dict:
        """The prompts and knobs of a gallery choice, without loading its clip: ``source``, ``target``,
        ``blend_words``, ``needs_tuning`` (a shape preset) and ``description``."""
        if choice not in self.gallery_choices():
            raise ValueError(f"unknown gallery choice {choice!r}; choose one of {self.gallery_choices()}")
        if self.mode == "toy":
            from .bench import SUITE

            c = SUITE[int(choice.split(":")[0].split()[1])]
            return {"source": c.source, "target": c.target, "blend_words": [c.blend], "needs_tuning": c.kind == "shape",
                    "description": f"toy {c.kind} edit (motion {c.motion}, seed {c.seed}); exact ground truth"}
        from . import presets

        p = presets.load(choice)
        clip = f"clip {p.clip!r}" if p.clip else "the authors' own clip: upload it or use one of yours"
        return {"source": p.source_prompt, "target": p.target_prompt, "blend_words": list(p.config.blend_words),
                "needs_tuning": p.needs_tuning, "description": f"[{p.kind}] {p.description}; {clip}"}

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
        from . import video as fzvideo

        if choice not in self.gallery_choices():
            raise ValueError(f"unknown gallery choice {choice!r}; choose one of {self.gallery_choices()}")
        if self.mode == "toy":
            from .bench import SUITE

            case = SUITE[int(choice.split(":")[0].split()[1])]
            ex = self.example(case.source, target or case.target, [case.blend] if blend_words is None else blend_words,
                              motion=case.motion, seed=case.seed, camera=case.camera, lighting=case.lighting)
            if source not in (None, case.source) or video is not None:  # your own clip or caption: no ground truth
                frames = ex.frames if video is None else fzvideo.prepare(video, n_frames=self.frames, size=self.size,
                                                                         start=start, stride=stride)
                ex = dataclasses.replace(ex, frames=frames, source=source or case.source, toy_clip=None, truth=None)
            return ex
        ex = self._sd_example(choice) if video is None else None
        if video is not None:
            from . import presets

            p = presets.load(choice)
            frames = fzvideo.prepare(video, n_frames=self.frames, size=self.size, start=start, stride=stride)
            ex = self._sd_example_for(p, frames)
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

    def __repr__(self) -> str:
        p = self.pipe
        if self.mode == "toy":
            model = f"the toy model (shipped, trained on the toy world) on {self.device}"
            clip = f"toy clips rendered per notebook (default: {self.source_prompt!r})"
            truth = "yes: every toy edit has an exact ground truth (PSNR, background kept, judge accuracy, flicker)"
        else:
            dtype = str(p.unet.dtype).replace("torch.", "")
            model = (f"the SD stand-in: SD v1's layout, tiny, random weights, on {self.device} (tests/CI: its frames "
                     f"are noise)" if self.standin else f"{p.name} on {self.device} ({dtype})")
            clip = f"{self.preset.clip!r} (the paper's teaser, fz.data.fetch)"
            truth = "no: a real clip; scores are the paper's CLIP Tem-Con / Frame-Acc / CLIP-T"
        lines = [f"Lab(mode={self.mode!r}{', stand-in' if self.standin else ''}{', fast' if self.fast else ''})",
                 f"  model:        {model}",
                 f"  clip:         {clip}: {self.frames} frames at {self.size}x{self.size}",
                 f"  prompts:      {self.source_prompt!r}",
                 f"             -> {self.target_prompt!r}" + (f" (preset {self.preset.name!r})" if self.preset else ""),
                 f"  blend words:  {self.blend_words or 'none (a style edit: the whole frame may change)'}",
                 f"  steps:        {self.steps} DDIM steps",
                 f"  ground truth: {truth}",
                 f"  chosen:       {self.why}",
                 f"  switch:       set {MODE_ENV}=toy or =sd before the setup cell (or fz.lab.setup('toy'))"]
        return "\n".join(lines)


# -------------------------------------------------------------------------------------------------------------- setup
def setup(mode: str | None = None, fast: bool | None = None, standin: bool | None = None, preset: str = SD_PRESET,
          device: str | None = None, quiet: bool = False) -> Lab:
    """Pick the mode and build everything a notebook needs (see the module docstring).

    Args:
        mode: "toy", "sd" or "auto"; default ``$FATEZERO_LAB_MODE``, else "auto" (sd with CUDA, else toy).
        fast: 4 frames and 10 steps; default ``$FZ_FAST == "1"``.
        standin: sd mode on :func:`standin_pipeline`; default ``$FATEZERO_LAB_SD_STANDIN``.
        preset: the sd mode's default example (a name of :func:`fatezero_lab.presets.names` whose clip
            :func:`fatezero_lab.data.fetch` can get).
        device: where the pipeline goes (default: CUDA if present, else the CPU).
        quiet: print neither the Colab no-GPU note nor a fallback's reason (fz.data still prints the clip's licence
            the first time it is fetched in a session).
    """
    asked = os.environ.get(MODE_ENV, "auto") if mode is None else mode
    asked = str(asked).strip().lower() or "auto"
    if asked not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)} (argument or ${MODE_ENV}), got {asked!r}")
    fast = os.environ.get(FAST_ENV) == "1" if fast is None else bool(fast)
    standin = _flag(STANDIN_ENV) if standin is None else bool(standin)
    say = (lambda *a: None) if quiet else print
    if asked == "sd":
        why = f"asked for ({'argument' if mode is not None else '$' + MODE_ENV})"
        return _sd_lab(preset, fast, standin, device, why)
    if asked == "toy":
        return _toy_lab(fast, device, f"asked for ({'argument' if mode is not None else '$' + MODE_ENV})")
    if _cuda() or standin:
        why = "a CUDA GPU is present" if not standin else f"${STANDIN_ENV} is set (the tiny SD stand-in)"
        try:
            return _sd_lab(preset, fast, standin, device, f"auto: {why}")
        except (OSError, ValueError, RuntimeError) as e:  # no weights, no clip, offline, no disk: run the toy, loudly
            say(f"Stable Diffusion mode could not start: {type(e).__name__}: {e}\n-> running the toy model instead "
                f"(set {MODE_ENV}=sd to make this an error).")
            return _toy_lab(fast, device, f"auto: sd failed ({type(e).__name__}), fell back to the toy")
    if in_colab():
        say(COLAB_NO_GPU)
    return _toy_lab(fast, device, "auto: no CUDA GPU" + (" (Colab: switch the runtime to a GPU for SD)"
                                                          if in_colab() else ""))


def _toy_lab(fast: bool, device, why: str) -> Lab:
    from .models import load_pipeline

    pipe = load_pipeline("toy", device=device)
    frames, steps = (FAST_FRAMES, FAST_STEPS) if fast else (TOY_FRAMES, TOY_STEPS)
    lab = Lab(mode="toy", pipe=pipe, frames=frames, steps=steps, size=pipe.resolution[0], clip=None,
              source_prompt=TOY_EXAMPLE["caption"], target_prompt=TOY_EXAMPLE["target"],
              blend_words=list(TOY_EXAMPLE["blend_words"]), has_ground_truth=True, fast=fast, why=why)
    lab._default = lab.example(TOY_EXAMPLE["caption"], TOY_EXAMPLE["target"], list(TOY_EXAMPLE["blend_words"]))
    lab.clip = lab._default.frames
    return lab


def _sd_lab(preset: str, fast: bool, standin: bool, device, why: str) -> Lab:
    from . import presets
    from .models import default_device, load_pipeline

    p = presets.load(preset)
    presets.check_clip(p)  # a preset whose clip fz.data cannot fetch: say so before any download
    if standin:
        import torch

        device = device or default_device()
        pipe = standin_pipeline(dtype=torch.float16 if device == "cuda" else None).to(device)
    else:
        pipe = load_pipeline(p.model_id, device=device)
    size = pipe.resolution[0]
    frames, steps = (FAST_FRAMES, FAST_STEPS) if fast else (p.n_frames, p.steps)
    lab = Lab(mode="sd", pipe=pipe, frames=frames, steps=steps, size=size, clip=None, source_prompt=p.source_prompt,
              target_prompt=p.target_prompt, blend_words=list(p.config.blend_words), has_ground_truth=False,
              fast=fast, standin=standin, preset=p, why=why)
    lab._default = lab._sd_example(p.name)
    lab.clip = lab._default.frames
    return lab


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


def standin_tokenizer(max_length: int = 77):
    """A CLIP-style BPE ``CLIPTokenizer`` (77 tokens, ``</w>`` word ends) learnt offline over the presets' and the toy
    world's words, with every letter, digit and common punctuation mark as a fallback token (any English prompt
    tokenizes, unknown words into pieces, as in SD's tokenizer), padded to ``STANDIN_VOCAB`` entries."""
    import string

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    from .toyworld.model import BOS, EOS, PAD

    alphabet = list(string.ascii_lowercase + string.digits + ".,'!?-:;()&/")
    words = _standin_words()
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=STANDIN_VOCAB, min_frequency=1, special_tokens=[BOS, EOS, PAD],
                                  show_progress=False, initial_alphabet=alphabet, end_of_word_suffix="</w>")
    bpe.train_from_iterator(words * 2, trainer=trainer)
    with tempfile.TemporaryDirectory() as d:
        bpe.model.save(d)
        vocab_path, merges_path = Path(d) / "vocab.json", Path(d) / "merges.txt"
        vocab = json.loads(vocab_path.read_text())
        for ch in alphabet:  # every character also as a word end ("a</w>"), so that any word tokenizes
            vocab.setdefault(ch + "</w>", len(vocab))
        for i in range(len(vocab), STANDIN_VOCAB):  # unused entries: the size of an open vocabulary, not the toy's
            vocab[f"<unused{i}>"] = i
        vocab_path.write_text(json.dumps(vocab))
        return CLIPTokenizer(str(vocab_path), str(merges_path), pad_token=PAD, model_max_length=max_length)


def standin_pipeline(seed: int = 0, dtype=None):
    """The tiny SD stand-in: a diffusers ``StableDiffusionPipeline`` with SD v1's layout at a tenth of its widths and
    random weights, built from configs offline (~1 s), 128² frames (16² latents) -> FateZeroPipeline.

    UNet: ``UNet2DConditionModel``'s SD v1 block layout (CrossAttnDownBlock2D x3 + DownBlock2D, mirrored up; widths
    32/64/128/128; 8 heads; cross-attention dim 32; one layer per block where SD has two: a third faster). VAE: ``AutoencoderKL``, 4 levels (downsampling
    8, latent 4 channels, SD's scaling factor). Text: ``CLIPTextModel`` (2 layers, 32 wide, 77 positions) with
    :func:`standin_tokenizer`. Scheduler: DDIM with SD's noise schedule and ``steps_offset=1``. The reference's
    defaults apply (it is not the toy model), so every sd code path runs; its frames are noise (never trained).
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .config import ModelDefaults
    from .models import FateZeroPipeline
    from .toyworld.model import assemble_pipeline, build_scheduler

    torch.manual_seed(seed)
    tok = standin_tokenizer()
    latent = STANDIN_SIZE // 8
    unet = UNet2DConditionModel(sample_size=latent, block_out_channels=STANDIN_WIDTHS, layers_per_block=1,
                                cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=STANDIN_SIZE,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        block_out_channels=(32, 32, 64, 64), layers_per_block=1, norm_num_groups=32,
                        scaling_factor=0.18215)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, max_position_embeddings=77, projection_dim=32,
                                        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                        eos_token_id=tok.eos_token_id))
    pipe = assemble_pipeline(vae.eval(), text.eval(), tok, unet.eval(), build_scheduler())
    pipe.set_progress_bar_config(disable=True)
    if dtype is not None:
        pipe.to(dtype=dtype)
    return FateZeroPipeline(pipe, ModelDefaults(), name="SD v1 stand-in (tiny, random weights)")


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


__all__ = ["CLIP_METRICS", "MODES", "MODE_ENV", "OUT_ENV", "SD_PRESET", "STANDIN_ENV", "TEASER_WORDS", "Example", "Lab",
           "in_colab", "setup", "standin_pipeline", "standin_tokenizer", "tiny_clip"]
