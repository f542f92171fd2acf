"""Where results go and what they record: output folders that never overwrite, written whole or not at all, and
``provenance.json`` (model id and revision, library versions, frames, size, steps, seed, fps, the command line)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import platform
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

PROVENANCE_SCHEMA = 1


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


def publish(out: str | Path, write) -> Path:
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


def rates(frames, video: str | None, stride: int | None) -> tuple[float | None, float | None]:
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

