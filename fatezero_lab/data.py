"""Real sample clips: a small manifest (``fatezero_lab/clips.json``, linked from ``data/clips.json``) and a download-and-cache helper.

>>> from fatezero_lab import data
>>> data.list_clips()[:6]
['car-turn', 'blackswan', 'car-turn-davis', 'bear', 'flamingo', 'mallard-water']
>>> data.clip_info("car-turn")["source_prompt"]
'a silver jeep driving down a curvy road in the countryside'
>>> frames = data.fetch("car-turn", size=512)   # (8, 512, 512, 3) float32 in [0, 1]: the paper's teaser frames

``car-turn`` is the paper's teaser: the 8 frames the FateZero authors ship in their public repository
(ChenyangQiQi/FateZero at commit 9b6cb7b, ``data/teaser_car-turn/0000N.png``, MIT), fetched file by file and checked
against the SHA-256 and size the manifest lists. The other clips are DAVIS 2017 sequences, extracted from the
DAVIS archive (one download serves all of them). Then come the clips of the paper's examples (every preset's
``clip``): the authors' own copies from their repository at commit a124cbe (file by file, SHA-256 each), and
``man_skate`` from their release archive ``shape.zip``, which has no published checksum: its SHA-256 and size are
recorded at the first download (:func:`recorded_checksum`), printed, and a later download must match them. Each
clip's licence is printed the first time it is fetched in a session (``quiet=True`` silences it; :func:`licence`
returns it). :func:`fetch_result` gets the authors' published result GIF of a preset the same way (pinned commit,
SHA-256).

``fetch`` downloads a clip once, keeps it in a cache folder and returns frames prepared by
:func:`fatezero_lab.video.prepare` (consecutive frames from the manifest's start by default, the paper's
``sampling_rate: 1``; ``start`` and ``stride`` pick others). Later calls read the cache and never touch the network.
The cache folder is ``~/.cache/fatezero_lab/clips`` unless the environment variable ``FATEZERO_LAB_CACHE`` (or the
``cache_dir`` argument) says otherwise; its layout is::

    <cache>/<name>/              the clip's frames (00000.png, ...) or its one video file, plus SOURCE.txt
    <cache>/_downloads/<file>    a downloaded archive (kept so other clips from the same archive need no download)
    <cache>/_downloads/<name>/   a file-by-file clip while it downloads (emptied once the clip is in place)

Nothing half-written is ever left under a final name: a download goes to ``<file>.part`` and is renamed only once
complete and verified (size, and SHA-256 where the manifest lists one); extraction goes to a temporary folder renamed
into place. An interrupted download keeps its ``.part`` and the next ``fetch`` continues it with an HTTP Range request
where the server allows it (else it starts again); a ``.part`` that fails its checksum is deleted.

Your own clip needs none of this: ``fz.video.prepare("my_clip.mp4", n_frames=8, size=512)``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
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
SCHEMAS = (1, 2)

# The manifest ships inside the package (package data), so a wheel or git-URL install has it too.
PACKAGED_MANIFEST = Path(__file__).resolve().parent / "clips.json"

_SHOWN_LICENCES: set[str] = set()  # clips whose licence this process has printed


class ClipDownloadError(RuntimeError):
    """The clip is not cached and could not be downloaded (offline, URL gone, or a broken download), or a cached or
    downloaded file does not match the manifest's checksum."""


# ----------------------------------------------------------------------------------------------------------- manifest
def manifest_path() -> Path:
    """Where the manifest is read from: ``$FATEZERO_LAB_MANIFEST``, else the copy shipped in the package."""
    env = os.environ.get(MANIFEST_ENV)
    return Path(env).expanduser() if env else PACKAGED_MANIFEST


def load_manifest() -> dict:
    """The parsed manifest: ``{"schema": 2, "clips": [{"name", "url", "licence", "frames", ...}, ...]}``."""
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
    if manifest.get("schema", 1) not in SCHEMAS:
        raise ValueError(f"{str(path)!r} has manifest schema {manifest.get('schema')!r}; this version reads {SCHEMAS}")
    return manifest


def list_clips() -> list[str]:
    """Names of the clips in the manifest, in manifest order."""
    return [c["name"] for c in load_manifest()["clips"]]


def clip_info(name: str) -> dict:
    """The manifest entry of one clip (url, files and checksums, licence, frames, source prompt, target prompts)."""
    clips = {c["name"]: c for c in load_manifest()["clips"]}
    if name not in clips:
        raise KeyError(f"unknown clip {name!r}; valid names: {', '.join(clips)}. "
                       f"For your own clip use fatezero_lab.video.prepare(path, n_frames=8, size=512)")
    return json.loads(json.dumps(clips[name]))  # a deep copy: callers cannot change the manifest


