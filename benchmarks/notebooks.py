"""Execute every notebook in full mode (or fast mode) and print a table of wall-clock times.

    python benchmarks/notebooks.py                  # full mode: the times quoted in each notebook's intro
    python benchmarks/notebooks.py --fast           # FZ_FAST=1, as the test suite runs them
    python benchmarks/notebooks.py --html           # also render each to HTML and save its figures as PNGs
    python benchmarks/notebooks.py --mode sd        # the sd mode (a CUDA GPU; with --standin the tiny stand-in)

The notebooks' header times are the toy mode's on the CPU (``--mode toy``, the default): every notebook is run with
``FATEZERO_LAB_MODE`` set, so a machine with a GPU does not silently time the other mode.

The time reported is the **kernel's**: the sum over cells of the time from the kernel taking the cell (its
``status: busy``) to its reply, from the timestamps the kernel puts on its messages (nbclient records them in each
cell's ``metadata.execution``) — what a learner waits for, Run all. A client that sees a reply late (jupyter/nbclient#312:
a kernel's reply sitting unseen in jupyter_client's asyncio zmq poll; on 2026-12-07 this script reported 323 s for
notebook 00, whose header said 22 s) cannot inflate it: the wall clock is printed beside it, and a gap of more than
``STALL_S`` is reported. The poll is also cut into 1 s slices, as in the test suite (``scripts/zmq_poll_slices.py``).

Executed copies (with outputs) go to ``outputs/notebooks/`` — never back into ``notebooks/``, which stays
output-free. Cells tagged ``skip-execution`` (the Colab install cell) are skipped, as nbmake does.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# jupyter/nbclient#312: a kernel's reply can sit unseen until the poll's timeout (here the cell timeout, 30 min),
# most often after a widget cell; the test suite's workaround (poll in slices of 1 s) patches jupyter_client on import.
sys.path.insert(0, str(ROOT / "scripts"))
import zmq_poll_slices  # noqa: E402,F401

STALL_S = 10.0  # wall clock beyond the kernel's own time (and kernel start-up) that counts as a client stall


def _when(stamp) -> float:
    """A kernel message timestamp (ISO 8601 text or datetime) -> POSIX seconds."""
    from datetime import datetime

    return (stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            ).timestamp()


def kernel_seconds(nb) -> float:
    """Sum over executed cells of (reply - busy), from the kernel's timestamps in ``metadata.execution``."""
    total = 0.0
    for cell in nb.cells:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in ex and "shell.execute_reply" in ex:
            total += _when(ex["shell.execute_reply"]) - _when(ex["iopub.status.busy"])
    return total


def run_one(path: Path, out_dir: Path, fast: bool, html: bool, timeout: int, mode: str = "toy",
            standin: bool = False) -> tuple[float, float, str]:
    """Execute one notebook -> (kernel seconds, wall seconds, status)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "skip-execution" not in c.get("metadata", {}).get("tags", [])]
    os.environ["FZ_FAST"] = "1" if fast else "0"
    os.environ["FATEZERO_LAB_MODE"] = mode  # the kernel inherits it: fz.lab.setup() runs this mode
    os.environ["FATEZERO_LAB_SD_STANDIN"] = "1" if standin else "0"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # as in the test suite: no hub lookups (and no retry waits)
    client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    t0 = time.perf_counter()
    status = "ok"
    try:
        client.execute()
    except Exception as e:  # keep going: report which notebook failed and why
        import traceback

        traceback.print_exc()
        status = f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
    wall = time.perf_counter() - t0
    seconds = kernel_seconds(nb)
    if wall - seconds > STALL_S:
        print(f"{path.name}: the client waited {wall - seconds:.0f} s beyond the kernel's {seconds:.0f} s of cells "
              f"(kernel start-up, or a stall: jupyter/nbclient#312); the time reported is the kernel's", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    if html:  # an HTML rendering to open in a browser, and each figure as a PNG to look at
        import base64

        for i, cell in enumerate(nb.cells):
            for j, output in enumerate(cell.get("outputs", [])):
                png = output.get("data", {}).get("image/png")
                if png:
                    (out_dir / f"{path.stem}_cell{i:02d}_{j}.png").write_bytes(base64.b64decode(png))
        try:  # nbconvert comes with jupyterlab (the `notebook` extra), not with the test extras
            from nbconvert import HTMLExporter
        except ImportError:
            print(f"{path.name}: figures saved as PNG; no HTML (nbconvert is missing: pip install -e '.[notebook]')")
        else:
            body, _ = HTMLExporter().from_notebook_node(nb)
            (out_dir / path.with_suffix(".html").name).write_text(body)
    return seconds, wall, status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="FZ_FAST=1 (the test suite's mode)")
    ap.add_argument("--html", action="store_true", help="also write an HTML rendering and the figures as PNG files")
    ap.add_argument("--only", nargs="*", default=None, help="notebook name prefixes, e.g. 00 04")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--out", default="outputs/notebooks")
    ap.add_argument("--mode", choices=["toy", "sd"], default="toy", help="fz.lab.setup()'s mode (default toy)")
    ap.add_argument("--standin", action="store_true", help="sd mode on the tiny random-weight stand-in")
    args = ap.parse_args(argv)
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print("no notebooks matched", file=sys.stderr)
        return 2
    rows, total, total_wall, failed = [], 0.0, 0.0, 0
    for p in paths:
        seconds, wall, status = run_one(p, Path(args.out), args.fast, args.html, args.timeout, args.mode,
                                        args.standin)
        total, total_wall = total + seconds, total_wall + wall
        failed += status != "ok"
        rows.append(f"| {p.stem} | {seconds:.0f} | {wall:.0f} | {status} |")
        print(rows[-1], flush=True)
    mode = ("fast (FZ_FAST=1)" if args.fast else "full") + f", {args.mode}" + (" stand-in" if args.standin else "")
    print(f"\n# Notebooks, {mode} mode, {os.cpu_count()} CPU cores\n\n"
          "| notebook | seconds (kernel: the cells) | wall clock (with kernel start-up) | status |\n|---|---|---|---|")
    print("\n".join(rows))
    print(f"| **total** | {total:.0f} | {total_wall:.0f} | {failed} failed |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
