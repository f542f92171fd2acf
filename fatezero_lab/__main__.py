"""Command line: ``python -m fatezero_lab demo`` (the README's main job), more subcommands as the engine grows."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


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


def cmd_demo(args) -> int:
    import torch

    import fatezero_lab as fz

    torch.manual_seed(0)
    t0 = time.time()
    pipe = fz.load_pipeline(args.model)
    # 0. check the request before any compute
    fz.diffusion.check_prompt(pipe, args.caption, "--caption")
    fz.diffusion.check_prompt(pipe, args.target, "--target")
    clip = fz.toyworld.clip(args.caption, motion=args.motion, frames=args.frames, seed=args.seed)
    truth = clip.edited(args.target)
    out = new_output_folder(args.out)
    print(f"source clip: {clip}\ntarget: {args.target!r}")
    # 1. DDIM inversion with the source prompt, recording attention (recomputed on demand: nothing big is stored)
    inv = fz.invert(pipe, clip.frames, clip.caption, steps=args.steps, temporal=True, cache="recompute")
    # 2. plain reconstruction (the inversion's sanity check) and the FateZero edit
    rec = fz.reconstruct(pipe, inv)
    edited = fz.edit(pipe, inv, args.target, blend_words=args.blend_words)
    rows = {"source": clip.frames, "reconstruction": rec, "FateZero edit": edited.frames, "ground truth": truth.frames}
    report = {"caption": clip.caption, "target": args.target, "blend_words": args.blend_words, "steps": args.steps,
              "frames": args.frames, "reconstruction_psnr_db": fz.psnr(rec, clip.frames),
              "edit_psnr_vs_ground_truth_db": fz.psnr(edited.frames, truth.frames),
              "seconds": round(time.time() - t0, 1)}
    for name, frames in rows.items():
        fz.video.write(out / f"{name.split()[-1].lower()}.mp4", frames)
        fz.video.write(out / f"{name.split()[-1].lower()}.gif", frames)
    fz.video.save_png(out / "strip.png", fz.video.grid(list(rows.values())), scale=3)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    edited.config.to_json(out / "config.json")
    for k, v in report.items():
        print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
    print(f"wrote {out.resolve()}  (strip.png rows: {', '.join(rows)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fatezero_lab", description="FateZero step by step on diffusers.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the main job: a toy-world clip, inverted, reconstructed and edited with FateZero")
    d.add_argument("--model", default="toy")
    d.add_argument("--caption", default="a red circle on grass", help="the source clip's caption")
    d.add_argument("--target", default="a blue circle on grass", help="the target prompt")
    d.add_argument("--blend-words", nargs="*", default=["circle"], help="source words whose mask limits the edit")
    d.add_argument("--motion", default="left_to_right")
    d.add_argument("--frames", type=int, default=8)
    d.add_argument("--steps", type=int, default=50)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="outputs/demo")
    d.set_defaults(func=cmd_demo)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