def licence(name: str) -> str:
    """The licence and attribution notice of clip ``name``, as ``fetch`` prints it."""
    info = clip_info(name)
    where = info.get("repository") or info.get("homepage") or info["url"]
    if info.get("commit"):
        where += f" at commit {info['commit'][:7]}"
    if info.get("path"):
        where += f", {info['path']}"
    lines = [f"clip {name!r}: {info.get('description', '')}".rstrip(": "), f"  source: {where}",
             f"  licence: {info['licence']}"]
    if info.get("attribution"):
        lines.append(f"  credit: {info['attribution']}")
    return "\n".join(lines)


def _show_licence(name: str, quiet: bool, cache=None) -> None:
    if not quiet and name not in _SHOWN_LICENCES:
        text = licence(name)
        info = clip_info(name)
        if not info.get("files") and not info.get("sha256") and info.get("url"):  # an archive with no checksum
            rec = recorded_checksum(info["url"], cache)
            text += (f"\n  checksum: none published; SHA-256 {rec['sha256']} ({rec['bytes']:,} bytes) recorded at "
                     f"the first download" if rec else "\n  checksum: none published, none recorded (placed by hand)")
        print(text)
        _SHOWN_LICENCES.add(name)


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
    """Whether clip ``name`` is in the cache (for a file-by-file clip: every listed file is there)."""
    d = clip_dir(name, cache)
    try:
        files = clip_info(name).get("files")
    except KeyError:
        files = None
    if files:
        return all((d / f["name"]).is_file() for f in files)
    return d.is_dir() and bool(_media_files(d))


def verify(name: str, cache_dir: str | os.PathLike | None = None) -> list[str]:
    """Check a cached clip against the manifest's sizes and SHA-256; returns the problems found (empty: all good)."""
    info = clip_info(name)
    folder = clip_dir(name, cache_dir)
    problems = []
    for f in info.get("files") or []:
        path = folder / f["name"]
        problem = _file_problem(path, f.get("bytes"), f.get("sha256")) if path.is_file() else "missing"
        if problem:
            problems.append(f"{path}: {problem}")
    if not info.get("files") and not _media_files(folder):
        problems.append(f"{folder}: no frames or video")
    return problems


# -------------------------------------------------------------------------------------------------------------- fetch
def fetch(name: str, cache_dir: str | os.PathLike | None = None, n_frames: int | None = 8,
          size: int | tuple[int, int] | None = 512, start: int | None = None, stride: int | None = None,
          fit: str = "crop", multiple_of: int = 8, quiet: bool = False) -> video.Frames:
    """Clip ``name`` as ``(n_frames, h, w, 3)`` float32 frames, downloading, verifying and caching it on first use.

    Frames: ``n_frames`` consecutive frames from the manifest's start (the paper's ``sampling_rate: 1``);
    ``start`` / ``stride`` override the manifest's (``stride=None`` keeps the manifest's, normally 1). Size:
    ``size``, ``fit`` and ``multiple_of`` as in :func:`fatezero_lab.video.prepare`. Only the kept frames are read.
    The clip's licence is printed the first time it is fetched in a session, unless ``quiet``. Raises
    :class:`ClipDownloadError` (with the manual recipe) when the clip is not cached and cannot be downloaded, or a
    file fails its checksum.
    """
    info = clip_info(name)
    rng = info.get("frames") or {}
    start = rng.get("start", 0) if start is None else start
    stride = rng.get("stride", 1) if stride is None else stride
    video._check_selection(n_frames, start, stride, allow_spread=False)  # every argument checked before any work
    video._check_size(size, multiple_of)
    video._check_fit(fit, 0.0)
    folder = clip_dir(name, cache_dir)
    if not is_cached(name, cache_dir):
        if info.get("files"):
            _download_files(info, cache_dir)
        else:
            _download_clip(info, cache_dir)
    problems = verify(name, cache_dir)
    if problems:
        raise ClipDownloadError(f"the cached clip {name!r} does not match the manifest:\n  " + "\n  ".join(problems)
                                + f"\nDelete {folder} and call fetch({name!r}) again to download it afresh.")
    _show_licence(name, quiet, cache_dir)
    source = _clip_source(folder)
    try:
        frames = video.prepare(source, n_frames=n_frames, size=size, start=start, stride=stride, fit=fit,
                               multiple_of=multiple_of)  # (n, h, w, 3)
    except ValueError as e:
        raise ValueError(f"clip {name!r}: {e}") from e
    if frames.fps is None and info.get("fps"):  # a folder of frames: the manifest may know the rate
        frames.source_fps, frames.fps = float(info["fps"]), float(info["fps"]) / stride
    return frames


