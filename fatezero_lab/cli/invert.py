"""``invert``: DDIM-invert a clip and reconstruct it (the inversion's sanity check), with provenance."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from .edit import EditRequest, add_clip_and_run_flags, read_frames, temporal_settings
from .inputs import check_model_arg, check_out_arg, check_video_arg, load_model
from .provenance import model_provenance, publish, rates, write_provenance


def cmd_invert(args) -> int:
    import torch

    import fatezero_lab as fz

    t0 = time.time()
    parser = args.edit_parser
    # 0. every input checked before the model is loaded
    if not args.source.strip():
        parser.error("--source is empty; give the caption of the source clip")
    check_video_arg(parser, args.video)
    check_model_arg(parser, args.model)
    check_out_arg(parser, args.out)
    temporal = temporal_settings(args, parser)
    pipe = load_model(args.model, args)
    try:
        fz.diffusion.check_prompt(pipe, args.source, "--source")
    except ValueError as e:
        parser.error(str(e))
    req = EditRequest(model=args.model, video=args.video, source=args.source, target=args.source, config=None,
                      temporal=temporal, steps=args.steps, frames=args.frames, size=args.size, seed=args.seed,
                      start=args.start, stride=args.stride, cache=args.cache)
    try:
        frames, stride = read_frames(req, pipe)
    except (OSError, ValueError) as e:
        parser.error(f"--video: {e}")
    source_fps, output_fps = rates(frames, args.video, stride)
    output_fps = output_fps or getattr(fz.video, "DEFAULT_FPS", 8.0)
    # 1. inversion (nothing recorded) and reconstruction
    torch.manual_seed(args.seed)
    inv = fz.invert(pipe, frames, args.source, steps=args.steps, temporal=temporal, record=False)
    rec = fz.reconstruct(pipe, inv)
    psnr = fz.psnr(rec, frames)

    # 2. write, all at once, with provenance
    def write(out: Path) -> None:
        torch.save({"latents": inv.latents, "timesteps": inv.timesteps, "prompt": inv.prompt}, out / "inversion.pt")
        fz.video.write(out / "source.mp4", frames, fps=output_fps)
        fz.video.write(out / "reconstruction.mp4", rec, fps=output_fps)
        write_provenance(out, args.argv, t0, model=model_provenance(args.model, pipe, args.revision),
                         frames=int(frames.shape[0]),
                         size=list(frames.shape[1:3]), steps=args.steps, seed=args.seed, source_fps=source_fps,
                         output_fps=output_fps, video=args.video, start=args.start, stride=stride,
                         prompts={"source": args.source}, temporal=dataclasses.asdict(temporal),
                         reconstruction_psnr_db=psnr)

    out = publish(args.out, write)
    print(f"reconstruction PSNR {psnr:.2f} dB; wrote {out.resolve()}")
    return 0


def add_parser(sub) -> None:
    text = "DDIM-invert a clip and reconstruct it"
    e = sub.add_parser("invert", help=text, description=text)
    add_clip_and_run_flags(e, "invert", edit=False)
    e.set_defaults(func=cmd_invert, edit_parser=e)
