"""Toy models side by side on the benchmark suite at FateZero's defaults: decides whether a retrained one ships.

    python benchmarks/model_candidates.py fatezero_lab/toyworld/weights runs/cover/export   # 13 cases, ~5 min a model
    python benchmarks/model_candidates.py toy --unconditional source --guidance 5          # negative-prompt inversion
    python benchmarks/model_candidates.py MODEL --cases 0,1 --frames 2 --steps 5          # smoke run

For every model and every suite case (``bench.SUITE``): DDIM inversion, then FateZero's edit with the model's own
defaults (its ``toy_model.json``: mask layers, rule, cross window); on the two-object cases also full source
self-attention and no self fusion (notebook 08's ranking). Per kind of edit it prints PSNR to the exact ground truth,
background PSNR (outside the objects; and "far", 5 px away from them, so an object drawn over its outline does not
count), centroid error, judge accuracy, broken frames (``robustness.broken_frames``, colour edits) and the edited
object's area over the truth's, frame by frame — the object size that docs/toy_edit_quality.md sections 9-10 are about.

On the colour cases it also runs the **identity edit** — the same settings with the source prompt as the target, so
nothing should change — and reports its background PSNR and the **ceiling** PSNR: the identity edit with the exact
truth pasted inside the objects, against the truth (what an edit with a perfect object would score if it kept the
background as well as the identity edit does). At FateZero's defaults (τ(""), w 7.5) the identity edit already loses
the background to classifier-free guidance's drift (docs/toy_edit_quality.md sections 1 and 11).

A model folder must carry its measured ``fatezero_defaults`` (copy them from the shipped model's ``toy_model.json``
or run ``benchmarks/toy_quality.py --model FOLDER --write-defaults``). One torch process at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import fatezero_lab as fz
from fatezero_lab import bench
from fatezero_lab.metrics import background_psnr, dilate, psnr, toy_edit_metrics
from fatezero_lab.toyworld import judge

sys.path.insert(0, str(Path(__file__).parent))
from robustness import broken_frames  # noqa: E402

TWO_OBJECT_VARIANTS = {"full source": {"blend_self_attention": False}, "no self fusion": {"fuse_self": False}}
FAR = 5  # px: "far background" leaves out this band around the objects (an object drawn over its outline)


def identity_row(pipe, inv, clip, truth, c, overrides: dict) -> dict:
    """The identity edit (target = source prompt, same settings): the background it keeps, and the ceiling PSNR —
    the identity edit with the truth pasted inside the objects' union (dilated 1 px), against the truth."""
    e = fz.edit(pipe, inv, c.source, blend_words=[c.blend], progress=False, **overrides).frames  # (F, H, W, 3)
    union = np.concatenate([clip.masks, truth.masks], axis=1).any(axis=1)  # (F, H, W)
    pasted = np.where(dilate(union, 1)[..., None], truth.frames, e)  # (F, H, W, 3), frames in [0, 1]
    return dict(background_psnr=background_psnr(e, clip.frames, union), ceiling_psnr=psnr(pasted, truth.frames))


def run_model(model: str, cases: list[int], frames: int, steps: int, overrides: dict | None = None) -> list[dict]:
    """One row per (case, variant): the metrics of ``toy_edit_metrics`` plus far background, broken frames and object
    areas; on colour cases an "identity" row (see :func:`identity_row`). ``overrides`` go to every ``fz.edit``."""
    overrides = overrides or {}
    pipe = fz.load_pipeline(model)
    rows = []
    for i in cases:
        # 1. the clip, its exact edited truth and the object the edit changes
        c = bench.SUITE[i]
        clip = fz.toyworld.clip(c.source, motion=c.motion, frames=frames, seed=c.seed, camera=c.camera,
                                lighting=c.lighting)
        truth = clip.edited(c.target)
        changed = bench.changed_object(clip, truth)  # None for a background edit
        k = 0 if changed is None else changed  # the object whose size is followed (a background edit keeps it)
        want = truth.spec.objects[k]
        # 2. invert once, edit with each variant
        inv = fz.invert(pipe, clip.frames, c.source, steps=steps, progress=False)
        variants = {"FateZero": {}, **(TWO_OBJECT_VARIANTS if c.kind == "two-object" else {})}
        union = np.concatenate([clip.masks, truth.masks], axis=1)  # (F, objects of both, H, W)
        for name, kw in variants.items():
            e = fz.edit(pipe, inv, c.target, blend_words=[c.blend], progress=False, **overrides,
                        **kw).frames  # (F, H, W, 3)
            m = toy_edit_metrics(e, clip, truth, obj=k, background_edit=changed is None)
            # 3. the edited object's pixel count (judge's colour mask) against the truth's, per frame
            area = [int(judge.object_mask(f, want.colour).sum()) for f in e]
            true_area = [int(a) for a in truth.masks[:, k].sum(axis=(1, 2))]
            rows.append(dict(model=model, case=i, kind=c.kind, variant=name, area=area, true_area=true_area,
                             broken=broken_frames(e, clip, truth, c) if c.kind == "colour" else [],
                             far_background_psnr=background_psnr(e, clip.frames, union, margin=FAR),
                             **{key: float(m[key]) for key in ("psnr", "background_psnr", "centroid_px", "accuracy",
                                                                "temporal_error")}))
        # 4. colour cases: what the same settings keep when nothing should change
        if c.kind == "colour":
            rows.append(dict(model=model, case=i, kind=c.kind, variant="identity",
                             **identity_row(pipe, inv, clip, truth, c, overrides)))
    return rows