# ------------------------------------------------------------------------------------------------ the paper's results
RESULT_PARTS = ("result", "source", "both")


def list_results() -> list[str]:
    """The presets whose published result (the authors' GIF) the manifest lists, in manifest order."""
    return [r["preset"] for r in load_manifest().get("results", [])]


def result_info(preset: str) -> dict:
    """The manifest entry of preset ``preset``'s published result: url, repository, commit, path, sha256, bytes,
    layout (``source | edit``: the GIF shows the source clip and the authors' edit side by side), licence."""
    results = {r["preset"]: r for r in load_manifest().get("results", [])}
    if preset not in results:
        raise KeyError(f"no published result is listed for preset {preset!r}; the manifest lists the authors' GIF of: "
                       f"{', '.join(results) or 'none'}")
    return json.loads(json.dumps(results[preset]))


def fetch_result(preset: str, cache_dir: str | os.PathLike | None = None, part: str = "result",
                 quiet: bool = False) -> video.Frames:
    """The authors' published result of ``preset``, as ``(F, h, w, 3)`` float32 frames in [0, 1].

    Their GIF (``docs/gif_results/...`` of their repository at a pinned commit) is downloaded once into
    ``<cache>/_downloads/`` and checked against the manifest's size and SHA-256, like a clip's files. Each GIF shows
    the source clip (left half) beside their edit (right half): ``part`` picks ``"result"`` (the edit),
    ``"source"`` or ``"both"``. The GIFs are compressed previews (256x256 per half for most), not the full-size
    output. Their licence is printed the first time one is fetched in a session, unless ``quiet``.
    """
    if part not in RESULT_PARTS:
        raise ValueError(f"part must be one of {list(RESULT_PARTS)}, got {part!r}")
    info = result_info(preset)
    dest = download_path(info["url"], cache_dir)
    if dest.is_file() and _file_problem(dest, info.get("bytes"), info.get("sha256")):
        dest.unlink()  # damaged since it was verified: fetch it again
    if not dest.is_file():
        _download(info["url"], dest, preset, {**info, "name": preset}, cache_dir, size=info.get("bytes"),
                  sha256=info.get("sha256"))
    key = "result:" + info["path"]
    if not quiet and key not in _SHOWN_LICENCES:
        print(f"the paper's result for preset {preset!r}: {info['repository']} at commit {info['commit'][:7]}, "
              f"{info['path']}\n  licence: {info['licence']}" + (f"\n  note: {info['note']}" if info.get("note") else ""))
        _SHOWN_LICENCES.add(key)
    frames = video.read(dest)  # (F, H, W, 3): source | edit
    w = frames.shape[2]
    if part == "both":
        return frames
    half = frames[:, :, w // 2:] if part == "result" else frames[:, :, : w // 2]  # (F, H, W/2, 3)
    return video.Frames(np.ascontiguousarray(half), frames.fps, frames.source_fps)


def _clip_source(folder: Path) -> Path:
    """What to read from a cached clip folder: the folder itself (frames), or its one video file."""
    files = _media_files(folder)
    if any(f.suffix.lower() in video.IMAGE_EXTENSIONS for f in files):
        return folder
    return files[0]


def _download_files(info: dict, cache) -> Path:
    """A file-by-file clip: each file downloaded (resumably) and verified into ``_downloads/<name>/``, then the set
    moved into ``<cache>/<name>/`` in one rename."""
    name, base = info["name"], info["url"]
    final = clip_dir(name, cache)
    if final.exists():  # an incomplete or foreign folder under the clip's name: refuse rather than mix files
        missing = [f["name"] for f in info["files"] if not (final / f["name"]).is_file()]
        raise ClipDownloadError(f"{str(final)!r} exists but lacks {', '.join(missing)}; remove the folder and call "
                                f"fetch({name!r}) again, or copy the missing files into it")
    staging = cache_root(cache) / "_downloads" / name
    staging.mkdir(parents=True, exist_ok=True)
    for f in info["files"]:
        dest = staging / f["name"]
        if dest.is_file() and _file_problem(dest, f.get("bytes"), f.get("sha256")):
            dest.unlink()  # a damaged file under a final name (it was verified once): fetch it again
        if not dest.is_file():
            _download(base + f["name"], dest, name, info, cache, size=f.get("bytes"), sha256=f.get("sha256"))
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=final.parent))
    try:
        for f in info["files"]:
            shutil.copyfile(staging / f["name"], tmp / f["name"])
        _write_source(tmp, info)
        _publish(tmp, final, name, cache)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def _publish(tmp: Path, final: Path, name: str, cache) -> None:
    """Rename the complete folder ``tmp`` to the clip's ``final`` folder; if another process put the same clip in
    place meanwhile, keep theirs."""
    try:
        os.replace(tmp, final)
    except OSError:
        if not is_cached(name, cache):
            raise


