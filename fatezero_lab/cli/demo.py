"""``demo``: the README's main job on a toy-world clip — inverted, reconstructed and edited with FateZero, scored
against the toy renderer's exact ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .flags import at_least
from .provenance import model_provenance, publish, write_provenance


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

    def write(out: Path) -> None:
        for name, frames in rows.items():
            fz.video.write(out / f"{name.split()[-1].lower()}.mp4", frames)
            fz.video.write(out / f"{name.split()[-1].lower()}.gif", frames)
        fz.video.save_png(out / "strip.png", fz.video.grid(list(rows.values())), scale=3)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        edited.config.to_json(out / "config.json")
        write_provenance(out, args.argv, t0, model=model_provenance(args.model, pipe), frames=args.frames,
                         size=list(clip.frames.shape[1:3]), steps=args.steps, seed=args.seed, source_fps=None,
                         output_fps=None, prompts={"source": clip.caption, "target": args.target},
                         config=edited.config.to_dict())

    out = publish(args.out, write)
    for k, v in report.items():
        print(f"  {k}: {v:.2f}" if isinstance(v, float) else f"  {k}: {v}")
    print(f"wrote {out.resolve()}  (strip.png rows: {', '.join(rows)})")
    return 0


def add_parser(sub) -> None:
    d = sub.add_parser("demo", help="the main job: a toy-world clip, inverted, reconstructed and edited with FateZero")
    d.add_argument("--model", default="toy")
    d.add_argument("--caption", default="a red circle on grass", help="the source clip's caption")
    d.add_argument("--target", default="a blue circle on grass", help="the target prompt")
    d.add_argument("--blend-words", nargs="*", default=["circle"], help="source words whose mask limits the edit")
    d.add_argument("--reweight", type=float, default=1.0,
                   help="cross-attention multiplier of the target's new words (the reference's eq_params), applied "
                        "inside the cross-attention window (the toy model's default window is 0); 1 = off")
    d.add_argument("--motion", default="left_to_right")
    d.add_argument("--frames", type=at_least(1), default=8)
    d.add_argument("--steps", type=at_least(1), default=50)
    d.add_argument("--seed", type=at_least(0), default=0)
    d.add_argument("--out", default="outputs/demo")
    d.set_defaults(func=cmd_demo)
