"""Shape edits with and without one-shot tuning, against the toy world's exact ground truth (shape-editing issue).

    python benchmarks/shape_editing.py            # 3 cases, 8 frames, 50 steps, 300 tuning steps
    python benchmarks/shape_editing.py --fast     # smoke run

Shape accuracy = IoU of the edited object (pixels of its colour, found by the judge) with the ground-truth target
mask, mean over frames; background PSNR = vs the source outside both objects; judge = fraction of frames read as the
target caption.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import fatezero_lab as fz
from fatezero_lab.masks import iou
from fatezero_lab.metrics import background_psnr
from fatezero_lab.toyworld import judge as J

CASES = [  # (source, target, blend word, motion, seed)
    ("a red circle on grass", "a red square on grass", "circle", "left_to_right", 7),
    ("a blue square on snow", "a blue triangle on snow", "square", "down", 8),
    ("a yellow triangle and a purple circle on wood", "a yellow triangle and a purple square on wood", "circle",
     "right_to_left", 11),
]


def shape_scores(frames, clip, truth, obj: int) -> dict:
    colour = truth.spec.objects[obj].colour
    ious = [iou(J.object_mask(f, colour), m) for f, m in zip(frames, truth.masks[:, obj])]
    union = np.concatenate([clip.masks, truth.masks], axis=1)
    return {"shape_iou": float(np.mean(ious)), "background_psnr": background_psnr(frames, clip.frames, union),
            "judge": float(np.mean([J.judge(f).matches(truth.caption) for f in frames]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="toy")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--tune-steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--fast", action="store_true")
    args = ap.parse_args(argv)
    if args.fast:
        args.frames, args.steps, args.tune_steps = 3, 5, 5
    torch.manual_seed(0)
    pipe = fz.load_pipeline(args.model, device="cpu")
    lines = ["| case | variant | shape IoU | background PSNR (dB) | judge | tuning (s) |", "|---|---|---|---|---|---|"]
    for src, tgt, word, motion, seed in CASES:
        clip = fz.toyworld.clip(src, motion=motion, frames=args.frames, seed=seed)
        truth = clip.edited(tgt)
        obj = [i for i, (a, b) in enumerate(zip(clip.spec.objects, truth.spec.objects)) if a != b][0]
        for name, model, secs in [("zero-shot", pipe, 0.0), ("tuned", None, 0.0)]:
            if model is None:
                t0 = time.time()
                model, report = fz.tuning.tune_on_clip(pipe, clip.frames, src, steps=args.tune_steps, lr=args.lr,
                                                       progress=False)
                secs = time.time() - t0
            inv = fz.invert(model, clip.frames, src, steps=args.steps, progress=False)
            out = fz.edit(model, inv, tgt, blend_words=[word], progress=False)
            s = shape_scores(out.frames, clip, truth, obj)
            lines.append(f"| {src} -> {tgt} | {name} | "
                         f"{s['shape_iou']:.2f} | {s['background_psnr']:.2f} | {s['judge']:.2f} | {secs:.0f} |")
    print(f"# Shape edits, {args.frames} frames, {args.steps} DDIM steps, {args.tune_steps} tuning steps\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
