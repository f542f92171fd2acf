"""Read, sample, resize, write and show video clips.

Frames everywhere in fatezero_lab are float32 arrays of shape ``(frames, height, width, 3)`` in [0, 1] — mediapy's
convention. Files are read and written through the ffmpeg binary that ``imageio-ffmpeg`` bundles (no system ffmpeg
needed), images and GIFs through Pillow; notebooks show clips with mediapy.

Reading a long clip is cheap in memory: :func:`read` and :func:`prepare` decode only the frames they keep (ffmpeg
drops the others before they reach Python), so eight frames of a 20 s 1080p phone video cost eight frames, not the
15 GB the whole clip would take as float32 (``benchmarks/video_memory.py`` measures it). By default they take
*consecutive* frames (the paper's ``sampling_rate: 1``); ``start`` and ``stride`` pick others. What they return is a
:class:`Frames` array that remembers the frame rate, so :func:`write` plays the result back at the source's speed.

>>> import numpy as np
>>> clip = np.random.rand(4, 70, 90, 3).astype(np.float32)
>>> prepare(clip, n_frames=2, size=64).shape
(2, 64, 64, 3)
>>> prepare(clip, n_frames=2, size=(64, 96), fit="pad").shape
(2, 64, 96, 3)
>>> fit_size(1920, 1080, short_side=512, multiple_of=64)   # a portrait phone clip, SD-friendly size
(896, 512)
"""

from __future__ import annotations

import base64
import functools
import io
import math
import numbers
import os
import re
from pathlib import Path

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
FITS = ("crop", "pad", "resize")
DEFAULT_FPS = 8.0  # what write() uses when neither the call nor the frames say


def _use_bundled_ffmpeg() -> None:
    """Point mediapy at imageio-ffmpeg's binary unless a system ffmpeg exists."""
    import mediapy

    try:
        import imageio_ffmpeg

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # pragma: no cover - falls back to a system ffmpeg
        pass


# ------------------------------------------------------------------------------------------------------------ Frames
class Frames(np.ndarray):
    """A clip's frames: a plain ``(F, H, W, 3)`` ndarray that also carries its frame rate.

    ``fps`` is the rate to play these frames at so that they last as long as in the source (the source's rate divided
    by the stride; None when the source has none, e.g. a folder of images); ``source_fps`` is the source's own rate.
    Slices, copies and ``astype`` keep both (a slice with a step does not rescale ``fps``); arithmetic results are
    plain ndarrays and reductions plain scalars, so nothing downstream sees an unusual type.
    """

    def __new__(cls, array, fps: float | None = None, source_fps: float | None = None):
        obj = np.asarray(array).view(cls)
        obj.fps, obj.source_fps = fps, source_fps
        return obj

    def __array_finalize__(self, obj) -> None:
        self.fps = getattr(obj, "fps", None)
        self.source_fps = getattr(obj, "source_fps", None)

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        arr = np.asarray(arr)  # ufunc and reduction results drop the clip metadata
        return arr[()] if return_scalar or arr.ndim == 0 else arr

    def __reduce__(self):
        fn, args, state = super().__reduce__()
        return fn, args, (state, self.fps, self.source_fps)

    def __setstate__(self, state) -> None:
        base, self.fps, self.source_fps = state
        super().__setstate__(base)


def _playback_fps(source_fps: float | None, idx: np.ndarray) -> float | None:
    """The rate at which frames ``idx`` of a ``source_fps`` clip last as long as in the source (source / stride)."""
    if not source_fps:
        return None
    if len(idx) < 2 or idx[-1] == idx[0]:
        return float(source_fps)
    return float(source_fps) * (len(idx) - 1) / float(idx[-1] - idx[0])


# --------------------------------------------------------------------------------------------------------- selection
def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_selection(n_frames, start, stride, allow_spread: bool = True) -> tuple[int | None, int, int | None]:
    """Validate the frame-selection arguments (before any file is touched); returns them as Python ints."""
    if n_frames is not None and (not _is_int(n_frames) or n_frames < 1):
        raise ValueError(f"n_frames must be a positive int (or None for every frame from start), got {n_frames!r}")
    if not _is_int(start) or start < 0:
        raise ValueError(f"start must be a frame index >= 0, got {start!r}")
    if stride is None:
        if not allow_spread:
            raise ValueError("stride must be a positive int here, got None")
        if n_frames is None:
            raise ValueError("stride=None spreads n_frames evenly over the clip, so n_frames must be given")
    elif not _is_int(stride) or stride < 1:
        raise ValueError(f"stride must be a positive int (1 = consecutive frames; None = spread n_frames evenly "
                         f"over the clip), got {stride!r}")
    return (None if n_frames is None else int(n_frames)), int(start), (None if stride is None else int(stride))


