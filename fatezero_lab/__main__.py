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
    new_words = [w for w in args.target.split() if w not in args.caption.split()]
    reweight = {w: args.reweight for w in new_words} if args.reweight != 1.0 else {}
    edited = fz.edit(pipe, inv, args.target, blend_words=args.blend_words, reweight=reweight)
    rows = {"source": clip.frames, "reconstruction": rec, "FateZero edit": edited.frames, "ground truth": truth.frames}
    report = {"caption": clip.caption, "target": args.target, "blend_words": args.blend_words, "reweight": reweight,
              "steps": args.steps,
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


def _load_clip(args, pipe):
    """The --video clip (mp4/gif/frames folder) sampled to --frames and cropped to --size, or a toy clip."""
    import fatezero_lab as fz

    if args.video.startswith("toy:"):
        return fz.toyworld.clip(args.video[4:], frames=args.frames, seed=args.seed).frames
    size = args.size or pipe.resolution[0]  # the model's own frame size (toy 64, SD v1 512)
    return fz.video.prepare(args.video, n_frames=args.frames, size=size)


def cmd_edit(args) -> int:
    import numpy as np

    import fatezero_lab as fz

    pipe = fz.load_pipeline(args.model)
    fz.diffusion.check_prompt(pipe, args.source, "--source")
    fz.diffusion.check_prompt(pipe, args.target, "--target")
    frames = _load_clip(args, pipe)
    out = new_output_folder(args.out)
    inv = fz.invert(pipe, frames, args.source, steps=args.steps, temporal=not args.no_temporal)
    res = fz.edit(pipe, inv, args.target, blend_words=args.blend_words, guidance=args.guidance)
    fz.video.write(out / "source.mp4", frames)
    fz.video.write(out / "edit.mp4", res.frames)
    fz.video.write(out / "edit_frames", res.frames)
    fz.video.save_png(out / "side_by_side.png", fz.video.grid([frames, res.frames]), scale=max(1, 192 // frames.shape[1]))
    if res.masks:
        masks = np.stack([res.masks[i] for i in sorted(res.masks)])  # (steps, frames, h, w)
        np.save(out / "masks.npy", masks)
        fz.video.save_png(out / "masks.png", fz.video.grid([np.repeat(m[..., None], 3, -1).astype(np.float32)
                                                            for m in masks[:: max(1, len(masks) // 6)]]), scale=4)
    res.config.to_json(out / "config.json")
    (out / "prompts.json").write_text(json.dumps({"source": args.source, "target": args.target,
                                                  "video": args.video}, indent=2))
    print(f"wrote {out.resolve()}")
    return 0


def cmd_invert(args) -> int:
    import torch

    import fatezero_lab as fz

    pipe = fz.load_pipeline(args.model)
    fz.diffusion.check_prompt(pipe, args.source, "--source")
    frames = _load_clip(args, pipe)
    out = new_output_folder(args.out)
    inv = fz.invert(pipe, frames, args.source, steps=args.steps, temporal=not args.no_temporal, record=False)
    rec = fz.reconstruct(pipe, inv)
    torch.save({"latents": inv.latents, "timesteps": inv.timesteps, "prompt": inv.prompt}, out / "inversion.pt")
    fz.video.write(out / "source.mp4", frames)
    fz.video.write(out / "reconstruction.mp4", rec)
    print(f"reconstruction PSNR {fz.psnr(rec, frames):.2f} dB; wrote {out.resolve()}")
    return 0


def cmd_bench(args) -> int:
    import fatezero_lab as fz
    from fatezero_lab import bench

    pipe = fz.load_pipeline(args.model)
    cases = bench.SUITE[: args.cases] if args.cases else bench.SUITE
    variants = bench.VARIANTS
    if args.fast:
        frames, steps = 3, 5
        variants = {k: v for k, v in variants.items() if "threshold" not in k}
    else:
        frames, steps = args.frames, args.steps
    t0 = time.time()
    rows = bench.run_suite(pipe, cases, variants, frames=frames, steps=steps, guidance=args.guidance)
    path = bench.write_report(rows, new_output_folder(args.out), time.time() - t0,
                              {"frames": frames, "steps": steps, "guidance": args.guidance, "model": args.model})
    print(path.read_text())
    print(f"wrote {path.parent.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fatezero_lab", description="FateZero step by step on diffusers.")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the main job: a toy-world clip, inverted, reconstructed and edited with FateZero")
    d.add_argument("--model", default="toy")
    d.add_argument("--caption", default="a red circle on grass", help="the source clip's caption")
    d.add_argument("--target", default="a blue circle on grass", help="the target prompt")
    d.add_argument("--blend-words", nargs="*", default=["circle"], help="source words whose mask limits the edit")
    d.add_argument("--reweight", type=float, default=1.0,
                   help="cross-attention multiplier of the target's new words (the reference's eq_params), applied "
                        "inside the cross-attention window (the toy model's default window is 0); 1 = off")
    d.add_argument("--motion", default="left_to_right")
    d.add_argument("--frames", type=int, default=8)
    d.add_argument("--steps", type=int, default=50)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="outputs/demo")
    d.set_defaults(func=cmd_demo)
    for name, fn, text in (("edit", cmd_edit, "invert a clip and edit it with FateZero"),
                           ("invert", cmd_invert, "DDIM-invert a clip and reconstruct it")):
        e = sub.add_parser(name, help=text)
        e.add_argument("--video", required=True, help="mp4/gif/frames folder, or toy:<caption> for a toy clip")
        e.add_argument("--source", required=True, help="the source prompt")
        if name == "edit":
            e.add_argument("--target", required=True, help="the target prompt")
            e.add_argument("--blend-words", nargs="*", default=[], help="source words whose mask limits the edit")
            e.add_argument("--guidance", type=float, default=7.5)
        e.add_argument("--model", default="toy")
        e.add_argument("--frames", type=int, default=8)
        e.add_argument("--size", type=int, default=0, help="frame size (default 64 for the toy model, else 512)")
        e.add_argument("--steps", type=int, default=50)
        e.add_argument("--seed", type=int, default=0)
        e.add_argument("--no-temporal", action="store_true", help="plain per-frame self-attention")
        e.add_argument("--out", default=f"outputs/{name}")
        e.set_defaults(func=fn)
    b = sub.add_parser("bench", help="the ground-truth ablation suite (markdown table + JSON)")
    b.add_argument("--model", default="toy")
    b.add_argument("--cases", type=int, default=0, help="only the first N cases (0 = all)")
    b.add_argument("--frames", type=int, default=8)
    b.add_argument("--steps", type=int, default=50)
    b.add_argument("--guidance", type=float, default=7.5)
    b.add_argument("--fast", action="store_true", help="3 frames, 5 steps, no threshold sweep (a smoke run)")
    b.add_argument("--out", default="outputs/bench")
    b.set_defaults(func=cmd_bench)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
