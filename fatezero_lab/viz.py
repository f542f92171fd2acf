"""Figures for the notebooks: clips side by side, attention maps over frames, the mask recipe stage by stage.

Every function returns the matplotlib ``Figure`` (titled, axes labelled) so notebooks and scripts can save it.
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def compare_clips(clips: dict[str, np.ndarray], title: str = "", max_frames: int = 8, scale: float = 1.1):
    """Rows of frames, one row per titled clip (e.g. source / edit / ground truth)."""
    plt = _plt()
    names = list(clips)
    n = min(max_frames, min(len(c) for c in clips.values()))
    fig, axes = plt.subplots(len(names), n, figsize=(scale * n, scale * len(names) + 0.4), squeeze=False)
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(clips[name][c], 0, 1), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
            if r == 0:
                ax.set_title(f"frame {c}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def paper_vs_yours(example, yours: np.ndarray, max_frames: int = 8, cache_dir=None, quiet: bool = False):
    """"The paper's result / yours": the source clip, the authors' published result of the example's preset (their
    GIF, :func:`fatezero_lab.data.fetch_result`) and your edit, one row each; returns the figure, or None.

    ``example`` is a :class:`fatezero_lab.lab.Example` (sd mode: its ``preset``) or a
    :class:`fatezero_lab.presets.Preset`. Without a preset (toy mode) there is nothing to compare: None, silently.
    If their GIF cannot be had (offline, no result listed), it says why and shows the source and yours. Their GIF is
    a compressed preview of their output for their clip and prompts: it compares with yours when you kept both.
    """
    from . import data

    preset = getattr(example, "preset", example)
    name = getattr(preset, "name", None)
    if not name:
        return None
    rows = {"source": getattr(example, "frames", None)}
    try:
        rows["the paper's result"] = data.fetch_result(name, cache_dir=cache_dir, quiet=quiet)  # (F, h, w, 3)
    except (data.ClipDownloadError, KeyError) as e:
        print(f"the paper's result for preset {name!r} is not shown: {str(e).splitlines()[0]}")
    rows["yours"] = yours
    rows = {k: v for k, v in rows.items() if v is not None}
    own = getattr(example, "target", preset.target_prompt) == preset.target_prompt
    title = f"preset {name!r}: the paper's result / yours" + ("" if own else " (your prompts differ from the paper's)")
    return compare_clips(rows, title=title, max_frames=max_frames)


def attention_over_frames(maps: np.ndarray, frames: np.ndarray | None = None, title: str = "", cmap: str = "magma",
                          alpha: float = 0.6):
    """A map per frame (frames, h, w), optionally over the frames themselves, with a shared colour scale."""
    plt = _plt()
    n = len(maps)
    fig, axes = plt.subplots(1, n, figsize=(1.3 * n, 1.7), squeeze=False)
    vmax = float(np.max(maps)) or 1.0
    for i in range(n):
        ax = axes[0, i]
        if frames is not None:
            ax.imshow(np.clip(frames[i], 0, 1))
            h, w = frames[i].shape[:2]
            im = ax.imshow(maps[i], cmap=cmap, alpha=alpha, vmin=0, vmax=vmax, extent=(0, w, h, 0),
                           interpolation="nearest")
        else:
            im = ax.imshow(maps[i], cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"frame {i}", fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, label="attention")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def mask_stages(result, frame: int = 0, truth: np.ndarray | None = None):
    """The mask recipe stage by stage for one frame (a :class:`~fatezero_lab.masks.MaskResult`)."""
    plt = _plt()
    stages = result.stages()
    n = len(stages) + (truth is not None)
    fig, axes = plt.subplots(1, n, figsize=(2.0 * n, 2.3))
    for ax, (name, arr) in zip(axes, stages.items()):
        ax.imshow(arr[frame], cmap="viridis", interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
    if truth is not None:
        axes[-1].imshow(truth[frame], cmap="gray", interpolation="nearest")
        axes[-1].set_title("true object mask", fontsize=8)
        axes[-1].set_xticks([]), axes[-1].set_yticks([])
    fig.suptitle(f"blend mask for {result.words} at step {result.step} (frame {frame}; area {result.area:.0%})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def self_attention_figure(result: dict, frames: np.ndarray, query: tuple[int, int], frame: int, grid_hw,
                          title: str = ""):
    """Where one query pixel looks: its frame with the query marked, then one map per reference frame; ``title``
    above them all."""
    plt = _plt()
    refs = result["frames"]
    fig, axes = plt.subplots(1, 1 + len(refs), figsize=(2.0 * (1 + len(refs)), 2.3))
    h, w = frames.shape[1:3]
    sy, sx = h / grid_hw[0], w / grid_hw[1]
    axes[0].imshow(np.clip(frames[frame], 0, 1))
    axes[0].scatter([(query[1] + 0.5) * sx], [(query[0] + 0.5) * sy], c="cyan", s=60, marker="+")
    axes[0].set_title(f"query in frame {frame}", fontsize=8)
    vmax = float(result["maps"].max()) or 1.0
    for ax, f, m in zip(axes[1:], refs, result["maps"]):
        ax.imshow(np.clip(frames[f], 0, 1))
        ax.imshow(m, cmap="magma", alpha=0.65, vmin=0, vmax=vmax, extent=(0, w, h, 0), interpolation="nearest")
        ax.set_title(f"keys from frame {f}", fontsize=8)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9) if title else None)
    return fig


def bar_table(rows: dict[str, dict], metric: str, title: str = "", ylabel: str = ""):
    """A bar chart of one metric over variants: rows = {variant: {metric: value or list}}."""
    plt = _plt()
    names = list(rows)
    vals = [np.mean(rows[n][metric]) for n in names]
    errs = [np.std(rows[n][metric]) if np.ndim(rows[n][metric]) else 0 for n in names]
    fig, ax = plt.subplots(figsize=(1.4 * len(names) + 1, 3))
    ax.bar(range(len(names)), vals, yerr=errs, color="tab:blue", alpha=0.8, capsize=3)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title or metric)
    fig.tight_layout()
    return fig


def on_release(shown):
    """Sliders of an ``ipywidgets.interact`` call (its return value, ``shown``) redraw when released, not at every
    step of a drag (``continuous_update=False``): in sd mode a redraw may run a UNet pass (a ``recompute`` store's
    attention), which a drag would queue dozens of. Returns ``shown``."""
    for control in getattr(getattr(shown, "widget", None), "kwargs_widgets", []):
        if "continuous_update" in control.trait_names():
            control.continuous_update = False
    return shown


def window_title(store, window, kind: str = "cross") -> str:
    """A fusion window in timesteps t, e.g. "cross fusion for t ≥ 601" (``window``: a fraction or (start, end) of
    the edit steps, counted as :class:`fatezero_lab.editing.EditControl` counts them; ``store``: the source store,
    whose ``timesteps`` give each edit step's t)."""
    from .config import check_window, step_range

    start, end = check_window(f"{kind} window", window)
    steps = store.steps
    span = step_range((start, end), steps + 1 if kind == "cross" else steps)  # cross: the reference's steps + 1 slots
    span = range(span.start, min(span.stop, steps))
    if not len(span):
        return f"no {kind} fusion"
    t = [int(store.timesteps[store.source_step(i)]) for i in span]  # edit step i runs at this t (descending)
    if span.start == 0:
        return f"{kind} fusion for t ≥ {min(t)}"
    return f"{kind} fusion for {min(t)} ≤ t ≤ {max(t)}"


def alignment_matrix(alignment, source_tokens: list[str], target_tokens: list[str], title: str = ""):
    """Which source token's map each target token reads in cross-attention fusion (a
    :class:`fatezero_lab.prompts.Alignment`): a row per target token, a column per source token; a row without a
    mark keeps its own map (a new word, refine's α_j = 0)."""
    plt = _plt()
    n_src, n_tgt = len(source_tokens), len(target_tokens)
    m = np.zeros((n_tgt, n_src))  # (target tokens, source tokens)
    for j in range(n_tgt):
        s = int(alignment.mapper[j])
        if float(alignment.alpha[j]) > 0 and 0 <= s < n_src:
            m[j, s] = float(alignment.alpha[j])
    fig, ax = plt.subplots(figsize=(0.45 * n_src + 1.8, 0.4 * n_tgt + 1.2))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n_src)), ax.set_xticklabels(source_tokens, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n_tgt)), ax.set_yticklabels(target_tokens, fontsize=8)
    for j in np.where(m.sum(1) == 0)[0]:
        ax.text(n_src - 0.5, j, " own map (new word)", va="center", fontsize=7, color="tab:red")
    ax.set_xlabel("source token (map read)"), ax.set_ylabel("target token")
    ax.set_title(title or alignment.mode, fontsize=10)
    fig.tight_layout()
    return fig


