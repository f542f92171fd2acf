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


def _reference_edit(args):
    """The edit a ``--reference-config`` names (None without one); file, index and paths checked before any model
    is loaded (``args.edit_parser.error`` exits with status 2 and the reason)."""
    if args.reference_config is None:
        if args.reference_index is not None:
            args.edit_parser.error("--reference-index needs --reference-config")
        missing = [f"--{n}" for n in ("video", "source", "target") if getattr(args, n) is None]
        if missing:
            args.edit_parser.error(f"the following arguments are required: {', '.join(missing)} "
                                   f"(or give --reference-config)")
        return None
    from fatezero_lab.reference_config import read_reference_yaml

    try:
        ref = read_reference_yaml(args.reference_config, args.reference_index or 0)
    except (OSError, ValueError) as e:
        args.edit_parser.error(f"--reference-config: {e}")
    if args.video is None:
        found = ref.video_path()
        if found is None:
            args.edit_parser.error(f"the config's clip {ref.dataset_path!r} was not found (looked under the working "
                                   f"directory and the folders above {ref.path}); pass --video")
        args.video = str(found)
    if args.model is None:
        args.model = ref.model_path()
        if args.model is None:
            args.edit_parser.error(f"the config's pretrained_model_path {ref.pretrained_model_path!r} was not found "
                                   f"(a one-shot tuned checkpoint?); pass --model")
    return ref


def cmd_edit(args) -> int:
    import numpy as np

    import fatezero_lab as fz

    # 0. the request: from the flags, or from an authors' YAML config (--reference-config), flags overriding it
    ref = _reference_edit(args)
    source = args.source if args.source is not None else ref.source_prompt
    target = args.target if args.target is not None else ref.target_prompt
    steps = args.steps if args.steps is not None else (ref.steps if ref else 50)
    config = ref.config if ref else fz.FateZeroConfig(guidance=7.5, blend_words=[])
    temporal = not args.no_temporal if ref is None else (False if args.no_temporal else ref.temporal)
    config = config.replace(**{k: v for k, v in (("guidance", args.guidance), ("blend_words", args.blend_words))
                               if v is not None})
    if ref is not None:
        print(ref.summary())
    pipe = fz.load_pipeline(args.model or "toy")
    fz.diffusion.check_prompt(pipe, source, "--source")
    fz.diffusion.check_prompt(pipe, target, "--target")
    if config.cross_mode == "replace":  # the reference's replace copes with unequal token counts; ours does not
        from fatezero_lab.prompts import align

        try:
            align(pipe.tokenizer, source, target, "replace")
        except ValueError as e:
            print(f"note: {e}; using cross_mode='refine'")
            config = config.replace(cross_mode="refine")
    from fatezero_lab.prompts import word_token_indices

    for words, prompt in ((config.blend_words, source), ([*config.target_blend_words, *config.reweight], target)):
        for word in words:  # a word missing from its prompt fails here, before the inversion
            word_token_indices(pipe.tokenizer, prompt, word)
    if ref is not None and not args.video.startswith("toy:"):
        frames = ref.load_clip(args.video, size=args.size or pipe.resolution[0], n_frames=args.frames)
    else:
        if args.frames is None:
            args.frames = ref.n_sample_frame if ref is not None and ref.n_sample_frame > 0 else 8
        frames = _load_clip(args, pipe)
    out = new_output_folder(args.out)
    inv = fz.invert(pipe, frames, source, steps=steps, temporal=temporal)
    res = fz.edit(pipe, inv, target, config)
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
    prompts = {"source": source, "target": target, "video": args.video}
    if ref is not None:
        prompts.update(reference_config=str(ref.path), reference_index=ref.index, steps=steps,
                       temporal=str(temporal), notes=ref.notes)
    (out / "prompts.json").write_text(json.dumps(prompts, indent=2))
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
        ref = name == "edit"  # edit may take its prompts, clip and settings from --reference-config instead
        e.add_argument("--video", required=not ref, help="mp4/gif/frames folder, or toy:<caption> for a toy clip")
        e.add_argument("--source", required=not ref, help="the source prompt")
        if ref:
            e.add_argument("--target", help="the target prompt")
            e.add_argument("--blend-words", nargs="*", default=None, help="source words whose mask limits the edit")
            e.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default 7.5)")
            e.add_argument("--reference-config", metavar="FILE", default=None,
                           help="an authors' FateZero YAML config (config/**/*.yaml): its prompts, fusion knobs, "
                                "temporal attention, steps, guidance, clip and model; flags given here override it")
            e.add_argument("--reference-index", metavar="N", type=int, default=None,
                           help="which editing_prompts entry of --reference-config (default 0; entry 0 is usually "
                                "the source prompt itself, i.e. a reconstruction)")
            e.set_defaults(edit_parser=e)
        e.add_argument("--model", default=None if ref else "toy",
                       help="'toy', a pipeline folder or a hub id (default toy, or the reference config's model)")
        e.add_argument("--frames", type=int, default=None if ref else 8)
        e.add_argument("--size", type=int, default=0, help="frame size (default 64 for the toy model, else 512)")
        e.add_argument("--steps", type=int, default=None if ref else 50)
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
