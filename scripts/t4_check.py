"""Every sd-mode notebook's computing calls at the t4 profile: the cost model's estimate, and on a GPU the measurement.

    python scripts/t4_check.py --dry-run            # the estimates only, per notebook (no GPU, no weights: ~15 s)
    python scripts/t4_check.py                      # on CUDA: each notebook's heaviest call, measured (<= 10 min)
    python scripts/t4_check.py --standin --frames 2 --steps 2   # the measuring code on a CPU, tiny stand-in

The calls of each notebook are listed by hand in :func:`notebook_calls` (what its sd-mode cells run at the profile's
frames F and steps S; tests/test_cost.py checks them against the notebooks' code and fails if one exceeds a T4).

On a GPU (``scripts/gpu_check.sh``, stage ``t4``) a full-size SD v1 architecture with random weights
(``fz.models.random_sd_pipeline``: no hub) is saved once in fp16; then each notebook's heaviest call (largest
estimated VRAM; the same call shared by several notebooks runs once) runs in its own process, capped at
``--gpu-cap-gib`` (15, a T4) by ``torch.cuda.set_per_process_memory_fraction``, after a one-step warm-up: peak GPU
memory (``max_memory_allocated``), peak host RSS and seconds, beside the estimate for *this* card. Training calls
(tuning, null text) run too: their activation memory is the model's least certain part. **At most 10 min by
construction**: the build gets ``--build-s`` (100 s), each call ``--call-s`` (75 s, killed past it), and no call
starts unless the rest of ``--budget-s`` (360 s) holds its whole timeout: 100 + 360 = 460 s, plus the table. At
the t4 profile (8 frames, 25 steps) the heaviest call, one-shot tuning's 200 steps, is ~6 400 UNet rows, ~36 s on
an H100 by the same model.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCE, TARGET, WORDS = "a red circle on grass", "a blue circle on grass", ["circle"]  # in every tokenizer used here
TUNING_STEPS = 200  # lab.tuning in sd mode: the jeep_posche preset's (notebook 10)


def notebook_calls(F: int, S: int, tuning_steps: int = TUNING_STEPS) -> dict[str, list[tuple[str, str, dict]]]:
    """{notebook: [(label, kind, parameters)]}: what each notebook's sd-mode cells compute at F frames, S steps.

    kind: ``invert`` (frames, steps, cache, temporal, record, null_text), ``edit`` (frames, steps, temporal,
    reconstruction: ``use_inversion_attention=False``), ``sample`` (n, steps, guidance: ``sample``/``reconstruct``),
    ``tune`` (frames, steps). Widgets that only redraw are not calls.
    """
    inv = ("invert", "invert", dict(frames=F, steps=S))
    ed = ("edit", "edit", dict(frames=F, steps=S))
    recon = ("edit, reconstruction attention", "edit", dict(frames=F, steps=S, reconstruction=True))
    return {
        "00_quickstart": [inv, ed],
        "01_toy_world_and_latent_diffusion": [("sample 4 noises, w 7.5", "sample", dict(n=4, steps=S, guidance=7.5))],
        "02_ddim_inversion": [*((f"plain invert, {n} steps", "invert", dict(frames=F, steps=n, record=False))
                                for n in (5, 10, 20, 50)),
                              *((f"reconstruct, {n} steps", "sample", dict(n=F, steps=n, guidance=1.0))
                                for n in (5, 10, 20, 50)),
                              *((f"reconstruct, 50 steps, w {w}", "sample", dict(n=F, steps=50, guidance=w))
                                for w in (2.0, 4.0, 7.5))],
        "03_null_text_inversion": [inv, ("invert + null text (2 Adam steps per step)", "invert",
                                         dict(frames=F, steps=S, null_text=dict(iterations=2, lr=2e-2))),
                                   ("negative-prompt sample, w 7.5", "sample", dict(n=F, steps=S, guidance=7.5)),
                                   *(("reconstruct, w 7.5", "sample", dict(n=F, steps=S, guidance=7.5)),) * 2,
                                   *(ed,) * 3],
        "04_attention_store": [inv],
        "05_blending_mask": [inv],
        "06_inversion_attention_fusion": [inv, ed, recon, ed],
        "07_cross_attention_fusion": [inv, *(ed,) * 4, ("reconstruct, w 1", "sample", dict(n=F, steps=S, guidance=1.0)),
                                      *(ed,) * 15],  # this edit, the other mode, no cross fusion, identity; 6 weights;
        #                                              the 3 x 3 grid of windows
        "08_attention_blending": [inv, *(ed,) * 9, ("yardsticks: reconstruct, w 1", "sample",
                                                    dict(n=F, steps=S, guidance=1.0)), ed],  # + the identity edit
        "09_spatial_temporal_attention": [*((f"invert, temporal {t}", "invert", dict(frames=F, steps=S, temporal=t))
                                            for t in (False, ("first", "previous"), "all")),
                                          *((f"edit, temporal {t}", "edit", dict(frames=F, steps=S, temporal=t))
                                            for t in (False, ("first", "previous"), "all")),
                                          *(ed,) * 2],
        "10_shape_editing": [(f"one-shot tuning, {tuning_steps} steps", "tune", dict(frames=F, steps=tuning_steps)),
                             *(inv, ed) * 2],
        "11_benchmark": [inv, ("invert, temporal off", "invert", dict(frames=F, steps=S, temporal=False)),
                         recon, *(ed,) * 6],
        "12_stable_diffusion_on_gpu": [inv, ed],
    }


def estimate(pipe, kind: str, p: dict, size: int):
    """The cost model's estimate of one call (fatezero_lab.cost)."""
    from fatezero_lab import cost

    t = p.get("temporal", True)
    if kind == "invert":
        return cost.estimate_invert(pipe, p["frames"], size, size, p["steps"], p.get("cache", "recompute"), t,
                                    p.get("record", True), p.get("null_text"))
    if kind == "edit":
        return cost.estimate_edit(pipe, p["frames"], size, size, p["steps"], "recompute", t,
                                  reconstruction=p.get("reconstruction", False))
    if kind == "sample":
        return cost.estimate_sample(pipe, p["n"], size, size, p["steps"], p["guidance"])
    if kind == "tune":
        return cost.estimate_tuning(pipe, p["frames"], size, size, p["steps"])
    raise ValueError(f"unknown call kind {kind!r}")


