"""The attention store: what inversion recorded, and the inspection API a learner explores it with.

FateZero's key idea is to keep the attention of the *inversion* pass — cross-attention c_t^src (which pixel reads
which word) and spatial-temporal self-attention s_t^src (which pixel reads which pixel, in which frame) — and to
fuse it into the editing pass. A store holds, for every inversion step j:

- the latent z_j that the UNet saw, its timestep t_j and the source prompt embedding (always: they are tiny), and
- what its store mode keeps (``cache``, a name of :data:`~fatezero_lab.store_modes.STORE_MODES`): the attention
  probability maps themselves (``"maps"``, the reference behaviour), the queries and keys that produce them
  (``"inputs"``), or only the small head-averaged cross-attention maps that the blending mask needs
  (``"recompute"``).

``store.maps(step)`` returns every recorded layer's probabilities for a step a store keeps; a ``"recompute"`` store
gives them back only through its explicitly named :meth:`AttentionStore.recompute_source` /
:meth:`AttentionStore.recompute_maps` (one UNet call, by a :class:`~fatezero_lab.inversion.SourceRecomputer`). The
inspection helpers below (``cross_attention``, ``self_attention``) turn them into pictures: ``(frames, h, w)`` arrays
(in a recompute store they recompute the step they show).

Shapes: cross maps ``(frames, heads, h*w, tokens)``; self maps ``(frames, heads, h*w, refs*h*w)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .config import ModelDefaults, TemporalConfig
from .processors import LayerInfo
from .prompts import word_spans, word_token_indices
from .store_modes import SourceAttention, StoreMode, store_mode  # noqa: F401  (SourceAttention re-exported)


class Recomputer(Protocol):
    """Anything that gives back one store step's source attention (``inversion.SourceRecomputer``)."""

    def attention(self, step: int) -> dict[str, SourceAttention]: ...


