"""Claim 3 per edit kind: where does spatial-temporal attention lower flicker on the toy model?

Seven clips of the suite (colour; colour under a lighting drift; three background edits, one under a panning camera
and one notebook 09's; shape; one object of two) are inverted and edited with each of notebook 09's reference-frame
settings (off = per-frame self-attention, first+previous = the library's and the authors' code default, all), once
with FateZero's attention fusion and once with none (the plain edit, where nothing from the source holds the frames together). Each edit is scored
against the exact ground truth:

- **temporal err** (:func:`fatezero_lab.metrics.temporal_error`): how far the edit's frame-to-frame change is from the
  truth's, 1/(F−1) Σ_f mean |(x̂_{f+1} − x̂_f) − (x_{f+1} − x_f)| — flicker that does not cancel out;
- PSNR to the ground truth and the judge's accuracy (is the edit right at all?);
- **vs off**: PSNR between the edit and the same edit with spatial-temporal attention off — how much the setting
  changes the frames at all (∞ = identical).

    python benchmarks/temporal.py                    # 7 clips x 3 settings x 2 fusions, 50 steps (10 min on 2 cores)
    python benchmarks/temporal.py --steps 10 --clips 2

Prints a markdown table and writes ``runs/temporal/temporal.json`` after every clip.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPORAL = {"off": False, "first+previous": ("first", "previous"), "all": "all"}  # notebook 09's settings
FUSION = {"FateZero": {}, "no fusion": dict(fuse_cross=False, fuse_self=False)}
# (index into fz.bench.SUITE, label)
CLIPS = [(0, "colour"), (3, "colour, lighting drift"), (4, "background"), (5, "background, panning camera"),
         (6, "background (notebook 09)"), (7, "shape"), (10, "one object of two")]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps of inversion and edit")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--clips", type=int, default=len(CLIPS), help=f"only the first N of the {len(CLIPS)} clips")
    ap.add_argument("--out", default="runs/temporal")
    args = ap.parse_args(argv)
    if not 1 <= args.clips <= len(CLIPS):
        ap.error(f"--clips must be in 1..{len(CLIPS)}, got {args.clips}")
    if args.steps < 1 or args.frames < 2:
        ap.error("--steps must be >= 1 and --frames >= 2")

    import fatezero_lab as fz
    from fatezero_lab import bench
    from fatezero_lab.metrics import psnr, temporal_error, toy_edit_metrics

    torch.set_num_threads(2)
    pipe = fz.load_pipeline("toy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, t_start = [], time.perf_counter()
    for index, label in CLIPS[: args.clips]:
        case = bench.SUITE[index]
        clip = fz.toyworld.clip(case.source, motion=case.motion, frames=args.frames, seed=case.seed,
                                camera=case.camera, lighting=case.lighting)
        truth = clip.edited(case.target)
        obj = bench.changed_object(clip, truth)  # None: a background edit
        off: dict[str, np.ndarray] = {}
        for tname, temporal in TEMPORAL.items():
            # 1. the inversion follows the setting too (the paper inverts with spatial-temporal attention)
            inv = fz.invert(pipe, clip.frames, case.source, steps=args.steps, temporal=temporal, progress=False)
            for fname, kw in FUSION.items():
                # 2. edit, then score against the ground truth and against the same edit with the setting off
                t0 = time.perf_counter()
                frames = fz.edit(pipe, inv, case.target, blend_words=[case.blend], progress=False, **kw).frames
                m = toy_edit_metrics(frames, clip, truth, obj=obj if obj is not None else 0,
                                     background_edit=obj is None)
                off.setdefault(fname, frames)
                rows.append(dict(clip=label, target=case.target, temporal=tname, fusion=fname, psnr=m["psnr"],
                                 accuracy=m["accuracy"], temporal_error=temporal_error(frames, truth.frames),
                                 vs_off=psnr(frames, off[fname]), seconds=time.perf_counter() - t0))
                print(f"{label:28s} {tname:15s} {fname:10s} temporal err {rows[-1]['temporal_error']:.4f} "
                      f"PSNR {m['psnr']:.2f} acc {m['accuracy']:.2f}", flush=True)
        (out / "temporal.json").write_text(json.dumps({"steps": args.steps, "frames": args.frames, "rows": rows},
                                                      indent=1))
    print(f"\n{len(rows)} edits in {(time.perf_counter() - t_start) / 60:.1f} min, {args.frames} frames, "
          f"{args.steps} steps\n")
    print(table(rows))


def table(rows: list[dict]) -> str:
    """One line per clip and fusion: temporal err / PSNR / accuracy / vs off for each setting."""
    head = "| clip | fusion | " + " | ".join(f"{t}: temporal err, PSNR, acc, vs off" for t in TEMPORAL) + " |"
    lines = [head, "|---|---|" + "---|" * len(TEMPORAL)]
    for clip in dict.fromkeys(r["clip"] for r in rows):
        for fusion in FUSION:
            cells = []
            for t in TEMPORAL:
                r = next((r for r in rows if (r["clip"], r["fusion"], r["temporal"]) == (clip, fusion, t)), None)
                vs_off = "—" if t == "off" else f"{r['vs_off']:.1f}" if r is not None else ""
                cells.append("" if r is None else f"{r['temporal_error']:.4f}, {r['psnr']:.2f}, {r['accuracy']:.2f}, "
                             f"{vs_off}")
            lines.append(f"| {clip} | {fusion} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
