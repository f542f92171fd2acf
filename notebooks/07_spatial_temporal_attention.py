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
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 56 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"fatezero-lab @ {url}"], check=True)

# %%
import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz
import fatezero_lab.lab

# One switch: "sd" (CUDA: SD v1.4, the paper's clip and prompts) or "toy" (CPU); FATEZERO_LAB_MODE=toy|sd overrides.
lab = fz.lab.setup()  # FZ_FAST=1 (the test suite): 4 frames, 10 steps
pipe, FRAMES, STEPS, FAST = lab.pipe, lab.frames, lab.steps, lab.fast
lab

# %% [markdown]
# $$\mathrm{SelfAttn}(f) = \mathrm{softmax}\big(Q_f\,[K_r]_{r\in R(f)}^\top/\sqrt d\big)\,[V_r]_{r\in R(f)}$$ with $R(f)$ = {first, previous} by default. Editing frames independently lets each frame pick its own look; sharing keys/values keeps one look.

# %%
ex = lab.example("a purple circle on stone", "a yellow circle on stone", blend_words=["circle"], motion="right_to_left",
                 seed=3, camera="pan")
settings = {"off (per frame)": False, "first+previous": ("first", "previous"), "all frames": "all"}
if not ex.has_ground_truth:
    settings["the paper's (middle frame)"] = ex.temporal  # the preset's: mid frame, wide layers only
results = {}
for name, temporal in settings.items():
    inv = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=temporal)
    results[name] = fz.edit(pipe, inv, ex.target, ex.config).frames
fig = fz.viz.compare_clips(ex.clips(results), title=ex.title); plt.show()

# %% [markdown]
# Flicker: how much more each edit changes from one frame to the next than the toy's ground truth does. A real clip has no ground truth, so `sd` mode compares with the **source** clip's own frame-to-frame change (an edit should add no motion), and adds the paper's Tem-Con (CLIP similarity of consecutive frames).

# %%
for name, frames in results.items():
    change = (np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
              - np.abs(np.diff(ex.reference, axis=0)).mean(axis=(1, 2, 3)))
    plt.plot(range(1, len(frames)), change, "o-", label=name)
plt.axhline(0, color="gray", ls="--"); plt.xlabel("frame"); plt.ylabel(f"extra change vs {ex.reference_name}")
plt.title("flicker per frame"); plt.legend(); plt.show()
if not ex.has_ground_truth:
    for name, frames in results.items():
        print(f"{name:28} Tem-Con {ex.scores(frames)['tem_con']:.3f}")


# %%
def show(setting=list(results)[1]):
    fz.video.show({setting: results[setting], ex.reference_name: ex.reference})

widgets.interact(show, setting=list(results));
