"""Real sample clips: a small manifest (``fatezero_lab/clips.json``, linked from ``data/clips.json``) and a download-and-cache helper.

>>> from fatezero_lab import data
>>> data.list_clips()
['blackswan', 'car-turn', 'bear', 'flamingo', 'mallard-water']
>>> data.clip_info("blackswan")["source_prompt"]
'a black swan swimming in a pond'
>>> frames = data.fetch("blackswan", n_frames=8, size=512)   # (8, 512, 512, 3) float32 in [0, 1]

``fetch`` downloads the clip's source once (a video file, or a zip archive from which it extracts the clip's frame
folder), keeps it in a cache folder and returns frames prepared by :func:`fatezero_lab.video.prepare`. Later calls
read the cache and never touch the network. The cache folder is ``~/.cache/fatezero_lab/clips`` unless the
environment variable ``FATEZERO_LAB_CACHE`` (or the ``cache_dir`` argument) says otherwise; its layout is::

    <cache>/<name>/              the clip's frames (00000.jpg, ...) or its one video file, plus SOURCE.txt
    <cache>/_downloads/<file>    the downloaded file (kept so other clips from the same archive need no download)

Nothing half-written is ever left under a final name: downloads go to a ``.part`` file and extraction to a
temporary folder, each renamed into place only once complete.

Your own clip needs none of this: ``fz.video.prepare("my_clip.mp4", n_frames=8, size=512)``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import video

CACHE_ENV = "FATEZERO_LAB_CACHE"
MANIFEST_ENV = "FATEZERO_LAB_MANIFEST"
DEFAULT_CACHE = Path("~/.cache/fatezero_lab/clips")
TIMEOUT_S = 60.0
CHUNK = 1 << 20

# The manifest ships inside the package (package data), so a wheel or git-URL install has it too.
PACKAGED_MANIFEST = Path(__file__).resolve().parent / "clips.json"


class ClipDownloadError(RuntimeError):
    """The clip is not cached and could not be downloaded (offline, URL gone, or a broken download)."""


# ----------------------------------------------------------------------------------------------------------- manifest
def manifest_path() -> Path:
    """Where the manifest is read from: ``$FATEZERO_LAB_MANIFEST``, else the copy shipped in the package."""
    env = os.environ.get(MANIFEST_ENV)
    return Path(env).expanduser() if env else PACKAGED_MANIFEST


def load_manifest() -> dict:
    """The parsed manifest: ``{"schema": 1, "clips": [{"name", "url", "licence", "frames", ...}, ...]}``."""
    path = manifest_path()
    if not path.exists():
        raise FileNotFoundError(
            f"the clip manifest {str(path)!r} does not exist. It ships as package data (fatezero_lab/clips.json): "
            f"reinstall the package, or point ${MANIFEST_ENV} at a copy of it. Your own clip needs no "
            f"manifest: fatezero_lab.video.prepare('my_clip.mp4', n_frames=8, size=512)")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("clips"), list):
        raise ValueError(f"{str(path)!r} is not a clip manifest: expected an object with a 'clips' list")
    return manifest


def list_clips() -> list[str]:
    """Names of the clips in the manifest, in manifest order."""
    return [c["name"] for c in load_manifest()["clips"]]


def clip_info(name: str) -> dict:
    """The manifest entry of one clip (url, licence, frame range, source prompt, target prompts, blend words)."""
    clips = {c["name"]: c for c in load_manifest()["clips"]}
    if name not in clips:
        raise KeyError(f"unknown clip {name!r}; valid names: {', '.join(clips)}. "
                       f"For your own clip use fatezero_lab.video.prepare(path, n_frames=8, size=512)")
    return dict(clips[name])


# -------------------------------------------------------------------------------------------------------------- cache
def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: the argument, else ``$FATEZERO_LAB_CACHE``, else ``~/.cache/fatezero_lab/clips``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()


def clip_dir(name: str, cache: str | os.PathLike | None = None) -> Path:
    """The folder where clip ``name`` is (or will be) cached."""
    return cache_root(cache) / name


def download_path(url: str, cache: str | os.PathLike | None = None) -> Path:
    """Where the file behind ``url`` is (or will be) kept in the cache."""
    return cache_root(cache) / "_downloads" / _url_filename(url)


def is_cached(name: str, cache: str | os.PathLike | None = None) -> bool:
    d = clip_dir(name, cache)
    return d.is_dir() and bool(_media_files(d))


# -------------------------------------------------------------------------------------------------------------- fetch
def fetch(name: str, cache_dir: str | os.PathLike | None = None, n_frames: int = 8,
          size: int | tuple[int, int] = 512) -> np.ndarray:
    """Clip ``name`` as ``(n_frames, size, size, 3)`` float32 frames, downloading and caching it on first use.

    The manifest's frame range (``frames: {start, stop, stride}``) picks the frames; ``n_frames`` are spread evenly
    over them (over every frame of the range when the stride leaves too few), then resized and centre-cropped to
    ``size`` by :func:`fatezero_lab.video.prepare`.
    """
    info = clip_info(name)
    if not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
    folder = clip_dir(name, cache_dir)
    if not is_cached(name, cache_dir):
        _download_clip(info, cache_dir)
    return video.prepare(_read_range(folder, info, n_frames), n_frames=n_frames, size=size)


def _download_clip(info: dict, cache: str | os.PathLike | None) -> Path:
    name, url = info["name"], info["url"]
    final = clip_dir(name, cache)
    if final.exists():  # an empty or foreign folder under the clip's name: refuse rather than mix files
        raise ClipDownloadError(f"{str(final)!r} exists but holds no frames or video; remove it and call fetch again")
    archive = download_path(url, cache)
    if not archive.exists():
        _download(url, archive, name, info.get("member"), cache)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=final.parent))
    try:
        if info.get("member"):
            _extract_member(archive, info["member"], tmp)
        else:
            shutil.copyfile(archive, tmp / archive.name)
        (tmp / "SOURCE.txt").write_text(f"clip: {name}\nurl: {url}\nmember: {info.get('member', '')}\n"
                                        f"licence: {info.get('licence', '')}\n", encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:
            if not is_cached(name, cache):  # another process may have put the same clip in place meanwhile
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _download(url: str, dest: Path, name: str, member: str | None, cache) -> None:
    """Stream ``url`` into ``dest`` through a ``.part`` file, renamed only when complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "fatezero-lab"})
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp, open(part, "wb") as out:
            expected = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
            total = int(expected) if expected and expected.isdigit() else None
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}") as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
        if total is not None and done != total:
            raise ClipDownloadError(f"the download of {url} stopped after {done} of {total} bytes; call fetch again")
        if dest.suffix.lower() == ".zip" and not zipfile.is_zipfile(part):
            raise ClipDownloadError(f"{url} did not return a zip archive (a moved URL or an error page?)")
        os.replace(part, dest)
    except ClipDownloadError as e:
        raise ClipDownloadError(f"{e}\n{_what_to_do(name, url, dest, member, cache)}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise ClipDownloadError(f"could not download clip {name!r} from {url}: {type(e).__name__}: {reason}\n"
                                f"{_what_to_do(name, url, dest, member, cache)}") from e
    finally:
        if part.exists():
            part.unlink()


