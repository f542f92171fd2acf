"""Memory and time of FateZero's source-attention store, per mode, measured in one run (issue: memory).

    python benchmarks/memory.py           # toy model (8 frames, 50 steps) + SD-size UNet (256², 4 frames, 5 steps)
    python benchmarks/memory.py --fast    # smoke run

Each measurement runs in a fresh subprocess so its peak RSS is its own. Rows: the floor (plain DDIM inversion +
plain guided DDIM sampling, no attention fusion) and invert + edit in each store mode. Then the analytic store size
of SD v1.4 at the paper's full setting (8 frames, 512², 50 steps, fp16) per mode, and a check of the estimate
against the measured store sizes as frames, resolution and steps change.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

MODES = ("maps", "inputs", "recompute")


def measure_one(model: str, mode: str, frames: int, size: int, steps: int) -> dict:
    import numpy as np
    import torch

    import fatezero_lab as fz

    torch.manual_seed(0)
    pipe = fz.load_pipeline("toy", device="cpu") if model == "toy" else fz.models.random_sd_pipeline(text_layers=2)
    rng = np.random.default_rng(0)
    if model == "toy":
        clip = fz.toyworld.clip("a red circle on grass", frames=frames, seed=0, size=size)
        frames_arr, src, tgt, words = clip.frames, clip.caption, "a blue circle on grass", ["circle"]
    else:
        frames_arr = rng.random((frames, size, size, 3)).astype(np.float32)
        src, tgt, words = "a red circle on grass", "a blue circle on grass", ["circle"]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if mode == "floor":
        inv = fz.invert(pipe, frames_arr, src, steps=steps, temporal=True, record=False, progress=False)
        z0 = fz.sample(pipe, inv.z_T, tgt, steps=steps, guidance=7.5, temporal=True, progress=False)
        fz.decode_latents(pipe, z0)
        store_bytes = 0
    else:
        inv = fz.invert(pipe, frames_arr, src, steps=steps, temporal=True, cache=mode, progress=False)
        fz.edit(pipe, inv, tgt, blend_words=words, progress=False)
        store_bytes = inv.store.nbytes()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    est = fz.memory.estimate_memory(pipe, frames, size, size, steps, cache=mode if mode != "floor" else "recompute",
                                    prompt_tokens=len(fz.diffusion.tokens(pipe, src)))
    return {"model": model, "mode": mode, "frames": frames, "size": size, "steps": steps, "seconds": seconds,
            "store_bytes": store_bytes, "estimated_store_bytes": est.store_bytes if mode != "floor" else 0,
            "peak_rss": peak, "rss_before": base_rss}


def run_sub(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", nargs=5, metavar=("MODEL", "MODE", "FRAMES", "SIZE", "STEPS"), help=argparse.SUPPRESS)
    ap.add_argument("--fast", action="store_true")
    ap.add_argument("--no-sd", action="store_true", help="skip the SD-size UNet rows")
    args = ap.parse_args(argv)
    if args.one:
        model, mode, f, s, n = args.one
        print(json.dumps(measure_one(model, mode, int(f), int(s), int(n))))
        return 0

    setups = [("toy", 8, 64, 50)] if not args.fast else [("toy", 2, 64, 4)]
    if not args.no_sd:
        setups.append(("sd-random", 4, 256, 5) if not args.fast else ("sd-random", 2, 128, 2))
    lines = ["| model | setting | mode | store | estimate | peak RSS | time (s) | time / floor | store / maps |",
             "|---|---|---|---|---|---|---|---|---|"]
    t_all = time.time()
    for model, f, s, n in setups:
        rows = {m: run_sub(model, m, f, s, n) for m in ("floor",) + MODES}
        floor, maps = rows["floor"]["seconds"], rows["maps"]["store_bytes"]
        for m, r in rows.items():
            ratio = f"{maps / r['store_bytes']:.0f}x smaller" if m not in ("floor", "maps") and r["store_bytes"] else "-"
            lines.append(f"| {model} | {f} frames, {s}², {n} steps | {m} | {fmt_bytes(r['store_bytes'])} | "
                         f"{fmt_bytes(r['estimated_store_bytes'])} | {fmt_bytes(r['peak_rss'])} | {r['seconds']:.1f} | "
                         f"{r['seconds'] / floor:.2f} | {ratio} |")
    print(f"# Store modes, measured in one run ({time.time() - t_all:.0f} s)\n")
    print("\n".join(lines))

    # the paper's full setting, by estimate
    import torch

    import fatezero_lab as fz

    pipe = fz.models.random_sd_pipeline(text_layers=1, dtype=torch.float16)
    print("\n# SD v1.4 at the paper's setting (8 frames, 512², 50 steps, fp16, first+previous), by estimate\n")
    print("| mode | store | per step | working | fits a Colab T4 (16 GB GPU, 12 GB host)? |")
    print("|---|---|---|---|---|")
    for m in MODES:
        e = fz.memory.estimate_memory(pipe, 8, 512, 512, 50, cache=m)
        fits = fz.memory.fits(e, host=int(12e9), gpu=int(16e9) - e.model_bytes)
        print(f"| {m} | {fmt_bytes(e.store_bytes)} | {fmt_bytes(e.per_step_bytes)} | {fmt_bytes(e.working_bytes)} | "
              f"{'yes' if fits else 'no'} |")
    model = fz.memory.estimate_memory(pipe, 8, 512, 512, 50).model_bytes
    pick = fz.memory.choose_cache(pipe, 8, 512, 512, 50, available=int(12e9), gpu_available=int(16e9) - model,
                                  device="cuda")
    print(f"\nDefault mode on a Colab T4 (12 GB host, 16 GB GPU minus {fmt_bytes(model)} of weights): {pick!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