def table(rows: list[dict], models: list[str]) -> str:
    """Per model, per kind of edit, the means (markdown)."""
    def mean(xs, key):
        return float(np.mean([x[key] for x in xs])) if xs else float("nan")

    lines = ["| model | kind | n | PSNR (dB) | background / far background (dB) | centroid (px) | accuracy | "
             "broken frames | object area / truth (min-max, share within 25 %) | full source / no self fusion (dB) | "
             "identity edit: background / ceiling PSNR (dB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for model in models:
        for kind in ("colour", "background", "shape", "two-object"):
            fzr = [r for r in rows if r["model"] == model and r["kind"] == kind and r["variant"] == "FateZero"]
            if not fzr:
                continue
            ratio = [a / max(t, 1) for r in fzr for a, t in zip(r["area"], r["true_area"])]
            within = np.mean([0.75 <= q <= 1.25 for q in ratio])
            others = "-"
            if kind == "two-object":
                mine = [r for r in rows if r["model"] == model and r["kind"] == kind]
                others = " / ".join(f"{mean([r for r in mine if r['variant'] == v], 'psnr'):.2f}"
                                    for v in TWO_OBJECT_VARIANTS)
            broken = sum(len(r["broken"]) for r in fzr) if kind == "colour" else "-"
            background = ("-" if kind == "background"  # edited there
                          else f"{mean(fzr, 'background_psnr'):.2f} / {mean(fzr, 'far_background_psnr'):.2f}")
            ident = [r for r in rows if r["model"] == model and r["kind"] == kind and r["variant"] == "identity"]
            identity = (f"{mean(ident, 'background_psnr'):.2f} / {mean(ident, 'ceiling_psnr'):.2f}" if ident else "-")
            lines.append(f"| {model} | {kind} | {len(fzr)} | {mean(fzr, 'psnr'):.2f} | "
                         f"{background} | {mean(fzr, 'centroid_px'):.2f} | "
                         f"{mean(fzr, 'accuracy'):.2f} | {broken} | {min(ratio):.2f}-{max(ratio):.2f}, {within:.0%} | "
                         f"{others} | {identity} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="toy model folders (or 'toy' for the shipped one)")
    ap.add_argument("--cases", default="", help="comma-separated suite indices (default: all 13)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--unconditional", choices=("empty", "source"), default="empty",
                    help="the guidance's unconditional input: FateZero's τ(\"\") or negative-prompt inversion's τ(p_src)")
    ap.add_argument("--guidance", type=float, default=None, help="classifier-free guidance w (default: the model's)")
    ap.add_argument("--out", default="runs/model_candidates.json", help="every row, as JSON")
    args = ap.parse_args(argv)
    try:
        cases = [int(x) for x in args.cases.split(",")] if args.cases else list(range(len(bench.SUITE)))
    except ValueError:
        ap.error(f"--cases must be comma-separated integers, got {args.cases!r}")
    if bad := [i for i in cases if not 0 <= i < len(bench.SUITE)]:
        ap.error(f"--cases: {bad} outside the suite's 0-{len(bench.SUITE) - 1}")
    if args.frames < 2 or args.steps < 1:
        ap.error("--frames must be >= 2 and --steps >= 1")
    if args.guidance is not None and not args.guidance >= 1.0:
        ap.error(f"--guidance must be >= 1 (1 = no guidance), got {args.guidance}")
    overrides = {"unconditional": args.unconditional}
    if args.guidance is not None:
        overrides["guidance"] = args.guidance
    for model in args.models:
        if model != "toy" and not (Path(model) / "toy_model.json").is_file():
            ap.error(f"{model!r} is not a toy model folder (no toy_model.json); give an exported pipeline folder")
    torch.set_num_threads(2)
    rows, t0 = [], time.time()
    for model in args.models:
        rows += run_model(model, cases, args.frames, args.steps, overrides)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))  # after every model: a long run keeps what it has
    setting = "FateZero's defaults" if args.unconditional == "empty" and args.guidance is None else (
        f"unconditional {args.unconditional}, guidance {args.guidance or 'the model default'}")
    print(f"# Toy models at {setting} ({len(cases)} cases, {args.frames} frames, {args.steps} steps, "
          f"{time.time() - t0:.0f} s)\n")
    print(table(rows, args.models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
