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
# - what the toy world renders and why every edit has an exact answer — and what a real clip lacks
# - the model's parts: VAE latents, UNet with attention, text encoder, DDIM scheduler
# - how text becomes an image: sampling with classifier-free guidance
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 24 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"fatezero-lab @ {url}"],
                          capture_output=True, text=True)
    if done.returncode:  # say why: the end of pip's own error output
        print(done.stderr[-3000:] or done.stdout[-3000:])
        raise RuntimeError(f"pip install failed (exit {done.returncode}): its last lines are printed above")

# %% tags=["skip-execution"]
# Colab only, optional: keep the downloads (SD weights ~2.1 GB, clips) and your results (videos, the tuned UNet of
# notebook 10) on Google Drive, so that a new runtime after a disconnect starts from them. Set USE_DRIVE = True and
# run this cell before the setup cell (Drive asks for permission once). Skipped everywhere else and by the tests.
import os
import sys

USE_DRIVE = False
if USE_DRIVE and "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    root = "/content/drive/MyDrive/fatezero_lab"
    os.environ["HF_HOME"] = f"{root}/huggingface"  # model weights (read when fatezero_lab loads them)
    os.environ["FATEZERO_LAB_CACHE"] = f"{root}/clips"  # the paper's clips (fz.data)
    os.environ["FATEZERO_LAB_OUT"] = f"{root}/outputs"  # lab.save videos, tuned UNets
    print("Drive folder:", root)

# %%
import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz
import fatezero_lab.lab

# One switch: "sd" (CUDA: SD v1.4, the paper's clip and prompts) or "toy" (CPU); FATEZERO_LAB_MODE=toy|sd overrides.
# profile="t4" (Colab's default: 8 frames, 25 steps), "paper" (50 steps) or "quick"; sd-mode calls print their cost.
lab = fz.lab.setup()  # FZ_FAST=1 (the test suite): 4 frames, 10 steps
pipe, FRAMES, STEPS, FAST = lab.pipe, lab.frames, lab.steps, lab.fast
lab

# %% [markdown]
# ## The world
# Objects (4 colours x 3 shapes, random shades, stripes, dots, shading) on 4 textured backgrounds, moving along paths; one or two objects per scene. `render(spec, edit=...)` renders the same clip with one attribute changed: the ground truth of an edit. The toy world is procedural, so it runs in both modes (its renderer needs no model).

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
# A real clip has none of this: nothing can render the paper's jeep as a Porsche with the same motion, lighting and background, or give its exact outline. In `sd` mode the notebooks therefore show what can be shown — the edit beside the source, attention maps, masks — and score edits with the paper's CLIP metrics. This notebook's clip:

# %%
ex = lab.example("a red circle and a blue square on snow", motion="circle")
print(ex)
fig = fz.viz.compare_clips({"source": ex.frames}, title=ex.source); plt.show()

# %% [markdown]
# ## The model
# A stock diffusers `StableDiffusionPipeline`: the VAE maps a frame to a latent $z_0 = \mathcal{E}(x)$ (toy: 64x64 pixels to 16x16x4; SD: 512x512 to 64x64x4); the UNet $\epsilon_\theta(z_t, t, \tau(p))$ predicts the noise with self-attention (pixels to pixels) and cross-attention (pixels to words) at every resolution.
#
# Two differences of the toy model matter later. Its text encoder $\tau$ is a `CLIPTextModel` with **no transformer layers** (token and position embeddings only), so each word's embedding is that word alone; in SD, a causal transformer lets every later token carry the whole prompt. And its word maps localise — "circle" lights up the circle — because its training added a loss that pulls each word's cross-attention onto that word's region (the renderer knows it); SD got that property from web-scale data. FateZero's blending mask relies on it (`fatezero_lab/toyworld/model.py`, README "The toy world and its model").

# %%
fz.models.model_summary(pipe)

# %%
z = fz.encode_frames(pipe, ex.frames)
back = fz.decode_latents(pipe, z)
print("latents", tuple(z.shape), "round-trip PSNR %.1f dB" % fz.psnr(back, ex.frames))
fig, ax = plt.subplots(1, 5, figsize=(10, 2))
ax[0].imshow(ex.frames[0]); ax[0].set_title("frame 0")
for i in range(4):
    ax[i + 1].imshow(z[0, i].float().cpu(), cmap="RdBu"); ax[i + 1].set_title(f"latent channel {i}")
for a in ax: a.axis("off")
plt.show()

# %% [markdown]
# ## Text to image
# DDIM sampling with classifier-free guidance: $\hat\epsilon = \epsilon_\theta(z_t, t, \varnothing) + w\,(\epsilon_\theta(z_t, t, p) - \epsilon_\theta(z_t, t, \varnothing))$. The toy model knows only its world's words (pick them); Stable Diffusion reads any prompt (type one).

# %%
seed_z = lab.noise(4, seed=0)

def show_samples(prompt=ex.source, guidance=7.5):
    imgs = fz.decode_latents(pipe, fz.sample(pipe, seed_z, prompt, steps=STEPS, guidance=guidance, progress=False))
    fig = fz.viz.compare_clips({"4 samples": imgs}, title=f"{prompt!r}, CFG {guidance}"); plt.show()

W = fz.toyworld
if lab.has_ground_truth:  # a closed vocabulary: choose its words
    widgets.interact_manual(lambda colour="red", shape="circle", background="grass", guidance=5.0:
                            show_samples(f"a {colour} {shape} on {background}", guidance),
                            colour=list(W.COLOURS), shape=list(W.SHAPES), background=list(W.BACKGROUNDS),
                            guidance=(1.0, 10.0, 0.5))
else:
    widgets.interact_manual(show_samples, prompt=widgets.Text(ex.source, layout={"width": "90%"}),
                            guidance=(1.0, 10.0, 0.5))
show_samples(ex.source, 5.0 if lab.has_ground_truth else 7.5)

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps, 24 s on a 2-core CPU). The toy world renders any clip again with one thing changed — object 1 as a triangle, the snow as wood — with the same motion, shading and texture, and gives each object's exact mask: that is the ground truth every later toy score is measured against, and what no real clip has. The VAE maps each 64x64 frame to a 16x16x4 latent and back at 36.8 dB; the latent channels are still recognisably the picture (the square and the circle show in every channel), which is why attention maps over latent positions can be read as maps over the frame. The model is small (a 9.6 M-parameter UNet with 20 self- and 20 cross-attention layers; a text encoder of 15 k parameters, embeddings only) yet it draws what the prompt names: all four samples of "a red circle and a blue square on snow" at guidance 5 show a red circle and a blue square on snow, each in a different place — the words choose what is drawn, the noise chooses where. That split is what inversion exploits in notebook 02: recover the noise of *this* clip, and the layout comes with it. What the toy cannot show is a real text encoder's context (its words do not see each other) or a real clip; `sd` mode runs the same cells on Stable Diffusion and the paper's clip, without a ground truth.
