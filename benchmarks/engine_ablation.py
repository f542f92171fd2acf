"""The engine's ablation on toy attribute edits with exact ground truth (the engine issue's measurement).

    python benchmarks/engine_ablation.py            # 4 clips x 8 frames x 50 steps (a few minutes on 2 cores)
    python benchmarks/engine_ablation.py --fast     # smoke run
    python benchmarks/engine_ablation.py --seed 50 --sweep self_replace_steps=0.4,0.6,0.8   # (d) per value, on
                                                   # clips rendered from other seeds (a tuning set, not the table's)

Variants: (a) plain DDIM edit from z_T, no fusion; (b) reconstruction attention (prompt-to-prompt way);
(c) inversion attention, full source self-attention (no mask); (d) FateZero defaults (masked blending with the
source blend-word mask, the model's defaults); (d') (d) with the reference's cross-attention window (0.8, which
the toy model's measured default may differ from); (d*) (d) with the true object mask; (e) (d) without spatial-temporal attention.
Columns: PSNR to the ground-truth edited clip, background PSNR (vs source, outside both objects), object-centroid
error (px), flicker (extra frame-to-frame change vs the ground truth), judge accuracy, seconds per edit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import fatezero_lab as fz
from fatezero_lab.metrics import toy_edit_metrics

CLIPS = [  # (source caption, target caption, blend word, motion, camera, lighting)
    ("a red circle on grass", "a blue circle on grass", "circle", "left_to_right", "static", "constant"),
    ("a yellow square on wood", "a purple square on wood", "square", "circle", "static", "constant"),
    ("a blue triangle on snow", "a red triangle on snow", "triangle", "right_to_left", "pan", "constant"),
    ("a purple circle on stone", "a yellow circle on stone", "circle", "scale", "static", "drift"),
    ("a red square and a blue circle on grass", "a red square and a yellow circle on grass", "circle", "up",
     "static", "constant"),
    ("a yellow triangle on grass", "a blue triangle on grass", "triangle", "down", "pan", "drift"),
]

VARIANTS = {
    "(a) plain edit, no fusion": dict(fuse_cross=False, fuse_self=False),
    "(b) reconstruction attention": dict(use_inversion_attention=False, blend=True),
    "(c) inversion attention, full self-attn": dict(),
    "(d) FateZero (masked blend)": dict(blend=True),
    "(d') (d) with cross window 0.8": dict(blend=True, cross_replace_steps=0.8),
    "(d*) FateZero, true object mask": dict(true_mask=True),
    "(e) (d) without spatial-temporal": dict(blend=True, temporal=False),
}


def sweep_variants(spec: str) -> dict:
    """"key=v1,v2,..." -> {"(d) key=v1": dict(blend=True, key=v1), ...} (values parsed as int, float or str)."""
    key, _, values = spec.partition("=")
    if not key or not values:
        raise SystemExit(f"--sweep: expected KEY=V1,V2,..., got {spec!r}")
    if key not in fz.FateZeroConfig.__dataclass_fields__:
        raise SystemExit(f"--sweep: {key!r} is not a FateZeroConfig field")

    def parse(v):
        for t in (int, float):
            try:
                return t(v)
            except ValueError:
                pass
        return v
    return {f"(d) {key}={v}": dict(blend=True, **{key: parse(v)}) for v in values.split(",")}


def run(pipe, n_clips: int, frames: int, steps: int, guidance: float, seed: int = 0, progress: bool = False,
        variants: dict | None = None):
    variants = variants or VARIANTS
    rows = {k: [] for k in variants}
    for ci, (src, tgt, word, motion, camera, lighting) in enumerate(CLIPS[:n_clips]):
        clip = fz.toyworld.clip(src, motion=motion, frames=frames, seed=seed + ci, camera=camera, lighting=lighting)
        truth = clip.edited(tgt)
        obj = [i for i, (a, b) in enumerate(zip(clip.spec.objects, truth.spec.objects)) if a != b][0]
        invs = {t: fz.invert(pipe, clip.frames, src, steps=steps, temporal=t, cache="recompute", progress=progress)
                for t in {v.get("temporal", True) for v in variants.values()}}  # only the inversions used
        for name, v in variants.items():
            v = dict(v)
            inv = invs[v.pop("temporal", True)]
            kwargs = dict(guidance=v.pop("guidance", guidance))  # a variant or sweep may set its own
            if v.pop("blend", False):
                kwargs["blend_words"] = [word]
            mask = clip.masks[:, obj] if v.pop("true_mask", False) else None
            t0 = time.time()
            out = fz.edit(pipe, inv, tgt, mask=mask, progress=progress, **kwargs, **v)
            m = toy_edit_metrics(out.frames, clip, truth, obj=obj)
            m["seconds"] = time.time() - t0
            rows[name].append(m)
    return rows


def per_clip(rows: dict, key: str, first: str, second: str) -> str:
    """``key`` of two variants clip by clip, and on how many clips the first is lower (one line).

    The table's means can hide the per-clip picture: flicker is signed (an edit steadier than the truth, e.g. one
    that freezes a lighting drift, scores below 0), so one negative clip can cancel the others.
    """
    a, b = rows[first], rows[second]
    x, y = first.split()[0], second.split()[0]
    pairs = ", ".join(f"{p[key]:.4f} vs {q[key]:.4f}" for p, q in zip(a, b))
    wins = sum(p[key] < q[key] for p, q in zip(a, b))
    return f"{key} per clip, {x} vs {y}: {pairs}; {x} lower on {wins} of {len(a)} clips"


def table(rows: dict) -> str:
    cols = ["psnr", "background_psnr", "centroid_px", "flicker", "accuracy", "seconds"]
    heads = ["PSNR vs GT (dB)", "background PSNR (dB)", "centroid err (px)", "flicker", "judge acc", "s/edit"]
    lines = ["| variant | " + " | ".join(heads) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, ms in rows.items():
        cells = []
        for c in cols:
            vals = np.array([m[c] for m in ms], float)
            cells.append({"seconds": f"{vals.mean():.1f}", "flicker": f"{vals.mean():.4f}"}.get(
                c, f"{vals.mean():.2f} ± {vals.std():.2f}"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="toy")
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--guidance", type=float, default=7.5)
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--out", default="outputs/engine_ablation")
    ap.add_argument("--seed", type=int, default=0, help="clip i is rendered from seed + i (0: the table's clips)")
    ap.add_argument("--sweep", help="KEY=V1,V2,...: only (d), once per value of that FateZeroConfig field")
    args = ap.parse_args(argv)
    if args.fast:
        args.clips, args.frames, args.steps = 1, 3, 5
    torch.manual_seed(0)
    pipe = fz.load_pipeline(args.model, device="cpu")
    t0 = time.time()
    variants = sweep_variants(args.sweep) if args.sweep else None
    rows = run(pipe, args.clips, args.frames, args.steps, args.guidance, seed=args.seed, variants=variants)
    cfg = "CFG swept" if args.sweep and args.sweep.startswith("guidance=") else f"CFG {args.guidance}"
    text = (f"# Engine ablation: {args.clips} attribute edits x {args.frames} frames, {args.steps} DDIM steps, "
            f"{cfg}, clip seeds {args.seed}+i ({time.time() - t0:.0f} s)\n\n" + table(rows))
    d, e = "(d) FateZero (masked blend)", "(e) (d) without spatial-temporal"
    if d in rows and e in rows:
        text += "\n\n" + per_clip(rows, "flicker", d, e)
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "report.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
