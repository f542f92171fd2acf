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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/08_attention_blending.ipynb)
#
# **What you will learn**
#
# - no self-attention fusion vs full source self-attention vs masked blending
# - s_fused = M ⊙ s_edit + (1 − M) ⊙ s_src and why it is computed on outputs
# - the effect of the mask threshold
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 387 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# $$s_{fused} = M_t \odot s_{edit} + (1 - M_t) \odot s_{src}$$ per query row, so $s_{fused}V = M_t \odot (s_{edit}V) + (1-M_t) \odot (s_{src}V)$: the library fuses attention *outputs* and never forms the maps.

# %% [markdown]
# The lesson needs an edit that changes one thing and must keep the rest: toy — one object of two changes colour; SD — the paper's jeep becomes a Porsche (preset `jeep_posche`, run here zero-shot: notebook 10 adds the one-shot tuning the paper uses for shapes), the mask made from "silver jeep".
#
# Know what you compare with: the authors use the mask **only for shape edits** (the Porsche, the skater, the swan). For colour, material and style edits their configs set no blend words, i.e. the "full source self-attn" row below (`docs/method.md`, "What the authors run, per kind of edit"). Masking a colour edit, as the toy example does, is this notebook's experiment, not their recipe.

# %%
ex = lab.example("a red square and a blue circle on grass", "a red square and a yellow circle on grass",
                 blend_words=["circle"], motion="up", seed=4, preset="jeep_posche")
inv = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal)
variants = {"no self fusion": dict(fuse_self=False, blend_words=[]), "full source self-attn": dict(blend_words=[]),
            "masked blend (FateZero)": dict()}
