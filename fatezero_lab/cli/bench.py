"""``bench`` (the ground-truth ablation suite: a markdown table and JSON) and ``presets`` (the paper's examples)."""

from __future__ import annotations

import time

from .flags import at_least
from .provenance import new_output_folder


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


# ---------------------------------------------------------------------------------------------------- presets
def cmd_presets(args) -> int:
    import fatezero_lab as fz

    if args.name is None:
        print(fz.presets.list(args.kind))
        print("\nrun one: python -m fatezero_lab edit --preset NAME   (details: python -m fatezero_lab presets NAME)")
        return 0
    try:
        print(fz.presets.load(args.name).summary())
    except ValueError as e:
        args.presets_parser.error(str(e))
    return 0



def add_parsers(sub) -> None:
    b = sub.add_parser("bench", help="the ground-truth ablation suite (markdown table + JSON)")
    b.add_argument("--model", default="toy")
    b.add_argument("--cases", type=at_least(0), default=0, help="only the first N cases (0 = all)")
    b.add_argument("--frames", type=at_least(1), default=8)
    b.add_argument("--steps", type=at_least(1), default=50)
    b.add_argument("--guidance", type=float, default=7.5)
    b.add_argument("--fast", action="store_true", help="3 frames, 5 steps, no threshold sweep (a smoke run)")
    b.add_argument("--out", default="outputs/bench")
    b.set_defaults(func=cmd_bench)
    p = sub.add_parser("presets", help="list the paper's examples (fz.presets), or show one")
    p.add_argument("name", nargs="?", default=None, help="a preset to describe in full")
    p.add_argument("--kind", choices=("style", "attribute", "shape"), default=None, help="only this kind")
    p.set_defaults(func=cmd_presets, presets_parser=p)
