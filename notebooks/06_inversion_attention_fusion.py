# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Ablation: inversion attention vs reconstruction attention
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/06_inversion_attention_fusion.ipynb)
#
# **What you will learn**
#
# - why attention recorded during inversion keeps structure and motion better than attention from a reconstruction pass
# - how to measure it: against the exact ground truth (toy), with the paper's CLIP metrics (SD)
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 49 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# Three edits of the same inverted clip: (a) plain DDIM from $z_T$ with the target prompt and no fusion; (b) fusing attention recorded while *reconstructing* from $z_T$ (prompt-to-prompt); (c) fusing the *inversion's* attention (FateZero's key idea). All three run with `blend_words=[]`: where (b) and (c) fuse, self-attention is the source's everywhere in the self window — no blending mask, which is what the authors' own configs do for colour and style edits. Only the source of the replayed attention differs between (b) and (c); FateZero's masked blending is notebook 08's subject.
#
# The toy clip is a blue triangle on snow under a panning camera, edited to red (one of the benchmark's colour edits). On the quickstart's red → blue circle the numbers also rank (c) first, but guided sampling darkens every variant's frames there (notebook 03 shows that drift and two fixes), which hides the lesson; here the frames show it: (a) draws the triangle where the target prompt alone puts it, sometimes twice; (b) replays attention from a guided reconstruction that has already drifted, and a second triangle appears where the source has none; (c) keeps one triangle in place in every frame.

# %%
ex = lab.example("a blue triangle on snow", "a red triangle on snow", blend_words=[], motion="right_to_left", seed=2,
                 camera="pan")
inv = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal)
variants = {"(a) no fusion": dict(fuse_cross=False, fuse_self=False),
            "(b) reconstruction attention": dict(use_inversion_attention=False),
            "(c) inversion attention": dict()}
edits = {k: fz.edit(pipe, inv, ex.target, ex.config, **v).frames for k, v in variants.items()}
scores = {k: ex.scores(e) for k, e in edits.items()}
for k, s in scores.items():
    print(f"{k:32} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))
print(ex.missing)

# %%
fig = fz.viz.compare_clips(ex.clips(edits), title=ex.title); plt.show()

# %% [markdown]
# One number per variant: PSNR to the ground-truth edit (toy), or CLIP-T, the frames' similarity to the target prompt (SD: higher = more of the edit; read it beside Tem-Con, since a clip that ignores the source entirely can score well on it too).

# %%
fig = fz.viz.bar_table(scores, ex.main_metric, title=f"{ex.main_metric} per variant ({lab.mode} mode)"); plt.show()


# %%
def pick(variant=list(edits)[-1]):
    fz.video.show({variant: edits[variant], ex.reference_name: ex.reference})

widgets.interact(pick, variant=list(edits));
