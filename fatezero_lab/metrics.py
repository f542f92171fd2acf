"""Ground-truth metrics for toy edits: every toy edit has an exact answer, so we can measure each claim of the paper.

All clips are (frames, H, W, 3) float arrays in [0, 1]; masks are (frames, H, W) bool.

- ``psnr(edit, truth)``                       10·log10(1 / MSE) over the whole clip
- ``ssim(edit, truth)``                       structural similarity (Gaussian window σ = 1.5, per channel, mean)
- ``background_psnr(edit, source, masks)``    the same outside the union of the source and target object masks,
                                               against the *source* (was the background kept?)
- ``centroid_error(edit, truth_masks, colour)`` pixels between the edited object's centroid (found by colour with the
                                               judge) and the ground-truth object's, mean over frames
- ``flicker(edit, truth)``                    mean |Δ_t edit| − mean |Δ_t truth| with Δ_t x = x_{t+1} − x_t: the
                                               frame-to-frame change the edit adds beyond the true motion

The metrics of frames alone (``psnr``, ``ssim``, ``dilate``, ``background_psnr``, ``flicker``, ``temporal_error``)
live in the leaf module :mod:`fatezero_lab.image_metrics` (the toy world's training imports ``psnr`` from there:
this module reads the toy world's judge, so the toy world must not import it) and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from .image_metrics import background_psnr, dilate, flicker, psnr, ssim, temporal_error
from .toyworld import judge as _judge

__all__ = ["DEFAULT_CLIP", "background_mask_margin", "background_psnr", "centroid", "centroid_error", "clip_scores",
           "dilate", "edit_accuracy", "flicker", "load_clip", "psnr", "ssim", "temporal_error", "toy_edit_metrics"]


def centroid(mask: np.ndarray) -> np.ndarray | None:
    pts = np.argwhere(mask)
    return pts.mean(0) if len(pts) else None


def centroid_error(edit: np.ndarray, truth_masks: np.ndarray, colour: str, missing: float = 32.0) -> float:
    """Mean distance (pixels) between the edited object (pixels of ``colour``) and the true object, per frame.

    A frame where no pixel of ``colour`` is found counts as ``missing`` pixels (half a 64 px frame).
    """
    errs = []
    for frame, true in zip(edit, truth_masks):
        c_true = centroid(true)
        found = _judge.object_mask(frame, colour)
        c_edit = centroid(found) if found.sum() >= 6 else None
        errs.append(missing if c_edit is None or c_true is None else float(np.linalg.norm(c_edit - c_true)))
    return float(np.mean(errs))


def edit_accuracy(edit: np.ndarray, target_caption: str) -> float:
    """Fraction of frames the judge reads as exactly ``target_caption`` (colours, shapes and background)."""
    return float(np.mean([_judge.judge(f).matches(target_caption) for f in edit]))


def toy_edit_metrics(edit: np.ndarray, source_clip, truth_clip, obj: int = 0, background_edit: bool = False) -> dict:
    """All ground-truth metrics of one toy edit of object ``obj`` (or of the background).

    ``background_psnr`` is the PSNR vs the source outside both objects (NaN for a background edit); ``kept_psnr`` is
    the same for whatever the edit should keep (the background, or for a background edit the objects).
    """
    colour = truth_clip.spec.objects[obj].colour
    union = np.concatenate([source_clip.masks, truth_clip.masks], axis=1).any(axis=1)  # (frames, H, W)
    bg = background_psnr(edit, source_clip.frames, union)
    if background_edit:
        inner = union & ~np.asarray(background_mask_margin(union))
        kept = psnr(edit, source_clip.frames, inner)
    else:
        kept = bg
    return {
        "psnr": psnr(edit, truth_clip.frames),
        "ssim": ssim(edit, truth_clip.frames),
        "background_psnr": float("nan") if background_edit else bg,
        "kept_psnr": kept,
        "centroid_px": centroid_error(edit, truth_clip.masks[:, obj], colour),
        "flicker": flicker(edit, truth_clip.frames),
        "temporal_error": temporal_error(edit, truth_clip.frames),
        "accuracy": edit_accuracy(edit, truth_clip.caption),
    }


def background_mask_margin(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` within one pixel of its border (anti-aliased edges)."""
    m = np.asarray(mask, bool)
    inner = m & np.roll(m, 1, -1) & np.roll(m, -1, -1) & np.roll(m, 1, -2) & np.roll(m, -1, -2)
    return m & ~inner


# ---------------------------------------------------------------------------------------------------------------------
# The paper's CLIP metrics (for real clips, where there is no ground truth)
# ---------------------------------------------------------------------------------------------------------------------
DEFAULT_CLIP = "openai/clip-vit-base-patch32"  # the reference code's ViT-B/32


def load_clip(name: str = DEFAULT_CLIP, device: str = "cpu"):
    """(model, tokenizer, image processor) of a CLIP checkpoint — a hub id or a local folder."""
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPModel

    model = CLIPModel.from_pretrained(name).to(device).eval()
    return model, AutoTokenizer.from_pretrained(name), CLIPImageProcessor.from_pretrained(name)


def clip_scores(frames: np.ndarray, source_prompt: str, target_prompt: str, clip=None,
                name: str = DEFAULT_CLIP) -> dict:
    """FateZero's CLIP metrics of an edited clip.

    - **Tem-Con** = mean_t cos(E_img(x_t), E_img(x_{t+1})): temporal consistency of consecutive frames;
    - **Frame-Acc** = mean_t [cos(E_img(x_t), E_txt(target)) > cos(E_img(x_t), E_txt(source))];
    - **CLIP-T** = mean_t cos(E_img(x_t), E_txt(target)) (×100 in the literature).

    ``clip`` = (model, tokenizer, image processor) from :func:`load_clip`; default: load ``name``.
    """
    import torch

    model, tok, proc = clip if clip is not None else load_clip(name)
    device = next(model.parameters()).device
    u8 = (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)
    with torch.no_grad():
        pix = proc(images=list(u8), return_tensors="pt")["pixel_values"].to(device)
        img = model.get_image_features(pixel_values=pix)
        txt_in = tok([source_prompt, target_prompt], padding=True, return_tensors="pt").to(device)
        txt = model.get_text_features(**txt_in)
    img = torch.nn.functional.normalize(getattr(img, "pooler_output", img).float(), dim=-1)
    txt = torch.nn.functional.normalize(getattr(txt, "pooler_output", txt).float(), dim=-1)
    sims = img @ txt.T  # (frames, 2): [source, target]
    tem = (img[:-1] * img[1:]).sum(-1).mean().item() if len(img) > 1 else 1.0
    return {"tem_con": float(tem), "frame_acc": float((sims[:, 1] > sims[:, 0]).float().mean()),
            "clip_t": float(sims[:, 1].mean())}
