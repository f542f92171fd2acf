"""Stable Diffusion's code path on a GPU: time and memory of FateZero per store mode at the paper's setting.

    python benchmarks/gpu_sd.py            # 8 frames, 512², 50 steps, fp16 on CUDA (about 4 minutes on one H200)
    python benchmarks/gpu_sd.py --fast     # smoke run (2 frames, 128², 2 steps; runs on a CPU too)

No hub is reached. A full-size SD v1.x *architecture* with random weights (``fz.models.random_sd_pipeline``: the
860 M-parameter UNet, SD's VAE, a 12-layer CLIP-L-sized text encoder) is saved to a temporary folder and loaded back
with ``fz.load_pipeline(folder)`` -- the same code as ``load_pipeline("CompVis/stable-diffusion-v1-4")``, which
picks fp16 on CUDA. Random weights draw noise, so pictures are not the point: time, GPU memory, host memory and
numerical health (finite outputs in fp16) are. Each row's process may use at most ``--gpu-cap-gib`` of GPU memory
(default 15 GiB, a free Colab T4's; ``torch.cuda.set_per_process_memory_fraction``), so a row that passes on a large
card fits a T4 too, and one that would not ends in OutOfMemoryError in its row. Each row runs in a fresh subprocess (its own peaks) after one
untimed warm-up step at the same shapes:

* ``floor``: plain DDIM inversion + plain guided DDIM sampling (no attention recorded or fused);
* ``recompute`` / ``inputs`` / ``maps``: ``fz.invert(..., cache=mode)`` + ``fz.edit`` (FateZero, spatial-temporal
  attention first+previous, CFG 7.5). ``maps`` is the reference's keep-every-map store; it runs only where the host
  has the memory its estimate asks for.

Then the toy model on the GPU against the same edit on the CPU (PSNR between the two results: kernels differ, the
method must not).

Reference cost (docs/method.md, "Reference cost": the reference code's documentation, RTX 3090, fp16, 8 frames,
50 steps, maps in RAM):
100 GB host memory, 12 GB GPU memory, 60 s inversion, 40 s edit.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from memory import fmt_bytes  # benchmarks/memory.py

MODES = ("floor", "recompute", "inputs", "maps")


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _clip(frames: int, size: int):
    import fatezero_lab as fz

    clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=frames, seed=0, size=size)
    return clip.frames, "a red circle on grass", "a blue circle on grass", ["circle"]


def measure_one(folder: str, mode: str, frames: int, size: int, steps: int, device: str, cap_gib: float) -> dict:
    import numpy as np
    import torch

    import fatezero_lab as fz

    if device == "cuda" and cap_gib > 0:  # a smaller card's memory: allocations past the cap raise OutOfMemoryError
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib * 2**30 / total))
    pipe = fz.load_pipeline(folder, device=device)
    x, src, tgt, words = _clip(frames, size)

    def run(n_steps: int):
        if mode == "floor":
            inv = fz.invert(pipe, x, src, steps=n_steps, temporal=True, record=False, progress=False)
            _sync()
            t = time.perf_counter()
            z0 = fz.sample(pipe, inv.z_T, tgt, steps=n_steps, guidance=7.5, temporal=True, progress=False)
            out = fz.decode_latents(pipe, z0)
            return inv, out, t
        inv = fz.invert(pipe, x, src, steps=n_steps, temporal=True, cache=mode, progress=False)
        _sync()
        t = time.perf_counter()
        out = fz.edit(pipe, inv, tgt, blend_words=words, progress=False).frames
        return inv, out, t

    run(1)  # warm-up: kernels chosen, memory pools grown
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    _sync()
    t0 = time.perf_counter()
    inv, out, t1 = run(steps)
    _sync()
    t2 = time.perf_counter()
    return {
        "mode": mode, "frames": frames, "size": size, "steps": steps, "device": device,
        "dtype": str(pipe.unet.dtype).replace("torch.", ""),
        "invert_s": t1 - t0, "edit_s": t2 - t1,
        "gpu_peak": torch.cuda.max_memory_allocated() if device == "cuda" else 0,
        "host_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "store_bytes": 0 if mode == "floor" else inv.store.nbytes(),
        "estimated_store_bytes": 0 if mode == "floor" else
        fz.memory.estimate_memory(pipe, frames, size, size, steps, cache=mode).store_bytes,
        "finite": float(np.isfinite(out).mean()), "cap_gib": cap_gib if device == "cuda" else 0,
    }


def toy_gpu_vs_cpu(frames: int, steps: int) -> dict:
    """The same toy edit on the GPU and on the CPU: seconds for each, PSNR between the two results."""
    import torch

    import fatezero_lab as fz

    clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=frames, seed=0)
    res = {}
    for device in ("cuda", "cpu"):
        pipe = fz.load_pipeline("toy", device=device)
        torch.manual_seed(0)
        t = time.perf_counter()
        inv = fz.invert(pipe, clip.frames, clip.caption, steps=steps, progress=False)
        out = fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], progress=False).frames
        _sync()
        res[device] = (time.perf_counter() - t, out)
    return {"gpu_s": res["cuda"][0], "cpu_s": res["cpu"][0], "psnr_gpu_vs_cpu": fz.psnr(res["cuda"][1], res["cpu"][1])}


def run_sub(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", nargs=7, help=argparse.SUPPRESS)
    ap.add_argument("--fast", action="store_true", help="2 frames, 128², 2 steps, 2 text layers: a smoke run")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--no-toy", action="store_true", help="skip the toy GPU-vs-CPU row")
    ap.add_argument("--gpu-cap-gib", type=float, default=15.0,
                    help="per-process GPU memory cap in GiB, a free Colab T4's 15 GB (0 = the whole card)")
    args = ap.parse_args(argv)
    if args.one:
        folder, mode, f, s, n, device, cap = args.one
        print(json.dumps(measure_one(folder, mode, int(f), int(s), int(n), device, float(cap))))
        return 0

    import psutil
    import torch

    import fatezero_lab as fz

    device = "cuda" if torch.cuda.is_available() else "cpu"
    frames, size, steps = (2, 128, 2) if args.fast else (args.frames, args.size, args.steps)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        ap.error(f"--modes: unknown {bad}; expected a comma-separated subset of {MODES}")
    if args.gpu_cap_gib < 0:
        ap.error(f"--gpu-cap-gib must be >= 0 (0 = no cap), got {args.gpu_cap_gib}")
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"# FateZero on a full-size SD v1.x architecture (random weights), {device} ({name}), torch "
          f"{torch.__version__}\n", flush=True)
    # 1. the toy model: GPU against CPU
    if device == "cuda" and not args.no_toy:
        toy_frames, toy_steps = (2, 4) if args.fast else (8, 50)
        r = toy_gpu_vs_cpu(toy_frames, toy_steps)
        print(f"Toy model, {toy_frames} frames, {toy_steps} steps, invert + edit: GPU {r['gpu_s']:.1f} s, "
              f"CPU ({torch.get_num_threads()} threads) {r['cpu_s']:.1f} s; the two edits agree to "
              f"{r['psnr_gpu_vs_cpu']:.1f} dB PSNR\n", flush=True)
    t_all = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        # 2. the pipeline folder: built from configs, saved in fp16 as a hub checkpoint would be
        t = time.time()
        pipe = fz.models.random_sd_pipeline(text_layers=2 if args.fast else 12, dtype=torch.float16)
        pipe.save_pretrained(tmp)
        est_maps = fz.memory.estimate_memory(pipe, frames, size, size, steps, cache="maps").store_bytes
        del pipe
        print(f"built and saved in {time.time() - t:.0f} s\n", flush=True)
        # 3. one subprocess per mode (maps last: the largest)
        rows = []
        for mode in modes:
            free = psutil.virtual_memory().available
            if mode == "maps" and est_maps > 0.7 * free:
                rows.append({"mode": mode, "error": f"skipped: store estimate {fmt_bytes(est_maps)} > 70 % of the "
                                                    f"{fmt_bytes(free)} of free host memory"})
                continue
            rows.append(run_sub(tmp, mode, frames, size, steps, device, args.gpu_cap_gib))
            print(f"  {mode}: {rows[-1]}", flush=True)
    floor = next((r for r in rows if r["mode"] == "floor" and "error" not in r), None)
    cap = f"GPU memory capped at {args.gpu_cap_gib:g} GiB per process" if device == "cuda" and args.gpu_cap_gib else ""
    print(f"\n{frames} frames, {size}², {steps} DDIM steps, CFG 7.5, spatial-temporal attention (first+previous); "
          f"{cap + '; ' if cap else ''}{len(rows)} rows in {time.time() - t_all:.0f} s\n")
    print("| mode | dtype | invert (s) | edit (s) | total / floor | GPU peak | host peak RSS | store (estimate) | "
          "finite |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['mode']} | {r['error']} |||||||")
            continue
        tot = r["invert_s"] + r["edit_s"]
        ratio = f"{tot / (floor['invert_s'] + floor['edit_s']):.2f}" if floor else "-"
        store = ("-" if r["mode"] == "floor"
                 else f"{fmt_bytes(r['store_bytes'])} ({fmt_bytes(r['estimated_store_bytes'])})")
        print(f"| {r['mode']} | {r['dtype']} | {r['invert_s']:.1f} | {r['edit_s']:.1f} | {ratio} | "
              f"{fmt_bytes(r['gpu_peak'])} | {fmt_bytes(r['host_peak'])} | {store} | {r['finite']:.3f} |")
    print("\nReference (docs/method.md, Reference cost; RTX 3090, fp16, maps in RAM, 50 steps): invert 60 s, "
          "edit 40 s, 12 GB GPU, 100 GB host.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
