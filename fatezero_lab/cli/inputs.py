"""Checks of the command line's files and names before anything is loaded (a bad one exits 2 naming its flag), and
the model loader with ``--device`` / ``--revision``."""

from __future__ import annotations

import inspect
import os
from pathlib import Path


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


def frame_files(folder: str) -> list[Path]:
    from fatezero_lab.video import IMAGE_EXTENSIONS

    return [f for f in Path(folder).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS]


def load_model(name: str, args):
    """``fz.load_pipeline(name)`` with the --device and --revision flags (revision only where the loader takes it)."""
    import fatezero_lab as fz

    kwargs = {"device": getattr(args, "device", None)}
    if getattr(args, "revision", None):
        if "revision" not in inspect.signature(fz.models.load_pipeline).parameters:
            args.edit_parser.error("--revision: this fatezero_lab's loader cannot pick a hub revision")
        kwargs["revision"] = args.revision
    return fz.load_pipeline(name, **kwargs)

