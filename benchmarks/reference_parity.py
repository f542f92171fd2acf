"""Numerical parity of fatezero_lab with the authors' FateZero code on the same random tiny SD-layout weights.

    bash scripts/reference_env.sh                       # once: .venv-reference (diffusers 0.11.1, CPU torch)
    python benchmarks/reference_parity.py               # the configured comparison (temporal 'mid', >= 64 channels)
    python benchmarks/reference_parity.py --trace       # + one cause at a time (docs/reference_parity.md)
    python benchmarks/reference_parity.py --case style  # the style edit (refine + re-weight) instead of the shape edit
    python benchmarks/reference_parity.py --config config/teaser/jeep_posche_local_latent_blend.yaml --index 0 \
        --only gn_zero_added,configured           # a case taken from one of the authors' YAML files (both sides)

``--config`` (a path relative to the authors' checkout) and ``--index`` take the edit from their YAML: their side gets
the file's own ``p2p_config[index]`` dict, ``model_config``, prompts, guidance and ``use_inversion_attention``; ours
the ``FateZeroConfig`` and ``TemporalConfig`` that ``fatezero_lab.reference_config.read_reference_yaml`` makes of it.
Only what the tiny model forces changes, on both sides alike, and is listed in the results (``yaml_changes``): frames
(``--frames``) and size, DDIM steps (the file's when <= 10, else ``--steps`` or 5), ``least_sc_channel`` / 10 (widths
are SD's / 10), the blend threshold raised to ``--blend-th`` where blend words are left (a random model's
max-normalised maps lie in about 0.78-1, so 0.3 gives all-ones masks), ``mask_layers`` = the layers their blender
reads; the tokenizer learns the prompts' words (its own model folder when the words are new). The clip is the teaser
clip's first frames whatever the file names (the only clip in the checkout). ``--use-inversion-attention false``
overrides ``editing_config.use_inversion_attention`` on both sides (their prompt-to-prompt reconstruction pass).

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
import hashlib
import re
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


def prompt_words(text: str) -> set[str]:
    """The tokenizer's words of a prompt: lowercase letter runs and single punctuation marks (CLIP splits them)."""
    return set(re.findall(r"[a-z]+|[^a-z\s]", text.lower()))


def build_model(out: Path, latent: int, seed: int, extra_words: set[str] = frozenset()) -> Path:
    """The random tiny model; its tokenizer learns the hand-written cases' words. New words (a YAML case's prompts)
    give a model of their own (``model_<hash>``: the vocabulary size changes every seeded weight), so the
    hand-written cases always run on the same ``model``."""
    words = {w for c in CASES.values() for w in (SOURCE + " " + c["target"]).split()}
    model = out / "model"
    pad = []
    if not set(extra_words) <= words:
        words |= set(extra_words)
        model = out / f"model_{hashlib.sha1(' '.join(sorted(words)).encode()).hexdigest()[:8]}"
        pad = ["--min-vocab", "1000"]  # real-tokenizer handling of punctuation
    if seed != 0:  # another random model: a folder of its own
        model = model.with_name(f"{model.name}_seed{seed}")
    if not (model / "model_index.json").exists():
        run_side(["build", "--out", str(model), "--words", " ".join(sorted(words)), "--seed", str(seed), "--latent",
                  str(latent), *pad], quiet=False)
    return model


