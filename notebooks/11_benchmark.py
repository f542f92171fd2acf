# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The ground-truth benchmark: each claim of the paper as a number
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/11_benchmark.ipynb)
#
# **What you will learn**
#
# - how the toy world's exact ground truth scores every ablation
# - three of the paper's four claims as inequalities between table rows, and which ones hold (the fourth, tuning for shape edits, is notebook 10's)
# - what of it survives on a real clip without ground truth: the same rows scored with CLIP on the paper's teaser (SD)
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 808 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

# %% tags=["skip-execution"]
# Colab only: install fatezero_lab (this cell is skipped everywhere else, and by the test suite)
import subprocess
import sys

if "google.colab" in sys.modules:
    import torch
    if not torch.cuda.is_available():
        print("No GPU in this runtime: Runtime > Change runtime type > T4 GPU > Save, then run all again "
              "(or carry on with the CPU toy model).")
    url = "git+https://github.com/fatezero-lab/fatezero-lab"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"fatezero-lab @ {url}"],
                          capture_output=True, text=True)
    if done.returncode:  # say why: the end of pip's own error output
        print(done.stderr[-3000:] or done.stdout[-3000:])
        raise RuntimeError(f"pip install failed (exit {done.returncode}): its last lines are printed above")

# %% tags=["skip-execution"]
# Colab only, optional: keep the downloads (SD weights ~2.1 GB, clips) and your results (videos, the tuned UNet of
# notebook 10) on Google Drive, so that a new runtime after a disconnect starts from them. Set USE_DRIVE = True and
# run this cell before the setup cell (Drive asks for permission once). Skipped everywhere else and by the tests.
import os
import sys

USE_DRIVE = False
if USE_DRIVE and "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    root = "/content/drive/MyDrive/fatezero_lab"
    os.environ["HF_HOME"] = f"{root}/huggingface"  # model weights (read when fatezero_lab loads them)
    os.environ["FATEZERO_LAB_CACHE"] = f"{root}/clips"  # the paper's clips (fz.data)
    os.environ["FATEZERO_LAB_OUT"] = f"{root}/outputs"  # lab.save videos, tuned UNets
    print("Drive folder:", root)

# %%
import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz
import fatezero_lab.lab

# One switch: "sd" (CUDA: SD v1.4, the paper's clip and prompts) or "toy" (CPU); FATEZERO_LAB_MODE=toy|sd overrides.
# profile="t4" (Colab's default: 8 frames, 25 steps), "paper" (50 steps) or "quick"; sd-mode calls print their cost.
lab = fz.lab.setup()  # FZ_FAST=1 (the test suite): 4 frames, 10 steps
pipe, FRAMES, STEPS, FAST = lab.pipe, lab.frames, lab.steps, lab.fast
lab

# %% [markdown]
# `fz.bench.SUITE` is a fixed, versioned set of toy edits (colour, background, shape, one object of two); `fz.bench.VARIANTS` are the ablation rows. Every row is scored against the exact ground truth the toy renderer draws. The full table (13 cases x all variants, 50 steps) takes about half an hour on a 2-core CPU: `python -m fatezero_lab bench`; its last result ships in `docs/benchmark_results.json`.
#
# `fz.bench.check_claims` tests claims 1–3 of the paper: (1) inversion attention beats reconstruction attention; (2a) masked blending keeps more background than the plain edit, (2c) than cross-attention fusion alone with no self fusion — the paper's attention-blending ablation — and (2b) beats full source self-attention, per edit kind; (3) spatial-temporal attention lowers flicker. Claim 4 (one-shot tuning helps shape edits) is measured in notebook 10, not here. Read 2a with care: its "no fusion" row turns off cross-attention fusion too, so it credits both fusions, not the mask alone; 2c isolates the self part. The rows are our settings, not the authors' recipes: "FateZero, cross window 0.8" keeps the toy's own alignment (replace for these equal-length prompts) and only lengthens the window to 0.8 — the authors' window for reconstruction and the watercolor style edit, not for attribute edits (mostly refine at 0.5) — and "FateZero (masked blending)" on a colour edit is an experiment: the authors never mask a colour edit (`docs/method.md`, "What the authors run, per kind of edit").

# %%
import json, pathlib
from IPython.display import Markdown, display
saved = pathlib.Path(fz.__file__).resolve().parents[1] / "docs" / "benchmark_results.json"
if saved.exists():  # a clone of the repository; a pip install has no docs/ folder
    full = json.loads(saved.read_text())
    print("full suite:", full["settings"], "\nclaims:", json.dumps(full["claims"], indent=1))
    display(Markdown(fz.bench.markdown(fz.bench.summarise(full["rows"]))))
else:
    print("docs/benchmark_results.json not found: see docs/benchmark.md in the repository")

# %% [markdown]
# ## A subset, live
# The same code on a few cases (fewer in fast mode). **This lesson needs the toy world's ground truth**, which no real clip has: in `sd` mode the notebook loads the toy model beside Stable Diffusion for this part (it is small and fast), and runs its own Stable Diffusion part further down. The cases are the first of the suite's colour edits (three, or fewer in fast mode): no shape, background or two-object case is among them, so claim 2b prints "not measured" for those kinds here — the full table above has them.

