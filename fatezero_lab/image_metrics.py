"""Metrics of frames alone — no toy judge, no CLIP: the package's one PSNR, SSIM, background PSNR, flicker and the
temporal-difference error (re-exported by :mod:`fatezero_lab.metrics`, where they are described with the rest).

A leaf module (it imports nothing of the package), so that every part of it — the toy world's training included —
may use it without importing :mod:`fatezero_lab.metrics`, which reads the toy world's judge.
"""

from __future__ import annotations

import numpy as np


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
