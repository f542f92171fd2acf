"""Command line: ``python -m fatezero_lab demo|edit|invert|bench|presets``.

``demo`` runs the README's main job on a toy-world clip; ``edit`` edits a real clip (or a preset, or an authors'
config) with every :class:`~fatezero_lab.config.FateZeroConfig` knob as a flag; ``invert`` inverts and reconstructs
a clip; ``bench`` runs the ground-truth ablation suite; ``presets`` lists the paper's examples.

``edit`` in one line each::

    python -m fatezero_lab edit --preset jeep_watercolor                      # the paper's teaser, SD v1.4
    python -m fatezero_lab edit --preset jeep_watercolor --video my.mp4 --source "..." --target "..."
    python -m fatezero_lab edit --model CompVis/stable-diffusion-v1-4 --video my.mp4 --source "a silver jeep" \\
        --target "a red jeep" --blend-words jeep --self-replace-steps 0.6 --reweight red=2
    python -m fatezero_lab edit --config outputs/edit/config.json --video my.mp4 --source "..." --target "..."
    python -m fatezero_lab edit --config FateZero/config/teaser/jeep_watercolor.yaml --reference-index 1

Where a setting comes from, lowest first: FateZeroConfig's defaults; the preset (``--preset``) or authors' config
(``--reference-config``, or ``--config`` with an authors' YAML); ``--config`` with our own JSON/YAML of
FateZeroConfig fields (all or some); the flags. Every input is checked before the model is loaded (files exist and
are readable, prompts are non-empty and hold the words the knobs name, numbers are in range, the FateZeroConfig and
TemporalConfig build); a bad one exits with status 2 and a message naming the flag. Results are written to a
temporary folder and moved into place when complete, never over earlier results, with ``provenance.json`` beside
them (model id and revision, library versions, frames, size, steps, seed, source fps, the command line).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.metadata
import inspect
import json
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
import time
import typing
from pathlib import Path

PROVENANCE_SCHEMA = 1
_NONE_WORDS = ("none", "default", "auto-default")  # a flag value meaning "None: leave it to the model"


# ------------------------------------------------------------------------------------------------- output folders
def new_output_folder(out: str | Path) -> Path:
    """``out`` itself if it does not exist or is empty, else ``out-2``, ``out-3``…: never overwrite earlier results."""
    out = Path(out)
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return out
    k = 2
    while Path(f"{out}-{k}").exists():
        k += 1
    path = Path(f"{out}-{k}")
    path.mkdir(parents=True)
    return path


def _publish(out: str | Path, write) -> Path:
    """Call ``write(folder)`` on a temporary folder beside ``out``, then move it to :func:`new_output_folder`'s
    choice: a run that fails while writing leaves no half-written result folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        write(tmp)
        final = new_output_folder(out)  # an empty folder under the final name
        final.rmdir()
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ----------------------------------------------------------------------------------------------------- provenance
def library_versions() -> dict:
    """Versions of Python and of the libraries that decide the numbers (None where one is not installed)."""
    import fatezero_lab

    out = {"python": platform.python_version()}
    for dist in ("torch", "diffusers", "transformers", "huggingface_hub", "tokenizers", "accelerate", "safetensors",
                 "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    out["fatezero_lab"] = fatezero_lab.__version__
    out["fatezero_lab_commit"] = git_head(Path(fatezero_lab.__file__).resolve().parent.parent)
    try:
        import torch

        out["torch_cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return out


def git_head(folder: str | Path) -> str | None:
    """The commit a git checkout at ``folder`` is at (read from ``.git`` without running git), else None.

    A model folder made by ``git clone https://huggingface.co/<id>`` (the authors' instructions) is such a checkout,
    and so is a development install of fatezero_lab.
    """
    git = Path(folder) / ".git"
    try:
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = (git.parent / text[len("gitdir:"):].strip()).resolve()
        if not git.is_dir():
            return None
        head = (git / "HEAD").read_text().strip()
        if re.fullmatch(r"[0-9a-f]{40}", head):
            return head
        if not head.startswith("ref:"):
            return None
        ref = head[4:].strip()
        dirs = [git]
        if (git / "commondir").is_file():
            dirs.append((git / (git / "commondir").read_text().strip()).resolve())
        for d in dirs:
            if (d / ref).is_file():
                value = (d / ref).read_text().strip()
                return value if re.fullmatch(r"[0-9a-f]{40}", value) else None
            if (d / "packed-refs").is_file():
                for line in (d / "packed-refs").read_text().splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref and re.fullmatch(r"[0-9a-f]{40}", parts[0]):
                        return parts[0]
    except OSError:
        return None
    return None


def model_provenance(name: str, pipe=None, asked_revision: str | None = None) -> dict:
    """What identifies the weights: the name asked for, where it resolved, and its revision when it can be known
    without the network (a hub-cache snapshot hash, or the commit of a git-cloned folder). The toy model, small
    enough to hash, also gets the SHA-256 of its UNet weights."""
    from fatezero_lab.models import TOY, resolve

    path, local = resolve(name)
    out = {"id": str(name), "source": "toy" if str(name) == TOY else ("local folder" if local else "hub"),
           "path": path if local else None, "revision": None, "revision_from": None,
           "revision_asked": asked_revision}
    if pipe is not None and getattr(pipe, "revision", None):  # the loader knows the hub commit it read
        out["revision"], out["revision_from"] = pipe.revision, "loader"
    candidates = [path] if out["revision"] is None else []
    if pipe is not None and out["revision"] is None:
        candidates.append(str(getattr(pipe.unet.config, "_name_or_path", "") or ""))
    for text in candidates:
        m = re.search(r"snapshots[/\\]([0-9a-f]{40})", text)
        if m:
            out["revision"], out["revision_from"] = m.group(1), "hub cache snapshot"
            break
    if out["revision"] is None and local:
        head = git_head(path)
        if head:
            out["revision"], out["revision_from"] = head, "git checkout"
    if out["revision"] is None and not local:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(str(name), "model_index.json")
            m = re.search(r"snapshots[/\\]([0-9a-f]{40})", str(found)) if isinstance(found, str) else None
            if m:
                out["revision"], out["revision_from"] = m.group(1), "hub cache snapshot"
        except Exception:  # the hub library is optional here: provenance must never fail a finished run
            pass
    weights = Path(path) / "unet" / "diffusion_pytorch_model.safetensors"
    if local and weights.is_file() and weights.stat().st_size < 100 * 2 ** 20:
        out["unet_weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    if pipe is not None:
        out.update(device=str(pipe.unet.device), dtype=str(pipe.unet.dtype).replace("torch.", ""),
                   variant=getattr(pipe, "variant", None), resolution=list(pipe.resolution),
                   defaults=pipe.defaults.source)
    return out


def write_provenance(folder: Path, argv: list[str], t0: float, **facts) -> Path:
    """``provenance.json`` in ``folder``: the command line, library versions, platform and ``facts`` (model, frames,
    size, steps, seed, fps, settings)."""
    record = {"schema": PROVENANCE_SCHEMA,
              "command": shlex.join([Path(sys.executable).name, "-m", "fatezero_lab", *argv]),
              "argv": list(argv), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
              "seconds": round(time.time() - t0, 2), "versions": library_versions(),
              "platform": platform.platform()}
    try:
        import torch

        record["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # pragma: no cover
        record["cuda_device"] = None
    record.update(facts)
    record["outputs"] = sorted(p.name for p in folder.iterdir()) + ["provenance.json"]
    path = folder / "provenance.json"
    path.write_text(json.dumps(record, indent=2, default=_jsonable))
    return path


def _jsonable(x):
    if isinstance(x, Path):
        return str(x)
    if dataclasses.is_dataclass(x):
        return dataclasses.asdict(x)
    if isinstance(x, (set, tuple)):
        return list(x)
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _rates(frames, video: str | None, stride: int | None) -> tuple[float | None, float | None]:
    """(source fps, playback fps of the kept frames): from the frames (fatezero_lab.video.Frames carry both), else
    from the file's header divided by the stride; None where the source has no rate (images, toy clips)."""
    src, out = getattr(frames, "source_fps", None), getattr(frames, "fps", None)
    if src is None and video and not video.startswith("toy:") and Path(video).is_file():
        import fatezero_lab as fz

        reader = getattr(fz.video, "fps", None)
        try:
            src = reader(video) if reader is not None else None
        except (OSError, ValueError):
            src = None
    if out is None and src and stride:
        out = src / stride
    return (float(src) if src else None), (float(out) if out else None)


# ------------------------------------------------------------------------------- flags from the dataclass fields
def field_comments(cls) -> dict[str, str]:
    """The comment written beside each field of dataclass ``cls`` (with its continuation lines): the flags' help."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # pragma: no cover - source not shipped
        return {}
    out, current = {}, None
    for line in lines:
        m = re.match(r"\s+(\w+)\s*:[^#]*?#\s?(.*)$", line)
        if m and not line.lstrip().startswith("#"):
            current = m.group(1)
            out[current] = m.group(2).strip()
            continue
        m = re.match(r"\s+#\s+(.*)$", line)
        if m and current is not None:
            out[current] += " " + m.group(1).strip()
        else:
            current = None
    return out


def _members(hint) -> tuple[list, bool]:
    """The non-None members of a type hint and whether None is allowed."""
    args = typing.get_args(hint)
    if args and (typing.get_origin(hint) is typing.Union or type(hint).__name__ == "UnionType"):
        return [a for a in args if a is not type(None)], type(None) in args
    return [hint], False


def _is_pair(t) -> bool:
    return typing.get_origin(t) is tuple and len(typing.get_args(t)) == 2 and Ellipsis not in typing.get_args(t)


def flag_kind(hint) -> tuple[str, bool]:
    """How a field of type ``hint`` is written on the command line: "bool", "mapping", "window", "words", "int",
    "float" or "str"; and whether "none" is accepted (the field may be None)."""
    members, optional = _members(hint)
    bases = [typing.get_origin(m) or m for m in members]
    if bool in bases:
        return "bool", optional
    if dict in bases:
        return "mapping", optional
    if any(_is_pair(m) for m in members):
        return "window", optional
    if list in bases or tuple in bases:
        return "words", optional
    for kind, t in (("int", int), ("float", float), ("str", str)):
        if t in bases:
            return kind, optional
    raise TypeError(f"no command-line form for a field of type {hint!r}: teach fatezero_lab.__main__.flag_kind it")


def _none(text: str, optional: bool):
    if optional and text.strip().lower() in _NONE_WORDS:
        return True
    return False


def _number(kind: str, optional: bool):
    def parse(text: str):
        if _none(text, optional):
            return None
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind == 'int' else 'a number'}"
                                             + (" or 'none'" if optional else "") + f", got {text!r}") from None
    return parse


def _text(optional: bool):
    def parse(text: str):
        return None if _none(text, optional) else text
    return parse


def _window(optional: bool):
    """A fraction ``0.6`` (= the window [0, 0.6)) or a pair ``0.1,0.6`` / ``0.1:0.6``; ``none`` where allowed."""
    def parse(text: str):
        if _none(text, optional):
            return None
        parts = [p for p in re.split(r"[,:]", text.strip()) if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            return values[0]
        if len(values) == 2:
            return tuple(values)
        raise argparse.ArgumentTypeError("expected a fraction like 0.6 or a start,end pair like 0.1,0.6"
                                         + (" (or 'none' for the model's default)" if optional else "")
                                         + f", got {text!r}")
    return parse


def _split_words(values) -> list[str]:
    """Tokens split further at commas: ``--blend-words silver jeep`` = ``--blend-words silver,jeep``."""
    return [w.strip() for v in values for w in str(v).split(",") if w.strip()]


def _mapping(values) -> dict:
    """``blue=2 red=0.5`` (or ``blue=2,red=0.5``) -> {"blue": 2.0, "red": 0.5}; no values -> {} (off)."""
    out = {}
    for item in _split_words(values):
        word, sep, value = item.partition("=")
        try:
            if not sep or not word.strip():
                raise ValueError
            out[word.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected WORD=FACTOR items such as blue=2, got {item!r}") from None
    return out


class _ListAction(argparse.Action):
    """nargs='*' values post-processed: words (comma-split), a mapping, or 'auto'."""

    def __init__(self, *args, form: str = "words", **kwargs):
        self.form = form
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.form == "mapping":
            try:
                value = _mapping(values)
            except argparse.ArgumentTypeError as e:
                raise argparse.ArgumentError(self, str(e)) from None
        else:
            value = _split_words(values)
            if self.form == "layers" and value == ["auto"]:
                value = "auto"
            elif self.form == "references":
                value = tuple(int(v) if re.fullmatch(r"[+-]?\d+", v) else v for v in value)
        setattr(namespace, self.dest, value)


_EXAMPLES = {"window": "0.6 or 0.1,0.6", "mapping": "WORD=FACTOR ...", "words": "WORD ..."}


def add_dataclass_flags(parser, cls, prefix: str = "", dest_prefix: str = "knob_", skip=(),
                        helps: dict | None = None) -> dict[str, str]:
    """One flag per field of dataclass ``cls`` (except ``skip``), generated from the field types, so that no knob
    is forgotten; ``--x`` is ``--<prefix><field-with-dashes>``. Flags left out keep the attribute absent
    (argparse.SUPPRESS): only what was given overrides. Returns field -> flag."""
    hints = typing.get_type_hints(cls)
    helps = {**field_comments(cls), **{f.name: f.metadata["help"] for f in dataclasses.fields(cls)
                                        if "help" in f.metadata}, **(helps or {})}
    flags = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, optional = flag_kind(hints[f.name])
        flag = "--" + prefix + f.name.replace("_", "-")
        text = (helps.get(f.name) or f"{cls.__name__}.{f.name}").replace("%", "%%")
        text += f" [{cls.__name__}.{f.name}]"
        common = dict(dest=dest_prefix + f.name, default=argparse.SUPPRESS, help=text)
        if kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif kind in ("mapping", "words"):
            form = kind
            if f.name == "mask_layers":
                form = "layers"
            elif cls.__name__ == "TemporalConfig" and f.name == "reference":
                form = "references"
            parser.add_argument(flag, nargs="*", action=_ListAction, form=form, metavar=_EXAMPLES[kind].split()[0],
                                **common)
        elif kind == "window":
            parser.add_argument(flag, type=_window(optional), metavar="F|A,B", **common)
        elif kind in ("int", "float"):
            parser.add_argument(flag, type=_number(kind, optional), metavar=kind.upper(), **common)
        else:
            parser.add_argument(flag, type=_text(optional), metavar="TEXT", **common)
        flags[f.name] = flag
    return flags


def _given(args, cls, dest_prefix: str = "knob_") -> dict:
    """The fields of ``cls`` set on the command line (field -> parsed value)."""
    return {f.name: getattr(args, dest_prefix + f.name) for f in dataclasses.fields(cls)
            if hasattr(args, dest_prefix + f.name)}


# -------------------------------------------------------------------------------------------- argument checking
def _at_least(minimum, kind=int, what="an integer"):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {text!r}")
        return value
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _size(text: str) -> int:
    """0 (the model's own size) or a positive multiple of 8 (the VAE downsamples by 8)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value % 8:
        raise argparse.ArgumentTypeError(f"expected 0 (the model's size) or a positive multiple of 8 (the VAE "
                                         f"downsamples by 8), got {text!r}")
    return value


def check_video_arg(parser, video: str, flag: str = "--video") -> None:
    """``toy:<caption>``, or an existing, readable video/GIF/image file or folder of frames; else exit 2."""
    if video.startswith("toy:"):
        if not video[4:].strip():
            parser.error(f"{flag} toy: needs a caption after 'toy:', e.g. 'toy:a red circle on grass'")
        return
    from fatezero_lab.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    p = Path(video).expanduser()
    if not p.exists():
        parser.error(f"{flag} {video!r} does not exist; give an mp4/gif file, a folder of frames or toy:<caption>")
    if not os.access(p, os.R_OK) or (p.is_dir() and not os.access(p, os.X_OK)):
        parser.error(f"{flag} {video!r} is not readable (check its permissions)")
    if p.is_dir():
        if not any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir()):
            parser.error(f"{flag} folder {video!r} holds no frames; expected images with extensions "
                         f"{', '.join(IMAGE_EXTENSIONS)}")
    elif p.suffix.lower() not in VIDEO_EXTENSIONS + (".gif",) + IMAGE_EXTENSIONS:
        parser.error(f"{flag} {video!r}: unsupported file type {p.suffix!r}; expected one of "
                     f"{', '.join(VIDEO_EXTENSIONS + ('.gif',) + IMAGE_EXTENSIONS)} or a folder of frames")


def check_model_arg(parser, model: str) -> None:
    """The model name resolves ('toy', a pipeline folder, or an owner/name hub id) without loading it."""
    from fatezero_lab.models import ModelNotFoundError, resolve

    try:
        resolve(model)
    except ModelNotFoundError as e:
        parser.error(f"--model: {e}")


def check_out_arg(parser, out: str) -> None:
    p = Path(out)
    if p.exists() and not p.is_dir():
        parser.error(f"--out {out!r} is a file; give a folder (results go to it, or to {out}-2, -3 ... if it is "
                     f"not empty)")


def _frame_files(folder: str) -> list[Path]:
    from fatezero_lab.video import IMAGE_EXTENSIONS

    return [f for f in Path(folder).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS]


def _words_of(prompt: str) -> list[str]:
    """The words fatezero_lab's lookup (prompts.word_token_indices) matches: whitespace split, case and trailing
    ``,.`` ignored."""
    return [w.lower().strip(",.") for w in prompt.split()]


def load_model(name: str, args):
    """``fz.load_pipeline(name)`` with the --device and --revision flags (revision only where the loader takes it)."""
    import fatezero_lab as fz

    kwargs = {"device": getattr(args, "device", None)}
    if getattr(args, "revision", None):
        if "revision" not in inspect.signature(fz.models.load_pipeline).parameters:
            args.edit_parser.error("--revision: this fatezero_lab's loader cannot pick a hub revision")
        kwargs["revision"] = args.revision
    return fz.load_pipeline(name, **kwargs)


# ---------------------------------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    import torch

    import fatezero_lab as fz

    torch.manual_seed(0)
    t0 = time.time()
    pipe = fz.load_pipeline(args.model)
    # 0. check the request before any compute
    fz.diffusion.check_prompt(pipe, args.caption, "--caption")
    fz.diffusion.check_prompt(pipe, args.target, "--target")
    clip = fz.toyworld.clip(args.caption, motion=args.motion, frames=args.frames, seed=args.seed)
    truth = clip.edited(args.target)
    print(f"source clip: {clip}\ntarget: {args.target!r}")
    # 1. DDIM inversion with the source prompt, recording attention (recomputed on demand: nothing big is stored)
    inv = fz.invert(pipe, clip.frames, clip.caption, steps=args.steps, temporal=True, cache="recompute")
    # 2. plain reconstruction (the inversion's sanity check) and the FateZero edit
    rec = fz.reconstruct(pipe, inv)
    new_words = [w for w in args.target.split() if w not in args.caption.split()]
    reweight = {w: args.reweight for w in new_words} if args.reweight != 1.0 else {}
    edited = fz.edit(pipe, inv, args.target, blend_words=args.blend_words, reweight=reweight)
    rows = {"source": clip.frames, "reconstruction": rec, "FateZero edit": edited.frames, "ground truth": truth.frames}
    report = {"caption": clip.caption, "target": args.target, "blend_words": args.blend_words, "reweight": reweight,
              "steps": args.steps,
              "frames": args.frames, "reconstruction_psnr_db": fz.psnr(rec, clip.frames),
              "edit_psnr_vs_ground_truth_db": fz.psnr(edited.frames, truth.frames),
              "seconds": round(time.time() - t0, 1)}

    def write(out: Path) -> None:
        for name, frames in rows.items():
            fz.video.write(out / f"{name.split()[-1].lower()}.mp4", frames)
            fz.video.write(out / f"{name.split()[-1].lower()}.gif", frames)
        fz.video.save_png(out / "strip.png", fz.video.grid(list(rows.values())), scale=3)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        edited.config.to_json(out / "config.json")
        write_provenance(out, args.argv, t0, model=model_provenance(args.model, pipe), frames=args.frames,
                         size=list(clip.frames.shape[1:3]), steps=args.steps, seed=args.seed, source_fps=None,
                         output_fps=None, prompts={"source": clip.caption, "target": args.target},
                         config=edited.config.to_dict())

    out = _publish(args.out, write)
    for k, v in report.items():
        print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
    print(f"wrote {out.resolve()}  (strip.png rows: {', '.join(rows)})")
    return 0


# ---------------------------------------------------------------------------------------------------- edit
@dataclasses.dataclass
class EditRequest:
    """Everything ``edit`` will do, checked and settled before the model is loaded (:func:`plan_edit`)."""

    model: str
    video: str | None  # a path or toy:<caption>; None when the frames come from a preset's sample clip
    source: str
    target: str
    config: object  # FateZeroConfig
    temporal: object  # TemporalConfig
    steps: int
    frames: int | None  # None: the preset's / reference's own count
    size: int  # 0 = the model's own
    seed: int
    start: int | None
    stride: int | None
    cache: str
    tune_steps: int = 0
    tune_lr: float = 1e-4
    ref: object = None  # ReferenceEdit or presets.Preset
    preset: object = None  # presets.Preset
    config_file: str | None = None
    origins: dict = dataclasses.field(default_factory=dict)  # FateZeroConfig field -> where its value came from
    notes: list = dataclasses.field(default_factory=list)
    preloaded: object = None  # a preset's sample clip, fetched while checking (at --size or the preset's size)


def _read_config_file(parser, path: str) -> tuple[str, object]:
    """("authors", None) for an authors' FateZero YAML, ("ours", dict) for a JSON/YAML of FateZeroConfig fields."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        parser.error(f"--config {path!r} does not exist (expected a JSON/YAML of FateZeroConfig fields, e.g. an "
                     f"edit's config.json, or an authors' FateZero YAML)")
    try:
        data = yaml.safe_load(p.read_text())  # JSON is YAML
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        parser.error(f"--config {path!r} is not readable JSON/YAML: {e}")
    if not isinstance(data, dict):
        parser.error(f"--config {path!r} must hold a mapping of settings, got {type(data).__name__}")
    if {"pretrained_model_path", "dataset_config", "editing_config"} & set(data):
        return "authors", None
    return "ours", data


def _our_config_changes(parser, path: str, data: dict) -> dict:
    """The FateZeroConfig fields of our own config file (windows as tuples); unknown keys exit 2 listing the fields."""
    from fatezero_lab.config import FateZeroConfig

    names = [f.name for f in dataclasses.fields(FateZeroConfig)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        parser.error(f"--config {path!r}: unknown FateZeroConfig field(s) {unknown}; the fields are {names} (an "
                     f"authors' FateZero YAML has editing_config / dataset_config instead)")
    return {k: (tuple(v) if k.endswith("_steps") and isinstance(v, list) else v) for k, v in data.items()}


def _load_reference(parser, path: str, index):
    from fatezero_lab.reference_config import read_reference_yaml

    try:
        return read_reference_yaml(path, index or 0)
    except (OSError, ValueError) as e:
        parser.error(f"--reference-config: {e}")


def plan_edit(args, parser) -> EditRequest:
    """Settle and check every input of ``edit`` before the model is loaded; a bad one exits 2 (``parser.error``)
    naming its flag. The clip of a preset without ``--video`` is fetched here (so an offline machine fails now)."""
    import fatezero_lab as fz
    from fatezero_lab.config import FateZeroConfig
    from fatezero_lab.processors import TemporalConfig

    # 1. where the edit comes from: a preset, an authors' config, or flags alone
    config_kind, our_data = (None, None)
    if args.config is not None:
        config_kind, our_data = _read_config_file(parser, args.config)
    authors_file = args.reference_config
    if config_kind == "authors":
        if authors_file is not None:
            parser.error("give the authors' YAML once: --config FILE or --reference-config FILE, not both")
        authors_file = args.config
    if args.preset is not None and authors_file is not None:
        parser.error("--preset and an authors' config (--reference-config / --config) both name an edit; choose one")
    if args.reference_index is not None and authors_file is None:
        parser.error("--reference-index needs --reference-config (or --config with an authors' YAML)"
                     + ("; a preset is one entry already (fz.presets.list() names the others)" if args.preset else ""))
    ref = preset = None
    origin_name = None
    if args.preset is not None:
        try:
            ref = preset = fz.presets.load(args.preset)
        except ValueError as e:
            parser.error(f"--preset: {e}")
        origin_name = f"preset {args.preset}"
    elif authors_file is not None:
        ref = _load_reference(parser, authors_file, args.reference_index)
        origin_name = f"{'--config' if config_kind == 'authors' else '--reference-config'} {authors_file}"
    if ref is None:
        missing = [f"--{n}" for n in ("video", "source", "target") if getattr(args, n) is None]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)} "
                         f"(or give --preset NAME or --reference-config FILE)")

    # 2. prompts
    source = args.source if args.source is not None else ref.source_prompt
    target = args.target if args.target is not None else ref.target_prompt
    for flag, prompt in (("--source", source), ("--target", target)):
        if not isinstance(prompt, str) or not prompt.strip():
            what = "caption of the source clip" if flag == "--source" else "prompt to edit towards"
            parser.error(f"{flag} is empty; give the {what}")

    # 3. the clip (checked once the model's name is settled)
    video = args.video
    if video is None and preset is not None and preset.video_path() is not None:
        video = str(preset.video_path())
    if video is None and preset is None:  # an authors' config: its dataset_config.path, if it is here
        found = ref.video_path()
        if found is None:
            parser.error(f"the config's clip {ref.dataset_path!r} was not found (looked under the working "
                         f"directory and the folders above {ref.path}); pass --video")
        video = str(found)

    # 4. the model
    model = args.model
    if model is None and preset is not None:
        model = preset.model_id if preset.needs_tuning else (preset.model_path() or preset.model_id)
    if model is None and ref is not None:
        model = ref.model_path()
        if model is None:
            parser.error(f"the config's pretrained_model_path {ref.pretrained_model_path!r} was not found "
                         f"(a one-shot tuned checkpoint?); pass --model")
    model = model or "toy"
    check_model_arg(parser, model)
    if video is None:
        try:  # a preset's sample clip: is it one fatezero_lab.data can fetch? (fetched last, below)
            fz.presets.check_clip(preset)
        except FileNotFoundError as e:
            parser.error(f"--preset {preset.name}: {e}")
    else:
        check_video_arg(parser, video)

    # 5. the knobs: defaults < preset / authors' config < our --config file < flags
    config = ref.config if ref is not None else FateZeroConfig()
    origins = {f.name: (origin_name or "FateZeroConfig default") for f in dataclasses.fields(FateZeroConfig)}
    changes = {}
    if config_kind == "ours":
        file_changes = _our_config_changes(parser, args.config, our_data)
        changes.update(file_changes)
        origins.update({k: f"--config {args.config}" for k in file_changes})
    flags = _given(args, FateZeroConfig)
    changes.update(flags)
    origins.update({k: args.knob_flags[k] for k in flags})
    notes = []
    if (ref is not None and args.source is not None and args.source != ref.source_prompt
            and "alignment_prompt" not in changes and config.alignment_prompt is not None):
        changes["alignment_prompt"] = None  # the preset's alignment prompt belongs to its own source caption
        notes.append(f"--source replaces {origin_name}'s caption: alignment_prompt "
                     f"{config.alignment_prompt!r} dropped (the target is aligned with --source)")
    try:
        config = config.replace(**changes)
    except (ValueError, TypeError) as e:
        field = next((n for n in sorted(origins, key=len, reverse=True) if str(e).startswith(n)), None)
        where = f" (set by {origins[field]})" if field else ""
        parser.error(f"invalid edit settings: {e}{where}")
    # words the knobs name must be words of their prompts (checked again with the tokenizer once it is loaded)
    alignment = config.alignment_prompt or source
    checks = [("blend_words", config.blend_words, alignment, "source" if alignment == source else "alignment"),
              ("target_blend_words", config.target_blend_words, target, "target"),
              ("reweight", list(config.reweight), target, "target")]
    for name, words, prompt, role in checks:
        missing = [w for w in words if str(w).lower() not in _words_of(prompt)]
        if missing:
            parser.error(f"{name} {missing} (set by {origins[name]}) not in the {role} prompt {prompt!r}; name words "
                         f"of that prompt, or pass {args.knob_flags[name]} with no value to clear it")

    # 6. spatial-temporal attention
    temporal = ref.temporal if ref is not None else TemporalConfig()
    t_changes = _given(args, TemporalConfig, "temporal_")
    if args.no_temporal:
        t_changes["enabled"] = False
    try:
        temporal = dataclasses.replace(temporal, **t_changes)
    except (ValueError, TypeError) as e:
        parser.error(f"invalid temporal settings (--temporal-*): {e}")

    # 7. numbers and the rest
    steps = args.steps if args.steps is not None else (ref.steps if ref is not None else 50)
    frames = args.frames
    if frames is None and ref is None:
        frames = 8
    tuning = getattr(preset, "tuning", None)
    tune_steps = args.tune_steps if args.tune_steps is not None else (tuning.steps if tuning else 0)
    tune_lr = args.tune_lr if args.tune_lr is not None else (tuning.lr if tuning else 1e-4)
    if tuning is not None and tune_steps == 0 and args.model is None:
        notes.append(f"preset {preset.name} is a shape edit made on a one-shot tuned model; --tune-steps 0 edits "
                     f"with the plain {model}")
    if video is not None and Path(video).is_dir():  # a folder of frames: is it long enough? (cheap: count files)
        n = frames if frames is not None else ref.n_sample_frame
        start = args.start if args.start is not None else (ref.start_sample_frame if ref is not None else 0)
        stride = args.stride if args.stride is not None else (ref.sampling_rate if ref is not None else 1)
        have = len(_frame_files(video))
        need = start + (n - 1) * stride + 1 if n > 0 else 1
        if have < need:
            parser.error(f"--video {video!r} has {have} frames; {n} frames from frame {start}, every {stride}, need "
                         f"{need}: lower --frames, --start or --stride")
    check_out_arg(parser, args.out)
    preloaded = None
    if video is None:  # the one slow check, so last: fetched now (downloaded once, then cached), offline fails here
        try:
            preloaded = preset.load_clip(size=args.size or preset.image_size, n_frames=args.frames)
        except (OSError, fz.data.ClipDownloadError, ValueError) as e:  # offline / checksum / too few frames
            parser.error(f"--preset {preset.name}: its clip {preset.clip!r}: {e}")
    return EditRequest(model=model, video=video, source=source, target=target, config=config, temporal=temporal,
                       steps=steps, frames=frames, size=args.size, seed=args.seed, start=args.start,
                       stride=args.stride, cache=args.cache, tune_steps=tune_steps, tune_lr=tune_lr, ref=ref,
                       preset=preset, config_file=args.config if config_kind == "ours" else None, origins=origins,
                       notes=notes, preloaded=preloaded)


def _read_frames(req: EditRequest, pipe):
    """The clip at the size the model works at: the preset's sample clip, the authors' sampling of the file a
    config names, or ``--video`` with --frames/--start/--stride."""
    import fatezero_lab as fz

    size = req.size or pipe.resolution[0]  # the model's own frame size (toy 64, SD v1 512)
    ref = req.ref
    if ref is not None and (req.start is not None or req.stride is not None):
        ref = dataclasses.replace(
            ref, start_sample_frame=req.start if req.start is not None else ref.start_sample_frame,
            sampling_rate=req.stride if req.stride is not None else ref.sampling_rate)
    if req.video is not None and req.video.startswith("toy:"):
        n = req.frames or (ref.n_sample_frame if ref is not None and ref.n_sample_frame > 0 else 8)
        return fz.toyworld.clip(req.video[4:], frames=n, seed=req.seed).frames, None
    if req.preloaded is not None and ref is req.ref and req.preloaded.shape[1:3] == (size, size):
        return req.preloaded, ref.sampling_rate
    if ref is not None:
        frames = ref.load_clip(req.video, size=size, n_frames=req.frames)
        return frames, ref.sampling_rate
    kwargs = {"n_frames": req.frames, "size": size, "start": req.start or 0}
    if req.stride is not None:
        kwargs["stride"] = req.stride
    return fz.video.prepare(req.video, **kwargs), req.stride


def cmd_edit(args) -> int:
    import numpy as np
    import torch

    import fatezero_lab as fz
    from fatezero_lab.prompts import align, word_token_indices

    t0 = time.time()
    parser = args.edit_parser
    req = plan_edit(args, parser)  # 0. every input checked; nothing loaded yet
    if req.ref is not None:
        print(req.ref.summary())
    for note in req.notes:
        print(f"note: {note}")
    pipe = load_model(req.model, args)
    # 1. what needs the tokenizer: prompt lengths, the knobs' words as tokens, replace's equal token counts
    config = req.config
    try:
        for flag, prompt in (("--source", req.source), ("--target", req.target)):
            fz.diffusion.check_prompt(pipe, prompt, flag)
        alignment = config.alignment_prompt or req.source
        for words, prompt in ((config.blend_words, alignment), ([*config.target_blend_words, *config.reweight],
                                                                req.target)):
            for word in words:
                word_token_indices(pipe.tokenizer, prompt, word)
    except ValueError as e:
        parser.error(str(e))
    if config.cross_mode == "replace":  # the reference's replace copes with unequal token counts; ours does not
        try:
            align(pipe.tokenizer, config.alignment_prompt or req.source, req.target, "replace")
        except ValueError as e:
            print(f"note: {e}; using cross_mode='refine'")
            config = config.replace(cross_mode="refine")
    try:
        frames, stride = _read_frames(req, pipe)
    except (OSError, ValueError) as e:
        parser.error(f"--video: {e}")
    source_fps, output_fps = _rates(frames, req.video, stride)
    # 2. compute: (one-shot tuning), inversion with the source prompt, FateZero edit
    torch.manual_seed(req.seed)
    tune_report = None
    if req.tune_steps:
        pipe, tune_report = fz.tuning.tune_on_clip(pipe, frames, req.source, steps=req.tune_steps, lr=req.tune_lr,
                                                   seed=req.seed, temporal=req.temporal)
        print(f"one-shot tuning: {tune_report}")
    inv = fz.invert(pipe, frames, req.source, steps=req.steps, temporal=req.temporal, cache=req.cache)
    res = fz.edit(pipe, inv, req.target, config)
    fps = output_fps or getattr(fz.video, "DEFAULT_FPS", 8.0)  # the source's speed when it has one

    # 3. write, all at once, with provenance
    def write(out: Path) -> None:
        fz.video.write(out / "source.mp4", frames, fps=fps)
        fz.video.write(out / "edit.mp4", res.frames, fps=fps)
        fz.video.write(out / "edit_frames", res.frames)
        fz.video.save_png(out / "side_by_side.png", fz.video.grid([np.asarray(frames), res.frames]),
                          scale=max(1, 192 // frames.shape[1]))
        if res.masks:
            masks = np.stack([res.masks[i] for i in sorted(res.masks)])  # (steps, frames, h, w)
            np.save(out / "masks.npy", masks)
            fz.video.save_png(out / "masks.png", fz.video.grid([np.repeat(m[..., None], 3, -1).astype(np.float32)
                                                                for m in masks[:: max(1, len(masks) // 6)]]), scale=4)
        res.config.to_json(out / "config.json")
        prompts = {"source": req.source, "target": req.target, "video": req.video}
        if req.ref is not None:
            prompts.update(reference_config=str(req.ref.path), reference_index=req.ref.index, steps=req.steps,
                           temporal=str(req.temporal), notes=req.ref.notes)
        if req.preset is not None:
            prompts.update(preset=req.preset.name, clip=req.preset.clip)
        (out / "prompts.json").write_text(json.dumps(prompts, indent=2))
        write_provenance(
            out, args.argv, t0, model=model_provenance(req.model, pipe, args.revision), frames=int(frames.shape[0]),
            size=list(frames.shape[1:3]), steps=req.steps, seed=req.seed, source_fps=source_fps, output_fps=fps,
            video=req.video, clip=req.preset.clip if req.preset is not None and req.video is None else None,
            start=req.ref.start_sample_frame if req.ref is not None and req.start is None else req.start,
            stride=stride, prompts={"source": req.source, "target": req.target,
                                    "alignment": res.config.alignment_prompt},
            config=res.config.to_dict(), temporal=dataclasses.asdict(getattr(inv, "temporal", None) or req.temporal),
            cache={"asked": req.cache, "used": inv.store.cache}, setting_origins=req.origins,
            preset=None if req.preset is None else {"name": req.preset.name, "file": str(req.preset.path),
                                                    "index": req.preset.index, "mirrors": list(req.preset.mirrors)},
            reference_config=None if req.ref is None or req.preset is not None else
            {"file": str(req.ref.path), "index": req.ref.index},
            config_file=req.config_file,
            tuning=None if tune_report is None else {"steps": req.tune_steps, "lr": req.tune_lr,
                                                     "seconds": round(tune_report.seconds, 1),
                                                     "first_loss": tune_report.losses[0],
                                                     "last_loss": tune_report.losses[-1]},
            notes=req.notes)

    out = _publish(args.out, write)
    print(f"wrote {out.resolve()}")
    return 0


# ---------------------------------------------------------------------------------------------------- invert
def cmd_invert(args) -> int:
    import torch

    import fatezero_lab as fz
    from fatezero_lab.processors import TemporalConfig

    t0 = time.time()
    parser = args.edit_parser
    if not args.source.strip():
        parser.error("--source is empty; give the caption of the source clip")
    check_video_arg(parser, args.video)
    check_model_arg(parser, args.model)
    check_out_arg(parser, args.out)
    t_changes = _given(args, TemporalConfig, "temporal_")
    if args.no_temporal:
        t_changes["enabled"] = False
    try:
        temporal = dataclasses.replace(TemporalConfig(), **t_changes)
    except (ValueError, TypeError) as e:
        parser.error(f"invalid temporal settings (--temporal-*): {e}")
    pipe = load_model(args.model, args)
    try:
        fz.diffusion.check_prompt(pipe, args.source, "--source")
    except ValueError as e:
        parser.error(str(e))
    req = EditRequest(model=args.model, video=args.video, source=args.source, target=args.source, config=None,
                      temporal=temporal, steps=args.steps, frames=args.frames, size=args.size, seed=args.seed,
                      start=args.start, stride=args.stride, cache=args.cache)
    try:
        frames, stride = _read_frames(req, pipe)
    except (OSError, ValueError) as e:
        parser.error(f"--video: {e}")
    source_fps, output_fps = _rates(frames, args.video, stride)
    output_fps = output_fps or getattr(fz.video, "DEFAULT_FPS", 8.0)
    torch.manual_seed(args.seed)
    inv = fz.invert(pipe, frames, args.source, steps=args.steps, temporal=temporal, record=False)
    rec = fz.reconstruct(pipe, inv)
    psnr = fz.psnr(rec, frames)

    def write(out: Path) -> None:
        torch.save({"latents": inv.latents, "timesteps": inv.timesteps, "prompt": inv.prompt}, out / "inversion.pt")
        fz.video.write(out / "source.mp4", frames, fps=output_fps)
        fz.video.write(out / "reconstruction.mp4", rec, fps=output_fps)
        write_provenance(out, args.argv, t0, model=model_provenance(args.model, pipe, args.revision),
                         frames=int(frames.shape[0]),
                         size=list(frames.shape[1:3]), steps=args.steps, seed=args.seed, source_fps=source_fps,
                         output_fps=output_fps, video=args.video, start=args.start, stride=stride,
                         prompts={"source": args.source}, temporal=dataclasses.asdict(temporal),
                         reconstruction_psnr_db=psnr)

    out = _publish(args.out, write)
    print(f"reconstruction PSNR {psnr:.2f} dB; wrote {out.resolve()}")
    return 0


# ---------------------------------------------------------------------------------------------------- bench
def cmd_bench(args) -> int:
    import fatezero_lab as fz
    from fatezero_lab import bench

    pipe = fz.load_pipeline(args.model)
    cases = bench.SUITE[: args.cases] if args.cases else bench.SUITE
    variants = bench.VARIANTS
    if args.fast:
        frames, steps = 3, 5
        variants = {k: v for k, v in variants.items() if "threshold" not in k}
    else:
        frames, steps = args.frames, args.steps
    t0 = time.time()
    rows = bench.run_suite(pipe, cases, variants, frames=frames, steps=steps, guidance=args.guidance)
    path = bench.write_report(rows, new_output_folder(args.out), time.time() - t0,
                              {"frames": frames, "steps": steps, "guidance": args.guidance, "model": args.model})
    print(path.read_text())
    print(f"wrote {path.parent.resolve()}")
    return 0


# ---------------------------------------------------------------------------------------------------- presets
def cmd_presets(args) -> int:
    import fatezero_lab as fz

    if args.name is None:
        print(fz.presets.list(args.kind))
        print("\nrun one: python -m fatezero_lab edit --preset NAME   (details: python -m fatezero_lab presets NAME)")
        return 0
    try:
        print(fz.presets.load(args.name).summary())
    except ValueError as e:
        args.presets_parser.error(str(e))
    return 0


# ---------------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fatezero_lab`` parser (``edit``'s FateZeroConfig and TemporalConfig flags are generated
    from the dataclass fields)."""
    from fatezero_lab.config import FateZeroConfig
    from fatezero_lab.processors import TemporalConfig

    ap = argparse.ArgumentParser(prog="python -m fatezero_lab", description="FateZero step by step on diffusers.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the main job: a toy-world clip, inverted, reconstructed and edited with FateZero")
    d.add_argument("--model", default="toy")
    d.add_argument("--caption", default="a red circle on grass", help="the source clip's caption")
    d.add_argument("--target", default="a blue circle on grass", help="the target prompt")
    d.add_argument("--blend-words", nargs="*", default=["circle"], help="source words whose mask limits the edit")
    d.add_argument("--reweight", type=float, default=1.0,
                   help="cross-attention multiplier of the target's new words (the reference's eq_params), applied "
                        "inside the cross-attention window (the toy model's default window is 0); 1 = off")
    d.add_argument("--motion", default="left_to_right")
    d.add_argument("--frames", type=_at_least(1), default=8)
    d.add_argument("--steps", type=_at_least(1), default=50)
    d.add_argument("--seed", type=_at_least(0), default=0)
    d.add_argument("--out", default="outputs/demo")
    d.set_defaults(func=cmd_demo)
    for name, fn, text in (("edit", cmd_edit, "invert a clip and edit it with FateZero (a preset, an authors' config "
                                              "or your own clip and prompts)"),
                           ("invert", cmd_invert, "DDIM-invert a clip and reconstruct it")):
        e = sub.add_parser(name, help=text, description=text)
        edit = name == "edit"  # edit may take its prompts, clip and settings from a preset or config instead
        io = e.add_argument_group("clip, prompts, model")
        io.add_argument("--video", required=not edit,
                        help="mp4/gif file, folder of frames, or toy:<caption> for a toy clip"
                             + (" (default: the preset's / config's clip)" if edit else ""))
        io.add_argument("--source", required=not edit, help="the source prompt (the clip's caption)")
        if edit:
            io.add_argument("--target", help="the target prompt")
            src = e.add_argument_group("where the settings come from")
            src.add_argument("--preset", metavar="NAME", default=None,
                             help="one of the paper's examples (python -m fatezero_lab presets lists them): its clip, "
                                  "prompts, knobs, steps, frames and model; flags given here override it")
            src.add_argument("--config", metavar="FILE", default=None,
                             help="our JSON/YAML of FateZeroConfig fields (all or some; e.g. an edit's config.json), "
                                  "or an authors' FateZero YAML (detected by its editing_config/dataset_config)")
            src.add_argument("--reference-config", metavar="FILE", default=None,
                             help="an authors' FateZero YAML config (config/**/*.yaml): its prompts, fusion knobs, "
                                  "temporal attention, steps, guidance, clip and model; flags given here override it")
            src.add_argument("--reference-index", "--config-index", dest="reference_index", metavar="N",
                             type=_at_least(0), default=None,
                             help="which editing_prompts entry of the authors' config (default 0; entry 0 is usually "
                                  "the source prompt itself, i.e. a reconstruction)")
        io.add_argument("--model", default=None if edit else "toy",
                        help="'toy', a pipeline folder or a hub id (default: the preset's / config's model, else toy)")
        io.add_argument("--revision", default=None,
                        help="hub branch, tag or commit of --model (default: main); recorded in provenance.json")
        io.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
        run = e.add_argument_group("frames and steps")
        run.add_argument("--frames", type=_at_least(1), default=None if edit else 8,
                         help="frames to edit (default: the preset's / config's, else 8)")
        run.add_argument("--start", type=_at_least(0), default=None, help="first frame taken (default 0)")
        run.add_argument("--stride", type=_at_least(1), default=None,
                         help="take every N-th frame (default: consecutive, or the config's sampling_rate)")
        run.add_argument("--size", type=_size, default=0,
                         help="frame size, a multiple of 8 (default 0: the model's own, 64 for the toy, 512 for SD)")
        run.add_argument("--steps", type=_at_least(1), default=None if edit else 50,
                         help="DDIM steps of inversion and edit (default: the preset's / config's, else 50)")
        run.add_argument("--seed", type=_at_least(0), default=0)
        run.add_argument("--cache", default="auto", choices=("auto", "maps", "inputs", "recompute"),
                         help="how the inversion keeps the source attention (auto: the fastest that fits in memory)")
        run.add_argument("--out", default=f"outputs/{name}",
                         help="result folder (a new sibling -2, -3 ... when it is not empty)")
        tg = e.add_argument_group("spatial-temporal attention (TemporalConfig; default: the preset's / config's)")
        tg.add_argument("--no-temporal", action="store_true", help="plain per-frame self-attention")
        add_dataclass_flags(tg, TemporalConfig, prefix="temporal-", dest_prefix="temporal_", skip=("enabled",),
                            helps={"reference": "the frames each frame's self-attention reads keys/values from: "
                                                "first, last, mid, previous, self, next, all or int offsets, e.g. "
                                                "'mid' (the paper's configs) or 'first previous' (default)"})
        if edit:
            kg = e.add_argument_group(
                "FateZeroConfig knobs (each field of fatezero_lab.FateZeroConfig; default: the preset's / config's, "
                "else FateZeroConfig's). Windows: 0.6 = [0, 0.6) or 0.1,0.6; lists: words separated by spaces or "
                "commas, no value = empty; 'none' = the model's default")
            e.set_defaults(knob_flags=add_dataclass_flags(kg, FateZeroConfig))
            tu = e.add_argument_group("one-shot tuning (the shape presets' tuned model)")
            tu.add_argument("--tune-steps", type=_at_least(0), default=None,
                            help="tune the model on the clip for N steps before inverting (fatezero_lab.tuning; "
                                 "default: the preset's for shape presets, else 0 = off)")
            tu.add_argument("--tune-lr", type=_positive_float, default=None,
                            help="learning rate of the tuning (default: the preset's, else 1e-4)")
        e.set_defaults(func=fn, edit_parser=e)
    b = sub.add_parser("bench", help="the ground-truth ablation suite (markdown table + JSON)")
    b.add_argument("--model", default="toy")
    b.add_argument("--cases", type=_at_least(0), default=0, help="only the first N cases (0 = all)")
    b.add_argument("--frames", type=_at_least(1), default=8)
    b.add_argument("--steps", type=_at_least(1), default=50)
    b.add_argument("--guidance", type=float, default=7.5)
    b.add_argument("--fast", action="store_true", help="3 frames, 5 steps, no threshold sweep (a smoke run)")
    b.add_argument("--out", default="outputs/bench")
    b.set_defaults(func=cmd_bench)
    p = sub.add_parser("presets", help="list the paper's examples (fz.presets), or show one")
    p.add_argument("name", nargs="?", default=None, help="a preset to describe in full")
    p.add_argument("--kind", choices=("style", "attribute", "shape"), default=None, help="only this kind")
    p.set_defaults(func=cmd_presets, presets_parser=p)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m fatezero_lab`` with ``argv`` (default: the process's arguments); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
