# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Ablation: how much source self-attention to keep
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/06_attention_blending.ipynb)
#
# **What you will learn**
#
# - no self-attention fusion vs full source self-attention vs masked blending
# - s_fused = M ⊙ s_edit + (1 − M) ⊙ s_src and why it is computed on outputs
# - the effect of the mask threshold
#
# *Full mode with the toy model: 96 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*

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
# $$s_{fused} = M_t \odot s_{edit} + (1 - M_t) \odot s_{src}$$ per query row, so $s_{fused}V = M_t \odot (s_{edit}V) + (1-M_t) \odot (s_{src}V)$: the library fuses attention *outputs* and never forms the maps.

# %%
clip = fz.toyworld.clip("a red square and a blue circle on grass", motion="up", frames=FRAMES, seed=4)
target = "a red square and a yellow circle on grass"
truth = clip.edited(target)
inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)
variants = {"no self fusion": dict(fuse_self=False), "full source self-attn": dict(),
            "masked blend (FateZero)": dict(blend_words=["circle"])}
edits = {k: fz.edit(pipe, inv, target, **v).frames for k, v in variants.items()}
scores = {k: fz.metrics.toy_edit_metrics(e, clip, truth, obj=1) for k, e in edits.items()}
for k, s in scores.items():
    print(f"{k:26} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))

# %%
fig = fz.viz.compare_clips({"source": clip.frames, **edits, "ground truth": truth.frames}); plt.show()

# %%
thresholds = [0.1, 0.3, 0.5, 0.7] if not FAST else [0.1, 0.5]
sweep = {t: fz.edit(pipe, inv, target, blend_words=["circle"], blend_threshold=t) for t in thresholds}
psnr = [fz.metrics.toy_edit_metrics(sweep[t].frames, clip, truth, obj=1)["psnr"] for t in thresholds]
plt.plot(thresholds, psnr, "o-"); plt.xlabel("blend threshold"); plt.ylabel("PSNR vs ground truth (dB)")
plt.title("threshold sweep"); plt.show()


# %%
def show(threshold=thresholds[0]):
    r = sweep[threshold]
    first = min(r.masks)
    rows = {"edit": r.frames, f"mask at step {first}": np.repeat(r.masks[first][..., None], 3, -1).astype(float)}
    fig = fz.viz.compare_clips(rows, title=f"threshold {threshold}"); plt.show()

widgets.interact(show, threshold=widgets.SelectionSlider(options=thresholds));

# %% [markdown]
# ## The cross-attention window: where the toy model differs from Stable Diffusion
# Cross-attention fusion gives the words their source maps for the first `cross_replace_steps` of the steps. The reference uses *refine* alignment (only words shared by both prompts) for 80 % of the steps. In this toy model a colour word, not the noise, decides where the object goes, so the edited word's map must come from the source too: its measured defaults are the paper's rule (*replace* when both prompts have the same number of tokens, i.e. `cross_mode="auto"`) for 50 % of the steps (`docs/engine_ablation.md`). Compare with the reference's settings and with no cross fusion:

# %%
reference = fz.edit(pipe, inv, target, blend_words=["circle"], cross_mode="refine", cross_replace_steps=0.8)
no_cross = fz.edit(pipe, inv, target, blend_words=["circle"], fuse_cross=False)
win = {"toy default (replace, 0.5)": edits["masked blend (FateZero)"],  # the edit above, not re-run
       "reference (refine, 0.8)": reference.frames, "no cross fusion": no_cross.frames}
for k, frames in win.items():
    s = fz.metrics.toy_edit_metrics(frames, clip, truth, obj=1)
    print(f"{k:28} PSNR {s['psnr']:.2f} dB  centroid {s['centroid_px']:5.1f} px  judge {s['accuracy']:.2f}")
fig = fz.viz.compare_clips({"source": clip.frames, **win, "ground truth": truth.frames}); plt.show()