results = {k: fz.edit(pipe, inv, ex.target, ex.config, **v) for k, v in variants.items()}
edits = {k: r.frames for k, r in results.items()}
scores = {k: ex.scores(e) for k, e in edits.items()}
for k, s in scores.items():
    print(f"{k:26} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))
print(ex.missing)

# %%
fig = fz.viz.compare_clips(ex.clips(edits), title=ex.title); plt.show()

# %% [markdown]
# Yardsticks beside those scores (`ex.yardsticks`, notebook 00): the reconstruction (invert, sample back with the source prompt: what the model itself gives back) and the identity edit (target = source, same knobs: how much an edit that changes nothing keeps).

# %%
ys = ex.yardsticks(inv)
for k, e in edits.items():
    print(ys.beside(ex.psnr_row(e), k))

# %% [markdown]
# ## What if the mask were perfect?
# $M_t$ comes from the source cross-attention of the blend words, thresholded. The toy world knows the true object masks (`ex.object_mask`), so the same edit can run with the true mask in place of $M_t$ (`fz.edit(..., mask=...)`): if the perfect mask does no better, the mask is not what holds the edit back. In `sd` mode there is no true mask, and the toggle offers $M_t$ only.

# %%
t_at = lambda step: int(inv.store.timesteps[inv.store.source_step(step)])  # noqa: E731  edit step -> timestep t
true_mask = ex.object_mask(ex.blend_words[0]) if ex.blend_words else None
by_mask = {"attention mask M_t": results["masked blend (FateZero)"]}
if true_mask is not None:
    by_mask["true object mask"] = fz.edit(pipe, inv, ex.target, ex.config, mask=true_mask)
for k, r in by_mask.items():
    print(f"{k:20} " + "  ".join(f"{m} {v:6.2f}" for m, v in ex.scores(r.frames).items()))


def perfect(mask=list(by_mask)[0]):
    r = by_mask[mask]
    mid = sorted(r.masks)[len(r.masks) // 2]  # a middle step of the self window (at its first, t near T, M_t is noise)
    shown = true_mask if mask == "true object mask" else r.masks[mid]
    label = "true mask" if mask == "true object mask" else f"M_t at t={t_at(mid)}"
    rows = {"edit": r.frames, label: np.repeat(np.asarray(shown, float)[..., None], 3, -1)}
    score = ex.scores(r.frames)[ex.main_metric]
    fig = fz.viz.compare_clips(ex.clips(rows), title=f"{mask}: {ex.main_metric} {score:.2f}"); plt.show()

widgets.interact(perfect, mask=widgets.ToggleButtons(options=list(by_mask)));

# %%
thresholds = [0.1, 0.3, 0.5, 0.7] if not FAST else [0.1, 0.5]
sweep = {t: fz.edit(pipe, inv, ex.target, ex.config, blend_threshold=t) for t in thresholds}
metric = [ex.scores(sweep[t].frames)[ex.main_metric] for t in thresholds]
plt.plot(thresholds, metric, "o-"); plt.xlabel("blend threshold")
plt.ylabel(f"{ex.main_metric} (vs {'ground truth' if ex.has_ground_truth else 'target prompt'})")
plt.title("threshold sweep"); plt.show()


# %%
def show(threshold=thresholds[0]):
    r = sweep[threshold]
    mid = sorted(r.masks)[len(r.masks) // 2]
    rows = {"edit": r.frames, f"M_t at t={t_at(mid)}": np.repeat(r.masks[mid][..., None], 3, -1).astype(float)}
    fig = fz.viz.compare_clips(rows, title=f"threshold {threshold}"); plt.show()

widgets.interact(show, threshold=widgets.SelectionSlider(options=thresholds));

# %% [markdown]
# ## The cross-attention window: where the toy model differs from Stable Diffusion
# Cross-attention fusion gives the words their source maps for the first `cross_replace_steps` of the steps. Which alignment and how long is a per-edit choice in the authors' configs, not a rule of the paper: their attribute edits mostly use *refine* (only words shared by both prompts keep source maps) for 50 % of the steps (70 % with *replace* for bear → tiger, leopard, lion; 70 % refine for the rubber duck and cat → leopard; replace at 10 % for bus → GPU); 80 % is the window of their reconstruction entries and of the watercolor style edit; their Porsche edit *replaces* (same word count, and the config asks for it) for 50 %. In `sd` mode the edit above is therefore the authors' own setting. The toy's defaults are ours, measured on the toy (`docs/engine_ablation.md`): a colour word, not the noise, decides where the object goes, so the edited word's map must come from the source too — `cross_mode="auto"` (our rule: *replace* when both prompts have the same number of tokens, else refine) for 50 % of the steps. Compare with refine at 80 % (the watercolor edit's window) and with no cross fusion (notebook 07 takes the alignment, re-weighting and both windows apart):

# %%
chosen = results["masked blend (FateZero)"]  # the edit above, not re-run
reference = fz.edit(pipe, inv, ex.target, ex.config, cross_mode="refine", cross_replace_steps=0.8)
no_cross = fz.edit(pipe, inv, ex.target, ex.config, fuse_cross=False)
label = f"this edit ({chosen.config.cross_mode}, {chosen.config.cross_replace_steps[1]})"
win = {label: chosen.frames, "refine, cross 0.8": reference.frames, "no cross fusion": no_cross.frames}
for k, frames in win.items():
    print(f"{k:28} " + "  ".join(f"{m} {v:.2f}" for m, v in ex.scores(frames).items()))
fig = fz.viz.compare_clips(ex.clips(win), title=ex.title); plt.show()

# %% [markdown]
# ## The nearest case that tells the lesson (toy)
# Of the benchmark's edits (`docs/benchmark_results.json`), masked blending beats full source self-attention most clearly on suite case 3: a purple circle on stone turned yellow while it scales under drifting light (22.95 vs 22.08 dB to the truth, background 30.65 vs 27.20 dB in the full benchmark) — though the judge reads fewer of its frames as a yellow circle (accuracy 0.625 vs 0.75): the mask keeps the background, not the colour. The same three rows on that clip:

# %%
if lab.has_ground_truth:
    case = fz.bench.SUITE[3]
    ex3 = lab.example(case.source, case.target, blend_words=[case.blend], motion=case.motion, seed=case.seed,
                      camera=case.camera, lighting=case.lighting)
    inv3 = fz.invert(pipe, ex3.frames, ex3.source, steps=STEPS, temporal=ex3.temporal)
    edits3 = {k: fz.edit(pipe, inv3, ex3.target, ex3.config, **v).frames for k, v in variants.items()}
    for k, e in edits3.items():
        print(f"{k:26} " + "  ".join(f"{m} {v:6.2f}" for m, v in ex3.scores(e).items()))
    fig = fz.viz.compare_clips(ex3.clips(edits3), title=ex3.title); plt.show()
else:
    print("sd mode: this section needs the toy world's ground truth (toy mode).")

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps; 387 s on a 2-core CPU). **On this notebook's two-object clip the toy cannot show the paper's blending lesson**: all three rows are broken and score within 0.35 dB of each other (no self fusion 16.14, full source self-attention 16.48, masked blending 16.22 dB to the truth; 18.0–18.3 dB of background). The yellow circle comes out at about a third of the true size; under masked blending it is missing in frame 1 and, as under full source self-attention, a second red square appears in frames 5–7; without self fusion two yellow circles appear in frames 2–4. The yardsticks say whose fault that is: an edit that changes nothing keeps only 19.5 dB of this background where the model reconstructs it at 38.8 dB, so 19.3 dB go to the guided edit pass (notebook 03's drift) and each variant loses only 1.2–1.5 dB more. **A perfect mask changes nothing** (16.21 dB with the true object mask, 16.22 with $M_t$), and the threshold sweep is flat (16.20–16.25 dB from 0.1 to 0.7): the mask is not what holds this edit back, the toy model's attention to the second object is. A longer cross window with refine (0.8) draws one small yellow circle in every frame (accuracy 1.00, 19.46 dB of background) but in the wrong place (centroid 22.9 px); no cross fusion scatters extra objects over the frame (13.99 dB). **The nearest case that tells the lesson** is the benchmark's case 3 (a purple circle on stone turned yellow, drifting light): masked blending scores best of the three (22.95 dB against 22.08 for full source self-attention and 22.71 without self fusion; background 30.65 vs 27.20 vs 29.87 dB; centroid 1.7 vs 5.4 px), and its frames show why — full source self-attention smears purple streaks over the stone in frames 0, 1 and 6, which the masked blend mostly avoids (faint streaks remain in frames 0–1). Even there no row grows the circle as the source clip does, and the judge reads only 5 of 8 masked frames as yellow (0.62, against 0.75 for full source self-attention). The authors' configs use the mask only for shape edits (`docs/method.md`, "What the authors run, per kind of edit"); `sd` mode runs their Porsche edit.
