# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The blending mask M_t, stage by stage
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/04_blending_mask.ipynb)
#
# **What you will learn**
#
# - the reference recipe: sum over the word's tokens, mean over layers and heads, dilate, upsample, normalise, threshold
# - how threshold and dilation trade coverage for precision
# - how the mask behaves over steps and frames, measured against the true object mask
#
# *Full mode with the toy model: 13 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# $$M_t = \Big[\mathrm{norm}\big(\mathrm{up}(\mathrm{maxpool}_k(\tfrac{1}{|L||H|}\sum_{l,h}\sum_{w\in W} c^{src}_{t,l,h}[\cdot, w]))\big) > \tau\Big]$$
#
# made from the **source** cross-attention recorded during inversion. The reference normalises by the spatial max and uses $\tau = 0.3$; the toy model ships its own measured rule (see the store's `defaults`).

# %%
clip = fz.toyworld.clip("a red circle and a blue square on grass", motion="left_to_right", frames=FRAMES, seed=2)
inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)
store = inv.store
print("model defaults:", store.defaults or "reference recipe")
m = fz.blend_mask(store, ["circle"], step=STEPS // 2)
m

# %%
true = clip.masks[:, 0]
fig = fz.viz.mask_stages(m, frame=0, truth=true[:, ::4, ::4]); plt.show()


# %%
def tune(threshold=0.3, dilation=3, normalise="max", step=STEPS // 2, word="circle"):
    r = fz.blend_mask(store, [word], step=step, threshold=threshold, dilation=dilation, normalise=normalise, resolution=64)
    obj = clip.masks[:, 0 if word == "circle" else 1]
    fig = fz.viz.attention_over_frames(r.mask.astype(float), clip.frames,
        title=f"IoU with the true mask {fz.masks.iou(r.mask, obj):.2f}, area {r.area:.0%}"); plt.show()

widgets.interact(tune, threshold=(0.0, 1.0, 0.05), dilation=[1, 3, 5], normalise=["max", "minmax"],
                 step=(0, store.steps - 1), word=["circle", "square"]);

# %% [markdown]
# Sweep the threshold for both normalisations. Where the two curves lie on top of each other, the averaged map's minimum is already about 0, so dividing by the max and min-max scaling agree. The IoU of one clip at one step is noisy; `benchmarks/toy_quality.py` reports the mean over held-out images (0.65 for the shipped model).

# %%
ths = np.linspace(0.05, 0.95, 19)
for norm in ["max", "minmax"]:
    ious = [fz.masks.iou(fz.blend_mask(store, ["circle"], step=STEPS // 2, threshold=t, normalise=norm,
                                       resolution=64).mask, clip.masks[:, 0]) for t in ths]
    plt.plot(ths, ious, label=f"normalise={norm}")
plt.xlabel("threshold"); plt.ylabel("IoU with true mask"); plt.title("mask quality vs threshold"); plt.legend(); plt.show()

# %%
steps_shown = list(range(0, store.steps, max(1, store.steps // 5)))
rows = {f"step {s}": np.repeat(fz.blend_mask(store, ["circle"], step=s, resolution=64).mask[..., None], 3, -1).astype(float)
        for s in steps_shown}
fig = fz.viz.compare_clips(rows, title="M_t over inversion steps (rows) and frames (columns)"); plt.show()
