"""Read, sample, resize, write and show video clips.

Frames everywhere in fatezero_lab are float32 arrays of shape ``(frames, height, width, 3)`` in [0, 1] — mediapy's
convention. Files are read and written with imageio (mp4 through the ffmpeg binary that ``imageio-ffmpeg`` bundles,
so no system ffmpeg is needed); notebooks show clips with mediapy.

>>> import numpy as np
>>> clip = np.random.rand(4, 70, 90, 3).astype(np.float32)
>>> prepare(clip, n_frames=2, size=64).shape
(2, 64, 64, 3)
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _use_bundled_ffmpeg() -> None:
    """Point mediapy at imageio-ffmpeg's binary unless a system ffmpeg exists."""
    import mediapy

    try:
        import imageio_ffmpeg

        mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # pragma: no cover - falls back to a system ffmpeg
        pass


def read(path: str | os.PathLike) -> np.ndarray:
    """Read an mp4/gif/other video, a single image, or a folder of frames (sorted by name) -> (F, H, W, 3) float32."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video path {str(p)!r} does not exist")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"folder {str(p)!r} holds no frames; expected images with extensions {IMAGE_EXTENSIONS}")
        frames = [_read_image(f) for f in files]
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise ValueError(f"frames in {str(p)!r} have different sizes: {sorted(shapes)}")
        return np.stack(frames)
    suffix = p.suffix.lower()
    try:
        if suffix in IMAGE_EXTENSIONS:
            return _read_image(p)[None]
        if suffix == ".gif":
            import imageio.v3 as iio

            arr = np.asarray(iio.imread(p, index=None))
            if arr.ndim == 3:
                arr = arr[None]
        elif suffix in VIDEO_EXTENSIONS:
            import imageio.v3 as iio

            arr = np.asarray(iio.imread(p, index=None, plugin="FFMPEG"))  # imageio-ffmpeg's bundled binary
        else:
            raise ValueError(f"unsupported file type {suffix!r} for {str(p)!r}; expected one of "
                             f"{VIDEO_EXTENSIONS + ('.gif',) + IMAGE_EXTENSIONS} or a folder of frames")
    except ValueError:
        raise
    except Exception as e:
        raise ValueError(f"could not read video {str(p)!r}: {type(e).__name__}: {e}") from e
    return _to_float_rgb(arr)


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return _to_float_rgb(np.asarray(im.convert("RGB")))
    except Exception as e:
        raise ValueError(f"could not read image {str(path)!r}: {type(e).__name__}: {e}") from e


def _to_float_rgb(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == arr.shape[-1:].__len__() + 2 and arr.shape[-1] != 3:  # grey frames (F, H, W)
        arr = np.repeat(arr[..., None], 3, axis=-1)
    return np.clip(arr, 0.0, 1.0)


def sample_frames(frames: np.ndarray, n_frames: int, start: int = 0, stride: int | None = None) -> np.ndarray:
    """Take ``n_frames`` frames from ``start``; by default spread them evenly over the rest of the clip."""
    total = len(frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if not 0 <= start < total:
        raise ValueError(f"start={start} is outside the clip's {total} frames")
    if stride is None:
        idx = np.linspace(start, total - 1, n_frames).round().astype(int)
    else:
        idx = start + stride * np.arange(n_frames)
        if idx[-1] >= total:
            raise ValueError(f"{n_frames} frames from {start} with stride {stride} need {idx[-1] + 1} frames; "
                             f"the clip has {total}")
    return frames[idx]


def resize_crop(frames: np.ndarray, size: int | tuple[int, int] = 512) -> np.ndarray:
    """Resize the short side and centre-crop to ``size`` (an int for square, or (height, width)); multiples of 8."""
    import torch
    import torch.nn.functional as F

    h_out, w_out = (size, size) if isinstance(size, int) else size
    if h_out % 8 or w_out % 8 or h_out <= 0 or w_out <= 0:
        raise ValueError(f"size must be positive multiples of 8 (the VAE downsamples by 8), got {(h_out, w_out)}")
    frames = np.asarray(frames, np.float32)
    _, h, w, _ = frames.shape
    scale = max(h_out / h, w_out / w)
    nh, nw = max(h_out, round(h * scale)), max(w_out, round(w * scale))
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)  # (F, 3, H, W)
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (nh - h_out) // 2, (nw - w_out) // 2
    x = x[:, :, top:top + h_out, left:left + w_out]
    return x.permute(0, 2, 3, 1).clamp(0, 1).numpy()


def prepare(frames_or_path, n_frames: int = 8, size: int | tuple[int, int] = 512, start: int = 0) -> np.ndarray:
    """Read (if a path), sample ``n_frames`` and resize/crop to ``size``: a clip ready for :func:`fatezero_lab.invert`."""
    frames = read(frames_or_path) if isinstance(frames_or_path, (str, os.PathLike)) else np.asarray(frames_or_path)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (frames, height, width, 3), got {frames.shape}")
    return resize_crop(sample_frames(frames, n_frames, start=start), size)


def write(path: str | os.PathLike, frames: np.ndarray, fps: float = 8) -> Path:
    """Write an .mp4 or .gif (or a folder of PNGs if ``path`` has no suffix); returns the path."""
    p = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (frames, height, width, 3), got {frames.shape}")
    u8 = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8) if frames.dtype != np.uint8 else frames
    p.parent.mkdir(parents=True, exist_ok=True)
    suffix = p.suffix.lower()
    if suffix == ".gif":
        import imageio.v3 as iio

        iio.imwrite(p, u8, duration=1000.0 / fps, loop=0)
    elif suffix in VIDEO_EXTENSIONS:
        import imageio.v2 as iio2

        # Tiny toy frames are upscaled (nearest) so players show them crisply; H.264 wants sizes divisible by 16.
        scale = max(1, 256 // max(u8.shape[1:3]))
        if scale > 1:
            u8 = u8.repeat(scale, axis=1).repeat(scale, axis=2)
        writer = iio2.get_writer(p, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=16,
                                 ffmpeg_log_level="error")
        try:
            for frame in u8:
                writer.append_data(frame)
        finally:
            writer.close()
    elif suffix == "":
        from PIL import Image

        p.mkdir(parents=True, exist_ok=True)
        for i, fr in enumerate(u8):
            Image.fromarray(fr).save(p / f"{i:04d}.png")
    else:
        raise ValueError(f"unsupported output type {suffix!r}; use .mp4, .gif or a folder path")
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
