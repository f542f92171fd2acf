# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Beyond the paper: null-text inversion
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/fatezero-lab/fatezero-lab/blob/main/notebooks/03_null_text_inversion.ipynb)
#
# **What you will learn**
#
# - why guided sampling from a plain DDIM inversion does not give the clip back, even with the source prompt
# - null-text inversion (Mokady et al., CVPR 2023): tune the unconditional embedding of every step so that it does
# - what that changes in a FateZero edit, and what it costs
# - its free approximation, negative-prompt inversion (Miyake et al., 2023): the source prompt as the unconditional input
#
# **Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.
#
# *Full mode with the toy model: 333 s on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*

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
# FateZero inverts **without** guidance, $\epsilon_\theta(z_t, t, p_{src})$, but edits **with** it:
# $\hat\epsilon = \epsilon_\theta(z_t, t, \varnothing) + w\,(\epsilon_\theta(z_t, t, p) - \epsilon_\theta(z_t, t, \varnothing))$.
# From the first step the guided loop leaves the inverted trajectory $z^*_T \dots z^*_0$ — notebook 02 showed it with the source prompt alone. Null-text inversion keeps the prompt and the weights and tunes one unconditional embedding $\varnothing_i$ per step, by a few Adam steps on
# $$\big\|\, z^*_{i+1} - \mathrm{DDIM}\big(\bar z_i,\ \hat\epsilon(\bar z_i, t_i, \varnothing_i, p_{src})\big) \big\|^2 .$$

# %%
ex = lab.example("a red circle on grass", "a blue circle on grass", blend_words=["circle"], motion="left_to_right")
tuning = dict(iterations=2, lr=2e-2)  # 2 Adam steps per step, for speed (library default: 10). On the toy's 4 colour
#   edits: about the same mean PSNR as 10 (20.69 vs 20.74 dB) but more broken frames (5 vs 2 of 32);
#   docs/toy_edit_quality.md, sections 6 and 6c
plain = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal)
tuned = fz.invert(pipe, ex.frames, ex.source, steps=STEPS, temporal=ex.temporal, null_text=tuning)
tuned.null_text  # how far each step's guided update lands from the inversion, and the time it took

# %% [markdown]
# The drift and the fix, with the source prompt at the edit's guidance $w = 7.5$: plain DDIM from the plain $z_T$, and the same from the tuned inversion (its $\varnothing_i$ in the unconditional rows).

# %%
npi_z0 = fz.sample(pipe, plain.z_T, ex.source, steps=STEPS, guidance=7.5, negative_prompt=ex.source,
                   temporal=plain.temporal, progress=False)  # u = τ(p_src): the guided step is the unguided one
recs = {"plain inversion, w=7.5": fz.reconstruct(pipe, plain, guidance=7.5, progress=False),
        "null-text inversion, w=7.5": fz.reconstruct(pipe, tuned, progress=False),
        "negative-prompt, w=7.5": fz.decode_latents(pipe, npi_z0)}
for k, r in recs.items():
    print(f"{k:28} PSNR to the source {fz.psnr(r, ex.frames):6.2f} dB, mean brightness {r.mean():.3f} "
          f"(source {ex.frames.mean():.3f})")
fig = fz.viz.compare_clips({"source": ex.frames, **recs}, title="reconstruction with guidance"); plt.show()

# %% [markdown]
# The same FateZero edit (notebook 00's; its attention fusion is taken apart in notebooks 04–08) from both inversions (every setting identical), and from the plain inversion with the
# source prompt as the unconditional input (`unconditional="source"`, no tuning at all). With $u = \tau(p_{src})$,
# $\hat\epsilon = \epsilon_\theta(z_t, t, p_{src}) + w\,(\epsilon_\theta(z_t, t, p_{tgt}) - \epsilon_\theta(z_t, t, p_{src}))$:
# the source prompt's guided step *is* the unguided one (the reconstruction above is exact), and $w$ scales only what
# the target prompt changes — so the same $w$ acts more strongly than with $\varnothing$ (on the toy's colour edits
# $w = 5$ works best: docs/toy_edit_quality.md, section 6d).

# %%
edits = {"from the plain inversion": fz.edit(pipe, plain, ex.target, ex.config).frames,
         "from the null-text inversion": fz.edit(pipe, tuned, ex.target, ex.config).frames,
         "negative-prompt, w=5": fz.edit(pipe, plain, ex.target, ex.config, unconditional="source",
                                         guidance=5.0).frames}
