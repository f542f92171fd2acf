# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Ablation: inversion attention vs reconstruction attention
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/05_inversion_attention_fusion.ipynb)
#
# **What you will learn**
#
# - why attention recorded during inversion keeps structure and motion better than attention from a reconstruction pass
# - how to measure it against ground truth
#
# *Full mode with the toy model: 48 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# Three edits of the same inverted clip: (a) plain DDIM from $z_T$ with the target prompt and no fusion; (b) fusing attention recorded while *reconstructing* from $z_T$ (prompt-to-prompt); (c) fusing the *inversion's* attention (FateZero).

# %%
clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=0)
target = "a blue circle on grass"
truth = clip.edited(target)
inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)
variants = {"(a) no fusion": dict(fuse_cross=False, fuse_self=False),
            "(b) reconstruction attention": dict(use_inversion_attention=False),
            "(c) inversion attention": dict()}
edits = {k: fz.edit(pipe, inv, target, **v).frames for k, v in variants.items()}
scores = {k: fz.metrics.toy_edit_metrics(e, clip, truth) for k, e in edits.items()}
for k, s in scores.items():
    print(f"{k:32} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))

# %%
fig = fz.viz.compare_clips({"source": clip.frames, **edits, "ground truth": truth.frames}); plt.show()

# %%
fig = fz.viz.bar_table(scores, "psnr", title="PSNR to the ground-truth edit", ylabel="dB"); plt.show()


# %%
def pick(variant=list(edits)[-1]):
    fz.video.show({variant: edits[variant], "ground truth": truth.frames})

widgets.interact(pick, variant=list(edits));