def _download_clip(info: dict, cache: str | os.PathLike | None) -> Path:
    """A clip in one download: a video file, or a zip archive from which its frame folder is extracted."""
    name, url = info["name"], info["url"]
    final = clip_dir(name, cache)
    if final.exists():  # an empty or foreign folder under the clip's name: refuse rather than mix files
        raise ClipDownloadError(f"{str(final)!r} exists but holds no frames or video; remove it and call fetch again")
    archive = download_path(url, cache)
    if not archive.exists():
        published = info.get("sha256")
        recorded = recorded_checksum(url, cache)  # from an earlier first download, if its record was kept
        _download(url, archive, name, info, cache, size=info.get("bytes") or (recorded or {}).get("bytes"),
                  sha256=published or (recorded or {}).get("sha256"))
        if not published and not recorded:
            _record_checksum(archive, url, name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=final.parent))
    try:
        if info.get("member"):
            _extract_member(archive, info["member"], tmp)
        else:
            shutil.copyfile(archive, tmp / archive.name)
        _write_source(tmp, info)
        _publish(tmp, final, name, cache)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def checksum_record_path(url: str, cache: str | os.PathLike | None = None) -> Path:
    """Where the SHA-256 of an archive without a published checksum is recorded at its first download."""
    return download_path(url, cache).with_name(download_path(url, cache).name + ".sha256.json")


def recorded_checksum(url: str, cache: str | os.PathLike | None = None) -> dict | None:
    """``{"url", "sha256", "bytes"}`` recorded at the first download of ``url`` (an archive the manifest gives no
    checksum for, such as the authors' ``shape.zip``), or None if it was never downloaded into this cache. A later
    download of the same URL must match it."""
    path = checksum_record_path(url, cache)
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if record.get("url") == url and re.fullmatch(r"[0-9a-f]{64}", record.get("sha256", "")) else None


def _record_checksum(archive: Path, url: str, name: str) -> None:
    """Trust on first use: record (and print) the SHA-256 and size of a download the manifest has no checksum for."""
    record = {"url": url, "sha256": _sha256(archive), "bytes": archive.stat().st_size}
    path = archive.with_name(archive.name + ".sha256.json")  # = checksum_record_path(url, cache)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"clip {name!r}: {archive.name} ({record['bytes']:,} bytes) has no published checksum; its SHA-256, "
          f"recorded at this first download, is {record['sha256']} (kept in {path}: a later download of it must "
          f"match; compare it with another machine's to be sure both got the same file)")


def _write_source(folder: Path, info: dict) -> None:
    lines = [f"clip: {info['name']}", f"url: {info['url']}", f"member: {info.get('member', '')}",
             f"repository: {info.get('repository', '')}", f"commit: {info.get('commit', '')}",
             f"licence: {info.get('licence', '')}", f"credit: {info.get('attribution', '')}"]
    (folder / "SOURCE.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _file_problem(path: Path, size: int | None, sha256: str | None) -> str | None:
    """Why ``path`` does not match the expected size / SHA-256 (None when it does, or nothing is expected)."""
    got = path.stat().st_size
    if size is not None and got != size:
        return f"{got} bytes, expected {size}"
    if sha256:
        digest = _sha256(path)
        if digest != sha256.lower():
            return f"SHA-256 {digest}, expected {sha256.lower()} (checksum mismatch)"
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _content_range(resp) -> tuple[int, int | None] | None:
    """(first byte, total or None) of a 206 response's ``Content-Range: bytes a-b/total``."""
    m = re.match(r"bytes\s+(\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range") or "")
    if not m:
        return None
    return int(m.group(1)), (None if m.group(2) == "*" else int(m.group(2)))


