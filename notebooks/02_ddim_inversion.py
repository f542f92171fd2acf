# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # DDIM inversion: from a clip to noise and back
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/02_ddim_inversion.ipynb)
#
# **What you will learn**
#
# - DDIM's deterministic update and how running it backwards inverts a clip
# - how reconstruction error depends on the number of steps
# - why editing straight from z_T with large guidance drifts (FateZero's motivation)
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 142 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# DDIM's update is deterministic, so it can run backwards:
#
# $$z_{t+1} = \sqrt{\bar\alpha_{t+1}}\,\frac{z_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(z_t)}{\sqrt{\bar\alpha_t}} + \sqrt{1-\bar\alpha_{t+1}}\,\epsilon_\theta(z_t)$$
#
# Inversion uses the source prompt and **no** guidance; sampling back from $z_T$ then (almost) returns the clip. The approximation $\epsilon_\theta(z_t) \approx \epsilon_\theta(z_{t+1})$ is better with more, smaller steps.

# %%
ex = lab.example("a yellow square and a purple circle on wood", motion="circle")
step_counts = [2, 5, 10] if FAST else [5, 10, 20, 50]
inversions = {n: fz.invert(pipe, ex.frames, ex.source, steps=n, record=False) for n in step_counts}
vae = fz.psnr(fz.vae_roundtrip(pipe, ex.frames), ex.frames)
recs = {n: fz.reconstruct(pipe, inv, progress=False) for n, inv in inversions.items()}
psnrs = [fz.psnr(recs[n], ex.frames) for n in step_counts]
plt.plot(step_counts, psnrs, "o-", label="inversion + reconstruction")
plt.axhline(vae, color="gray", ls="--", label="VAE round trip (ceiling)")
plt.xlabel("DDIM steps"); plt.ylabel("PSNR (dB)"); plt.title(f"reconstruction vs steps ({lab.mode})"); plt.legend(); plt.show()

# %% [markdown]
# Here both modes measure the same thing: the source clip *is* the ground truth of a reconstruction, so PSNR is meaningful on the paper's clip too. (With the test suite's stand-in, a random-weight model, the curve says nothing about SD.)
#
# ## Guidance breaks the inversion
# Editing needs classifier-free guidance, but sampling from $z_T$ with guidance $w > 1$ no longer retraces the inversion path: the clip drifts even with the *source* prompt. FateZero does not remove this drift: it replays the inversion's attention so that the edit keeps the source's layout and motion in spite of it (notebooks 04–06), while the drift itself — here darker, duller frames — stays in every FateZero edit. Notebook 03 measures it there and shows two fixes from outside the paper (null-text and negative-prompt inversion).

# %%
guidances = [1.0, 2.0, 4.0, 7.5]
inv = inversions[step_counts[-1]]
by_w = {w: fz.reconstruct(pipe, inv, guidance=w, progress=False) for w in guidances}  # cached for the widget
plt.plot(guidances, [fz.psnr(by_w[w], ex.frames) for w in guidances], "o-")
plt.xlabel("guidance w"); plt.ylabel("PSNR vs source (dB)"); plt.title("reconstruction drifts with guidance"); plt.show()


# %%
def show(steps=step_counts[-1], guidance=1.0):
    guided = steps == step_counts[-1]  # guided reconstructions were computed for the longest inversion only
    frames = by_w[guidance] if guided else recs[steps]
    label = f"{steps} steps, w={guidance if guided else 1.0}" + ("" if guided or guidance == 1.0 else
                                                                 f" (w={guidance}: {step_counts[-1]} steps only)")
    fig = fz.viz.compare_clips({"source": ex.frames, label: frames}); plt.show()

widgets.interact(show, steps=widgets.Dropdown(options=step_counts, value=step_counts[-1]),
                 guidance=widgets.SelectionSlider(options=guidances, value=1.0));

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames; 142 s on a 2-core CPU), read off the two plots. Inverting and sampling back without guidance returns the clip, and more steps return it better: about 25.9 dB at 5 steps, 28.2 at 10, 31.1 at 20 and 34.0 dB at 50, against the VAE round trip's 35.5 dB ceiling — the approximation $\epsilon_\theta(z_t) \approx \epsilon_\theta(z_{t+1})$ costs 1.5 dB at the paper's 50 steps. Guidance breaks that: from the same 50-step $z_T$ with the *source* prompt, PSNR falls to about 29.1 dB at $w = 2$, 23.9 at $w = 4$ and 19.8 dB at $w = 7.5$, the edit's guidance — 14 dB lost before anything is edited. Every FateZero edit runs on this guided path, so the drift is in every edit of the later notebooks (notebook 00's identity edit, 25.0 dB where nothing should change, is the same effect); notebook 03 measures it and tries two fixes that are not part of the paper. Move the widget to see the frames behind each point: the steps (at $w = 1$) and, at 50 steps, the guidance.