def frame_indices(total: int, n_frames: int | None = None, start: int = 0, stride: int | None = 1,
                  what: str = "the clip") -> np.ndarray:
    """Indices of the frames to keep from a clip of ``total`` frames.

    ``start, start + stride, ...`` (``n_frames`` of them, or up to the end when ``n_frames`` is None); with
    ``stride=None`` the ``n_frames`` are spread evenly from ``start`` to the last frame. Raises ValueError, saying
    how many frames the request needs, when the clip is too short.
    """
    n_frames, start, stride = _check_selection(n_frames, start, stride)
    if start >= total:
        raise ValueError(f"start={start} is outside {what}, which has {total} frames")
    if stride is None:
        return np.linspace(start, total - 1, n_frames).round().astype(int)  # (n_frames,)
    if n_frames is None:
        return np.arange(start, total, stride)  # (ceil((total - start) / stride),)
    idx = start + stride * np.arange(n_frames)  # (n_frames,)
    if idx[-1] >= total:
        raise ValueError(f"{n_frames} frames from start={start} with stride={stride} need {idx[-1] + 1} frames; "
                         f"{what} has {total}. Lower n_frames, start or stride")
    return idx


def sample_frames(frames: np.ndarray, n_frames: int | None, start: int = 0, stride: int | None = 1) -> np.ndarray:
    """Take ``n_frames`` frames from ``start``: consecutive by default, every ``stride``-th, or (``stride=None``)
    spread evenly over the rest of the clip. A :class:`Frames` input keeps its rate, rescaled by the stride."""
    if np.ndim(frames) < 1:
        raise ValueError(f"frames must be a clip (frames, height, width, 3), got shape {np.shape(frames)}")
    idx = frame_indices(len(frames), n_frames, start, stride)
    out = frames[idx]  # (n, H, W, 3)
    if isinstance(frames, Frames):
        out = Frames(out, _playback_fps(frames.fps, idx), frames.source_fps)
    return out


# ------------------------------------------------------------------------------------------------------------ reading
def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"video path {str(p)!r} does not exist")
    if p.is_file() and p.suffix.lower() not in VIDEO_EXTENSIONS + (".gif",) + IMAGE_EXTENSIONS:
        raise ValueError(f"unsupported file type {p.suffix.lower()!r} for {str(p)!r}; expected one of "
                         f"{VIDEO_EXTENSIONS + ('.gif',) + IMAGE_EXTENSIONS} or a folder of frames")
    return p


def _natural_key(path: Path):
    """Sort key that puts frame2.png before frame10.png (zero-padded names sort as before)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder of frames, in natural name order (``f2.png`` before ``f10.png``)."""
    folder = Path(folder)
    files = sorted((f for f in folder.iterdir()
                    if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".")),
                   key=_natural_key)
    if not files:
        raise ValueError(f"folder {str(folder)!r} holds no frames; expected images with extensions {IMAGE_EXTENSIONS}")
    return files


def _read_image_u8(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))  # (H, W, 3) uint8
    except Exception as e:
        raise ValueError(f"could not read image {str(path)!r}: {type(e).__name__}: {e}") from e


@functools.cache
def _passthrough_args() -> tuple[str, ...]:
    """ffmpeg options that pass the selected frames through as they are (no duplicated or dropped frames)."""
    import imageio_ffmpeg

    m = re.match(r"\D*(\d+)\.", imageio_ffmpeg.get_ffmpeg_version())
    return ("-vsync", "0") if m and int(m.group(1)) < 5 else ("-fps_mode", "passthrough")