def yaml_case(rel: str, index: int, steps: int | None, blend_th: float, use_inv: bool | None) -> dict:
    """A case from the authors' YAML ``rel`` (relative to their checkout), entry ``index``: their p2p dict and
    model_config for their side, the reader's FateZeroConfig / TemporalConfig for ours, with the same scale-downs."""
    import yaml

    from fatezero_lab.reference_config import read_reference_yaml

    path = AUTHORS / rel
    ref = read_reference_yaml(path, index)
    raw = yaml.safe_load(path.read_text())
    ed = raw["editing_config"]
    p2p_all = {int(k): v for k, v in ed["p2p_config"].items()}
    p2p = json.loads(json.dumps(p2p_all[index]))
    changes: list[str] = []
    cfg = ref.config
    # steps
    n_steps = steps if steps is not None else (ref.steps if ref.steps <= 10 else 5)
    if n_steps != ref.steps:
        changes.append(f"num_inference_steps {ref.steps} -> {n_steps}")
    # blend threshold: only where blend words are left (theirs: blend_words present; ours: the reader kept some)
    th = p2p.get("blend_th", [0.3, 0.3])
    th = [th, th] if isinstance(th, (int, float)) else list(th)
    if p2p.get("blend_words") not in (None, "None") and float(th[0]) < blend_th:
        changes.append(f"blend_th {th} -> [{blend_th}, {blend_th}] (both sides)")
        p2p["blend_th"] = [blend_th, blend_th]
        cfg = cfg.replace(blend_threshold=blend_th, latent_blend_threshold=min(blend_th, 1.0))
    # use_inversion_attention (editing_config level, as their logger applies it)
    inv_att = ref.config.use_inversion_attention if use_inv is None else use_inv
    if inv_att != ref.config.use_inversion_attention:
        changes.append(f"editing_config.use_inversion_attention {ref.config.use_inversion_attention} -> {inv_att} "
                       f"(both sides)")
        cfg = cfg.replace(use_inversion_attention=inv_att)
    # model_config: least_sc_channel / 10 (widths are SD's / 10); the index and lora as written
    mc = dict(raw.get("model_config") or {})
    mc.pop("temporal_downsample", None)
    if "least_sc_channel" in mc:
        changes.append(f"least_sc_channel {mc['least_sc_channel']} -> {mc['least_sc_channel'] // 10}")
        mc["least_sc_channel"] = mc["least_sc_channel"] // 10
    t = ref.temporal
    temporal = dict(enabled=False) if not t.enabled else dict(reference=tuple(t.reference),
                                                               min_channels=t.min_channels // 10)
    p0 = json.loads(json.dumps(p2p_all.get(0) or p2p))  # their entry 0 (its "save" pass reads no p2p knob)
    return dict(source=ref.source_prompt, target=ref.target_prompt, alignment=ref.alignment_prompt,
                save_prompt=ed["editing_prompts"][0], p2p=p2p, p2p_0=p0, config=cfg, guidance=cfg.guidance,
                steps=n_steps, model_config=mc, temporal=temporal, use_inversion_attention=inv_att,
                yaml=dict(path=rel, index=index, steps=ref.steps, notes=list(ref.notes), changes=changes,
                          config=json.loads(cfg.to_json()) if hasattr(cfg, "to_json") else repr(cfg)))


# --- our side -----------------------------------------------------------------------------------------------------------
def load_ours(model: Path, dtype: torch.dtype = torch.float32):
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    import fatezero_lab as fz

    pipe = StableDiffusionPipeline.from_pretrained(str(model), safety_checker=None, requires_safety_checker=False)
    # SD v1.4's scheduler, which the authors load (DDIMScheduler.from_pretrained): steps_offset 1, no clipping,
    # final alpha = alphas_cumprod[0]
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, steps_offset=1, clip_sample=False,
                                               set_alpha_to_one=False)
    pipe.set_progress_bar_config(disable=True)
    return fz.as_pipeline(pipe.to(dtype=dtype))


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

    def their(tokenizer, source, target, mode="auto", **kw):
        if mode == "replace":  # their replace mapper; an identity (77 x 77) is ours whatever the token counts
            rep = align_ref.get("replace")
            if rep is None or not torch.equal(rep[0], torch.eye(rep[0].shape[-1])):
                raise ValueError("their replace mapper is not the identity: not expressible as our replace")
            n = rep[0].shape[-1]
            return Alignment("replace", torch.arange(n), torch.ones(n))
        ours = orig(tokenizer, source, target, mode, **kw)
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


@contextlib.contextmanager
def recording_latent_masks(out: dict):
    """Record the latent-blend mask of every blending step of ours (edit step -> (F, h, w) bool).

    Their two latent-blend choices (the inversion latent one level noisier than the one the step ends at; the target
    words' mask from the edit's cross maps summed over every step so far) are the engine's default since
    2026-11-30 (``latent_blend_mode="reference"``); ``"aligned"`` is ours before (run ``gn_zero_added_ours_aligned_lb``)."""
    import fatezero_lab.fusion as fu

    orig_blend, orig_mfm = fu.LatentBlend.__call__, fu.mask_from_maps
    state = {"on": False, "masks": []}

    def mfm(*a, **k):
        r = orig_mfm(*a, **k)
        if state["on"]:
            state["masks"].append(r["mask"].detach().cpu().bool())
        return r

    def latent_blend(self, z, step):
        state["on"], state["masks"] = True, []
        try:  # the engine's latent_blend_mode="reference" (default) is their choice of maps and source latent
            z = orig_blend(self, z, step)
        finally:
            state["on"] = False
        masks = state["masks"]
        if masks:
            m = masks[0]
            for x in masks[1:]:
                m = m | x
            out[int(step)] = m
        return z

    fu.mask_from_maps, fu.LatentBlend.__call__ = mfm, latent_blend
    try:
        yield
    finally:
        fu.mask_from_maps, fu.LatentBlend.__call__ = orig_mfm, orig_blend


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

    if "config" in case:  # a YAML case: the reader's FateZeroConfig, with their blender's layers
        return case["config"].replace(mask_layers=their_mask_layers(store))
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


