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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/04_attention_store.ipynb)
#
# **What you will learn**
#
# - which attention layers are recorded and what their maps mean
# - cross-attention: where each word lives, per step, layer, head and frame
# - spatial-temporal self-attention: where a pixel looks, in which frames
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 19 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# At every inversion step FateZero keeps the UNet's attention: cross-attention $c_t$ (query pixel $\to$ word) and spatial-temporal self-attention $s_t$ (query pixel $\to$ pixels of its *reference frames*), $\mathrm{softmax}(QK^\top/\sqrt d)$. Which frames those are is a setting, and the frame itself is not among them: the toy uses the library's default, the first and the previous frame at every layer (Tune-A-Video's sparse-causal choice, also the authors' code default and what their shape configs run); the authors' zero-shot Stable Diffusion configs — the presets `sd` mode runs, except the Porsche edit — use the **middle** frame only, and only in layers at least 640 channels wide (SD's 64×64 layers stay per-frame, the frame reading itself). `docs/method.md`, section 7.
#
# The sliders below pick an inversion step by its timestep $t$ (`store.timesteps`): small $t$ is the first, least noisy step of the inversion, large $t$ the noisiest (an edit starts there and replays the steps in the opposite order).

# %%
ex = lab.example("a red circle and a blue square on grass", words=["circle", "square"], seed=2)
inv = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal)
store = inv.store
store

# %%
for row in store.layer_table():
    print(f"{row['short']:>22}  {row['kind']:5}  {row['resolution']}  heads={row['heads']}")

# %% [markdown]
# ## Cross-attention explorer
# Where does a word live? Averaged over heads (or one head) at one step and layer; "mask layers" is the average the blending mask uses. In `sd` mode try "jeep", "road" and "countryside": Stable Diffusion's word maps localise without any training on this clip. The toy's maps localise for another reason: its text encoder has **no transformer layers** (each word's embedding is the word alone, so no later token carries the whole prompt), and its training added a loss that pulls each word's cross-attention onto that word's region — the property SD learned from web-scale data, taught directly (`fatezero_lab/toyworld/model.py`, README "The toy world and its model").

# %%
cross = {"mask layers": None, **{store.layers[n].short: n for n in store.layer_names("cross")}}
GRID = max(store.layers[n].resolution[0] for n in store.layer_names("self"))  # finest recorded grid (toy 16, SD 32)

def t_slider():  # the stored steps, labelled by their timestep t
    return widgets.SelectionSlider(options=[(str(t), i) for i, t in enumerate(store.timesteps)],
                                   value=store.steps // 2, description="t", continuous_update=False)

def explore(word=ex.words[0], step=STEPS // 2, layer="mask layers", head=-1):
    layers = fz.masks.default_mask_layers(store) if cross[layer] is None else [cross[layer]]
    maps = store.cross_attention(word, step=step, layers=layers, heads=None if head < 0 else head,
                                 resolution=GRID)
    fig = fz.viz.attention_over_frames(maps, ex.frames, title=f"{word!r}, t = {store.timesteps[step]}, {layer}")
    plt.show()

fz.viz.on_release(widgets.interact(explore, word=store.words(), step=t_slider(),
                 layer=list(cross), head=(-1, store.layers[store.layer_names("cross")[0]].heads - 1)));

# %% [markdown]
# ## Self-attention explorer
# Pick a query pixel (on the finest recorded grid) and a frame: the maps show where it reads from in each reference frame (toy: the first and the previous frame; the authors' zero-shot SD setting: the middle frame, at the wide layers only). The query's own frame is a key only where it is one of its reference frames (frame 0 under first + previous, the middle frame under 'mid') or at a per-frame layer.

# %%
selfs = {store.layers[n].short: n for n in store.layer_names("self", resolution=GRID)}
# the query starts on the first word's object in the last frame (toy: its true mask; sd: the grid's centre)
obj = ex.object_mask(ex.words[0], size=GRID)
ROW, COL = np.argwhere(obj[-1]).mean(0).round().astype(int) if obj is not None and obj[-1].any() else (GRID // 2,) * 2

def where(row=int(ROW), col=int(COL), frame=FRAMES - 1, layer=list(selfs)[0], step=STEPS // 2):
    res = store.self_attention((row, col), frame=frame, step=step, layer=selfs[layer])
    fig = fz.viz.self_attention_figure(res, ex.frames, (row, col), frame, (GRID, GRID),
                                       title=f"t = {store.timesteps[step]}, {layer}"); plt.show()

fz.viz.on_release(widgets.interact(where, row=(0, GRID - 1), col=(0, GRID - 1), frame=(0, FRAMES - 1), layer=list(selfs),
                 step=t_slider()));

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps; 19 s on a 2-core CPU). One inversion records what the edit will replay: the store covers 20 self- and 20 cross-attention layers (at 16x16, 8x8 and 4x4, 4 heads each) for all 50 steps, with first + previous as every frame's key frames, and takes 804.7 MiB in the `inputs` mode chosen here (queries and keys, from which any map is recomputed on demand; notebook 12 compares the modes). **Cross-attention localises**: "circle" at $t = 501$, averaged over the mask layers, lies on the circle in every frame (up to 0.18 of a pixel's attention) and not on the square — the property notebook 05 turns into the blending mask. **Self-attention is where the frames meet**: a query pixel on the circle in frame 7, at the finest layer, reads mostly from the circle in its key frames 0 and 6, so what the edit draws there is tied to frame 0 and to the frame before; frame 7 itself is not among its keys. Move the sliders to see how both kinds of map change with the timestep $t$, the layer and the head, and pick another word or query pixel.