def _video_meta(p: Path) -> dict:
    """ffmpeg's header of a video file (fps, size (w, h) after rotation, duration) without decoding frames."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(p))
    try:
        return next(gen)
    except Exception as e:
        raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
    finally:
        gen.close()


def _read_video_u8(p: Path, n_frames, start, stride) -> tuple[np.ndarray, float | None, np.ndarray]:
    """Decode only the selected frames of a video: ffmpeg's ``select`` filter drops the rest before the pipe."""
    import imageio_ffmpeg

    if stride is None:  # spread evenly: the exact frame count first (ffmpeg decodes to a null sink)
        try:
            total, _ = imageio_ffmpeg.count_frames_and_secs(str(p))
        except Exception as e:
            raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
        wanted = frame_indices(total, n_frames, start, None, what=f"video {str(p)!r}")  # (n,), may repeat
        unique = np.unique(wanted)  # ascending, as ffmpeg delivers them
        expr, n_frames = "+".join(f"eq(n,{i})" for i in unique), len(unique)
    elif start == 0 and stride == 1:
        expr = f"lte(n,{n_frames - 1})" if n_frames else None
    else:
        expr = f"gte(n,{start})*not(mod(n-{start},{stride}))" + (f"*lte(n,{start + stride * (n_frames - 1)})"
                                                                 if n_frames else "")
    params = ["-vf", f"select='{expr}'", *_passthrough_args()] if expr else []
    if n_frames:
        params += ["-frames:v", str(n_frames)]  # ffmpeg stops by itself after the last kept frame
    gen = imageio_ffmpeg.read_frames(str(p), output_params=params)
    kept: list[np.ndarray] = []
    try:
        try:
            meta = next(gen)
        except Exception as e:
            raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
        w, h = meta["size"]
        out = np.empty((n_frames, h, w, 3), np.uint8) if n_frames else None  # (n, H, W, 3) when the count is known
        got = 0
        try:
            for raw in gen:
                frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3)  # (H, W, 3)
                if out is not None:
                    out[got] = frame
                else:
                    kept.append(frame)
                got += 1
                if n_frames and got == n_frames:
                    break
        except Exception as e:
            raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
    finally:
        gen.close()  # stops ffmpeg: nothing after the last kept frame is decoded
    src_fps = float(meta.get("fps") or 0) or None
    if n_frames and got < n_frames:
        dur, est = meta.get("duration"), ""
        if src_fps and dur and math.isfinite(dur):
            est = f" (it holds about {round(dur * src_fps)} frames: {dur:.2f} s at {src_fps:g} fps)"
        step = "spread evenly" if stride is None else f"start={start}, stride={stride}"
        raise ValueError(f"video {str(p)!r} gave {got} of the n_frames={n_frames} frames asked for ({step})"
                         f"{est}. Lower n_frames, start or stride")
    if out is None:
        if not kept:
            raise ValueError(f"video {str(p)!r} has no frames from start={start}")
        out = np.stack(kept)  # (F, H, W, 3)
    if stride is None:  # back to the requested order, repeats included
        return out[np.searchsorted(unique, wanted)], src_fps, wanted
    return out, src_fps, start + stride * np.arange(len(out))


def _read_gif_u8(p: Path, n_frames, start, stride) -> tuple[np.ndarray, float | None, np.ndarray]:
    from PIL import Image

    try:
        with Image.open(p) as im:
            total = getattr(im, "n_frames", 1)
            duration = im.info.get("duration")
            idx = frame_indices(total, n_frames, start, stride, what=f"GIF {str(p)!r}")
            frames = []
            for i in idx:  # ascending: Pillow seeks forward frame by frame
                im.seek(int(i))
                frames.append(np.asarray(im.convert("RGB")))  # (H, W, 3) uint8
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
    src_fps = 1000.0 / duration if duration else None
    return np.stack(frames), src_fps, idx  # (n, H, W, 3)


def _read_u8(p: Path, n_frames, start, stride) -> tuple[np.ndarray, float | None, np.ndarray]:
    """The selected frames of a checked path as uint8 ``(n, H, W, 3)``, the source fps and the frame indices."""
    if p.is_dir():
        files = frame_files(p)
        idx = frame_indices(len(files), n_frames, start, stride, what=f"folder {str(p)!r}")
        frames = [_read_image_u8(files[i]) for i in idx]  # only the kept files are opened
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"frames in {str(p)!r} have different sizes: {sorted(shapes)}")
        return np.stack(frames), None, idx  # (n, H, W, 3)
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        idx = frame_indices(1, n_frames, start, stride, what=f"image {str(p)!r}")
        return _read_image_u8(p)[None], None, idx  # (1, H, W, 3)
    if suffix == ".gif":
        return _read_gif_u8(p, n_frames, start, stride)
    return _read_video_u8(p, n_frames, start, stride)


def _u8_to_float(u8: np.ndarray) -> np.ndarray:
    return np.divide(u8, np.float32(255), dtype=np.float32)  # one float32 copy, values in [0, 1]


