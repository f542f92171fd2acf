"""Numerical parity of fatezero_lab with the authors' FateZero code on the same random tiny SD-layout weights.

    bash scripts/reference_env.sh                       # once: .venv-reference (diffusers 0.11.1, CPU torch)
    python benchmarks/reference_parity.py               # the configured comparison (temporal 'mid', >= 64 channels)
    python benchmarks/reference_parity.py --trace       # + one cause at a time (docs/reference_parity.md)
    python benchmarks/reference_parity.py --case style  # the style edit (refine + re-weight) instead of the shape edit

It builds the model once with ``benchmarks/reference_side.py build`` (diffusers 0.11.1 ``save_pretrained``), runs the
authors' inversion and edit with ``reference_side.py run`` through ``.venv-reference/bin/python`` (a subprocess; all
exchange is files under ``--out``), loads the same folder here with diffusers' ``StableDiffusionPipeline`` and runs
``fatezero_lab.invert`` + ``fatezero_lab.edit``. Both sides start from the same z_0: the authors' inversion samples
the VAE posterior (seeded generator) and that z_0 is given to ours (``encode_frames`` patched for the call) — the
gap between their sample and our posterior mean is reported on its own row.

Printed: max |Δ| of z_T, of the inversion and edit latents per step (max over steps; per step with ``-v``), of the
decoded frames, the self-attention blend mask agreement, one UNet call (same input and text embedding on both
sides) and the teacher-forced inversion (our step applied to their z_j, against their z_{j+1}).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REF_PY = ROOT / ".venv-reference" / "bin" / "python"
SIDE = ROOT / "benchmarks" / "reference_side.py"
# the authors' checkout: $FATEZERO_REF, else shared/reference/FateZero beside this repository
AUTHORS = Path(os.environ.get("FATEZERO_REF", ROOT.parent / "shared" / "reference" / "FateZero"))
TEASER = AUTHORS / "data" / "teaser_car-turn"

SOURCE = "a silver jeep driving down a curvy road"
CASES = {  # scaled-down versions of the teaser configs (config/teaser/jeep_posche.yaml entry 1, jeep_watercolor)
    "shape": dict(target="a porsche car driving down a curvy road",
                  p2p=dict(cross_replace_steps={"default_": 0.5}, self_replace_steps=0.5, is_replace_controller=True,
                           blend_words=[["silver", "jeep"], ["porsche", "car"]], blend_self_attention=True,
                           blend_th=[0.3, 0.3])),
    "style": dict(target="watercolor painting of a silver jeep driving down a curvy road",
                  p2p=dict(cross_replace_steps={"default_": 0.8}, self_replace_steps=0.8, is_replace_controller=False,
                           eq_params={"words": ["watercolor"], "values": [10]})),
}
TEMPORAL = {  # theirs (model_config) and ours (TemporalConfig kwargs); 64 here plays SD's 640 (widths are SD's / 10)
    "mid": (dict(SparseCausalAttention_index=["mid"], least_sc_channel=64, lora=16),
            dict(reference=("mid",), min_channels=64)),
    "off": (dict(SparseCausalAttention_index=[], least_sc_channel=100000, lora=16), dict(enabled=False)),
}


def log(msg: str) -> None:
    print(msg, flush=True)


# --- inputs and the authors' side -------------------------------------------------------------------------------------
def load_frames(n: int, size: int) -> np.ndarray:
    """The first ``n`` teaser frames, resized to ``size``² -> (n, size, size, 3) float32 in [0, 1]."""
    from PIL import Image

    files = sorted(TEASER.glob("*.png"))[:n]
    if len(files) < n:
        raise SystemExit(f"need {n} frames in {TEASER}, found {len(files)}")
    return np.stack([np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BICUBIC), dtype=np.float32)
                     / 255.0 for f in files])


def run_side(args: list[str], quiet: bool = True) -> float:
    if not REF_PY.exists():
        raise SystemExit(f"{REF_PY} is missing: run scripts/reference_env.sh first")
    t0 = time.time()
    proc = subprocess.run([str(REF_PY), str(SIDE), *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": os.environ.get(
                              "OMP_NUM_THREADS", "1")})
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"reference_side.py {args[0]} failed (rc {proc.returncode})")
    if not quiet:
        log(proc.stdout.strip().splitlines()[-1])
    return time.time() - t0


def build_model(out: Path, latent: int, seed: int) -> Path:
    model = out / "model"
    if not (model / "model_index.json").exists():
        words = " ".join(sorted({w for c in CASES.values() for w in (SOURCE + " " + c["target"]).split()}))
        run_side(["build", "--out", str(model), "--words", words, "--seed", str(seed), "--latent", str(latent)],
                 quiet=False)
    return model


# --- our side -----------------------------------------------------------------------------------------------------------
def load_ours(model: Path):
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    import fatezero_lab as fz

    pipe = StableDiffusionPipeline.from_pretrained(str(model), safety_checker=None, requires_safety_checker=False)
    # SD v1.4's scheduler, which the authors load (DDIMScheduler.from_pretrained): steps_offset 1, no clipping,
    # final alpha = alphas_cumprod[0]
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, steps_offset=1, clip_sample=False,
                                               set_alpha_to_one=False)
    pipe.set_progress_bar_config(disable=True)
    return fz.as_pipeline(pipe)


@contextlib.contextmanager
def given_z0(z0: torch.Tensor | None):
    """Make ``fatezero_lab.invert`` start from ``z0`` instead of encoding the frames (None: leave it alone)."""
    import fatezero_lab.inversion as inv_mod

    if z0 is None:
        yield
        return
    orig = inv_mod.encode_frames
    inv_mod.encode_frames = lambda pipe, frames, *a, **k: z0.clone()
    try:
        yield
    finally:
        inv_mod.encode_frames = orig


@contextlib.contextmanager
def given_alignment(align_ref: dict | None):
    """Diagnostic: make fatezero_lab.edit use the authors' refine mapper/alphas (their -1 entries, which have alpha 0,
    become 0). None: leave it alone."""
    import fatezero_lab.editing as ed
    from fatezero_lab.prompts import Alignment

    if not align_ref:
        yield
        return
    orig = ed.align

    def their(tokenizer, source, target, mode="auto"):
        ours = orig(tokenizer, source, target, mode)
        if ours.mode != "refine":
            return ours
        m, a = align_ref["refine"]
        return Alignment("refine", m[0].clamp(min=0).long(), a[0].float())

    ed.align = their
    try:
        yield
    finally:
        ed.align = orig


@contextlib.contextmanager
def recording_edit_steps(out: list):
    """Record the latent after every edit step (after the control's end_step, like their callback)."""
    import fatezero_lab.editing as ed

    orig = ed.EditControl.end_step

    def end_step(self, step, z):
        z = orig(self, step, z)
        out.append(z.detach().clone())
        return z

    ed.EditControl.end_step = end_step
    try:
        yield
    finally:
        ed.EditControl.end_step = orig


def unet_eps(pipe, z, t, emb, temporal):
    """One plain UNet call of ours: ε_θ(z, t, emb) with spatial-temporal self-attention ``temporal``."""
    from fatezero_lab.processors import AttentionControl, attention_control

    control = AttentionControl(len(z), temporal, tuple(z.shape[-2:]), temporal_layers=pipe.temporal_layers)
    with torch.no_grad(), attention_control(pipe.unet, control):
        return pipe.unet(z, int(t), encoder_hidden_states=emb.expand(len(z), -1, -1)).sample


def their_mask_layers(store) -> list[str]:
    """Our names of the layers their SpatialBlender reads: down_cross[2:4] + up_cross[:3] of the stored (<= 32²)
    cross layers, in UNet order."""
    cross = [n for n, l in store.layers.items() if l.kind == "cross"]
    down = [n for n in cross if store.layers[n].place == "down"]
    up = [n for n in cross if store.layers[n].place == "up"]
    return down[2:4] + up[:3]


def our_config(case: dict, store):
    import fatezero_lab as fz

    p = case["p2p"]
    src_words, tgt_words = (p.get("blend_words") or [[], []])
    equal_words = len(SOURCE.split(" ")) == len(case["target"].split(" "))
    th = (p.get("blend_th") or [0.3, 0.3])[0]
    eq = p.get("eq_params")
    return fz.FateZeroConfig(
        guidance=7.5, cross_replace_steps=p["cross_replace_steps"]["default_"],
        self_replace_steps=p["self_replace_steps"],
        cross_mode="replace" if (p.get("is_replace_controller", True) and equal_words) else "refine",
        reweight=dict(zip(eq["words"], eq["values"])) if eq else {},
        blend_words=list(src_words), blend_self_attention=bool(p.get("blend_self_attention", False)),
        blend_threshold=th, latent_blend=bool(p.get("blend_latents", False)),
        target_blend_words=list(tgt_words) if p.get("blend_latents") else [], latent_blend_threshold=th,
        mask_layers=their_mask_layers(store), mask_dilation=3, mask_normalise="max")


def ours_run(pipe, frames, case: dict, temporal, steps: int, z0, edit: bool):
    import fatezero_lab as fz

    with given_z0(z0):
        inv = fz.invert(pipe, frames, SOURCE, steps=steps, temporal=temporal, cache="maps", max_side=32, progress=False)
    result, step_latents = None, []
    if edit:
        with recording_edit_steps(step_latents):
            result = fz.edit(pipe, inv, case["target"], config=our_config(case, inv.store), progress=False)
    return inv, result, step_latents


# --- comparison --------------------------------------------------------------------------------------------------------
def maxabs(a, b) -> float:
    return float((torch.as_tensor(a).float() - torch.as_tensor(b).float()).abs().max())


def teacher_forced(pipe, ref_latents, timesteps_inv, emb, temporal):
    """Per inversion step j: (max|ε_ours(z_j^ref) − ε_ref,j|, max|ours_step(z_j^ref) − z_{j+1}^ref|).

    ε_ref,j is recovered from their trajectory by solving their (linear in ε) DDIM inverse step for ε, with SD's
    ᾱ (the same betas on both sides) and their pairing: ᾱ of t_j − 1000/N (ᾱ_0 below zero) → ᾱ of t_j.
    """
    from fatezero_lab.diffusion import ddim_inverse_scheduler

    sched = ddim_inverse_scheduler(pipe, len(timesteps_inv))
    ac = sched.alphas_cumprod
    n = len(timesteps_inv)
    out = []
    for j, t in enumerate(timesteps_inv):
        z, z_next = ref_latents[j], ref_latents[j + 1]
        prev = t - 1000 // n
        a = ac[prev] if prev >= 0 else ac[0]
        a_next = ac[t]
        ratio = (a_next / a).sqrt()
        eps_ref = (z_next - ratio * z) / ((1 - a_next).sqrt() - ratio * (1 - a).sqrt())
        eps = unet_eps(pipe, z, t, emb, temporal)
        step = sched.step(eps, t, z).prev_sample
        out.append((maxabs(eps, eps_ref), maxabs(step, z_next)))
    return out


def compare(pipe, frames, ref_dir: Path, case: dict, temporal, steps: int, do_edit: bool, own_z0: bool = False,
            their_alignment: bool = False) -> dict:
    """Run our side on the job the authors' side ran into ``ref_dir``, return every gap."""
    from fatezero_lab.diffusion import encode_frames, encode_prompt
    from fatezero_lab.prompts import align

    ref_inv = torch.load(ref_dir / "inversion_latents.pt")  # (steps + 1, F, 4, h, w)
    meta = json.loads((ref_dir / "meta.json").read_text())
    text = torch.load(ref_dir / "text.pt")
    post = torch.load(ref_dir / "posterior.pt")
    r: dict = {"ref_meta": {k: meta.get(k) for k in ("timesteps", "final_alpha_cumprod", "added_parameters",
                                                      "diagnostics", "z0_equals_probe_input",
                                                      "is_replace_controller_effective", "mask_calls_per_step")}}
    z0_ref = ref_inv[0]
    with torch.no_grad():
        our_mean = encode_frames(pipe, frames)
        r["text_embedding"] = max(maxabs(encode_prompt(pipe, SOURCE), text["source"]),
                                  maxabs(encode_prompt(pipe, case["target"]), text["target"]),
                                  maxabs(encode_prompt(pipe, ""), text["uncond"]))
    r["vae_mean"] = maxabs(our_mean, post["mean"])  # same posterior mean on both sides?
    r["z0_sample_vs_mean"] = maxabs(z0_ref, our_mean)  # their posterior sample vs our mean
    r["posterior_std_max"] = float(post["std"].max())
    r["abs_z0_max"] = float(z0_ref.abs().max())
    # one UNet call: their ε on their z_0 vs ours on the same z_0, same (their) text embedding
    probes = torch.load(ref_dir / "unet_probe.pt")
    r["unet_call"] = {int(t): maxabs(unet_eps(pipe, z0_ref, t, text["source"], temporal), e)
                      for t, e in probes.items()}
    r["abs_eps_max"] = max(float(e.abs().max()) for e in probes.values()) if probes else None
    # inversion, free-running from the same z_0
    align_ref = torch.load(ref_dir / "alignment.pt") if (ref_dir / "alignment.pt").exists() else {}
    if "refine" in align_ref:
        ours_refine = align(pipe.tokenizer, SOURCE, case["target"], "refine")
        m, a = align_ref["refine"][0][0], align_ref["refine"][1][0]
        live = a > 0  # where alpha is 0 the mapper entry is unused
        r["refine_mapper_differs_at"] = [int(i) for i in torch.nonzero(
            (ours_refine.mapper != m) & live | (ours_refine.alpha != a)).flatten()]
    if "replace" in align_ref:
        r["replace_mapper_is_identity"] = bool(torch.equal(align_ref["replace"][0], torch.eye(77)))
    with given_alignment(align_ref if their_alignment else None):
        inv, result, step_latents = ours_run(pipe, frames, case, temporal, steps, None if own_z0 else z0_ref,
                                             do_edit)
    r["timesteps_ours_inverse"] = [int(t) for t in inv.timesteps]
    per = [maxabs(inv.latents[j], ref_inv[j]) for j in range(len(ref_inv))]
    r["inversion_per_step"] = per
    r["z_T"] = per[-1]
    r["abs_zT_max"] = float(ref_inv[-1].abs().max())
    tf = teacher_forced(pipe, ref_inv, [int(t) for t in inv.timesteps], text["source"], temporal)
    r["teacher_forced_eps"] = [a for a, _ in tf]
    r["teacher_forced_step"] = [b for _, b in tf]
    if do_edit:
        ref_steps = torch.load(ref_dir / "edit_latents.pt")  # (steps, F, 4, h, w)
        per_e = [maxabs(a, b) for a, b in zip(step_latents, ref_steps)]
        r["edit_per_step"] = per_e
        r["edit_latents_max"] = max(per_e)
        r["abs_edit_latents_max"] = float(ref_steps.abs().max())
        r["edit_z0"] = per_e[-1]
        ref_frames = np.load(ref_dir / "edit_frames.npy")
        r["frames"] = maxabs(result.frames, ref_frames)
        ref_masks = torch.load(ref_dir / "edit_masks.pt")
        agree = {}
        for step, m in result.masks.items():
            theirs = [x for x in ref_masks.get(step, []) if tuple(x.shape) == tuple(m.shape)]
            if theirs:
                tm = theirs[0].numpy()
                agree[int(step)] = {"agree": float((tm == m).mean()), "differ_px": int((tm != m).sum()),
                                    "ours_area": float(m.mean()), "theirs_area": float(tm.mean())}
        r["mask"] = agree
        r["mask_steps_ours"] = sorted(int(s) for s in result.masks)
        r["mask_steps_theirs"] = sorted(int(s) for s in ref_masks)
    return r


def side_job(out: Path, name: str, frames_path: Path, case: dict, temporal_key: str, steps: int,
             probe_t: list[int], edit: bool, **diag) -> Path:
    job = dict(frames=str(frames_path), source_prompt=SOURCE, target_prompt=case["target"], steps=steps,
               guidance=7.5, model_config=TEMPORAL[temporal_key][0], p2p_config=case["p2p"], seed=0, vae_seed=0,
               probe_timesteps=probe_t, edit=edit, **diag)
    job_path = out / f"job_{name}.json"
    job_path.write_text(json.dumps(job, indent=2))
    return job_path


def fmt(x) -> str:
    return "—" if x is None else f"{x:.2e}" if abs(x) < 1e-2 else f"{x:.3f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "reference_parity"))
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--latent", type=int, default=40, help="latent side (> 32 so that, as in SD at 512², the first "
                                                           "UNet level is neither stored nor fused)")
    ap.add_argument("--case", choices=sorted(CASES), default="shape")
    ap.add_argument("--trace", action="store_true", help="also run one cause at a time (several authors' runs)")
    ap.add_argument("--only", default=None, help="comma-separated run names (see RUNS below) instead of the default")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random model")
    ap.add_argument("--blend-th", type=float, default=0.9,
                    help="blend threshold of the shape case (the teaser's 0.3 gives all-ones masks on a random model, "
                         "whose max-normalised maps lie in about 0.78-1)")
    ap.add_argument("--reuse", action="store_true", help="reuse an authors' run whose job is unchanged")
    ap.add_argument("-v", "--verbose", action="store_true", help="print per-step gaps")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import fatezero_lab as fz

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(out, args.latent, args.seed)
    size = args.latent * 2  # the tiny VAE downsamples by 2
    frames = load_frames(args.frames, size)
    frames_path = out / f"frames_{args.frames}x{size}.npy"
    np.save(frames_path, frames)
    case = json.loads(json.dumps(CASES[args.case]))
    if "blend_th" in case["p2p"]:
        case["p2p"]["blend_th"] = [args.blend_th, args.blend_th]
    probe_t = [1, 401, 801]

    # name: (temporal, edit?, diagnostics for their side, our side's options). Ours: "own_z0" — encode the frames with
    # our posterior mean instead of starting from their sample; "their_alignment" — use their refine mapper/alphas
    # (a diagnostic of our word alignment)
    RUNS = {
        "configured": ("mid", True, {}, {}),
        "own_z0": ("mid", True, {}, {"own_z0": True}),  # (d)
        "a_zero_added": ("mid", True, {"zero_added": True}, {}),
        "b_off": ("off", False, {}, {}),
        "b_off_zero_added": ("off", False, {"zero_added": True}, {}),
        "gn_only": ("mid", False, {"framewise_groupnorm": True}, {}),
        "gn_zero_added": ("mid", True, {"zero_added": True, "framewise_groupnorm": True}, {}),
        "gn_off_zero_added": ("off", False, {"zero_added": True, "framewise_groupnorm": True}, {}),
        "gn_zero_added_their_alignment": ("mid", True, {"zero_added": True, "framewise_groupnorm": True},
                                          {"their_alignment": True}),
    }
    names = (args.only.split(",") if args.only else
             list(RUNS) if args.trace else ["configured"])
    pipe = load_ours(model)
    results = {}
    ref_cache: dict[tuple, Path] = {}
    for name in names:
        temporal_key, do_edit, diag, ours_opts = RUNS[name]
        key = (temporal_key, do_edit, tuple(sorted(diag)))
        if key not in ref_cache:
            tag = f"{args.case}_f{args.frames}_{name}"
            ref_dir = out / f"ref_{tag}"
            job = side_job(out, tag, frames_path, case, temporal_key, args.steps, probe_t, do_edit,
                           **diag)
            done = ref_dir / "job.json"
            if args.reuse and done.exists() and done.read_text() == job.read_text() and (ref_dir / "meta.json").exists():
                log(f"[{name}] authors' side: reusing {ref_dir}")
            else:
                secs = run_side(["run", "--model", str(model), "--job", str(job), "--out", str(ref_dir)])
                done.write_text(job.read_text())
                log(f"[{name}] authors' side {secs:.1f} s")
            ref_cache[key] = ref_dir
        t0 = time.time()
        r = compare(pipe, frames, ref_cache[key], case, fz.TemporalConfig(**TEMPORAL[temporal_key][1]), args.steps,
                    do_edit, **ours_opts)
        r["run"], r["temporal"], r["diagnostics"], r["ours"] = name, temporal_key, diag, ours_opts
        log(f"[{name}] our side {time.time() - t0:.1f} s")
        results[name] = r
    res_path = out / f"results_{args.case}_f{args.frames}.json"
    res_path.write_text(json.dumps(results, indent=2))

    cols = ["run", "UNet call (t=1/401/801)", "z_T", "inv. step max", "teacher-forced ε", "edit latents", "frames",
            "mask agree"]
    log("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for name, r in results.items():
        uc = "/".join(fmt(r["unet_call"][t]) for t in probe_t)
        mask = r.get("mask") or {}
        mask_s = (f"{min(v['agree'] for v in mask.values()):.3f}" if mask else "—")
        log(f"| {name} | {uc} | {fmt(r['z_T'])} | {fmt(max(r['inversion_per_step']))} | "
            f"{fmt(max(r['teacher_forced_eps']))} | {fmt(r.get('edit_latents_max'))} | {fmt(r.get('frames'))} | "
            f"{mask_s} |")
    first = next(iter(results.values()))
    log(f"\ntext embedding max|Δ| {fmt(first['text_embedding'])}; VAE posterior mean max|Δ| {fmt(first['vae_mean'])}; "
        f"their z_0 (posterior sample) vs our z_0 (mean) max|Δ| {fmt(first['z0_sample_vs_mean'])} "
        f"(posterior std up to {fmt(first['posterior_std_max'])}, |z_0| up to {fmt(first['abs_z0_max'])}); "
        f"|ε| up to {fmt(first['abs_eps_max'])}, |z_T| up to {fmt(first['abs_zT_max'])}, |edit latents| up to "
        f"{fmt(first.get('abs_edit_latents_max'))}")
    log(f"timesteps theirs {first['ref_meta']['timesteps']} (inverted ascending), ours inverse "
        f"{first['timesteps_ours_inverse']}; their final_alpha_cumprod {first['ref_meta']['final_alpha_cumprod']:.6f}")
    for name, r in results.items():
        for k in ("refine_mapper_differs_at", "replace_mapper_is_identity"):
            if k in r:
                log(f"[{name}] {k}: {r[k]}")
    if args.verbose:
        for name, r in results.items():
            log(f"\n[{name}] inversion per step: {[fmt(x) for x in r['inversion_per_step']]}")
            log(f"[{name}] teacher-forced ε per step: {[fmt(x) for x in r['teacher_forced_eps']]}; "
                f"step: {[fmt(x) for x in r['teacher_forced_step']]}")
            if "edit_per_step" in r:
                log(f"[{name}] edit per step: {[fmt(x) for x in r['edit_per_step']]}; mask: {r['mask']}; "
                    f"mask steps ours {r['mask_steps_ours']} theirs {r['mask_steps_theirs']}")
            log(f"[{name}] their side: {r['ref_meta']}")
    log(f"\nresults: {res_path}")


if __name__ == "__main__":
    main()
