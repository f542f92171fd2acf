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
    out = new_output_folder(args.out)
    t0 = time.time()
    pipe = fz.load_pipeline(args.model)
    clip = fz.toyworld.clip(args.caption, motion=args.motion, frames=args.frames, seed=args.seed)
    print(f"source clip: {clip}")
    inv = fz.invert(pipe, clip.frames, clip.caption, steps=args.steps)
    rec = fz.reconstruct(pipe, inv)
    vae = fz.vae_roundtrip(pipe, clip.frames)
    rows = {"source": clip.frames, "VAE round trip": vae, "DDIM inversion + reconstruction": rec}
    report = {"caption": clip.caption, "steps": args.steps, "frames": args.frames,
              "vae_psnr_db": fz.psnr(vae, clip.frames), "reconstruction_psnr_db": fz.psnr(rec, clip.frames),
              "seconds": round(time.time() - t0, 1)}
    for name, frames in rows.items():
        fz.video.write(out / f"{name.split()[0].lower()}.mp4", frames)
    fz.video.write(out / "source.gif", clip.frames)
    fz.video.save_png(out / "strip.png", fz.video.grid(list(rows.values())), scale=3)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
    print(f"wrote {out.resolve()}  (strip.png: rows = {', '.join(rows)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fatezero_lab", description="FateZero step by step on diffusers.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the main job: a toy-world clip, inverted and reconstructed, written to --out")
    d.add_argument("--model", default="toy")
    d.add_argument("--caption", default="a red circle and a blue square on grass")
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
