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
"""

from __future__ import annotations

import numpy as np

from .toyworld import judge as _judge


def psnr(a, b, mask=None, peak: float = 1.0) -> float:
    """PSNR in dB, the package's one definition: 10 · log10(peak² / MSE(a, b)).

    ``a``/``b`` are numpy arrays or torch tensors of the same shape, images in [0, peak] (``peak=2`` for the VAE's
    [-1, 1] range); ``mask`` (broadcastable to ``(…, H, W)``) restricts the mean to some pixels (NaN if empty).
    """
    d = (_as_float64(a) - _as_float64(b)) ** 2
    if mask is not None:
        m = np.broadcast_to(np.asarray(mask, bool)[..., None], d.shape)
        if not m.any():
            return float("nan")
        mse = d[m].mean()
    else:
        mse = d.mean()
    return float(10 * np.log10(peak ** 2 / max(mse, 1e-12)))


def _as_float64(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, np.float64)


def ssim(a: np.ndarray, b: np.ndarray, sigma: float = 1.5, c1: float = 0.01 ** 2, c2: float = 0.03 ** 2) -> float:
    """SSIM (Wang et al. 2004): mean over frames, pixels and channels of
    ((2 μ_a μ_b + C1)(2 σ_ab + C2)) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)), local statistics by a Gaussian window."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(a, np.float32)).permute(0, 3, 1, 2).double()  # (F, 3, H, W)
    y = torch.from_numpy(np.asarray(b, np.float32)).permute(0, 3, 1, 2).double()
    r = int(3 * sigma)
    g = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float64) ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    k = (g[:, None] * g[None, :]).expand(x.shape[1], 1, 2 * r + 1, 2 * r + 1)

    def blur(t):
        return F.conv2d(t, k, groups=t.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(s.mean())


def dilate(mask: np.ndarray, margin: int = 1) -> np.ndarray:
    """``mask`` (…, H, W) bool grown by ``margin`` pixels (4-neighbourhood steps)."""
    m = np.asarray(mask, bool)
    for _ in range(margin):
        m = m | np.roll(m, 1, -1) | np.roll(m, -1, -1) | np.roll(m, 1, -2) | np.roll(m, -1, -2)
    return m


def background_psnr(edit: np.ndarray, source: np.ndarray, object_masks: np.ndarray, margin: int = 1) -> float:
    """PSNR against the source outside the objects (``object_masks`` (frames, H, W) or (frames, k, H, W)), dilated by
    ``margin`` pixels so anti-aliased edges do not count."""
    m = np.asarray(object_masks, bool)
    if m.ndim == 4:
        m = m.any(axis=1)
    return psnr(edit, source, ~dilate(m, margin))


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


def flicker(edit: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute frame-to-frame change of the edit minus that of the ground truth (0 = as steady as the truth)."""
    if len(edit) < 2:
        return 0.0
    d_edit = np.abs(np.diff(np.asarray(edit, np.float64), axis=0)).mean()
    d_true = np.abs(np.diff(np.asarray(truth, np.float64), axis=0)).mean()
    return float(d_edit - d_true)


def temporal_error(edit: np.ndarray, reference: np.ndarray) -> float:
    """Temporal-difference error: how far the edit's frame-to-frame change is from the reference's (0 = moves exactly
    as the reference does; an edit that only recolours keeps it near 0, a boiling texture or a jumping object does not):

        E_tem = 1/(F−1) · Σ_f mean_pixels |(x̂_{f+1} − x̂_f) − (x_{f+1} − x_f)|

    with x̂ the edit and x the reference (the toy's ground truth; for a real clip the source, whose motion an edit
    should keep). Unlike :func:`flicker` it is not signed, so an edit steadier than the truth in one place and
    jumpier in another does not cancel out. Frames (F, H, W, 3) in [0, 1].
    """
    edit, reference = np.asarray(edit, np.float64), np.asarray(reference, np.float64)
    if edit.shape != reference.shape:
        raise ValueError(f"edit {edit.shape} and reference {reference.shape} must have the same (F, H, W, 3) shape")
    if len(edit) < 2:
        return 0.0
    return float(np.abs(np.diff(edit, axis=0) - np.diff(reference, axis=0)).mean())


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