def _download(url: str, dest: Path, name: str, info: dict, cache, size: int | None = None,
              sha256: str | None = None) -> None:
    """Fetch ``url`` into ``dest`` through ``dest.part``: continued with a Range request if a ``.part`` is there,
    renamed to ``dest`` only when complete and matching ``size`` / ``sha256``. A failed transfer keeps the ``.part``
    for the next call; a ``.part`` that fails its checks is deleted (and, if it was a continued one, the file is
    fetched once more from its first byte, in case the old ``.part`` was the bad piece)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        for attempt in (0, 1):
            have = part.stat().st_size if part.exists() else 0
            if size is not None and have > size:  # longer than the file can be: not ours to continue
                part.unlink()
                have = 0
            if size is None or have < size:
                _transfer(url, part, have, size, name)
            problem = _file_problem(part, size, sha256) if part.exists() else "nothing was received"
            if problem is None and dest.suffix.lower() == ".zip" and not zipfile.is_zipfile(part):
                problem = "not a zip archive (a moved URL or an error page?)"
            if problem is None:
                os.replace(part, dest)
                return
            part.unlink(missing_ok=True)
            if not have or attempt:
                raise ClipDownloadError(f"the download of {url} is not the expected file: {problem}. It was "
                                        f"deleted; call fetch({name!r}) again, or download it by hand (below)")
    except ClipDownloadError as e:
        raise ClipDownloadError(f"{e}\n{_what_to_do(name, info, cache)}") from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        kept = (f" ({part.stat().st_size} bytes kept in {part}; the next fetch continues them)"
                if part.exists() and part.stat().st_size else "")
        raise ClipDownloadError(f"could not download clip {name!r} from {url}: {type(e).__name__}: {reason}{kept}\n"
                                f"{_what_to_do(name, info, cache)}") from e
    finally:
        if part.exists() and part.stat().st_size == 0:
            part.unlink()


def _transfer(url: str, part: Path, have: int, size: int | None, name: str) -> None:
    """One HTTP(S) or file:// request appending to ``part`` (``have`` bytes there: asks for the rest with a Range
    header; a server that answers 200 instead of 206 sends the whole file, which replaces the ``.part``)."""
    headers = {"User-Agent": "fatezero-lab"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing after the bytes we have: the checks decide whether they are the file
            e.close()
            return
        raise
    with resp:
        rng = _content_range(resp) if getattr(resp, "status", None) == 206 else None
        resumed = bool(have) and rng is not None and rng[0] == have
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        start_at = have if resumed else 0  # the server ignored the Range: start again
        if resumed:
            total = rng[1] if rng[1] is not None else (have + length if length is not None else size)
        else:
            total = length if length is not None else size
        written = 0
        with open(part, "ab" if resumed else "wb") as out, \
                tqdm(total=total, initial=start_at, unit="B", unit_scale=True, desc=f"downloading {part.stem}") as bar:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    if total is not None and start_at + written < total:
        raise ClipDownloadError(f"the download of {url} stopped after {start_at + written} of {total} bytes; "
                                f"call fetch({name!r}) again to resume it ({part} is kept)")


def _what_to_do(name: str, info: dict, cache) -> str:
    """The manual recipe: how to put the clip in place without this function's download."""
    final = clip_dir(name, cache)
    lines = ["What to do:"]
    if info.get("files"):
        repo, commit, path = info.get("repository"), info.get("commit"), info.get("path")
        if repo and commit and path:
            d = Path(repo).name
            lines.append(f"  - on a machine with internet access, get the files from the repository and copy them "
                         f"here (fetch({name!r}) checks their SHA-256 and then uses them):\n"
                         f"      git clone {repo} && git -C {d} checkout {commit[:7]} && mkdir -p {final} && "
                         f"cp {d}/{path}/* {final}/")
        lines.append(f"  - or download each file by hand into {final}/ :")
        lines.extend(f"      curl -fL --create-dirs -o {final / f['name']} {info['url']}{f['name']}"
                     for f in info["files"])
    else:
        lines.append(f"  - on a machine with internet access, download {info['url']} by hand and put the file at "
                     f"{download_path(info['url'], cache)} (fetch({name!r}) then uses it without the network);")
        if info.get("member"):
            lines.append(f"  - or copy the frames of the archive's folder '{info['member']}' into {final}/ ;")
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


def _media_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    ok = video.IMAGE_EXTENSIONS + video.VIDEO_EXTENSIONS + (".gif",)
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in ok and not f.name.startswith("."))


def _url_filename(url: str) -> str:
    from urllib.parse import unquote, urlparse

    base = Path(unquote(urlparse(url).path)).name
    return base or "download"
