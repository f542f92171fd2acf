"""The ground-truth benchmark: a fixed, versioned suite of toy edits and the paper's ablations as table rows.

Every case is a toy clip (seeded) and a target caption; the toy renderer gives the exact edited clip, so each
variant is scored with :func:`fatezero_lab.metrics.toy_edit_metrics` (PSNR and SSIM to the truth, background PSNR,
judge accuracy, flicker and the temporal-difference error, centroid error). ``python -m fatezero_lab bench`` /
``benchmarks/ablations.py`` run it and write a markdown table and a JSON file.

The paper's claims, as inequalities between rows (checked by :func:`check_claims`):

1. inversion attention beats reconstruction attention on ground-truth PSNR and background PSNR;
2. masked blending beats no fusion on background kept (2a: against the plain edit, no cross or self fusion; 2c:
   against cross fusion alone, no self fusion — the paper's attention-blending ablation), and beats full source
   self-attention on edits that change structure (shape replacement, one object of two);
3. spatial-temporal attention lowers flicker (measured as the temporal-difference error, which does not cancel
   out the way the signed ``flicker`` does);
4. (shape-editing issue) tuning raises shape-edit accuracy — not measured here: ``benchmarks/shape_editing.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

SUITE_VERSION = "toy-suite-v1"


@dataclass(frozen=True)
class Case:
    """One edit of the suite."""

    kind: str  # "colour", "background", "shape" or "two-object"
    source: str  # source caption
    target: str  # target caption
    blend: str  # source word whose mask limits the edit
    motion: str = "left_to_right"
    camera: str = "static"
    lighting: str = "constant"
    seed: int = 0


SUITE: tuple[Case, ...] = (
    Case("colour", "a red circle on grass", "a blue circle on grass", "circle", "left_to_right", seed=0),
    Case("colour", "a yellow square on wood", "a purple square on wood", "square", "circle", seed=1),
    Case("colour", "a blue triangle on snow", "a red triangle on snow", "triangle", "right_to_left", "pan", seed=2),
    Case("colour", "a purple circle on stone", "a yellow circle on stone", "circle", "scale", lighting="drift", seed=3),
    Case("background", "a red circle on grass", "a red circle on snow", "grass", "up", seed=4),
    Case("background", "a blue square on wood", "a blue square on stone", "wood", "left_to_right", "pan", seed=5),
    Case("background", "a yellow triangle on snow", "a yellow triangle on grass", "snow", "circle", seed=6),
    Case("shape", "a red circle on grass", "a red square on grass", "circle", "left_to_right", seed=7),
    Case("shape", "a blue square on snow", "a blue triangle on snow", "square", "down", seed=8),
    Case("shape", "a purple triangle on wood", "a purple circle on wood", "triangle", "scale", seed=9),
    Case("two-object", "a red circle and a blue square on grass", "a red circle and a yellow square on grass",
         "square", "up", seed=10),
    Case("two-object", "a yellow triangle and a purple circle on snow", "a yellow triangle and a purple square on snow",
         "circle", "right_to_left", seed=11),
    Case("two-object", "a blue circle and a red triangle on stone", "a yellow circle and a red triangle on stone",
         "circle", "circle", "pan", seed=12),
)

# Each variant: keyword arguments of fz.edit; "blend" = use the case's blend word; "temporal" = inversion setting.
VARIANTS: dict[str, dict] = {
    "plain DDIM edit (no fusion)": dict(fuse_cross=False, fuse_self=False),
    "no self fusion (cross fusion on)": dict(fuse_self=False),  # the paper's blending ablation: cross fusion only
    "reconstruction attention (P2P)": dict(use_inversion_attention=False, blend=True),
    "inversion attention, full source self-attn": dict(),
    "FateZero (masked blending)": dict(blend=True),
    "FateZero, cross window 0.8": dict(blend=True, cross_replace_steps=0.8),
    "FateZero without spatial-temporal": dict(blend=True, temporal=False),
    "FateZero + latent blend": dict(blend=True, latent_blend=True),
    **{f"FateZero, threshold {t}": dict(blend=True, blend_threshold=t) for t in (0.1, 0.3, 0.5, 0.7)},
}


def changed_object(source_clip, truth_clip) -> int | None:
    """Index of the object an edit changes (None for a background edit)."""
    for i, (a, b) in enumerate(zip(source_clip.spec.objects, truth_clip.spec.objects)):
        if a != b:
            return i
    return None


def variant_edit(spec: dict, blend_words, target_blend_words=None, temporal=True) -> tuple[object, dict]:
    """One variant (an entry of :data:`VARIANTS`) -> (the inversion's ``temporal`` setting, keyword arguments of
    :func:`fatezero_lab.edit`): the one reading of a variant, for the benchmark (:func:`run_suite`) and the
    notebooks (:meth:`fatezero_lab.lab.Lab.run_variants`).

    ``temporal`` in the spec replaces the caller's default; ``blend=True`` edits with ``blend_words`` (and, with
    ``latent_blend``, with ``target_blend_words`` when given), else with no blend words (full source self-attention);
    latent blend is dropped where no blend words are left to build its mask.
    """
    kwargs = dict(spec)
    temporal = kwargs.pop("temporal", temporal)
    blend = kwargs.pop("blend", False)
    kwargs["blend_words"] = list(blend_words) if blend else []
    if kwargs.get("latent_blend"):
        if not kwargs["blend_words"]:
            kwargs["latent_blend"] = False
        elif target_blend_words is not None:
            kwargs["target_blend_words"] = list(target_blend_words)
    return temporal, kwargs


def check_memory(pipe, variants: dict, frames: int, height: int, width: int, steps: int, cache: str = "auto"):
    """The one memory check (:func:`fatezero_lab.memory.require_fits`) of a suite run, before its first UNet call:
    per case the inversions it keeps at once (one per temporal setting of ``variants``) plus, for a variant with
    ``use_inversion_attention=False``, the reconstruction pass's store beside them. Returns the combined estimate or
    raises MemoryError with the figure and the fix."""
    from .memory import choose_cache, combined, estimate_memory, reconstruction_cache, require_fits

    plans = [variant_edit(spec, ["word"]) for spec in variants.values()]
    estimates = []
    for temporal in {t for t, _ in plans}:
        c = choose_cache(pipe, frames, height, width, steps, temporal) if cache == "auto" else cache
        estimates.append(estimate_memory(pipe, frames, height, width, steps, c, temporal))
        if any(t == temporal and not kw.get("use_inversion_attention", True) for t, kw in plans):
            estimates.append(estimate_memory(pipe, frames, height, width, steps, reconstruction_cache(c), temporal))
    fix = ("use fewer frames or steps" if cache == "recompute"
           else "run it with cache='recompute' (the smallest stores), or fewer frames or steps")
    return require_fits(combined(estimates), f"the benchmark's {len(estimates)} stores kept at once", fix,
                        size=f"for {frames} frames at {height}x{width} and {steps} steps")


IDENTITY = "yardstick: identity edit (target = source)"  # the row run_suite(..., yardsticks=True) adds per case


def run_suite(pipe, cases=SUITE, variants: dict | None = None, frames: int = 8, steps: int = 50,
              guidance: float = 7.5, cache: str = "auto", progress: bool = True, yardsticks: bool = False) -> list[dict]:
    """Run every variant on every case; one result row per (case, variant) (variants read by :func:`variant_edit`:
    the case's blend word, and its target's first new word for latent blend).

    ``yardsticks``: one more row per case, :data:`IDENTITY` — the edit towards the *source* caption with the default
    knobs and the case's blend word (changing nothing: its ``background_psnr`` is the most background an edit keeps,
    its ``psnr`` to the truth what changing nothing scores) — carrying ``ceiling_psnr``, the reconstruction's PSNR to
    the source (invert, resample at guidance 1: what the model itself gives back). Both reuse the case's inversion."""
    import fatezero_lab as fz
    from fatezero_lab.metrics import toy_edit_metrics

    variants = VARIANTS if variants is None else variants
    first = fz.toyworld.clip(cases[0].source, frames=frames, seed=cases[0].seed)  # the suite's clip size
    check_memory(pipe, variants, frames, first.frames.shape[1], first.frames.shape[2], steps, cache)
    rows = []
    for case in tqdm(cases, desc="benchmark cases", disable=not progress):
        clip = fz.toyworld.clip(case.source, motion=case.motion, frames=frames, seed=case.seed, camera=case.camera,
                                lighting=case.lighting)
        truth = clip.edited(case.target)
        obj = changed_object(clip, truth)
        new_words = [w for w in case.target.split() if w not in case.source.split()][:1]
        plans = {name: variant_edit(spec, [case.blend], new_words) for name, spec in variants.items()}
        invs = {t: fz.invert(pipe, clip.frames, case.source, steps=steps, temporal=t, cache=cache, progress=False)
                for t in {t for t, _ in plans.values()}}
        for name, (temporal, kwargs) in plans.items():
            t0 = time.perf_counter()
            out = fz.edit(pipe, invs[temporal], case.target, guidance=guidance, progress=False, **kwargs)
            m = toy_edit_metrics(out.frames, clip, truth, obj=obj if obj is not None else 0,
                                 background_edit=obj is None)
            rows.append({"case": asdict(case), "kind": case.kind, "variant": name, "seconds": time.perf_counter() - t0,
                         **m})
        if yardsticks:
            inv = invs.get(True) or fz.invert(pipe, clip.frames, case.source, steps=steps, cache=cache, progress=False)
            t0 = time.perf_counter()
            same = fz.edit(pipe, inv, case.source, guidance=guidance, blend_words=[case.blend], progress=False)
            m = toy_edit_metrics(same.frames, clip, truth, obj=obj if obj is not None else 0, background_edit=obj is None)
            ceiling = fz.psnr(fz.reconstruct(pipe, inv, progress=False), clip.frames)
            rows.append({"case": asdict(case), "kind": case.kind, "variant": IDENTITY, "seconds": time.perf_counter() - t0,
                         **m, "ceiling_psnr": ceiling})
    return rows


