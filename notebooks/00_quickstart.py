# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # FateZero in one minute: edit a video with text, no training
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/00_quickstart.ipynb)
#
# **What you will learn**
#
# - the three steps of FateZero: invert, record attention, edit with fused attention
# - how to compare an edit with its exact ground truth in the toy world
#
# *Full mode with the toy model: 22 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# ## 1. A source clip
# The toy world renders short clips of coloured shapes on textured ground, with captions. Its model is a real (tiny) Stable Diffusion pipeline that ships with the package.

# %%
clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=0)
clip

# %% [markdown]
# ## 2. DDIM inversion with the source prompt
# Inversion runs the DDIM sampler backwards, $z_0 \to z_1 \to \dots \to z_T$, and records the UNet's attention at every step.

# %%
inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)
inv

# %% [markdown]
# ## 3. Edit with the target prompt
# Denoising from $z_T$ with the target prompt, fusing the recorded source attention into the edit (the *Attention Blending Block*). `blend_words` names the source word whose cross-attention marks the region allowed to change. Settings you leave open come from the model's measured defaults (for the toy: its mask layers, prompt-to-prompt *replace* alignment and a cross-attention window of 0.5 instead of the reference's refine and 0.8 — notebook 06 shows why); `out.config` lists every value used.

# %%
target = "a blue circle on grass"
out = fz.edit(pipe, inv, target, blend_words=["circle"])
truth = clip.edited(target)  # the exact ground truth: same motion, same texture
fig = fz.viz.compare_clips({"source": clip.frames, "FateZero edit": out.frames,
                            "ground truth": truth.frames}, title=f"{clip.caption!r} -> {target!r}")
plt.show()

# %%
metrics = fz.metrics.toy_edit_metrics(out.frames, clip, truth)
{k: round(v, 2) for k, v in metrics.items()}

# %%
fz.video.show({"source": clip.frames, "edit": out.frames, "ground truth": truth.frames})

# %% [markdown]
# ## On a GPU with Stable Diffusion
# The same three calls run SD v1.4 on a real clip: `pipe = fz.load_pipeline("CompVis/stable-diffusion-v1-4")`, `frames = fz.video.prepare("my_clip.mp4", n_frames=8, size=512)`; see notebook 10.
