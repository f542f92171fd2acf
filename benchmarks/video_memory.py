"""Peak memory of reading a few frames from a long video, before and after issue 20's frame-selective reader.

    python benchmarks/video_memory.py                 # a 20 s 1080p 30 fps clip (the issue's phone clip), ~1 min
    python benchmarks/video_memory.py --seconds 5     # shorter

Two synthetic H.264 clips are generated with the ffmpeg that imageio-ffmpeg bundles (``testsrc2``, 1920x1080,
30 fps): the long one (``--seconds``) and a 1 s one for the old reader, which holds the whole clip in memory and
would need ~15 GB of float32 for the long one. Each row runs in a fresh subprocess, so its peak RSS
(``ru_maxrss`` of the Python process; ffmpeg's decoder is a separate process) is its own; "reading" is the peak
minus the peak after imports, i.e. what the read itself added. "before" is the previous ``fatezero_lab/video.py``
(git commit ``BEFORE_COMMIT``, imported from ``git show``), "after" the working tree's. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE_COMMIT = "a6a5b59"  # the last commit with the whole-clip reader
W, H, FPS = 1920, 1080, 30


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB -> MiB


def _make_clip(path: Path, seconds: float) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={W}x{H}:rate={FPS}:duration={seconds}", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)


def _load_before(tmp: Path):
    """The pre-issue-20 video module, from git (None when git or the commit is not available)."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE_COMMIT}:fatezero_lab/video.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = tmp / "video_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("video_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(case: str, path: str, tmp: str) -> dict:
    """One row, in this (fresh) process: import everything first, then read."""
    import numpy as np  # noqa: F401
    import torch  # noqa: F401  (prepare resizes with torch; imported here so both sides pay it before the read)

    sys.path.insert(0, str(ROOT))
    from fatezero_lab import video

    before = _load_before(Path(tmp)) if case.startswith("before") else None
    if case.startswith("before") and before is None:
        return {"skipped": f"git show {BEFORE_COMMIT}:fatezero_lab/video.py failed"}
    base = _peak_mb()
    t0 = time.perf_counter()
    if case == "before_read":
        out = before.sample_frames(before.read(path), 8, stride=1)
    elif case == "before_prepare":
        out = before.prepare(path, n_frames=8, size=512)
    elif case == "after_read_first":
        out = video.read(path, n_frames=8)
    elif case == "after_read_last":
        out = video.read(path, n_frames=8, start=int(video._video_meta(Path(path))["duration"] * FPS) - 8)
    elif case == "after_read_spread":
        out = video.read(path, n_frames=8, stride=None)
    elif case == "after_prepare":
        out = video.prepare(path, n_frames=8, size=512)
    elif case == "after_prepare_aspect":
        out = video.prepare(path, n_frames=8, size=None, multiple_of=64)
    else:
        raise ValueError(case)
    seconds = time.perf_counter() - t0
    return {"shape": list(out.shape), "peak_mb": _peak_mb(), "read_mb": _peak_mb() - base, "seconds": seconds}


ROWS = [  # (side, case, which clip, what it does)
    ("before", "before_read", "short", "`read(path)` (whole clip), then 8 frames"),
    ("before", "before_prepare", "short", "`prepare(path, 8, 512)`"),
    ("after", "after_read_first", "short", "`read(path, n_frames=8)`"),
    ("after", "after_read_first", "long", "`read(path, n_frames=8)` (frames 0-7)"),
    ("after", "after_read_last", "long", "`read(path, n_frames=8, start=F-8)` (decodes the whole stream)"),
    ("after", "after_read_spread", "long", "`read(path, n_frames=8, stride=None)` (count, then spread)"),
    ("after", "after_prepare", "long", "`prepare(path, 8, 512)`"),
    ("after", "after_prepare_aspect", "long", "`prepare(path, 8, size=None, multiple_of=64)`"),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the long clip (default 20 s)")
    ap.add_argument("--measure", nargs=3, metavar=("CASE", "PATH", "TMP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    with tempfile.TemporaryDirectory(prefix="video_memory.") as tmp:
        clips = {"short": (Path(tmp) / "short.mp4", 1.0), "long": (Path(tmp) / "long.mp4", args.seconds)}
        t0 = time.perf_counter()
        for path, seconds in clips.values():
            _make_clip(path, seconds)
        print(f"generated {W}x{H} {FPS} fps clips of 1 s and {args.seconds:g} s in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        per_frame = None  # MiB the old reader added per frame of the clip, from its 1 s row
        lines = ["| side | call | clip | output | peak RSS (MiB) | added by the read (MiB) | time (s) |",
                 "|---|---|---|---|---:|---:|---:|"]
        for side, case, which, what in ROWS:
            path, seconds = clips[which]
            res = subprocess.run([sys.executable, __file__, "--measure", case, str(path), tmp], capture_output=True,
                                 text=True, check=False, env={**os.environ, "OMP_NUM_THREADS": "1"})
            if res.returncode:
                print(res.stderr, file=sys.stderr)
                raise SystemExit(f"{case} failed")
            r = json.loads(res.stdout.strip().splitlines()[-1])
            clip = f"{W}x{H}, {seconds:g} s ({round(seconds * FPS)} frames)"
            if "skipped" in r:
                lines.append(f"| {side} | {what} | {clip} | skipped: {r['skipped']} | | | |")
                continue
            if case == "before_read":
                per_frame = r["read_mb"] / round(seconds * FPS)
            lines.append(f"| {side} | {what} | {clip} | {tuple(r['shape'])} | {r['peak_mb']:.0f} | "
                         f"{r['read_mb']:.0f} | {r['seconds']:.2f} |")
        n_long = round(args.seconds * FPS)
        whole = n_long * H * W * 3
        lines.append("")
        lines.append(f"The whole {args.seconds:g} s clip ({n_long} frames) is {whole / 2**30:.1f} GiB as uint8 and "
                     f"{whole * 4 / 2**30:.1f} GiB as float32, which the old `read` held (plus temporaries) before "
                     f"sampling, so it is measured on the 1 s clip only"
                     + (f"; at its {per_frame:.0f} MiB per frame the long clip would need about "
                        f"{per_frame * n_long / 1024:.0f} GiB." if per_frame else "."))
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