def read(path: str | os.PathLike, n_frames: int | None = None, start: int = 0, stride: int | None = 1) -> Frames:
    """Read a video (mp4/mov/...), a GIF, one image or a folder of frames -> :class:`Frames` ``(n, H, W, 3)`` float32.

    Only the frames kept are decoded into memory: ``start, start + stride, ...``, ``n_frames`` of them (every frame
    to the end when ``n_frames`` is None, the default); ``stride=None`` spreads ``n_frames`` evenly over the clip
    (a video is then decoded twice: once to count). The result's ``fps`` is the source's rate divided by the stride
    (None for images), ``source_fps`` the source's own. Folders are read in natural name order.
    """
    n_frames, start, stride = _check_selection(n_frames, start, stride)
    p = _check_path(path)
    u8, src_fps, idx = _read_u8(p, n_frames, start, stride)  # (n, H, W, 3) uint8
    return Frames(_u8_to_float(u8), _playback_fps(src_fps, idx), src_fps)


def fps(path: str | os.PathLike) -> float | None:
    """The frame rate of a video or GIF file, read from its header; None for an image or a folder of frames."""
    p = _check_path(path)
    if p.is_dir() or p.suffix.lower() in IMAGE_EXTENSIONS:
        return None
    if p.suffix.lower() == ".gif":
        from PIL import Image

        try:
            with Image.open(p) as im:
                duration = im.info.get("duration")
        except Exception as e:
            raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
        return 1000.0 / duration if duration else None
    return float(_video_meta(p).get("fps") or 0) or None


def _to_float_rgb(arr: np.ndarray) -> np.ndarray:
    """An in-memory clip as float32 in [0, 1] (uint8 is scaled by 1/255)."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        return _u8_to_float(arr)
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------- resizing
def fit_size(height: int, width: int, short_side: int = 512, multiple_of: int = 8) -> tuple[int, int]:
    """The output size that keeps a ``height`` x ``width`` source's aspect ratio: short side ``short_side``, long side
    rounded to the nearest multiple of ``multiple_of`` (8 for the VAE's latents, 64 for sizes SD handles well)."""
    for name, v in (("height", height), ("width", width), ("short_side", short_side), ("multiple_of", multiple_of)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if short_side % multiple_of:
        raise ValueError(f"short_side={short_side} must be a multiple of multiple_of={multiple_of}")
    long_src, short_src = max(height, width), min(height, width)
    long_out = max(multiple_of, round(long_src * short_side / short_src / multiple_of) * multiple_of)
    return (short_side, long_out) if height <= width else (long_out, short_side)


def _check_size(size, multiple_of: int) -> tuple[int, int] | None:
    """``size`` as (height, width), or None (keep the source's aspect ratio); errors name what is wrong."""
    if not _is_int(multiple_of) or multiple_of < 1:
        raise ValueError(f"multiple_of must be a positive int (8 for the VAE's latents, 64 for SD-friendly sizes), "
                         f"got {multiple_of!r}")
    if size is None:
        return None
    if _is_int(size):
        hw = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(_is_int(s) for s in size):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be an int (square), a (height, width) pair of ints, or None (the source's "
                         f"aspect ratio, short side short_side), got {size!r}")
    if min(hw) <= 0 or hw[0] % multiple_of or hw[1] % multiple_of:
        near = tuple(max(multiple_of, round(s / multiple_of) * multiple_of) for s in hw)
        raise ValueError(f"size must be positive multiples of {multiple_of} (multiple_of={multiple_of}; the VAE "
                         f"downsamples by 8), got {hw}; the nearest valid size is {near}")
    return hw


def _check_fit(fit: str, pad_value) -> None:
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS} (crop: fill and cut the overflow; pad: fit inside and pad; "
                         f"resize: stretch), got {fit!r}")
    if not isinstance(pad_value, numbers.Real) or isinstance(pad_value, bool) or not 0.0 <= pad_value <= 1.0:
        raise ValueError(f"pad_value must be a number in [0, 1] (the colour of the padding), got {pad_value!r}")


def resize_to(frames: np.ndarray, size: int | tuple[int, int] | None = 512, fit: str = "crop",
              multiple_of: int = 8, short_side: int = 512, pad_value: float = 0.0) -> np.ndarray:
    """Bring a clip ``(F, H, W, 3)`` (float in [0, 1], or uint8) to ``size`` -> ``(F, h, w, 3)`` float32.

    ``size``: an int (square), ``(height, width)``, or None for the source's aspect ratio with short side
    ``short_side`` (:func:`fit_size`); each side must be a multiple of ``multiple_of``. ``fit``: ``"crop"`` scales
    to cover the size and centre-crops the overflow (the paper's loader), ``"pad"`` scales to fit inside and pads
    with ``pad_value``, ``"resize"`` stretches to the size. Frames are resized one at a time, so the float copy of
    the whole full-resolution clip is never made.
    """
    hw = _check_size(size, multiple_of)
    _check_fit(fit, pad_value)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (frames, height, width, 3), got {frames.shape}")
    import torch
    import torch.nn.functional as F

    n, h, w, _ = frames.shape
    h_out, w_out = hw if hw is not None else fit_size(h, w, short_side, multiple_of)
    if fit == "resize":
        nh, nw = h_out, w_out
    elif fit == "crop":
        scale = max(h_out / h, w_out / w)
        nh, nw = max(h_out, round(h * scale)), max(w_out, round(w * scale))
    else:  # pad
        scale = min(h_out / h, w_out / w)
        nh, nw = min(h_out, max(1, round(h * scale))), min(w_out, max(1, round(w * scale)))
    out = np.full((n, h_out, w_out, 3), pad_value, np.float32)  # (F, h_out, w_out, 3)
    for i in range(n):
        x = torch.from_numpy(_to_float_rgb(frames[i])).permute(2, 0, 1)[None]  # (1, 3, H, W)
        if (nh, nw) != (h, w):
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)  # (1, 3, nh, nw)
        x = x[0].permute(1, 2, 0).clamp(0, 1).numpy()  # (nh, nw, 3)
        if fit == "pad":
            top, left = (h_out - nh) // 2, (w_out - nw) // 2
            out[i, top:top + nh, left:left + nw] = x
        else:
            top, left = (nh - h_out) // 2, (nw - w_out) // 2
            out[i] = x[top:top + h_out, left:left + w_out]
    return out