def attention_rows(rows: dict[str, np.ndarray], frames: np.ndarray | None = None, title: str = "",
                   cmap: str = "magma", alpha: float = 0.65):
    """Rows of attention maps (each (frames, h, w)), one row per label, a column per frame, one colour scale for all
    (so rows compare), optionally over the frames themselves."""
    plt = _plt()
    names = list(rows)
    n = min(len(r) for r in rows.values())
    fig, axes = plt.subplots(len(names), n, figsize=(1.25 * n + 1.6, 1.25 * len(names) + 0.5), squeeze=False)
    vmax = max(float(np.max(r)) for r in rows.values()) or 1.0
    for r, name in enumerate(names):
        for c in range(n):
            ax = axes[r, c]
            if frames is not None:
                h, w = frames[c].shape[:2]
                ax.imshow(np.clip(frames[c], 0, 1))
                ax.imshow(rows[name][c], cmap=cmap, alpha=alpha, vmin=0, vmax=vmax, extent=(0, w, h, 0),
                          interpolation="nearest")
            else:
                ax.imshow(rows[name][c], cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(f"frame {c}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def score_grid(values: np.ndarray, row_labels: list[str], col_labels: list[str], title: str = "",
               mark: tuple[int, int] | None = None, fmt: str = "{:.2f}"):
    """A heat map of one score over a grid of settings (rows × columns), each cell annotated; ``mark`` outlines one."""
    plt = _plt()
    values = np.asarray(values, float)
    fig, ax = plt.subplots(figsize=(1.6 * values.shape[1] + 2.4, 0.7 * values.shape[0] + 1.4))
    im = ax.imshow(values, cmap="viridis")
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9,
                color="white" if v < np.nanmean(values) else "black")
    if mark is not None:
        ax.add_patch(plt.Rectangle((mark[1] - 0.5, mark[0] - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
    ax.set_xticks(range(len(col_labels))), ax.set_xticklabels(col_labels, fontsize=8)
    ax.set_yticks(range(len(row_labels))), ax.set_yticklabels(row_labels, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