def run_call(pipe, kind: str, p: dict, size: int, steps: int | None = None):
    """Run one call (``steps`` replaces its steps: the warm-up) -> seconds of the measured part."""
    import numpy as np
    import torch

    import fatezero_lab as fz

    def sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    p = dict(p, steps=steps or p["steps"])
    x = np.random.default_rng(0).random((p.get("frames", p.get("n", 1)), size, size, 3), dtype=np.float32)
    t = p.get("temporal", True)
    if kind == "edit":  # the inversion first, not timed: the edit's own cost is measured
        inv = fz.invert(pipe, x, SOURCE, steps=p["steps"], temporal=t, cache="recompute", progress=False)
        sync()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    if kind == "invert":
        fz.invert(pipe, x, SOURCE, steps=p["steps"], temporal=t, cache=p.get("cache", "recompute"),
                  record=p.get("record", True), null_text=p.get("null_text") or False, progress=False)
    elif kind == "edit":
        fz.edit(pipe, inv, TARGET, blend_words=WORDS, use_inversion_attention=not p.get("reconstruction", False),
                progress=False)
    elif kind == "sample":
        z = torch.randn(p["n"], *fz.encode_frames(pipe, x[:1]).shape[1:]).to(pipe.unet.device, pipe.unet.dtype)
        fz.decode_latents(pipe, fz.sample(pipe, z, SOURCE, steps=p["steps"], guidance=p["guidance"], progress=False))
    elif kind == "tune":
        fz.tuning.tune_on_clip(pipe, x, SOURCE, steps=p["steps"], progress=False)
    sync()
    return time.perf_counter() - t0


