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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/05_blending_mask.ipynb)
#
# **What you will learn**
#
# - the reference recipe: sum over the word's tokens, mean over layers and heads, dilate, upsample, normalise, threshold
# - how threshold and dilation trade coverage for precision
# - how the mask behaves over steps and frames, measured against the true object mask (toy) or by its area (SD)
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 26 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# $$M_t = \Big[\mathrm{norm}\big(\mathrm{up}(\mathrm{maxpool}_k(\tfrac{1}{|L||H|}\sum_{l,h}\sum_{w\in W} c^{src}_{t,l,h}[\cdot, w]))\big) > \tau\Big]$$
#
# made from the **source** cross-attention recorded during inversion. The reference normalises by the spatial max and uses $\tau = 0.3$; the toy model ships its own measured rule (see the store's `defaults`). The authors build $M_t$ only for their shape edits (blend words "silver jeep", "man", "swan"); their style and attribute edits set no blend words, i.e. full source self-attention (`docs/method.md`, "What the authors run, per kind of edit").
#
# The `t` slider and the titles below name an inversion step by its timestep $t$ (`store.timesteps`): small $t$ is the first, least noisy step, large $t$ the noisiest. The edit runs from large $t$ to small and, at each $t$, reads the mask made from the inversion's attention at that same $t$.

# %%
ex = lab.example("a red circle and a blue square on grass", blend_words=["circle"], words=["circle", "square"], seed=2)
inv = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal)
store = inv.store
print("model defaults:", store.defaults or "reference recipe")
m = fz.blend_mask(store, [ex.words[0]], step=STEPS // 2)
print(f"t = {store.timesteps[STEPS // 2]}")
m

# %% [markdown]
# Each stage for one frame; in `toy` mode the last panel is the object's true mask (the renderer knows it). A real clip has no true mask, so `sd` mode shows the stages only — judge by eye whether the mask covers the jeep.

# %%
fig = fz.viz.mask_stages(m, frame=0, truth=ex.object_mask(size=m.mask.shape[-1]))
fig.suptitle(f"frame 0, t = {store.timesteps[STEPS // 2]}", fontsize=9); plt.show()


# %%
def tune(threshold=0.3, dilation=3, normalise="max", step=STEPS // 2, word=ex.words[0]):
    r = fz.blend_mask(store, [word], step=step, threshold=threshold, dilation=dilation, normalise=normalise,
                      resolution=lab.size)
    name, value = ex.mask_quality(r.mask, word)
    fig = fz.viz.attention_over_frames(r.mask.astype(float), ex.frames,
        title=f"{word!r} at t = {store.timesteps[step]}: {name} {value:.2f}, area {r.area:.0%}"); plt.show()

t_slider = widgets.SelectionSlider(options=[(str(t), i) for i, t in enumerate(store.timesteps)],
                                   value=STEPS // 2, description="t", continuous_update=False)
fz.viz.on_release(widgets.interact(tune, threshold=widgets.FloatSlider(0.3, min=0.0, max=1.0, step=0.05, continuous_update=False),
                 dilation=[1, 3, 5], normalise=["max", "minmax"], step=t_slider, word=ex.words));

# %% [markdown]
# Sweep the threshold for both normalisations. Where the two curves lie on top of each other, the averaged map's minimum is already about 0, so dividing by the max and min-max scaling agree. In `toy` mode the curve is the IoU with the true mask — noisy for one clip at one step; `benchmarks/toy_quality.py` reports the mean over held-out images (0.66 for the shipped model on single objects, 0.65 in two-object scenes: `docs/toy_quality.md`, B3 and B5). In `sd` mode there is no true mask and the curve is the mask's area: a plateau means the word's map has a clear edge, so the exact threshold matters little.

# %%
ths = np.linspace(0.05, 0.95, 19)
for norm in ["max", "minmax"]:
    scores = [ex.mask_quality(fz.blend_mask(store, [ex.words[0]], step=STEPS // 2, threshold=t, normalise=norm,
                                            resolution=lab.size).mask)[1] for t in ths]
    plt.plot(ths, scores, label=f"normalise={norm}")
plt.xlabel("threshold"); plt.ylabel(ex.mask_quality(m.mask)[0])
plt.title(f"mask of {ex.words[0]!r} at t = {store.timesteps[STEPS // 2]} vs threshold")
plt.legend(); plt.show()

# %%
steps_shown = list(range(0, store.steps, max(1, store.steps // 5)))
rows = {f"t = {store.timesteps[s]}": np.repeat(fz.blend_mask(store, [ex.words[0]], step=s, resolution=lab.size)
                                               .mask[..., None], 3, -1).astype(float) for s in steps_shown}
fig = fz.viz.compare_clips(rows, title="M_t over timesteps t (rows) and frames (columns)"); plt.show()

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps; 26 s on a 2-core CPU). The source cross-attention of "circle", averaged over the five mask layers at $t = 501$, sits on the circle in every frame and not on the square. The stages turn it into $M_t$: the averaged map covers a few cells of the 16x16 latent grid, the 3x3 max-pool grows it into a block over the circle, and the threshold 0.3 keeps 6 % of the frame — IoU 0.74 with the true mask. So $M_t$ is a coarse, dilated region on the latent grid, not an outline: the edit may change a margin of background around the object. The threshold matters little below 0.45 (IoU 0.71–0.74 from 0.05 to 0.45) and then costs IoU as the block shrinks inside the object (0.67 at 0.6, 0.58 at 0.95); the two normalisations give the same curve, as the averaged map's minimum is about 0. Over $t$ the mask stays on the circle from $t = 1$ to $t = 601$, but at $t = 801$ a second blob appears on the *square* in frames 1 and 2: at high noise the word's attention leaks onto the other object, and a mask made there would let the edit touch it. Move the $t$ slider and the threshold in the widget to find where each starts. What the toy cannot show is Stable Diffusion's finer 64x64 maps of real objects (`sd` mode), where no true mask exists to score them.