scores = {k: ex.scores(e) for k, e in edits.items()}
for k, s in scores.items():
    print(f"{k:30} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))
print(ex.missing)
fig = fz.viz.compare_clips(ex.clips(edits), title=ex.title); plt.show()

# %% [markdown]
# Yardsticks per inversion (`ex.yardsticks`, notebook 00): its reconstruction (plain: sampled back at $w = 1$, the most the model gives back; null-text: at $w = 7.5$ with the tuned $\varnothing_i$) and its **identity edit**, the same edit with the target prompt set to the source prompt. "kept" is PSNR to the source where the edit should change nothing; the identity edit shows how much of the drift an edit carries before it changes anything.

# %%
yard = {"plain": ex.yardsticks(plain), "null-text": ex.yardsticks(tuned)}
for name, y in yard.items():
    print(f"{name} inversion: {y!r}\n")
for k, e in edits.items():
    print(yard["null-text" if "null-text" in k else "plain"].beside(ex.psnr_row(e), k))

# %% [markdown]
# Move the widget: which inversion, and reconstruction or edit. The null-text embeddings are tuned for one guidance; `fz.edit` warns when an edit runs at another.

# %%
shown = {("plain", "reconstruction"): recs["plain inversion, w=7.5"], ("plain", "edit"): edits["from the plain inversion"],
         ("null-text", "reconstruction"): recs["null-text inversion, w=7.5"],
         ("null-text", "edit"): edits["from the null-text inversion"],
         ("negative-prompt", "reconstruction"): recs["negative-prompt, w=7.5"],
         ("negative-prompt", "edit"): edits["negative-prompt, w=5"]}


def show(inversion="null-text", view="edit"):
    fz.video.show({f"{view}, {inversion} inversion": shown[inversion, view], ex.reference_name: ex.reference})

widgets.interact(show, inversion=["plain", "null-text", "negative-prompt"], view=["edit", "reconstruction"]);

# %% [markdown]
# **What it costs**: every step runs `iterations` forward *and* backward passes of the UNet on top of the inversion (on the toy, 8 frames and 50 steps on a 2-core CPU: 10 s for the plain inversion, about 2 min with 2 Adam steps per step, 4 min with 10). **What it changes in the paper's story**: FateZero's key ablation (notebook 06) compares the attention recorded *during inversion* with the attention of a separate *reconstruction* pass from $z_T$ (prompt-to-prompt's choice). With null-text inversion the guided reconstruction retraces the inversion, so the two kinds of attention coincide: the ablation is a statement about plain DDIM inversion. Negative-prompt inversion costs nothing (one more prompt encoding) and, on the toy's four colour edits, removes every broken frame at $w = 5$ (docs/toy_edit_quality.md, section 6d), though it ruins the suite's background edits (grass → snow: speckled, over-bright snow; section 11), for it guides only by the *difference* of two prompts, so wherever that difference reaches the background (through the UNet: on the toy only the changed word's embedding differs, its text encoder having no transformer layers; in Stable Diffusion every token after it differs too) $w$ amplifies it too. The reference FateZero uses neither; `fatezero_lab` keeps the paper's behaviour as the default.

# %% [markdown]
# ## What this shows
# From a full toy-mode run (8 frames, 50 steps, 2 Adam steps per step; 333 s on a 2-core CPU, 84 s of it the null-text tuning). **The drift is real and large**: sampled back at $w = 7.5$ with the source prompt, the plain inversion gives 22.0 dB to the source — the grass darker (mean brightness 0.268 against the source's 0.312) and the circle growing until it is twice its size in frame 7. Null-text inversion (35.3 dB, brightness 0.311) and negative-prompt inversion (36.7 dB) give the clip back; their rows look like the source. **It carries into the edit**: from the plain inversion the red circle turns a dark navy, with a speck in frame 0 and darker grass (19.4 dB to the truth, 22.2 dB kept, judge 5 of 8 frames); from the null-text inversion it turns blue in all 8 frames (accuracy 1.00, 21.6 dB, 24.8 dB kept), and so does the negative-prompt edit at $w = 5$ (1.00, 21.2 dB, 23.6 dB kept). The yardsticks say where the loss is: with the plain inversion an edit that changes nothing already keeps only 25.0 dB of the background (the reconstruction 39.5 dB), so 14.5 dB go to the guided edit pass and only 2.9 dB to the edit; with null-text the identity edit keeps 40.4 dB and the colour edit itself costs 15.6 dB. (The negative-prompt line reads against the plain inversion's yardsticks; its own identity edit is its exact reconstruction.) **What it does not fix**: no row draws the truth's striped, purple-blue circle, and the circle's size still varies from frame to frame (centroid error 5–7 px in all three) — the toy model's own limits, not the inversion's. FateZero itself inverts plainly, so the later notebooks keep the paper's default and carry this drift; pick the inversion and the view in the widget to compare them yourself.