def summarise(rows: list[dict], by_kind: bool = False) -> dict:
    """Mean and std of each metric per variant (and per edit kind if asked)."""
    metrics = ["psnr", "ssim", "background_psnr", "kept_psnr", "accuracy", "flicker", "temporal_error", "centroid_px"]
    groups: dict = {}
    for r in rows:
        key = (r["variant"], r["kind"]) if by_kind else r["variant"]
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        # a metric missing from older saved rows (temporal_error before 2026-11-30) summarises as NaN
        vals = {m: [r.get(m, float("nan")) for r in rs] for m in metrics}
        out[key] = {m: (float(np.nanmean(v)), float(np.nanstd(v))) if not np.isnan(v).all() else (float("nan"),) * 2
                    for m, v in vals.items()}
        out[key]["n"] = len(rs)
    return out


def markdown(summary: dict) -> str:
    cols = [("psnr", "PSNR vs GT (dB)"), ("ssim", "SSIM"), ("background_psnr", "background PSNR (dB)"),
            ("kept_psnr", "kept-region PSNR (dB)"),
            ("accuracy", "edit accuracy"), ("flicker", "flicker"), ("temporal_error", "temporal err"),
            ("centroid_px", "centroid err (px)")]
    lines = ["| variant | n | " + " | ".join(h for _, h in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for key, s in summary.items():
        name = key if isinstance(key, str) else f"{key[0]} [{key[1]}]"
        cells = [f"{s[c][0]:.2f} ± {s[c][1]:.2f}" if c not in ("accuracy", "ssim", "temporal_error") else
                 f"{s[c][0]:.3f} ± {s[c][1]:.3f}" for c, _ in cols]  # (accuracy, SSIM, temporal err: 3 decimals)
        lines.append(f"| {name} | {s['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PSNR_MARGIN = 0.05  # dB by which a PSNR claim must hold (ties are not wins)


def check_claims(rows: list[dict]) -> dict[str, bool | None]:
    """The paper's claims as inequalities between variant means (None when the rows needed are missing).

    A PSNR claim holds when the first mean beats the second by more than ``PSNR_MARGIN`` dB: a tie is not a win
    (and a tie must not flip with the last bits of a CPU's float arithmetic)."""
    s = summarise(rows)
    k = summarise(rows, by_kind=True)

    def mean(v, m, kind=None):
        key = v if kind is None else (v, kind)
        src = s if kind is None else k
        return src[key][m][0] if key in src else None

    inv, rec = "FateZero (masked blending)", "reconstruction attention (P2P)"
    full, plain = "inversion attention, full source self-attn", "plain DDIM edit (no fusion)"
    notemp = "FateZero without spatial-temporal"
    cross_only = "no self fusion (cross fusion on)"
    claims: dict[str, bool | None] = {}

    def cmp(name, a, b, greater=True, margin=PSNR_MARGIN):
        claims[name] = None if a is None or b is None else (a > b + margin if greater else a < b - margin)

    cmp("1a inversion > reconstruction attention (PSNR)", mean(inv, "psnr"), mean(rec, "psnr"))
    cmp("1b inversion > reconstruction attention (background)", mean(inv, "background_psnr"),
        mean(rec, "background_psnr"))
    cmp("2a masked blending > plain edit, no cross or self fusion (background)", mean(inv, "background_psnr"), mean(plain, "background_psnr"))
    cmp("2c masked blending > cross fusion alone, no self fusion (background)", mean(inv, "background_psnr"),
        mean(cross_only, "background_psnr"))
    for kind in ("shape", "two-object", "colour", "background"):
        cmp(f"2b masked blending > full source self-attn on {kind} edits (PSNR)", mean(inv, "psnr", kind),
            mean(full, "psnr", kind))
    # flicker as the temporal-difference error (metrics.temporal_error): the signed `flicker` column cancels out
    cmp("3 spatial-temporal attention lowers flicker", mean(inv, "temporal_error"), mean(notemp, "temporal_error"),
        greater=False, margin=0.0)
    return claims


def write_report(rows: list[dict], out: str | Path, seconds: float, settings: dict) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    claims = check_claims(rows)
    text = [f"# Toy benchmark ({SUITE_VERSION}): {len({r['case']['seed'] for r in rows})} cases, "
            f"{len({r['variant'] for r in rows})} variants, {seconds / 60:.1f} min", "",
            "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()), "", markdown(summarise(rows)), "",
            "## Per edit kind", "", markdown(summarise(rows, by_kind=True)), "", "## Claims", ""]
    text += [f"- {name}: {'holds' if ok else 'does NOT hold' if ok is not None else 'not measured'}"
             for name, ok in claims.items()]
    (out / "report.md").write_text("\n".join(text) + "\n")
    (out / "results.json").write_text(json.dumps({"suite": SUITE_VERSION, "settings": settings, "rows": rows,
                                                  "claims": claims}, indent=2))
    return out / "report.md"