def _what_to_do(name: str, url: str, dest: Path, member: str | None, cache) -> str:
    lines = ["What to do:",
             f"  - on a machine with internet access, download {url} by hand and put the file at {dest} "
             f"(fetch({name!r}) then uses it without the network);"]
    if member:
        lines.append(f"  - or copy the frames of the archive's folder '{member}' into {clip_dir(name, cache)}/ ;")
    lines.append("  - or use your own clip (mp4, gif or a folder of frames): "
                 "fatezero_lab.video.prepare('my_clip.mp4', n_frames=8, size=512).")
    return "\n".join(lines)


def _extract_member(archive: Path, member: str, out: Path) -> None:
    """Copy the files of folder ``member`` (matched at any depth, e.g. ``DAVIS/JPEGImages/...``) into ``out``."""
    key = "/" + member.strip("/") + "/"
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and key in "/" + i.filename
                     and "/" not in ("/" + i.filename).split(key, 1)[1]]
            if not infos:
                raise ClipDownloadError(f"the archive {str(archive)!r} holds no folder '{member}'")
            for i in infos:
                target = out / Path(i.filename).name  # flat: a member name can never escape ``out``
                with zf.open(i) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as e:
        raise ClipDownloadError(f"{str(archive)!r} is not a valid zip ({e}); delete it and call fetch again") from e


def _read_range(folder: Path, info: dict, n_frames: int) -> np.ndarray:
    """Read the manifest's frame range from the cached folder (frame files, or one video file)."""
    files = _media_files(folder)
    rng = info.get("frames") or {}
    start, stop, stride = rng.get("start", 0), rng.get("stop"), rng.get("stride", 1)
    images = [f for f in files if f.suffix.lower() in video.IMAGE_EXTENSIONS]
    items = images if images else video.read(files[0])  # frame paths, or the decoded video's frames
    chosen = items[start:stop:stride]
    if len(chosen) < n_frames:  # the stride leaves too few: use every frame of the range
        chosen = items[start:stop]
    if len(chosen) < n_frames:
        raise ValueError(f"clip {info['name']!r} has {len(chosen)} frames in its range; asked for {n_frames}")
    if not images:
        return chosen
    idx = np.linspace(0, len(chosen) - 1, n_frames).round().astype(int)
    return np.concatenate([video.read(chosen[i]) for i in idx])


def _media_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    ok = video.IMAGE_EXTENSIONS + video.VIDEO_EXTENSIONS + (".gif",)
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in ok)


def _url_filename(url: str) -> str:
    from urllib.parse import unquote, urlparse

    base = Path(unquote(urlparse(url).path)).name
    return base or "download"