@dataclass
class AttentionStore:
    """Recorded source attention of one inversion (or reconstruction) pass, built once the pass is over.

    ``order`` says how editing step i finds its source step: ``"reverse"`` (inversion: step T-1-i, the same
    timestep) or ``"forward"`` (a reconstruction pass from z_T: step i).
    """

    prompt: str  # the source prompt
    tokens: list[str]  # its tokens as the UNet sees them (BOS ... EOS), without padding
    n_frames: int
    temporal: TemporalConfig  # the spatial-temporal setting the maps were recorded with
    tokenizer: object = field(default=None, repr=False)  # maps the prompt's words to token positions
    cache: str = "maps"  # the store mode's name (store_modes.STORE_MODES)
    max_side: int = 32  # layers with at most max_side² queries are recorded
    order: str = "reverse"
    layers: dict[str, LayerInfo] = field(default_factory=dict)  # recorded layers, in UNet order
    timesteps: list[int] = field(default_factory=list)  # timestep of each recorded step
    latents: list[torch.Tensor] = field(default_factory=list)  # z the UNet saw at each step, (frames, 4, h, w),
    #   then the pass's last latent (steps + 1 entries: z_T of an inversion, z_0 of a reconstruction)
    embedding: torch.Tensor | None = None  # (1, tokens, dim) source prompt embedding
    defaults: ModelDefaults = field(default_factory=ModelDefaults)  # the model's mask rule (blend_mask's defaults)
    data: dict[int, dict[str, SourceAttention]] = field(default_factory=dict, repr=False)  # step -> layer -> kept;
    #   in "recompute" mode only the summaries (cross_summary) of the model's default mask layers
    recomputer: Recomputer | None = field(default=None, repr=False)  # "recompute" mode: reruns a step's UNet call
    device: str = "cpu"  # where stored maps/inputs live (host memory, as in the reference)
    _cache_step: int | None = field(default=None, repr=False)  # recompute mode: the last recomputed step
    _cache: dict[str, SourceAttention] | None = field(default=None, repr=False)

    # --- access ------------------------------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        return len(self.timesteps)

    @property
    def latent_hw(self) -> tuple[int, int]:
        return tuple(self.latents[0].shape[-2:])

    def source_step(self, edit_step: int) -> int:
        """The store step that editing step ``edit_step`` replays (reverse order for an inversion store)."""
        return self.steps - 1 - edit_step if self.order == "reverse" else edit_step

    def source_latent_after(self, edit_step: int, noisier: bool = False) -> torch.Tensor:
        """The source trajectory's latent at the timestep editing step ``edit_step`` ends at (latent blend's z_src);
        ``noisier``: the one at the timestep it starts from (the reference's choice for an inversion store)."""
        j = self.source_step(edit_step)
        if self.order == "reverse":
            return self.latents[j + 1] if noisier else self.latents[j]
        return self.latents[j + 1]

    @property
    def mode(self) -> StoreMode:
        """The store mode (what is kept, how an edit reads it back): ``STORE_MODES[cache]``."""
        return store_mode(self.cache)

    def source(self, step: int) -> dict[str, SourceAttention]:
        """Every recorded layer's kept source attention at ``step`` (no UNet call; a store that keeps none, in
        recompute mode, refuses and points at :meth:`recompute_source`)."""
        self._check_step(step)
        if self.mode.source_rows:
            raise ValueError(f"this cache={self.cache!r} store keeps no attention maps at step {step}; "
                             f"store.recompute_source({step}) recomputes them with one UNet call")
        return self.data[step]

    def recompute_source(self, step: int) -> dict[str, SourceAttention]:
        """Recompute mode: every recorded layer's source attention at ``step``, by rerunning the inversion's UNet
        call at (z_step, t_step, p_src) (cached for the last step asked)."""
        self._check_step(step)
        if self._cache_step != step:
            if self.recomputer is None:
                raise RuntimeError("this store keeps no attention and has no recomputer to give it back")
            self._cache, self._cache_step = self.recomputer.attention(step), step
        return self._cache

    def cross_summary(self, step: int, name: str) -> torch.Tensor:
        """The blending mask's view of cross layer ``name`` at ``step``: (frames, 1, hw, tokens), head-averaged.

        Kept as such for the default mask layers in recompute mode (no UNet call); computed from the kept (or, for
        other layers in recompute mode, recomputed) maps otherwise.
        """
        self._check_step(step)
        return self.mode.cross_summary(self, step, name)

    def summarised_layers(self) -> set[str]:
        """The cross layers whose mask maps this store gives without a UNet call (recompute mode: the kept ones)."""
        return self.mode.summarised_layers(self)

    def maps(self, step: int) -> dict[str, torch.Tensor]:
        """Every recorded layer's attention probabilities at ``step``, formed from the kept inputs in inputs mode
        (never a UNet call: a recompute store points at :meth:`recompute_maps`)."""
        return {name: sa.probabilities() for name, sa in self.source(step).items()}

    def recompute_maps(self, step: int) -> dict[str, torch.Tensor]:
        """Recompute mode: :meth:`maps` by rerunning the step's UNet call (:meth:`recompute_source`)."""
        return {name: sa.probabilities() for name, sa in self.recompute_source(step).items()}

    def layer_map(self, step: int, name: str) -> torch.Tensor:
        """One layer's probabilities (frames, heads, n, m) at ``step`` (in a recompute store: recomputed)."""
        self._check_step(step)
        return self.mode.inspect(self, step)[name].probabilities()

    def nbytes(self) -> int:
        """Bytes held by the store (maps, attention inputs or mask summaries, latents, embedding) — not counting a
        recompute cache."""
        n = sum(sa.nbytes() for d in self.data.values() for sa in d.values())
        n += sum(t.numel() * t.element_size() for t in self.latents)
        if self.embedding is not None:
            n += self.embedding.numel() * self.embedding.element_size()
        return n

    def layer_table(self) -> list[dict]:
        """One row per recorded layer: name, short name, kind, place, resolution, heads, channels."""
        return [{"name": l.name, "short": l.short, "kind": l.kind, "place": l.place, "resolution": l.resolution,
                 "heads": l.heads, "channels": l.channels} for l in self.layers.values()]

    def layer_names(self, kind: str | None = None, resolution: int | tuple[int, int] | None = None,
                    place: str | None = None) -> list[str]:
        """Names of recorded layers, filtered by kind ("self"/"cross"), query resolution and place."""
        if isinstance(resolution, int):
            resolution = (resolution, resolution)
        return [n for n, l in self.layers.items()
                if (kind is None or l.kind == kind) and (resolution is None or l.resolution == tuple(resolution))
                and (place is None or l.place == place)]

    def choose_layers(self, kind: str, layers=None) -> list[str]:
        """Full names of ``layers`` (full or short names) of ``kind``; None = every ``kind`` layer at the finest
        recorded resolution. An unknown name raises ValueError listing the recorded ones."""
        valid = self.layer_names(kind)
        if not valid:
            raise ValueError(f"the store recorded no {kind}-attention layers")
        if layers is None:
            finest = max(self.layers[n].queries for n in valid)
            return [n for n in valid if self.layers[n].queries == finest]
        layers = [layers] if isinstance(layers, str) else list(layers)
        by_short = {self.layers[n].short: n for n in valid}
        out = []
        for l in layers:
            if l in self.layers and self.layers[l].kind == kind:
                out.append(l)
            elif l in by_short:
                out.append(by_short[l])
            else:
                raise ValueError(f"{l!r} is not a recorded {kind}-attention layer; choose from: "
                                 f"{', '.join(by_short)}")
        return out

    def words(self) -> list[str]:
        return [w for w, _ in word_spans(self.tokenizer, self.prompt)] if self.tokenizer is not None else []

    def token_indices(self, word: str | int) -> list[int]:
        return word_token_indices(self.tokenizer, self.prompt, word)

    # --- inspection --------------------------------------------------------------------------------------------------
    def cross_attention(self, word: str | int | list, step: int | list[int] | None = None,
                        layers: str | list[str] | None = None, heads: int | list[int] | None = None,
                        resolution: int | tuple[int, int] | None = None) -> np.ndarray:
        """Cross-attention of ``word`` (or token index, or a list of them: summed) -> (frames, h, w).

        Averaged over the chosen steps (default: all), layers (default: every cross layer at the finest recorded
        resolution) and heads (default: all). Maps of layers at other resolutions are resized (bilinear) to
        ``resolution`` (default: the first chosen layer's).
        """
        words = word if isinstance(word, list) else [word]
        idx = sorted({i for w in words for i in self.token_indices(w)})
        names = self.choose_layers("cross", layers)
        out_hw = (resolution, resolution) if isinstance(resolution, int) else resolution
        out_hw = out_hw or self.layers[names[0]].resolution
        acc = None
        for s in self._steps(step):
            for name in names:
                if heads is None:  # the head-mean summary: no recompute needed in recompute mode
                    a = self.cross_summary(s, name)[:, 0]  # (frames, hw, tokens)
                else:
                    a = self.mode.inspect(self, s)[name].probabilities().float()  # (frames, heads, hw, tokens)
                    a = a[:, self._heads(heads, a.shape[1])].mean(1)
                a = a[..., idx].sum(-1)  # (frames, hw)
                a = _to_grid(a, self.layers[name].resolution, out_hw)  # (frames, H, W)
                acc = a if acc is None else acc + a
        return (acc / (len(self._steps(step)) * len(names))).numpy()

    def self_attention(self, query: tuple[int, int], frame: int = 0, step: int | None = None,
                       layer: str | None = None, heads: int | list[int] | None = None) -> dict:
        """Where does pixel ``query`` = (row, col) of ``frame`` look? -> {"frames": [...], "maps": (refs, h, w)}.

        ``query`` is in the layer's own grid coordinates; the result has one map per reference frame (for
        spatial-temporal attention, e.g. the first and the previous frame) and sums to 1 over all of them.
        """
        names = self.choose_layers("self", [layer] if layer else None)
        name = names[0]
        info = self.layers[name]
        h, w = info.resolution
        r, c = query
        if not (0 <= r < h and 0 <= c < w):
            raise ValueError(f"query {query} is outside layer {info.short}'s {h}x{w} grid")
        if not 0 <= frame < self.n_frames:
            raise ValueError(f"frame {frame} is outside 0..{self.n_frames - 1}")
        step = self.steps // 2 if step is None else step
        a = self.layer_map(step, name).float()  # (frames, heads, hw, refs*hw)
        a = a[frame, self._heads(heads, a.shape[1])].mean(0)[r * w + c]  # (refs*hw,)
        refs = a.numel() // (h * w)
        # the key frames: the temporal config's reference frames at a spatial-temporal layer (one of them, e.g.
        # 'mid', is still a reference frame, not the query's own), the query's frame at a per-frame layer
        spatial_temporal = (self.temporal.enabled and self.n_frames > 1
                            and info.channels >= self.temporal.min_channels)
        ref_frames = self.temporal.frame_indices(self.n_frames)[frame].tolist() if spatial_temporal else [frame]
        assert len(ref_frames) == refs, (ref_frames, refs)  # the recorded keys are these frames' (processors.gather)
        return {"frames": ref_frames, "maps": a.view(refs, h, w).numpy()}

    def __repr__(self) -> str:
        kinds = {k: len(self.layer_names(k)) for k in ("self", "cross")}
        res = sorted({l.resolution for l in self.layers.values()}, reverse=True)
        return (f"AttentionStore(prompt={self.prompt!r}, steps={self.steps}, frames={self.n_frames}, "
                f"cache={self.cache!r}, layers={kinds['self']} self + {kinds['cross']} cross at {res}, "
                f"temporal={list(self.temporal.reference) if self.temporal.enabled else 'off'}, "
                f"groupnorm={self.temporal.groupnorm!r}, "
                f"size={self.nbytes() / 2**20:.1f} MiB)")

    # --- helpers -----------------------------------------------------------------------------------------------------
    def _check_step(self, step: int) -> None:
        if not isinstance(step, (int, np.integer)) or not 0 <= step < self.steps:
            raise ValueError(f"step {step!r} is outside the store's steps 0..{self.steps - 1}")

    def _steps(self, step) -> list[int]:
        if step is None:
            return list(range(self.steps))
        steps = [step] if isinstance(step, (int, np.integer)) else list(step)
        for s in steps:
            self._check_step(s)
        return steps

    def _heads(self, heads, n: int):
        if heads is None:
            return slice(None)
        hs = [heads] if isinstance(heads, int) else list(heads)
        if any(not 0 <= h < n for h in hs):
            raise ValueError(f"heads {hs} outside 0..{n - 1}")
        return hs


def _to_grid(a: torch.Tensor, hw: tuple[int, int], out_hw: tuple[int, int]) -> torch.Tensor:
    """(frames, h*w) -> (frames, H, W), bilinear when the sizes differ."""
    g = a.view(a.shape[0], 1, *hw)
    if tuple(hw) != tuple(out_hw):
        g = F.interpolate(g, size=out_hw, mode="bilinear", align_corners=False)
    return g[:, 0]
