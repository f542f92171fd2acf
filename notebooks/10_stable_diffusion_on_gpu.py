# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Stable Diffusion v1.4 on a real clip, on a GPU
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/10_stable_diffusion_on_gpu.ipynb)
#
# **What you will learn**
#
# - how to run the same calls on SD v1.4 with the paper's settings
# - which attention-store mode fits your memory, and the CLIP metrics used for real clips
#
# *Full mode with the toy model: 21 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# On a GPU with the weights available this notebook loads SD v1.4 and edits your clip. Without them (a CPU, no hub access — e.g. the test suite), it says so and runs **the same cells on the toy model**. On one H200, SD v1.x's architecture at this setting (8 frames, 512², 50 steps, fp16; random weights, docs/gpu_sd.md) took 8.9 s to invert and edit with the default `recompute` store, 6.5 GiB of GPU memory.

# %%
import torch
use_sd = torch.cuda.is_available() and not FAST
if use_sd:
    try:
        pipe = fz.load_pipeline("CompVis/stable-diffusion-v1-4")
    except fz.ModelNotFoundError as e:
        print(e); use_sd = False
if use_sd:  # a DAVIS sample clip (downloaded once), or your own: fz.video.prepare("my.mp4", 8, 512)
    info = fz.data.clip_info("car-turn"); frames = fz.data.fetch("car-turn", n_frames=8, size=512)
    source, target, blend = info["source_prompt"], info["targets"][0]["prompt"], info["targets"][0]["blend_words"]
else:
    print("No GPU/SD weights here: running the same cells on the toy model.")
    frames = fz.toyworld.clip("a red square on grass", frames=FRAMES).frames
    source, target, blend = "a red square on grass", "a yellow square on grass", ["square"]

# %% [markdown]
# Sample clips in `data/clips.json` (`fz.data.list_clips()`), each with a source prompt and suggested target prompts and blend words, in the spirit of the paper's examples:

# %%
for name in fz.data.list_clips():
    info = fz.data.clip_info(name)
    print(f"{name:14} {info['source_prompt']!r} -> " + " | ".join(t["prompt"] for t in info["targets"]))

# %% [markdown]
# ## Which store mode fits?
# The reference keeps every attention map (100 GB for 8 frames x 512² x 50 steps). `cache="inputs"` keeps queries/keys instead and `cache="recompute"` only the latents and the mask's small cross-attention maps (the edit then runs the source pass in its own UNet calls, as extra batch rows); all three give the same edit. The default picks the fastest one that fits.

# %%
f, h, w, _ = frames.shape
for mode in ["maps", "inputs", "recompute"]:
    print(fz.memory.estimate_memory(pipe, f, h, w, STEPS, cache=mode))
print("default here:", fz.memory.choose_cache(pipe, f, h, w, STEPS))

# %%
inv = fz.invert(pipe, frames, source, steps=STEPS)
out = fz.edit(pipe, inv, target, blend_words=blend)
fig = fz.viz.compare_clips({"source": frames, "edit": out.frames}); plt.show()

# %% [markdown]
# ## CLIP metrics (the paper's Tem-Con and Frame-Acc)
# They need the public CLIP ViT-B/32 (`openai/clip-vit-base-patch32`); skipped when it cannot be downloaded.

# %%
try:
    print(fz.metrics.clip_scores(out.frames, source, target))
except OSError as e:
    print("CLIP weights not available offline:", str(e).splitlines()[0])


# %%
def show(step=min(out.masks) if out.masks else 0):
    if step in out.masks:
        fig = fz.viz.attention_over_frames(out.masks[step].astype(float), out.frames, title=f"mask M_t at edit step {step}"); plt.show()

widgets.interact(show, step=sorted(out.masks) or [0]);
