# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The toy world and its latent diffusion model
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/01_toy_world_and_latent_diffusion.ipynb)
#
# **What you will learn**
#
# - what the toy world renders and why every edit has an exact answer
# - the model's parts: VAE latents, UNet with attention, text encoder, DDIM scheduler
# - how text becomes an image: sampling with classifier-free guidance
#
# *Full mode with the toy model: 11 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# ## The world
# Objects (4 colours x 3 shapes, random shades, stripes, dots, shading) on 4 textured backgrounds, moving along paths; one or two objects per scene. `render(spec, edit=...)` renders the same clip with one attribute changed: the ground truth of an edit.

# %%
rows = [fz.toyworld.render(fz.toyworld.random_spec(s, frames=FRAMES)) for s in range(4)]
fig = fz.viz.compare_clips({c.caption: c.frames for c in rows}, title="random toy clips")
plt.show()

# %%
c = fz.toyworld.clip("a red circle and a blue square on snow", motion="circle", frames=FRAMES)
edits = {"source": c.frames, "obj 1 -> triangle": c.edited(obj=1, shape="triangle").frames,
         "background -> wood": c.edited(background="wood").frames,
         "mask of object 0": np.repeat(c.masks[:, 0, ..., None], 3, -1).astype(float)}
fig = fz.viz.compare_clips(edits, title="exact ground-truth edits"); plt.show()

# %% [markdown]
# ## The model
# A stock diffusers `StableDiffusionPipeline`: the VAE maps a 64x64 frame to a 16x16x4 latent $z_0 = \mathcal{E}(x)$; the UNet $\epsilon_\theta(z_t, t, \tau(p))$ predicts the noise with self-attention (pixels to pixels) and cross-attention (pixels to words) at every resolution.

# %%
fz.models.model_summary(pipe)

# %%
z = fz.encode_frames(pipe, c.frames)
back = fz.decode_latents(pipe, z)
print("latents", tuple(z.shape), "round-trip PSNR %.1f dB" % fz.psnr(back, c.frames))
fig, ax = plt.subplots(1, 5, figsize=(10, 2))
ax[0].imshow(c.frames[0]); ax[0].set_title("frame 0")
for i in range(4):
    ax[i + 1].imshow(z[0, i], cmap="RdBu"); ax[i + 1].set_title(f"latent channel {i}")
for a in ax: a.axis("off")
plt.show()

# %% [markdown]
# ## Text to image
# DDIM sampling with classifier-free guidance: $\hat\epsilon = \epsilon_\theta(z_t, t, \varnothing) + w\,(\epsilon_\theta(z_t, t, p) - \epsilon_\theta(z_t, t, \varnothing))$. Pick a caption:

# %%
import torch
W = fz.toyworld
seed_z = torch.randn(4, 4, 16, 16, generator=torch.Generator().manual_seed(0))

def show_samples(colour="red", shape="circle", background="grass", guidance=5.0):
    prompt = f"a {colour} {shape} on {background}"
    imgs = fz.decode_latents(pipe, fz.sample(pipe, seed_z, prompt, steps=STEPS, guidance=guidance, progress=False))
    fig = fz.viz.compare_clips({prompt: imgs}, title=f"4 samples, CFG {guidance}"); plt.show()

widgets.interact_manual(show_samples, colour=list(W.COLOURS), shape=list(W.SHAPES),
                        background=list(W.BACKGROUNDS), guidance=(1.0, 10.0, 0.5))
show_samples()