# %%
toy = pipe if lab.has_ground_truth else fz.load_pipeline("toy")
cases = [c for c in fz.bench.SUITE if c.kind in ("colour", "two-object")][: (2 if lab.has_ground_truth else 1) if FAST else 3]
variants = {k: v for k, v in fz.bench.VARIANTS.items() if "threshold" not in k}
rows = fz.bench.run_suite(toy, cases, variants, frames=FRAMES, steps=STEPS, yardsticks=True)
ceiling = np.mean([r["ceiling_psnr"] for r in rows if r["variant"] == fz.bench.IDENTITY])
print(f"yardsticks (mean over the cases): reconstruction ceiling {ceiling:.2f} dB to the source; the last row, the "
      "identity edit (target = source), gives the background an edit that changes nothing keeps and what changing "
      "nothing scores against the truth")
Markdown(fz.bench.markdown(fz.bench.summarise(rows)))

# %%
claims = fz.bench.check_claims(rows)
for name, ok in claims.items():
    print(f"{name:70} {'holds' if ok else 'does NOT hold' if ok is not None else 'not measured'}")

# %%
per_variant = {v: {m: [r[m] for r in rows if r["variant"] == v] for m in ("psnr", "background_psnr", "flicker", "accuracy")}
               for v in [*variants, fz.bench.IDENTITY]}

def plot(metric="psnr"):
    fig = fz.viz.bar_table(per_variant, metric, title=f"{metric} per variant ({len(cases)} cases; last bar: the identity edit)")
    if metric == "psnr":
        fig.axes[0].axhline(ceiling, color="tab:red", ls="--", label=f"reconstruction ceiling {ceiling:.1f} dB (vs source)")
        fig.axes[0].legend(fontsize=7)
    plt.show()

widgets.interact(plot, metric=["psnr", "background_psnr", "flicker", "accuracy"]);

# %% [markdown]
# ## The same rows on the paper's clip (`sd` mode)
# On the teaser, with the paper's Porsche prompts (zero-shot), every row is scored with the paper's CLIP metrics instead: Tem-Con (consecutive frames agree), Frame-Acc and CLIP-T (the frames read as the target prompt). None of them says whether the background was kept or the jeep's motion followed — that is what the toy's ground truth adds, and why the claims above are checked there. In `toy` mode this section says so and stops.

# %%
if lab.mode == "sd":
    ex = lab.example(preset="jeep_posche")
    sd_variants = {k: v for k, v in variants.items() if "latent blend" not in k}
    sd_rows = lab.run_variants(ex, sd_variants)
    for k, s in sd_rows.items():
        print(f"{k:45} " + "  ".join(f"{m} {v:.3f}" for m, v in s.items()))
    widgets.interact(lambda metric="clip_t": (fz.viz.bar_table(sd_rows, metric, title=f"{metric}, teaser"), plt.show()),
                     metric=list(fz.lab.CLIP_METRICS))
else:
    print("toy mode: on a GPU (sd mode) this section scores the same rows on the paper's teaser with CLIP metrics.")

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps, the suite's first three colour edits; 808 s on a 2-core CPU). The live subset reproduces the shipped table's rows for these cases to the last digit, and its claims read: **1 holds** (inversion attention 20.60 dB against the reconstruction's attention 18.47 dB; background 24.56 vs 21.76 dB), **2a holds** (24.56 dB of background against the plain edit's 19.11), **2b holds on colour edits** by a small margin (20.60 vs 20.40 dB) and **3 holds by a hair** (temporal-difference error 0.020 vs 0.021 without spatial-temporal attention). **2c does not hold** (the "no fusion" variant of the paper's self-attention blending ablation, read as self fusion off, cross fusion on): cross-attention fusion alone, with self-attention fusion off, scores 21.17 dB and keeps 25.38 dB of background — more than masked blending. The full suite (13 cases, the table at the top) says the same for every edit kind (background 24.68 vs 24.37 dB; two-object edits 19.27 vs 17.56 dB), and also that 2b fails on shape and two-object edits and 3 fails on the mean, because one two-object edit breaks with spatial-temporal attention (`docs/benchmark.md`). On this model the source's cross-attention already pins the layout, and self-attention fusion mostly brings back the source's look (notebook 07). The yardsticks set the scale: an edit that changes nothing keeps 25.82 dB of background — no row here keeps more — while the reconstruction reaches 34.94 dB, so about 9 dB of every edit's background loss is the guided edit pass's drift (notebook 03), the same for every row; the identity edit scores 16.93 dB against the truth, so every row but the plain edit and the reconstruction-attention row gains 2.9–6.4 dB by editing. The highest row, latent blend (23.35 dB, 29.29 dB of background), pays in judge accuracy (0.67) and centroid error (6.2 px). Pick a metric in the widget to compare the bars.