def measure(pipe, kind: str, p: dict, size: int, cap_gib: float) -> dict:
    """Warm up (one step), then run the call: seconds, peak GPU bytes, peak host RSS of this process."""
    import torch

    cuda = torch.cuda.is_available() and pipe.unet.device.type == "cuda"
    if cuda and cap_gib > 0:  # a T4's memory: an allocation past the cap raises OutOfMemoryError
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib * 2**30 / total))
    run_call(pipe, kind, p, size, steps=1)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    seconds = run_call(pipe, kind, p, size)
    return {"seconds": seconds, "gpu_peak": torch.cuda.max_memory_allocated() if cuda else 0,
            "gpu_reserved": torch.cuda.max_memory_reserved() if cuda else 0,
            "host_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _training(kind: str, p: dict) -> bool:
    return kind == "tune" or bool(p.get("null_text"))


def heaviest(calls: dict, pipe, size: int) -> list[tuple[list[str], str, str, dict]]:
    """[(notebooks, label, kind, parameters)]: each notebook's call of largest estimated VRAM (then RAM, time;
    temporal 'all' before the others: its attention reads every frame, which the model does not count), and every
    training call (tuning, null text: their activation memory is our guess), one row per distinct call; training
    calls first, then by estimated VRAM."""
    def key(c):
        e = estimate(pipe, c[1], c[2], size)
        return (e.vram, e.ram, e.rows, c[2].get("temporal") == "all")

    rows: dict[str, list] = {}
    for nb, cs in calls.items():
        for label, kind, p in [max(cs, key=key), *(c for c in cs if _training(c[1], c[2]))]:
            entry = rows.setdefault(json.dumps([kind, p], sort_keys=True, default=str), [[], label, kind, p])
            if nb not in entry[0]:
                entry[0].append(nb)
    return sorted((tuple(r) for r in rows.values()), key=lambda r: (not _training(r[2], r[3]), -key(r[1:])[0]))


def gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB"


def table(calls: dict, pipe, size: int, gpu: str) -> list[str]:
    """Markdown rows per notebook: calls, total time, peak VRAM, peak RAM, the heaviest call (estimates)."""
    from fatezero_lab import cost

    lines = [f"| notebook | calls | time on a {gpu} | peak VRAM | peak RAM | heaviest call |", "|---|---|---|---|---|---|"]
    for nb, cs in calls.items():
        ests = [estimate(pipe, k, p, size) for _, k, p in cs]
        total = ests[0]
        for e in ests[1:]:
            total = total + e
        top = max(range(len(cs)), key=lambda i: (ests[i].vram, ests[i].ram, ests[i].rows))
        lines.append(f"| {nb} | {len(cs)} | {cost.duration(total.seconds(gpu))} | {gib(total.vram)} | "
                     f"{gib(total.ram)} | {cs[top][0]} |")
    return lines


def readme_table(calls: dict, pipe, size: int) -> list[str]:
    """README's table: every notebook with its Colab badge and, for those with sd-mode calls, the estimate at the
    t4 profile on a T4 (time of all its calls, peak GPU and host memory)."""
    from fatezero_lab import cost, project

    lines = ["| # | notebook | open | sd mode on a T4 at the t4 profile (estimate, unmeasured) |", "|---|---|---|---|"]
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        title = json.loads(path.read_text())["cells"][0]["source"][0].lstrip("# ").strip()
        est = "toy only"
        if path.stem in calls:
            ests = [estimate(pipe, k, p, size) for _, k, p in calls[path.stem]]
            total = ests[0]
            for e in ests[1:]:
                total = total + e
            est = (f"≈ {cost.duration(total.seconds('T4'))}, {total.vram / 2**30:.1f} GiB VRAM, "
                   f"{total.ram / 2**30:.1f} GiB RAM")
        lines.append(f"| {path.stem[:2]} | [{title}](notebooks/{path.name}) | {project.colab_badge(path.stem)} | {est} |")
    return lines


def _meta_pipeline():
    import torch

    from fatezero_lab.models import random_sd_pipeline

    with torch.device("meta"):  # shapes and parameter counts only: nothing allocated
        return random_sd_pipeline(dtype=torch.float16)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a JSON call spec: run it in this process, print the result
    ap.add_argument("--dry-run", action="store_true", help="estimates only (no weights, no GPU)")
    ap.add_argument("--readme", action="store_true", help="print README's notebook table (estimates) and stop")
    ap.add_argument("--standin", action="store_true", help="the tiny SD stand-in on this machine's device, in "
                    "this process (a check of the measuring code, e.g. on a CPU)")
    ap.add_argument("--frames", type=int, help="frames F (default: the t4 profile's cap, 8)")
    ap.add_argument("--steps", type=int, help="DDIM steps S (default: the t4 profile's cap, 25)")
    ap.add_argument("--tuning-steps", type=int, default=TUNING_STEPS)
    ap.add_argument("--notebooks", help="comma-separated name prefixes (default: all)")
    ap.add_argument("--gpu-cap-gib", type=float, default=15.0)
    ap.add_argument("--build-s", type=int, default=100)
    ap.add_argument("--call-s", type=int, default=75)
    ap.add_argument("--budget-s", type=int, default=360)
    args = ap.parse_args(argv)

    if args.one:
        spec = json.loads(args.one)
        import fatezero_lab as fz

        pipe = fz.load_pipeline(spec["folder"], device="cuda")
        print(json.dumps(measure(pipe, spec["kind"], spec["p"], spec["size"], spec["cap"])))
        return 0

    from fatezero_lab import lab

    t4 = lab.PROFILES["t4"]
    F = args.frames or t4.max_frames
    S = args.steps or t4.max_steps
    calls = notebook_calls(F, S, args.tuning_steps if args.frames is None else min(args.tuning_steps, S))
    if args.notebooks:
        keep = tuple(s.strip() for s in args.notebooks.split(","))
        calls = {k: v for k, v in calls.items() if k.startswith(keep)}
        if not calls:
            ap.error(f"--notebooks {args.notebooks!r} matches none of {list(notebook_calls(1, 1))}")

    if args.standin:
        pipe = lab.standin_pipeline()
        size = pipe.resolution[0]
    else:
        pipe, size = _meta_pipeline(), 512
    if args.readme:
        print("\n".join(readme_table(calls, pipe, size)))
        return 0
    print(f"# sd-mode notebooks at the t4 profile: {F} frames, {S} steps, {size}² "
          f"({'the tiny stand-in' if args.standin else 'SD v1 full size'}); estimates are unmeasured until a GPU "
          f"run below\n")
    print("\n".join(table(calls, pipe, size, "T4")), "\n", flush=True)
    if args.dry_run:
        return 0

    import torch

    from fatezero_lab import cost

    cuda = torch.cuda.is_available() and not args.standin
    gpu = next((g for g in cost.GPU_TFLOPS if cuda and g in torch.cuda.get_device_name(0)), "T4")
    rows, results = heaviest(calls, pipe, size), []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        if cuda:  # the weights, once, as a hub checkpoint would be: fp16 safetensors in a folder
            built = subprocess.run([sys.executable, "-c", (
                "import sys, torch; sys.path.insert(0, %r); from fatezero_lab.models import random_sd_pipeline; "
                "random_sd_pipeline(dtype=torch.float16).save_pretrained(%r)") % (str(ROOT), tmp)],
                timeout=args.build_s, capture_output=True, text=True)
            if built.returncode:
                print("building the random SD v1 pipeline failed:", built.stderr[-2000:])
                return 1
        for notebooks, label, kind, p in rows:
            est = estimate(pipe, kind, p, size)
            if cuda and time.monotonic() - start + args.call_s > args.build_s + args.budget_s:
                results.append((notebooks, label, est, {"error": "skipped: the 10-minute budget is spent"}))
                continue
            if cuda:
                spec = json.dumps({"folder": tmp, "kind": kind, "p": p, "size": size, "cap": args.gpu_cap_gib})
                try:
                    out = subprocess.run([sys.executable, __file__, "--one", spec], timeout=args.call_s,
                                         capture_output=True, text=True)
                    got = (json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else
                           {"error": (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1][:120]})
                except subprocess.TimeoutExpired:
                    got = {"error": f"timed out after {args.call_s} s"}
            else:  # the stand-in, in this process (its peaks are this process's)
                got = measure(pipe, kind, p, size, 0)
            results.append((notebooks, label, est, got))
            print(f"  {label}: {got}", flush=True)
    where = torch.cuda.get_device_name(0) if cuda else "CPU (stand-in: checks the code, not a GPU figure)"
    print(f"\n## heaviest call per notebook, measured on {where}"
          + (f", GPU memory capped at {args.gpu_cap_gib:g} GiB" if cuda else "") + "\n")
    print(f"| notebooks | call | estimate ({gpu}) | measured time | GPU peak (allocated / reserved) | host peak RSS |")
    print("|---|---|---|---|---|---|")
    for notebooks, label, est, got in results:
        short = ", ".join(n[:2] for n in notebooks)
        if "error" in got:
            print(f"| {short} | {label} | {est.line(gpu)} | {got['error']} | | |")
        else:
            print(f"| {short} | {label} | {est.line(gpu)} | {got['seconds']:.1f} s | {gib(got['gpu_peak'])} / "
                  f"{gib(got['gpu_reserved'])} | {gib(got['host_peak'])} |")
    return 0 if all("error" not in g or g["error"].startswith("skipped") for *_, g in results) else 1


if __name__ == "__main__":
    sys.exit(main())
