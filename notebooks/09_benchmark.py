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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/09_benchmark.ipynb)
#
# **What you will learn**
#
# - how the toy world's exact ground truth scores every ablation
# - the paper's four claims as inequalities between table rows, and which ones hold
#
# *Full mode with the toy model: 249 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

# %% tags=["skip-execution"]
# Colab only: install fatezero_lab (this cell is skipped everywhere else, and by the test suite)
import subprocess
import sys

if "google.colab" in sys.modules:
    url = "git+https://github.com/fatezero-lab/fatezero-lab"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"fatezero-lab @ {url}"], check=True)

# %%
import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz

FAST = os.environ.get("FZ_FAST") == "1"  # set by the test suite: fewer frames and steps
FRAMES, STEPS = (4, 10) if FAST else (8, 50)
pipe = fz.load_pipeline("toy")  # on a GPU: fz.load_pipeline("CompVis/stable-diffusion-v1-4")

# %% [markdown]
# `fz.bench.SUITE` is a fixed, versioned set of toy edits (colour, background, shape, one object of two); `fz.bench.VARIANTS` are the ablation rows. Every row is scored against the exact ground truth the toy renderer draws. The full table (13 cases x all variants, 50 steps) takes about half an hour on a 2-core CPU: `python -m fatezero_lab bench`; its last result ships in `docs/benchmark_results.json`.

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
# The same code on a few cases (fewer in fast mode).

# %%
cases = [c for c in fz.bench.SUITE if c.kind in ("colour", "two-object")][: (2 if FAST else 3)]
variants = {k: v for k, v in fz.bench.VARIANTS.items() if "threshold" not in k}
rows = fz.bench.run_suite(pipe, cases, variants, frames=FRAMES, steps=STEPS)
Markdown(fz.bench.markdown(fz.bench.summarise(rows)))

# %%
claims = fz.bench.check_claims(rows)
for name, ok in claims.items():
    print(f"{name:70} {'holds' if ok else 'does NOT hold' if ok is not None else 'not measured'}")

# %%
per_variant = {v: {m: [r[m] for r in rows if r["variant"] == v] for m in ("psnr", "background_psnr", "flicker", "accuracy")}
               for v in variants}

def plot(metric="psnr"):
    fig = fz.viz.bar_table(per_variant, metric, title=f"{metric} per variant ({len(cases)} cases)"); plt.show()

widgets.interact(plot, metric=["psnr", "background_psnr", "flicker", "accuracy"]);
