# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # What inversion records: the attention store
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/03_attention_store.ipynb)
#
# **What you will learn**
#
# - which attention layers are recorded and what their maps mean
# - cross-attention: where each word lives, per step, layer, head and frame
# - spatial-temporal self-attention: where a pixel looks, in which frames
#
# *Full mode with the toy model: 12 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# At every inversion step FateZero keeps the UNet's attention: cross-attention $c_t$ (query pixel $\to$ word) and spatial-temporal self-attention $s_t$ (query pixel $\to$ pixels of the first and previous frame), $\mathrm{softmax}(QK^\top/\sqrt d)$.

# %%
clip = fz.toyworld.clip("a red circle and a blue square on grass", motion="left_to_right", frames=FRAMES, seed=2)
inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)
store = inv.store
store

# %%
for row in store.layer_table():
    print(f"{row['short']:>22}  {row['kind']:5}  {row['resolution']}  heads={row['heads']}")

# %% [markdown]
# ## Cross-attention explorer
# Where does a word live? Averaged over heads (or one head) at one step and layer; "mask layers" is the average the blending mask uses.

# %%
cross = {"mask layers": None, **{store.layers[n].short: n for n in store.layer_names("cross")}}

def explore(word="circle", step=STEPS // 2, layer="mask layers", head=-1):
    layers = fz.masks.default_mask_layers(store) if cross[layer] is None else [cross[layer]]
    maps = store.cross_attention(word, step=step, layers=layers, heads=None if head < 0 else head,
                                 resolution=16)
    fig = fz.viz.attention_over_frames(maps, clip.frames, title=f"{word!r}, step {step}, {layer}"); plt.show()

widgets.interact(explore, word=store.words(), step=(0, store.steps - 1),
                 layer=list(cross), head=(-1, store.layers[store.layer_names("cross")[0]].heads - 1));

# %% [markdown]
# ## Self-attention explorer
# Pick a query pixel (on the 16x16 grid) and a frame: the maps show where it reads from in each reference frame (first and previous).

# %%
selfs = {store.layers[n].short: n for n in store.layer_names("self", resolution=16)}

def where(row=8, col=8, frame=FRAMES - 1, layer=list(selfs)[0], step=STEPS // 2):
    res = store.self_attention((row, col), frame=frame, step=step, layer=selfs[layer])
    fig = fz.viz.self_attention_figure(res, clip.frames, (row, col), frame, (16, 16)); plt.show()

widgets.interact(where, row=(0, 15), col=(0, 15), frame=(0, FRAMES - 1), layer=list(selfs),
                 step=(0, store.steps - 1));