def resize_crop(frames: np.ndarray, size: int | tuple[int, int] = 512) -> np.ndarray:
    """Resize the short side and centre-crop to ``size`` (an int for square, or (height, width)); multiples of 8."""
    return resize_to(frames, size, fit="crop", multiple_of=8)


def prepare(frames_or_path, n_frames: int | None = 8, size: int | tuple[int, int] | None = 512, start: int = 0,
            stride: int | None = 1, fit: str = "crop", multiple_of: int = 8, short_side: int = 512,
            pad_value: float = 0.0) -> Frames:
    """Read (if a path), select frames and bring them to ``size``: a clip ready for :func:`fatezero_lab.invert`.

    Frames: ``n_frames`` consecutive frames from ``start`` by default (the paper's ``sampling_rate: 1``), every
    ``stride``-th with ``stride``, spread evenly over the clip with ``stride=None``; from a file only those frames
    are decoded. Size: ``size`` (int, ``(height, width)``, or None for the source's aspect ratio with short side
    ``short_side``), sides multiples of ``multiple_of``, reached by ``fit`` = ``"crop"`` / ``"pad"`` / ``"resize"``
    (see :func:`resize_to`). Returns :class:`Frames` ``(n, h, w, 3)`` float32 whose ``fps`` keeps the source's
    speed (pass it to :func:`write`, which uses it by default).
    """
    n_frames, start, stride = _check_selection(n_frames, start, stride)
    _check_size(size, multiple_of)
    _check_fit(fit, pad_value)
    if size is None and (not _is_int(short_side) or short_side < 1 or short_side % multiple_of):
        raise ValueError(f"short_side must be a positive multiple of multiple_of={multiple_of}, got {short_side!r}")
    if isinstance(frames_or_path, (str, os.PathLike)):
        p = _check_path(frames_or_path)
        selected, src_fps, idx = _read_u8(p, n_frames, start, stride)  # (n, H, W, 3) uint8
    else:
        arr = np.asarray(frames_or_path)
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"frames must have shape (frames, height, width, 3), got {arr.shape}")
        idx = frame_indices(len(arr), n_frames, start, stride)
        selected, src_fps = arr[idx], getattr(frames_or_path, "fps", None)  # (n, H, W, 3)
    out = resize_to(selected, size, fit=fit, multiple_of=multiple_of, short_side=short_side,
                    pad_value=pad_value)  # (n, h, w, 3)
    return Frames(out, _playback_fps(src_fps, idx), getattr(frames_or_path, "source_fps", None) or src_fps)


# ------------------------------------------------------------------------------------------------------------ writing
def _tmp_sibling(p: Path) -> Path:
    return p.with_name(f".{p.stem}.{os.getpid()}.tmp{p.suffix}")


