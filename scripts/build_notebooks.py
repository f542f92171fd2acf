"""Write notebooks/*.ipynb from the cell lists below (run: python scripts/build_notebooks.py).

Notebooks are thin: explanation, a library call, a figure, a widget. Keeping their source here makes them easy to
review and diff; the .ipynb files are committed without outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

REPO = "fatezero-lab/fatezero-lab"
ROOT = Path(__file__).resolve().parents[1] / "notebooks"

INSTALL = '''# Colab only: install fatezero_lab (this cell is skipped everywhere else, and by the test suite)
import sys
if "google.colab" in sys.modules:
    !pip install -q "fatezero-lab @ git+https://github.com/{repo}"'''.format(repo=REPO)

SETUP = '''import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz

FAST = os.environ.get("FZ_FAST") == "1"  # set by the test suite: fewer frames and steps
FRAMES, STEPS = (4, 10) if FAST else (8, 50)
pipe = fz.load_pipeline("toy")  # on a GPU: fz.load_pipeline("CompVis/stable-diffusion-v1-4")'''


def header(number: str, title: str, learn: list[str], minutes: str) -> str:
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{number}.ipynb)")
    items = "\n".join(f"- {x}" for x in learn)
    return (f"# {title}\n\n{badge}\n\n**What you will learn**\n\n{items}\n\n"
            f"*Full mode with the toy model: {minutes} on a 2-core CPU (measured by `benchmarks/notebooks.py`); the "
            f"test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps).*")


def notebook(number: str, title: str, learn: list[str], minutes: str, cells: list[tuple[str, str]]):
    nb = nbf.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    out = [nbf.v4.new_markdown_cell(header(number, title, learn, minutes)),
           nbf.v4.new_code_cell(INSTALL, metadata={"tags": ["skip-execution"]}),
           nbf.v4.new_code_cell(SETUP)]
    for kind, src in cells:
        out.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    for i, cell in enumerate(out):  # stable ids: rebuilding an unchanged notebook changes nothing
        cell.id = f"c{i:02d}"
    nb.cells = out
    ROOT.mkdir(exist_ok=True)
    nbf.write(nb, ROOT / f"{number}.ipynb")


NOTEBOOKS = {}


def register(number, title, learn, minutes):
    def deco(fn):
        NOTEBOOKS[number] = (title, learn, minutes, fn())
        return fn
    return deco


@register("00_quickstart", "FateZero in one minute: edit a video with text, no training",
          ["the three steps of FateZero: invert, record attention, edit with fused attention",
           "how to compare an edit with its exact ground truth in the toy world"], "22 s")

def _():
    return [
        ("md", "## 1. A source clip\nThe toy world renders short clips of coloured shapes on textured ground, with "
               "captions. Its model is a real (tiny) Stable Diffusion pipeline that ships with the package."),
        ("code", 'clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=0)\n'
                 'clip'),
        ("md", "## 2. DDIM inversion with the source prompt\nInversion runs the DDIM sampler backwards, "
               "$z_0 \\to z_1 \\to \\dots \\to z_T$, and records the UNet's attention at every step."),
        ("code", "inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)\ninv"),
        ("md", "## 3. Edit with the target prompt\nDenoising from $z_T$ with the target prompt, fusing the recorded "
               "source attention into the edit (the *Attention Blending Block*). `blend_words` names the source "
               "word whose cross-attention marks the region allowed to change. Settings you leave open come from "
               "the model's measured defaults (for the toy: its mask layers, prompt-to-prompt *replace* alignment and a "
               "cross-attention window of 0.5 instead of the reference's refine and 0.8 — notebook 06 shows why); "
               "`out.config` lists every value used."),
        ("code", 'target = "a blue circle on grass"\n'
                 'out = fz.edit(pipe, inv, target, blend_words=["circle"])\n'
                 'truth = clip.edited(target)  # the exact ground truth: same motion, same texture\n'
                 'fig = fz.viz.compare_clips({"source": clip.frames, "FateZero edit": out.frames,\n'
                 '                            "ground truth": truth.frames}, title=f"{clip.caption!r} -> {target!r}")\n'
                 'plt.show()'),
        ("code", "metrics = fz.metrics.toy_edit_metrics(out.frames, clip, truth)\n"
                 "{k: round(v, 2) for k, v in metrics.items()}"),
        ("code", 'fz.video.show({"source": clip.frames, "edit": out.frames, "ground truth": truth.frames})'),
        ("md", "## On a GPU with Stable Diffusion\nThe same three calls run SD v1.4 on a real clip: "
               "`pipe = fz.load_pipeline(\"CompVis/stable-diffusion-v1-4\")`, "
               "`frames = fz.video.prepare(\"my_clip.mp4\", n_frames=8, size=512)`; see notebook 10."),
    ]


@register("01_toy_world_and_latent_diffusion", "The toy world and its latent diffusion model",
          ["what the toy world renders and why every edit has an exact answer",
           "the model's parts: VAE latents, UNet with attention, text encoder, DDIM scheduler",
           "how text becomes an image: sampling with classifier-free guidance"], "11 s")

def _():
    return [
        ("md", "## The world\nObjects (4 colours x 3 shapes, random shades, stripes, dots, shading) on 4 textured "
               "backgrounds, moving along paths; one or two objects per scene. `render(spec, edit=...)` renders the "
               "same clip with one attribute changed: the ground truth of an edit."),
        ("code", 'rows = [fz.toyworld.render(fz.toyworld.random_spec(s, frames=FRAMES)) for s in range(4)]\n'
                 'fig = fz.viz.compare_clips({c.caption: c.frames for c in rows}, title="random toy clips")\n'
                 'plt.show()'),
        ("code", 'c = fz.toyworld.clip("a red circle and a blue square on snow", motion="circle", frames=FRAMES)\n'
                 'edits = {"source": c.frames, "obj 1 -> triangle": c.edited(obj=1, shape="triangle").frames,\n'
                 '         "background -> wood": c.edited(background="wood").frames,\n'
                 '         "mask of object 0": np.repeat(c.masks[:, 0, ..., None], 3, -1).astype(float)}\n'
                 'fig = fz.viz.compare_clips(edits, title="exact ground-truth edits"); plt.show()'),
        ("md", "## The model\nA stock diffusers `StableDiffusionPipeline`: the VAE maps a 64x64 frame to a 16x16x4 "
               "latent $z_0 = \\mathcal{E}(x)$; the UNet $\\epsilon_\\theta(z_t, t, \\tau(p))$ predicts the noise with "
               "self-attention (pixels to pixels) and cross-attention (pixels to words) at every resolution."),
        ("code", "fz.models.model_summary(pipe)"),
        ("code", 'z = fz.encode_frames(pipe, c.frames)\nback = fz.decode_latents(pipe, z)\n'
                 'print("latents", tuple(z.shape), "round-trip PSNR %.1f dB" % fz.psnr(back, c.frames))\n'
                 'fig, ax = plt.subplots(1, 5, figsize=(10, 2))\nax[0].imshow(c.frames[0]); ax[0].set_title("frame 0")\n'
                 'for i in range(4):\n    ax[i + 1].imshow(z[0, i], cmap="RdBu"); ax[i + 1].set_title(f"latent channel {i}")\n'
                 'for a in ax: a.axis("off")\nplt.show()'),
        ("md", "## Text to image\nDDIM sampling with classifier-free guidance: "
               "$\\hat\\epsilon = \\epsilon_\\theta(z_t, t, \\varnothing) + w\\,(\\epsilon_\\theta(z_t, t, p) - "
               "\\epsilon_\\theta(z_t, t, \\varnothing))$. Pick a caption:"),
        ("code", 'import torch\nW = fz.toyworld\nseed_z = torch.randn(4, 4, 16, 16, generator=torch.Generator().manual_seed(0))\n\n'
                 'def show_samples(colour="red", shape="circle", background="grass", guidance=5.0):\n'
                 '    prompt = f"a {colour} {shape} on {background}"\n'
                 '    imgs = fz.decode_latents(pipe, fz.sample(pipe, seed_z, prompt, steps=STEPS, guidance=guidance, progress=False))\n'
                 '    fig = fz.viz.compare_clips({prompt: imgs}, title=f"4 samples, CFG {guidance}"); plt.show()\n\n'
                 'widgets.interact_manual(show_samples, colour=list(W.COLOURS), shape=list(W.SHAPES),\n'
                 '                        background=list(W.BACKGROUNDS), guidance=(1.0, 10.0, 0.5))\n'
                 'show_samples()'),
    ]


@register("02_ddim_inversion", "DDIM inversion: from a clip to noise and back",
          ["DDIM's deterministic update and how running it backwards inverts a clip",
           "how reconstruction error depends on the number of steps",
           "why editing straight from z_T with large guidance drifts (FateZero's motivation)"], "54 s")

def _():
    return [
        ("md", "DDIM's update is deterministic, so it can run backwards:\n\n"
               "$$z_{t+1} = \\sqrt{\\bar\\alpha_{t+1}}\\,\\frac{z_t - \\sqrt{1-\\bar\\alpha_t}\\,\\epsilon_\\theta(z_t)}"
               "{\\sqrt{\\bar\\alpha_t}} + \\sqrt{1-\\bar\\alpha_{t+1}}\\,\\epsilon_\\theta(z_t)$$\n\n"
               "Inversion uses the source prompt and **no** guidance; sampling back from $z_T$ then (almost) returns "
               "the clip. The approximation $\\epsilon_\\theta(z_t) \\approx \\epsilon_\\theta(z_{t+1})$ is better with "
               "more, smaller steps."),
        ("code", 'clip = fz.toyworld.clip("a yellow square and a purple circle on wood", motion="circle", frames=FRAMES)\n'
                 'step_counts = [2, 5, 10] if FAST else [5, 10, 20, 50]\n'
                 'inversions = {n: fz.invert(pipe, clip.frames, clip.caption, steps=n, record=False) for n in step_counts}\n'
                 'vae = fz.psnr(fz.vae_roundtrip(pipe, clip.frames), clip.frames)\n'
                 'recs = {n: fz.reconstruct(pipe, inv, progress=False) for n, inv in inversions.items()}\n'
                 'psnrs = [fz.psnr(recs[n], clip.frames) for n in step_counts]\n'
                 'plt.plot(step_counts, psnrs, "o-", label="inversion + reconstruction")\n'
                 'plt.axhline(vae, color="gray", ls="--", label="VAE round trip (ceiling)")\n'
                 'plt.xlabel("DDIM steps"); plt.ylabel("PSNR (dB)"); plt.title("reconstruction vs steps"); plt.legend(); plt.show()'),
        ("md", "## Guidance breaks the inversion\nEditing needs classifier-free guidance, but sampling from $z_T$ with "
               "guidance $w > 1$ no longer retraces the inversion path: the clip drifts even with the *source* "
               "prompt. FateZero's answer is to keep the inversion's attention (notebooks 03–06)."),
        ("code", 'guidances = [1.0, 2.0, 4.0, 7.5]\ninv = inversions[step_counts[-1]]\n'
                 'by_w = {w: fz.reconstruct(pipe, inv, guidance=w, progress=False) for w in guidances}  # cached for the widget\n'
                 'plt.plot(guidances, [fz.psnr(by_w[w], clip.frames) for w in guidances], "o-")\n'
                 'plt.xlabel("guidance w"); plt.ylabel("PSNR vs source (dB)"); plt.title("reconstruction drifts with guidance"); plt.show()'),
        ("code", 'def show(steps=step_counts[-1], guidance=1.0):\n'
                 '    frames = recs[steps] if guidance == 1.0 or steps != step_counts[-1] else by_w[guidance]\n'
                 '    fig = fz.viz.compare_clips({"source": clip.frames, f"{steps} steps, w={guidance}": frames}); plt.show()\n\n'
                 'widgets.interact(show, steps=widgets.Dropdown(options=step_counts, value=step_counts[-1]),\n'
                 '                 guidance=widgets.SelectionSlider(options=guidances, value=1.0));'),
    ]


@register("03_attention_store", "What inversion records: the attention store",
          ["which attention layers are recorded and what their maps mean",
           "cross-attention: where each word lives, per step, layer, head and frame",
           "spatial-temporal self-attention: where a pixel looks, in which frames"], "12 s")

def _():
    return [
        ("md", "At every inversion step FateZero keeps the UNet's attention: cross-attention $c_t$ "
               "(query pixel $\\to$ word) and spatial-temporal self-attention $s_t$ (query pixel $\\to$ pixels of "
               "the first and previous frame), $\\mathrm{softmax}(QK^\\top/\\sqrt d)$."),
        ("code", 'clip = fz.toyworld.clip("a red circle and a blue square on grass", motion="left_to_right", frames=FRAMES, seed=2)\n'
                 'inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)\nstore = inv.store\nstore'),
        ("code", 'for row in store.layer_table():\n'
                 '    print(f"{row[\'short\']:>22}  {row[\'kind\']:5}  {row[\'resolution\']}  heads={row[\'heads\']}")'),
        ("md", "## Cross-attention explorer\nWhere does a word live? Averaged over heads (or one head) at one step and "
               "layer; \"mask layers\" is the average the blending mask uses."),
        ("code", 'cross = {"mask layers": None, **{store.layers[n].short: n for n in store.layer_names("cross")}}\n\n'
                 'def explore(word="circle", step=STEPS // 2, layer="mask layers", head=-1):\n'
                 '    layers = fz.masks.default_mask_layers(store) if cross[layer] is None else [cross[layer]]\n'
                 '    maps = store.cross_attention(word, step=step, layers=layers, heads=None if head < 0 else head,\n'
                 '                                 resolution=16)\n'
                 '    fig = fz.viz.attention_over_frames(maps, clip.frames, title=f"{word!r}, step {step}, {layer}"); plt.show()\n\n'
                 'widgets.interact(explore, word=store.words(), step=(0, store.steps - 1),\n'
                 '                 layer=list(cross), head=(-1, store.layers[store.layer_names("cross")[0]].heads - 1));'),
        ("md", "## Self-attention explorer\nPick a query pixel (on the 16x16 grid) and a frame: the maps show where it "
               "reads from in each reference frame (first and previous)."),
        ("code", 'selfs = {store.layers[n].short: n for n in store.layer_names("self", resolution=16)}\n\n'
                 'def where(row=8, col=8, frame=FRAMES - 1, layer=list(selfs)[0], step=STEPS // 2):\n'
                 '    res = store.self_attention((row, col), frame=frame, step=step, layer=selfs[layer])\n'
                 '    fig = fz.viz.self_attention_figure(res, clip.frames, (row, col), frame, (16, 16)); plt.show()\n\n'
                 'widgets.interact(where, row=(0, 15), col=(0, 15), frame=(0, FRAMES - 1), layer=list(selfs),\n'
                 '                 step=(0, store.steps - 1));'),
    ]


@register("04_blending_mask", "The blending mask M_t, stage by stage",
          ["the reference recipe: sum over the word's tokens, mean over layers and heads, dilate, upsample, "
           "normalise, threshold", "how threshold and dilation trade coverage for precision",
           "how the mask behaves over steps and frames, measured against the true object mask"], "13 s")

def _():
    return [
        ("md", "$$M_t = \\Big[\\mathrm{norm}\\big(\\mathrm{up}(\\mathrm{maxpool}_k(\\tfrac{1}{|L||H|}\\sum_{l,h}"
               "\\sum_{w\\in W} c^{src}_{t,l,h}[\\cdot, w]))\\big) > \\tau\\Big]$$\n\n"
               "made from the **source** cross-attention recorded during inversion. The reference normalises by the "
               "spatial max and uses $\\tau = 0.3$; the toy model ships its own measured rule (see the store's "
               "`defaults`)."),
        ("code", 'clip = fz.toyworld.clip("a red circle and a blue square on grass", motion="left_to_right", frames=FRAMES, seed=2)\n'
                 'inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)\nstore = inv.store\n'
                 'print("model defaults:", store.defaults or "reference recipe")\n'
                 'm = fz.blend_mask(store, ["circle"], step=STEPS // 2)\nm'),
        ("code", 'true = clip.masks[:, 0]\nfig = fz.viz.mask_stages(m, frame=0, truth=true[:, ::4, ::4]); plt.show()'),
        ("code", 'def tune(threshold=0.3, dilation=3, normalise="max", step=STEPS // 2, word="circle"):\n'
                 '    r = fz.blend_mask(store, [word], step=step, threshold=threshold, dilation=dilation, normalise=normalise, resolution=64)\n'
                 '    obj = clip.masks[:, 0 if word == "circle" else 1]\n'
                 '    fig = fz.viz.attention_over_frames(r.mask.astype(float), clip.frames,\n'
                 '        title=f"IoU with the true mask {fz.masks.iou(r.mask, obj):.2f}, area {r.area:.0%}"); plt.show()\n\n'
                 'widgets.interact(tune, threshold=(0.0, 1.0, 0.05), dilation=[1, 3, 5], normalise=["max", "minmax"],\n'
                 '                 step=(0, store.steps - 1), word=["circle", "square"]);'),
        ("md", "Sweep the threshold for both normalisations. Where the two curves lie on top of each other, the "
               "averaged map's minimum is already about 0, so dividing by the max and min-max scaling agree. The IoU "
               "of one clip at one step is noisy; `benchmarks/toy_quality.py` reports the mean over held-out images "
               "(0.65 for the shipped model)."),
        ("code", 'ths = np.linspace(0.05, 0.95, 19)\nfor norm in ["max", "minmax"]:\n'
                 '    ious = [fz.masks.iou(fz.blend_mask(store, ["circle"], step=STEPS // 2, threshold=t, normalise=norm,\n'
                 '                                       resolution=64).mask, clip.masks[:, 0]) for t in ths]\n'
                 '    plt.plot(ths, ious, label=f"normalise={norm}")\n'
                 'plt.xlabel("threshold"); plt.ylabel("IoU with true mask"); plt.title("mask quality vs threshold"); plt.legend(); plt.show()'),
        ("code", 'steps_shown = list(range(0, store.steps, max(1, store.steps // 5)))\n'
                 'rows = {f"step {s}": np.repeat(fz.blend_mask(store, ["circle"], step=s, resolution=64).mask[..., None], 3, -1).astype(float)\n'
                 '        for s in steps_shown}\n'
                 'fig = fz.viz.compare_clips(rows, title="M_t over inversion steps (rows) and frames (columns)"); plt.show()'),
    ]


@register("05_inversion_attention_fusion", "Ablation: inversion attention vs reconstruction attention",
          ["why attention recorded during inversion keeps structure and motion better than attention from a "
           "reconstruction pass", "how to measure it against ground truth"], "48 s")

def _():
    return [
        ("md", "Three edits of the same inverted clip: (a) plain DDIM from $z_T$ with the target prompt and no fusion; "
               "(b) fusing attention recorded while *reconstructing* from $z_T$ (prompt-to-prompt); (c) fusing the "
               "*inversion's* attention (FateZero)."),
        ("code", 'clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=0)\n'
                 'target = "a blue circle on grass"\ntruth = clip.edited(target)\n'
                 'inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)\n'
                 'variants = {"(a) no fusion": dict(fuse_cross=False, fuse_self=False),\n'
                 '            "(b) reconstruction attention": dict(use_inversion_attention=False),\n'
                 '            "(c) inversion attention": dict()}\n'
                 'edits = {k: fz.edit(pipe, inv, target, **v).frames for k, v in variants.items()}\n'
                 'scores = {k: fz.metrics.toy_edit_metrics(e, clip, truth) for k, e in edits.items()}\n'
                 'for k, s in scores.items():\n    print(f"{k:32} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))'),
        ("code", 'fig = fz.viz.compare_clips({"source": clip.frames, **edits, "ground truth": truth.frames}); plt.show()'),
        ("code", 'fig = fz.viz.bar_table(scores, "psnr", title="PSNR to the ground-truth edit", ylabel="dB"); plt.show()'),
        ("code", 'def pick(variant=list(edits)[-1]):\n    fz.video.show({variant: edits[variant], "ground truth": truth.frames})\n\n'
                 'widgets.interact(pick, variant=list(edits));'),
    ]


@register("06_attention_blending", "Ablation: how much source self-attention to keep",
          ["no self-attention fusion vs full source self-attention vs masked blending",
           "s_fused = M ⊙ s_edit + (1 − M) ⊙ s_src and why it is computed on outputs",
           "the effect of the mask threshold"], "96 s")

def _():
    return [
        ("md", "$$s_{fused} = M_t \\odot s_{edit} + (1 - M_t) \\odot s_{src}$$ per query row, so "
               "$s_{fused}V = M_t \\odot (s_{edit}V) + (1-M_t) \\odot (s_{src}V)$: the library fuses attention "
               "*outputs* and never forms the maps."),
        ("code", 'clip = fz.toyworld.clip("a red square and a blue circle on grass", motion="up", frames=FRAMES, seed=4)\n'
                 'target = "a red square and a yellow circle on grass"\ntruth = clip.edited(target)\n'
                 'inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS)\n'
                 'variants = {"no self fusion": dict(fuse_self=False), "full source self-attn": dict(),\n'
                 '            "masked blend (FateZero)": dict(blend_words=["circle"])}\n'
                 'edits = {k: fz.edit(pipe, inv, target, **v).frames for k, v in variants.items()}\n'
                 'scores = {k: fz.metrics.toy_edit_metrics(e, clip, truth, obj=1) for k, e in edits.items()}\n'
                 'for k, s in scores.items():\n    print(f"{k:26} " + "  ".join(f"{m} {v:6.2f}" for m, v in s.items()))'),
        ("code", 'fig = fz.viz.compare_clips({"source": clip.frames, **edits, "ground truth": truth.frames}); plt.show()'),
        ("code", 'thresholds = [0.1, 0.3, 0.5, 0.7] if not FAST else [0.1, 0.5]\n'
                 'sweep = {t: fz.edit(pipe, inv, target, blend_words=["circle"], blend_threshold=t) for t in thresholds}\n'
                 'psnr = [fz.metrics.toy_edit_metrics(sweep[t].frames, clip, truth, obj=1)["psnr"] for t in thresholds]\n'
                 'plt.plot(thresholds, psnr, "o-"); plt.xlabel("blend threshold"); plt.ylabel("PSNR vs ground truth (dB)")\n'
                 'plt.title("threshold sweep"); plt.show()'),
        ("code", 'def show(threshold=thresholds[0]):\n    r = sweep[threshold]\n'
                 '    first = min(r.masks)\n'
                 '    rows = {"edit": r.frames, f"mask at step {first}": np.repeat(r.masks[first][..., None], 3, -1).astype(float)}\n'
                 '    fig = fz.viz.compare_clips(rows, title=f"threshold {threshold}"); plt.show()\n\n'
                 'widgets.interact(show, threshold=widgets.SelectionSlider(options=thresholds));'),
        ("md", "## The cross-attention window: where the toy model differs from Stable Diffusion\n"
               "Cross-attention fusion gives the words their source maps for the first `cross_replace_steps` of the "
               "steps. The reference uses *refine* alignment (only words shared by both prompts) for 80 % of the "
               "steps. In this toy model a colour word, not the noise, decides where the object goes, so the edited "
               "word's map must come from the source too: its measured defaults are the paper's rule (*replace* "
               "when both prompts have the same number of tokens, i.e. `cross_mode=\"auto\"`) for 50 % of the "
               "steps (`docs/engine_ablation.md`). Compare with the reference's settings and with no cross fusion:"),
        ("code", 'reference = fz.edit(pipe, inv, target, blend_words=["circle"], cross_mode="refine", cross_replace_steps=0.8)\n'
                 'no_cross = fz.edit(pipe, inv, target, blend_words=["circle"], fuse_cross=False)\n'
                 'win = {"toy default (replace, 0.5)": edits["masked blend (FateZero)"],  # the edit above, not re-run\n'
                 '       "reference (refine, 0.8)": reference.frames, "no cross fusion": no_cross.frames}\n'
                 'for k, frames in win.items():\n'
                 '    s = fz.metrics.toy_edit_metrics(frames, clip, truth, obj=1)\n'
                 '    print(f"{k:28} PSNR {s[\'psnr\']:.2f} dB  centroid {s[\'centroid_px\']:5.1f} px  judge {s[\'accuracy\']:.2f}")\n'
                 'fig = fz.viz.compare_clips({"source": clip.frames, **win, "ground truth": truth.frames}); plt.show()'),
    ]


@register("07_spatial_temporal_attention", "Spatial-temporal self-attention: one image model, a steady video",
          ["how keys/values from reference frames turn SD's self-attention into video attention, with no new weights",
           "reference-frame choices (first, previous, all) and their effect on flicker"], "56 s")

def _():
    return [
        ("md", "$$\\mathrm{SelfAttn}(f) = \\mathrm{softmax}\\big(Q_f\\,[K_r]_{r\\in R(f)}^\\top/\\sqrt d\\big)"
               "\\,[V_r]_{r\\in R(f)}$$ with $R(f)$ = {first, previous} by default. Editing frames independently lets "
               "each frame pick its own look; sharing keys/values keeps one look."),
        ("code", 'clip = fz.toyworld.clip("a purple circle on stone", motion="right_to_left", frames=FRAMES, seed=3, camera="pan")\n'
                 'target = "a yellow circle on stone"\ntruth = clip.edited(target)\n'
                 'settings = {"off (per frame)": False, "first+previous": ("first", "previous"), "all frames": "all"}\n'
                 'results = {}\nfor name, temporal in settings.items():\n'
                 '    inv = fz.invert(pipe, clip.frames, clip.caption, steps=STEPS, temporal=temporal)\n'
                 '    results[name] = fz.edit(pipe, inv, target, blend_words=["circle"]).frames\n'
                 'fig = fz.viz.compare_clips({"source": clip.frames, **results, "ground truth": truth.frames}); plt.show()'),
        ("code", 'for name, frames in results.items():\n'
                 '    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3)) - np.abs(np.diff(truth.frames, axis=0)).mean(axis=(1, 2, 3))\n'
                 '    plt.plot(range(1, len(frames)), change, "o-", label=name)\n'
                 'plt.axhline(0, color="gray", ls="--"); plt.xlabel("frame"); plt.ylabel("extra change vs ground truth")\n'
                 'plt.title("flicker per frame"); plt.legend(); plt.show()'),
        ("code", 'def show(setting=list(results)[1]):\n    fz.video.show({setting: results[setting], "ground truth": truth.frames})\n\n'
                 'widgets.interact(show, setting=list(results));'),
    ]


@register("08_shape_editing", "Shape editing: tune the model on the clip, then fuse",
          ["why fused self-attention keeps the old shape", "one-shot video tuning (Tune-A-Video): which weights "
           "move, and the temporal attention it adds", "shape accuracy with and without tuning, against ground truth"],
          "131 s")

def _():
    return [
        ("md", "Zero-shot, the source self-attention pins the layout — good for colours and styles, bad for "
               "\"circle → square\". FateZero tunes the model on the clip first (train $W_Q$ of self- and "
               "cross-attention and a new temporal attention, loss "
               "$\\|\\epsilon - \\epsilon_\\theta(z_t, t, p_{src})\\|^2$ on the clip), then edits with the same fusion."),
        ("code", 'clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=FRAMES, seed=7)\n'
                 'target = "a red square on grass"\ntruth = clip.edited(target)\n'
                 'tuned, report = fz.tuning.tune_on_clip(pipe, clip.frames, clip.caption, steps=20 if FAST else 300)\n'
                 'report'),
        ("code", 'plt.plot(report.losses, alpha=0.4); plt.plot(np.convolve(report.losses, np.ones(10) / 10, "valid"))\n'
                 'plt.xlabel("tuning step"); plt.ylabel("denoising loss"); plt.title("one-shot tuning on the clip"); plt.show()'),
        ("code", 'results = {}\nfor name, model in [("zero-shot", pipe), ("tuned", tuned)]:\n'
                 '    inv = fz.invert(model, clip.frames, clip.caption, steps=STEPS)\n'
                 '    results[name] = fz.edit(model, inv, target, blend_words=["circle"]).frames\n'
                 'fig = fz.viz.compare_clips({"source": clip.frames, **results, "ground truth": truth.frames}); plt.show()'),
        ("code", 'from fatezero_lab.toyworld import judge\n'
                 'for name, frames in results.items():\n'
                 '    ious = [fz.masks.iou(judge.object_mask(f, "red"), m) for f, m in zip(frames, truth.masks[:, 0])]\n'
                 '    print(f"{name:10} shape IoU with the true square: {np.mean(ious):.2f}")'),
        ("code", 'def show(which="tuned"):\n    fz.video.show({which: results[which], "ground truth": truth.frames})\n\n'
                 'widgets.interact(show, which=list(results));'),
    ]


@register("09_benchmark", "The ground-truth benchmark: each claim of the paper as a number",
          ["how the toy world's exact ground truth scores every ablation",
           "the paper's four claims as inequalities between table rows, and which ones hold"], "249 s")

def _():
    return [
        ("md", "`fz.bench.SUITE` is a fixed, versioned set of toy edits (colour, background, shape, one object of "
               "two); `fz.bench.VARIANTS` are the ablation rows. Every row is scored against the exact ground truth "
               "the toy renderer draws. The full table (13 cases x all variants, 50 steps) takes about half an hour on "
               "a 2-core CPU: `python -m fatezero_lab bench`; its last result ships in `docs/benchmark_results.json`."),
        ("code", 'import json, pathlib\nfrom IPython.display import Markdown\n'
                 'saved = pathlib.Path(fz.__file__).resolve().parents[1] / "docs" / "benchmark_results.json"\n'
                 'if saved.exists():  # a clone of the repository; a pip install has no docs/ folder\n'
                 '    full = json.loads(saved.read_text())\n'
                 '    print("full suite:", full["settings"], "\\nclaims:", json.dumps(full["claims"], indent=1))\n'
                 '    display(Markdown(fz.bench.markdown(fz.bench.summarise(full["rows"]))))\n'
                 'else:\n    print("docs/benchmark_results.json not found: see docs/benchmark.md in the repository")'),
        ("md", "## A subset, live\nThe same code on a few cases (fewer in fast mode)."),
        ("code", 'cases = [c for c in fz.bench.SUITE if c.kind in ("colour", "two-object")][: (2 if FAST else 3)]\n'
                 'variants = {k: v for k, v in fz.bench.VARIANTS.items() if "threshold" not in k}\n'
                 'rows = fz.bench.run_suite(pipe, cases, variants, frames=FRAMES, steps=STEPS)\n'
                 'Markdown(fz.bench.markdown(fz.bench.summarise(rows)))'),
        ("code", 'claims = fz.bench.check_claims(rows)\n'
                 'for name, ok in claims.items():\n'
                 '    print(f"{name:70} {\'holds\' if ok else \'does NOT hold\' if ok is not None else \'not measured\'}")'),
        ("code", 'per_variant = {v: {m: [r[m] for r in rows if r["variant"] == v] for m in ("psnr", "background_psnr", "flicker", "accuracy")}\n'
                 '               for v in variants}\n\n'
                 'def plot(metric="psnr"):\n'
                 '    fig = fz.viz.bar_table(per_variant, metric, title=f"{metric} per variant ({len(cases)} cases)"); plt.show()\n\n'
                 'widgets.interact(plot, metric=["psnr", "background_psnr", "flicker", "accuracy"]);'),
    ]


@register("10_stable_diffusion_on_gpu", "Stable Diffusion v1.4 on a real clip, on a GPU",
          ["how to run the same calls on SD v1.4 with the paper's settings",
           "which attention-store mode fits your memory, and the CLIP metrics used for real clips"],
          "21 s")

def _():
    return [
        ("md", "On a GPU with the weights available this notebook loads SD v1.4 and edits your clip. Without them "
               "(a CPU, no hub access — e.g. the test suite), it says so and runs **the same cells on the toy "
               "model**. On one H200, SD v1.x's architecture at this setting (8 frames, 512², 50 steps, fp16; random weights, "
               "docs/gpu_sd.md) took 8.9 s to invert and edit with the default `recompute` store, 6.5 GiB of GPU memory."),
        ("code", 'import torch\nuse_sd = torch.cuda.is_available() and not FAST\nif use_sd:\n'
                 '    try:\n        pipe = fz.load_pipeline("CompVis/stable-diffusion-v1-4")\n'
                 '    except fz.ModelNotFoundError as e:\n        print(e); use_sd = False\n'
                 'if use_sd:  # a DAVIS sample clip (downloaded once), or your own: fz.video.prepare("my.mp4", 8, 512)\n'
                 '    info = fz.data.clip_info("car-turn"); frames = fz.data.fetch("car-turn", n_frames=8, size=512)\n'
                 '    source, target, blend = info["source_prompt"], info["targets"][0]["prompt"], info["targets"][0]["blend_words"]\n'
                 'else:\n    print("No GPU/SD weights here: running the same cells on the toy model.")\n'
                 '    frames = fz.toyworld.clip("a red square on grass", frames=FRAMES).frames\n'
                 '    source, target, blend = "a red square on grass", "a yellow square on grass", ["square"]'),
        ("md", "Sample clips in `data/clips.json` (`fz.data.list_clips()`), each with a source prompt and "
               "suggested target prompts and blend words, in the spirit of the paper's examples:"),
        ("code", 'for name in fz.data.list_clips():\n    info = fz.data.clip_info(name)\n'
                 '    print(f"{name:14} {info[\'source_prompt\']!r} -> " + " | ".join(t["prompt"] for t in info["targets"]))'),
        ("md", "## Which store mode fits?\nThe reference keeps every attention map (100 GB for 8 frames x 512² x 50 "
               "steps). `cache=\"inputs\"` keeps queries/keys instead and `cache=\"recompute\"` only the latents; all "
               "three give the same edit. The default picks the fastest one that fits."),
        ("code", 'f, h, w, _ = frames.shape\nfor mode in ["maps", "inputs", "recompute"]:\n'
                 '    print(fz.memory.estimate_memory(pipe, f, h, w, STEPS, cache=mode))\n'
                 'print("default here:", fz.memory.choose_cache(pipe, f, h, w, STEPS))'),
        ("code", 'inv = fz.invert(pipe, frames, source, steps=STEPS)\n'
                 'out = fz.edit(pipe, inv, target, blend_words=blend)\n'
                 'fig = fz.viz.compare_clips({"source": frames, "edit": out.frames}); plt.show()'),
        ("md", "## CLIP metrics (the paper's Tem-Con and Frame-Acc)\nThey need the public CLIP ViT-B/32 "
               "(`openai/clip-vit-base-patch32`); skipped when it cannot be downloaded."),
        ("code", 'try:\n    print(fz.metrics.clip_scores(out.frames, source, target))\n'
                 'except OSError as e:\n    print("CLIP weights not available offline:", str(e).splitlines()[0])'),
        ("code", 'def show(step=min(out.masks) if out.masks else 0):\n'
                 '    if step in out.masks:\n'
                 '        fig = fz.viz.attention_over_frames(out.masks[step].astype(float), out.frames, title=f"mask M_t at edit step {step}"); plt.show()\n\n'
                 'widgets.interact(show, step=sorted(out.masks) or [0]);'),
    ]


def main() -> None:
    for number, (title, learn, minutes, cells) in NOTEBOOKS.items():
        notebook(number, title, learn, minutes, cells)
        print("wrote", ROOT / f"{number}.ipynb")


if __name__ == "__main__":
    main()