def ours_run(pipe, frames, case: dict, temporal, steps: int, z0, edit: bool, latent_masks: dict | None = None,
             latent_blend_mode: str = "reference"):
    import fatezero_lab as fz

    with given_z0(z0):
        inv = fz.invert(pipe, frames, case.get("source", SOURCE), steps=steps, temporal=temporal, cache="maps", max_side=32, progress=False)
    result, step_latents = None, []
    if edit:
        with recording_edit_steps(step_latents), recording_latent_masks(
                latent_masks if latent_masks is not None else {}):
            cfg = our_config(case, inv.store).replace(latent_blend_mode=latent_blend_mode)
            result = fz.edit(pipe, inv, case["target"], config=cfg, progress=False)
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
            their_alignment: bool = False, **lb_opts) -> dict:
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
        source = case.get("source", SOURCE)
        r["text_embedding"] = max(maxabs(encode_prompt(pipe, source), text["source"]),
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
        ours_refine = align(pipe.tokenizer, case.get("source", SOURCE), case["target"], "refine")
        m, a = align_ref["refine"][0][0], align_ref["refine"][1][0]
        live = a > 0  # where alpha is 0 the mapper entry is unused
        r["refine_mapper_differs_at"] = [int(i) for i in torch.nonzero(
            (ours_refine.mapper != m) & live | (ours_refine.alpha != a)).flatten()]
    if "replace" in align_ref:
        r["replace_mapper_is_identity"] = bool(torch.equal(align_ref["replace"][0], torch.eye(77)))
    latent_masks: dict = {}
    with given_alignment(align_ref if their_alignment else None):
        inv, result, step_latents = ours_run(pipe, frames, case, temporal, steps, None if own_z0 else z0_ref,
                                             do_edit, latent_masks, **lb_opts)
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
        lm_path = ref_dir / "edit_latent_masks.pt"
        their_lm = {k: v for k, v in torch.load(lm_path).items() if v["blends"]} if lm_path.exists() else {}
        if their_lm or latent_masks:
            r["latent_blend_steps_theirs"] = sorted(their_lm)
            r["latent_blend_steps_ours"] = sorted(latent_masks)
            r["latent_mask"] = {int(k): {"agree": float((v["mask"] == latent_masks[k]).float().mean()),
                                         "ours_area": float(latent_masks[k].float().mean()),
                                         "theirs_area": float(v["mask"].float().mean())}
                                for k, v in their_lm.items() if k in latent_masks
                                and tuple(v["mask"].shape) == tuple(latent_masks[k].shape)}
    return r


def side_job(out: Path, name: str, frames_path: Path, case: dict, temporal_key: str, steps: int,
             probe_t: list[int], edit: bool, **diag) -> Path:
    job = dict(frames=str(frames_path), source_prompt=case.get("source", SOURCE), target_prompt=case["target"],
               steps=steps, guidance=case.get("guidance", 7.5), model_config=their_model_config(case, temporal_key),
               p2p_config=case["p2p"], seed=0, vae_seed=0, probe_timesteps=probe_t, edit=edit, **diag)
    if "alignment" in case:  # a YAML case: their controller's source prompt, the reconstruction pass's settings
        job.update(alignment_prompt=case["alignment"], use_inversion_attention=case["use_inversion_attention"],
                   save_prompt=case["save_prompt"], p2p_config_0=case["p2p_0"])
    job_path = out / f"job_{name}.json"
    job_path.write_text(json.dumps(job, indent=2))
    return job_path


def their_model_config(case: dict, temporal_key: str) -> dict:
    if "model_config" in case and temporal_key == "mid":  # a YAML case, "configured" temporal attention
        return case["model_config"]
    if "model_config" in case:  # off: their index [] and the file's lora
        return {**TEMPORAL["off"][0], **{k: v for k, v in case["model_config"].items() if k == "lora"}}
    return TEMPORAL[temporal_key][0]


def our_temporal(case: dict, temporal_key: str) -> dict:
    return case["temporal"] if ("temporal" in case and temporal_key == "mid") else TEMPORAL[temporal_key][1]


def fmt(x) -> str:
    return "—" if x is None else f"{x:.2e}" if abs(x) < 1e-2 else f"{x:.3f}"


def sd_probe(out: Path, seed: int, frames: int) -> dict:
    """Causes 1 and 2 at SD v1's full size (a random 860 M-parameter UNet; one call): their side as shipped, with the
    added parameters zeroed, and zeroed + frame-wise GroupNorm; ours with clip-pooled and per-frame GroupNorm."""
    from diffusers import UNet2DConditionModel

    from fatezero_lab.processors import AttentionControl, TemporalConfig, attention_control

    folder = out / f"sd_probe_seed{seed}_f{frames}"
    secs = run_side(["sd_probe", "--out", str(folder), "--seed", str(seed), "--frames", str(frames),
                     "--threads", str(torch.get_num_threads())])
    theirs = torch.load(folder / "eps.pt")
    inputs = torch.load(folder / "inputs.pt")
    z = inputs["z"][0].permute(1, 0, 2, 3).contiguous()  # (F, 4, h, w)
    text = inputs["text"].expand(frames, -1, -1)  # (F, 77, 768)
    unet = UNet2DConditionModel.from_pretrained(str(folder / "unet")).eval()
    t0 = time.time()
    ours = {}
    for gn in ("clip", "frame"):
        control = AttentionControl(frames, TemporalConfig(reference=("mid",), min_channels=640, groupnorm=gn),
                                   tuple(z.shape[-2:]))
        with torch.no_grad(), attention_control(unet, control):
            ours[gn] = unet(z, inputs["t"], encoder_hidden_states=text).sample
    r = {"cause 1 (their added parameters): as shipped vs zeroed": maxabs(theirs["as_shipped"], theirs["zero_added"]),
         "cause 2 (their clip GroupNorm): zeroed vs zeroed + frame-wise": maxabs(
             theirs["zero_added"], theirs["zero_added_framewise_groupnorm"]),
         "ours groupnorm='clip' vs theirs zeroed": maxabs(ours["clip"], theirs["zero_added"]),
         "ours groupnorm='frame' vs theirs zeroed + frame-wise": maxabs(ours["frame"],
                                                                         theirs["zero_added_framewise_groupnorm"]),
         "ours groupnorm='frame' vs theirs as shipped": maxabs(ours["frame"], theirs["as_shipped"]),
         "|ε| max (theirs, zeroed)": float(theirs["zero_added"].abs().max())}
    meta = json.loads((folder / "meta.json").read_text())
    log(f"\nSD v1 size ({meta['parameters'] / 1e6:.0f} M parameters inflated, {meta['added_parameters']} added), "
        f"{frames} frames at {meta['latent']}², t = {meta['t']}, their model_config {meta['model_config']}; "
        f"their side {secs:.0f} s (3 calls + build), ours {time.time() - t0:.0f} s (2 calls)\n")
    log("| one UNet call | max abs Δε |\n|---|---|")
    for k, v in r.items():
        log(f"| {k} | {fmt(v)} |")
    (out / f"results_sd_probe_seed{seed}_f{frames}.json").write_text(json.dumps({**r, "meta": meta}, indent=2))
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "runs" / "reference_parity"))
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--steps", type=int, default=None, help="DDIM steps (default 5; a --config case: the file's "
                                                                "when <= 10, else 5)")
    ap.add_argument("--config", default=None, help="an authors' YAML, relative to their checkout (e.g. "
                                                   "config/teaser/jeep_posche_local_latent_blend.yaml): the case "
                                                   "instead of --case")
    ap.add_argument("--index", type=int, default=1, help="the entry of --config (editing_prompts[i], p2p_config[i])")
    ap.add_argument("--use-inversion-attention", choices=("true", "false"), default=None,
                    help="override editing_config.use_inversion_attention of --config on both sides")
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
    ap.add_argument("--sd-probe", action="store_true", help="only measure causes 1 and 2 on a random full-size SD v1 "
                                                             "UNet (one call per side; ~4 GB of memory per side)")
    ap.add_argument("--float64", action="store_true", help="run both sides in float64 (is a gap float rounding "
                                                            "amplified, or a difference in what is computed?)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print per-step gaps")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    import fatezero_lab as fz

    out = Path(args.out).resolve()  # the authors' side changes its working directory
    out.mkdir(parents=True, exist_ok=True)
    if args.sd_probe:
        torch.set_num_threads(2)
        sd_probe(out, args.seed, args.frames if args.frames != 4 else 2)
        return
    if args.config:
        use_inv = None if args.use_inversion_attention is None else args.use_inversion_attention == "true"
        case = yaml_case(args.config, args.index, args.steps, args.blend_th, use_inv)
        case_name = f"{Path(args.config).stem}_{args.index}" + ("" if use_inv is None else f"_inv{use_inv:d}")
        steps = case["steps"]
        extra = set().union(*(prompt_words(case[k]) for k in ("source", "target", "alignment", "save_prompt")))
        log(f"[{case_name}] {args.config} [{args.index}]: {case['source']!r} -> {case['target']!r}; changes "
            f"{case['yaml']['changes']}; reader notes {case['yaml']['notes']}")
    else:
        case = json.loads(json.dumps(CASES[args.case]))
        if "blend_th" in case["p2p"]:
            case["p2p"]["blend_th"] = [args.blend_th, args.blend_th]
        case_name, steps, extra = args.case, (args.steps or 5), set()
    model = build_model(out, args.latent, args.seed, extra)
    size = args.latent * 2  # the tiny VAE downsamples by 2
    frames = load_frames(args.frames, size)
    frames_path = out / f"frames_{args.frames}x{size}.npy"
    np.save(frames_path, frames)
    probe_t = [1, 401, 801]

    # name: (temporal, edit?, diagnostics for their side, our side's options). Ours normalises ResNet GroupNorms
    # over the clip as theirs (TemporalConfig.groupnorm="clip", the engine's default) unless their side runs the
    # framewise_groupnorm diagnostic, or "groupnorm" says otherwise. Ours: "own_z0" — encode the frames with our
    # posterior mean instead of starting from their sample; "their_alignment" — use their refine mapper/alphas
    # (a diagnostic of our word alignment)
    RUNS = {
        "configured": ("mid", True, {}, {}),
        "configured_ours_frame_gn": ("mid", True, {}, {"groupnorm": "frame"}),
        "a_zero_added_ours_frame_gn": ("mid", True, {"zero_added": True}, {"groupnorm": "frame"}),
        "b_off_zero_added_ours_frame_gn": ("off", False, {"zero_added": True}, {"groupnorm": "frame"}),
        "own_z0": ("mid", True, {}, {"own_z0": True}),  # (d)
        "a_zero_added": ("mid", True, {"zero_added": True}, {}),
        "b_off": ("off", False, {}, {}),
        "b_off_zero_added": ("off", False, {"zero_added": True}, {}),
        "gn_only": ("mid", False, {"framewise_groupnorm": True}, {}),
        "gn_zero_added": ("mid", True, {"zero_added": True, "framewise_groupnorm": True}, {}),
        "gn_off_zero_added": ("off", False, {"zero_added": True, "framewise_groupnorm": True}, {}),
        "gn_zero_added_their_alignment": ("mid", True, {"zero_added": True, "framewise_groupnorm": True},
                                          {"their_alignment": True}),
        # latent blend: ours before it followed theirs (latent_blend_mode="aligned"; see docs/reference_parity.md)
        "gn_zero_added_ours_aligned_lb": ("mid", True, {"zero_added": True, "framewise_groupnorm": True},
                                          {"latent_blend_mode": "aligned"}),
        # use_inversion_attention false: their reconstruction pass with our (the inversion) prompt
        "gn_zero_added_save_inversion_prompt": ("mid", True, {"zero_added": True, "framewise_groupnorm": True,
                                                               "save_prompt_inversion": True}, {}),
    }
    names = (args.only.split(",") if args.only else
             list(RUNS) if args.trace else ["configured"])
    pipe = load_ours(model, torch.float64 if args.float64 else torch.float32)
    if args.seed != 0:
        case_name += f"_seed{args.seed}"
    if args.float64:
        case_name += "_f64"
    forced_alignment = None
    if "config" in case:  # does our engine accept the reader's config for these prompts as it stands?
        from fatezero_lab.prompts import align

        try:
            align(pipe.tokenizer, case["config"].alignment_prompt or case["source"], case["target"],
                  case["config"].cross_mode, tail=case["config"].refine_tail)
        except ValueError as e:
            forced_alignment = str(e)
            log(f"[{case_name}] OUR ENGINE REJECTS the reader's config: {e}; every run below uses their word "
                f"alignment on our side (their_alignment)")
    results = {}
    ref_cache: dict[tuple, Path] = {}
    for name in names:
        temporal_key, do_edit, diag, ours_opts = RUNS[name]
        if forced_alignment:
            ours_opts = {**ours_opts, "their_alignment": True}
        key = (temporal_key, do_edit, tuple(sorted(diag)))
        if key not in ref_cache:
            tag = f"{case_name}_f{args.frames}_{name}"
            ref_dir = out / f"ref_{tag}"
            job = side_job(out, tag, frames_path, case, temporal_key, steps, probe_t, do_edit,
                           **diag, **({"dtype": "float64"} if args.float64 else {}))
            done = ref_dir / "job.json"
            if args.reuse and done.exists() and done.read_text() == job.read_text() and (ref_dir / "meta.json").exists():
                log(f"[{name}] authors' side: reusing {ref_dir}")
            else:
                secs = run_side(["run", "--model", str(model), "--job", str(job), "--out", str(ref_dir)])
                done.write_text(job.read_text())
                (ref_dir / "seconds.txt").write_text(f"{secs:.1f}")
                log(f"[{name}] authors' side {secs:.1f} s")
            ref_cache[key] = ref_dir
        t0 = time.time()
        opts = dict(ours_opts)
        gn = opts.pop("groupnorm", "frame" if diag.get("framewise_groupnorm") else "clip")
        temporal = fz.TemporalConfig(**{**our_temporal(case, temporal_key), "groupnorm": gn})
        r = compare(pipe, frames, ref_cache[key], case, temporal, steps, do_edit, **opts)
        r["our_groupnorm"] = gn
        r["run"], r["temporal"], r["diagnostics"], r["ours"] = name, temporal_key, diag, ours_opts
        r["time_ours_s"] = round(time.time() - t0, 1)
        sec = ref_cache[key] / "seconds.txt"
        r["time_theirs_s"] = float(sec.read_text()) if sec.exists() else None
        r["steps"] = steps
        if "yaml" in case:
            r["yaml"] = case["yaml"]
            r["ours_rejects_config"] = forced_alignment
        log(f"[{name}] our side {time.time() - t0:.1f} s")
        results[name] = r
    res_path = out / f"results_{case_name}_f{args.frames}.json"
    res_path.write_text(json.dumps(results, indent=2))

    cols = ["run", "UNet call (t=1/401/801)", "z_T", "inv. step max", "teacher-forced ε", "edit latents", "frames",
            "mask agree", "latent mask agree", "s theirs/ours"]
    log("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for name, r in results.items():
        uc = "/".join(fmt(r["unet_call"][t]) for t in probe_t)
        mask = r.get("mask") or {}
        mask_s = (f"{min(v['agree'] for v in mask.values()):.3f}" if mask else "—")
        lm = r.get("latent_mask") or {}
        lm_s = (f"{min(v['agree'] for v in lm.values()):.3f}" if lm else "—")
        log(f"| {name} | {uc} | {fmt(r['z_T'])} | {fmt(max(r['inversion_per_step']))} | "
            f"{fmt(max(r['teacher_forced_eps']))} | {fmt(r.get('edit_latents_max'))} | {fmt(r.get('frames'))} | "
            f"{mask_s} | {lm_s} | {r['time_theirs_s']}/{r['time_ours_s']} |")
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
            if "latent_mask" in r:
                log(f"[{name}] latent-blend steps ours {r['latent_blend_steps_ours']} theirs "
                    f"{r['latent_blend_steps_theirs']}; latent mask: {r['latent_mask']}")
            log(f"[{name}] their side: {r['ref_meta']}")
    log(f"\nresults: {res_path}")


if __name__ == "__main__":
    main()