def write(path: str | os.PathLike, frames: np.ndarray, fps: float | None = None) -> Path:
    """Write an .mp4 (or .mov/.mkv/...) or .gif, or a folder of PNGs if ``path`` has no suffix; returns the path.

    ``fps`` defaults to the frames' own (:class:`Frames` from :func:`read` / :func:`prepare` keep the source's), else
    8. Files appear under their final name only once complete (written to a temporary name, then renamed).
    """
    p = Path(path)
    frames_fps = getattr(frames, "fps", None)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (frames, height, width, 3), got {frames.shape}")
    if fps is None:
        fps = frames_fps or DEFAULT_FPS
    if not isinstance(fps, numbers.Real) or isinstance(fps, bool) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    suffix = p.suffix.lower()
    if suffix not in ("", ".gif") + VIDEO_EXTENSIONS:
        raise ValueError(f"unsupported output type {suffix!r}; use .mp4, .gif or a folder path")
    u8 = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8) if frames.dtype != np.uint8 else frames
    p.parent.mkdir(parents=True, exist_ok=True)
    if suffix == "":
        from PIL import Image

        p.mkdir(parents=True, exist_ok=True)
        for i, fr in enumerate(u8):
            final = p / f"{i:04d}.png"
            tmp = _tmp_sibling(final)
            try:
                Image.fromarray(fr).save(tmp, format="PNG")
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
        return p
    tmp = _tmp_sibling(p)
    try:
        if suffix == ".gif":
            import imageio.v3 as iio

            iio.imwrite(tmp, u8, extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            import imageio.v2 as iio2

            # Tiny toy frames are upscaled (nearest) so players show them crisply; H.264 wants sizes divisible by 16.
            scale = max(1, 256 // max(u8.shape[1:3]))
            if scale > 1:
                u8 = u8.repeat(scale, axis=1).repeat(scale, axis=2)
            writer = iio2.get_writer(tmp, format="FFMPEG", fps=float(fps), codec="libx264", quality=8,
                                     macro_block_size=16, ffmpeg_log_level="error")
            try:
                for frame in u8:
                    writer.append_data(frame)
            finally:
                writer.close()
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p



def strip(frames: np.ndarray, gap: int = 2) -> np.ndarray:
    """Frames side by side in one image (H, F*W + gaps, 3), white gaps."""
    frames = np.asarray(frames, np.float32)
    f, h, w, c = frames.shape
    out = np.ones((h, f * w + (f - 1) * gap, c), np.float32)
    for i in range(f):
        out[:, i * (w + gap):i * (w + gap) + w] = frames[i]
    return out


def grid(rows: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Several clips (same shape) as rows of strips -> one image."""
    strips = [strip(r, gap) for r in rows]
    h, w, c = strips[0].shape
    out = np.ones((len(strips) * h + (len(strips) - 1) * gap, w, c), np.float32)
    for i, s in enumerate(strips):
        out[i * (h + gap):i * (h + gap) + h] = s
    return out


def save_png(path: str | os.PathLike, image: np.ndarray, scale: int = 1) -> Path:
    """Save an (H, W, 3) float image as PNG, optionally upscaled by an integer factor (nearest)."""
    from PIL import Image

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    u8 = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    if scale > 1:
        u8 = u8.repeat(scale, axis=0).repeat(scale, axis=1)
    Image.fromarray(u8).save(p)
    return p


def strip_html(frames: np.ndarray, title: str = "", scale: int = 2) -> str:
    """An inline HTML <img> of the frame strip (used by ``_repr_html_``)."""
    from PIL import Image

    u8 = (np.clip(strip(frames), 0, 1) * 255).round().astype(np.uint8)
    img = Image.fromarray(u8).resize((u8.shape[1] * scale, u8.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<div><code>{title}</code><br><img src="data:image/png;base64,{data}" style="image-rendering:pixelated"></div>'


def show(clips: dict[str, np.ndarray] | np.ndarray, fps: float = 4, height: int = 192, **kwargs) -> None:
    """Show one clip or a dict of titled clips inline in a notebook (mediapy videos, looping)."""
    import mediapy

    _use_bundled_ffmpeg()
    if isinstance(clips, dict):
        mediapy.show_videos({k: np.asarray(v) for k, v in clips.items()}, fps=fps, height=height, codec="gif", **kwargs)
    else:
        mediapy.show_video(np.asarray(clips), fps=fps, height=height, codec="gif", **kwargs)
