# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Spatial-temporal self-attention: one image model, a steady video
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/07_spatial_temporal_attention.ipynb)
#
# **What you will learn**
#
# - how keys/values from reference frames turn SD's self-attention into video attention, with no new weights
# - reference-frame choices (first, previous, all) and their effect on flicker
#
# *Full mode with the toy model: 56 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# $$\mathrm{SelfAttn}(f) = \mathrm{softmax}\big(Q_f\,[K_r]_{r\in R(f)}^\top/\sqrt d\big)\,[V_r]_{r\in R(f)}$$ with $R(f)$ = {first, previous} by default. Editing frames independently lets each frame pick its own look; sharing keys/values keeps one look.

# %%
clip = fz.toyworld.clip("a purple circle on stone", motion="right_to_left", frames=FRAMES, seed=3, camera="pan")
target = "a yellow circle on stone"
truth = clip.edited(target)
settings = {"off (per frame)": False, "first+previous": ("first", "previous"), "all frames": "all"}
results = {}
for name, temporal in settings.items():
    inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS, temporal=temporal)
    results[name] = fz.edit(pipe, inv, target, blend_words=["circle"]).frames
fig = fz.viz.compare_clips({"source": clip.frames, **results, "ground truth": truth.frames}); plt.show()

# %%
for name, frames in results.items():
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3)) - np.abs(np.diff(truth.frames, axis=0)).mean(axis=(1, 2, 3))
    plt.plot(range(1, len(frames)), change, "o-", label=name)
plt.axhline(0, color="gray", ls="--"); plt.xlabel("frame"); plt.ylabel("extra change vs ground truth")
plt.title("flicker per frame"); plt.legend(); plt.show()


# %%
def show(setting=list(results)[1]):
    fz.video.show({setting: results[setting], "ground truth": truth.frames})

widgets.interact(show, setting=list(results));
