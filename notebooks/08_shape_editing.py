# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Shape editing: tune the model on the clip, then fuse
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/08_shape_editing.ipynb)
#
# **What you will learn**
#
# - why fused self-attention keeps the old shape
# - one-shot video tuning (Tune-A-Video): which weights move, and the temporal attention it adds
# - shape accuracy with and without tuning, against ground truth
#
# *Full mode with the toy model: 131 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# Zero-shot, the source self-attention pins the layout — good for colours and styles, bad for "circle → square". FateZero tunes the model on the clip first (train $W_Q$ of self- and cross-attention and a new temporal attention, loss $\|\epsilon - \epsilon_\theta(z_t, t, p_{src})\|^2$ on the clip), then edits with the same fusion.

# %%
clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=7)
target = "a red square on grass"
truth = clip.edited(target)
tuned, report = fz.tuning.tune_on_clip(pipe, clip.frames, clip.caption, steps=20 if FAST else 300)
report

# %%
plt.plot(report.losses, alpha=0.4); plt.plot(np.convolve(report.losses, np.ones(10) / 10, "valid"))
plt.xlabel("tuning step"); plt.ylabel("denoising loss"); plt.title("one-shot tuning on the clip"); plt.show()

# %%
results = {}
for name, model in [("zero-shot", pipe), ("tuned", tuned)]:
    inv = fz.invert(model, clip.frames, clip.caption, steps=STEPS)
    results[name] = fz.edit(model, inv, target, blend_words=["circle"]).frames
fig = fz.viz.compare_clips({"source": clip.frames, **results, "ground truth": truth.frames}); plt.show()

# %%
from fatezero_lab.toyworld import judge
for name, frames in results.items():
    ious = [fz.masks.iou(judge.object_mask(f, "red"), m) for f, m in zip(frames, truth.masks[:, 0])]
    print(f"{name:10} shape IoU with the true square: {np.mean(ious):.2f}")


# %%
def show(which="tuned"):
    fz.video.show({which: results[which], "ground truth": truth.frames})

widgets.interact(show, which=list(results));
