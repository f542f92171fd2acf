"""The attention store: what inversion recorded, and the inspection API a learner explores it with.

FateZero's key idea is to keep the attention of the *inversion* pass — cross-attention c_t^src (which pixel reads
which word) and spatial-temporal self-attention s_t^src (which pixel reads which pixel, in which frame) — and to
fuse it into the editing pass. A store holds, for every inversion step j:

- the latent z_j that the UNet saw, its timestep t_j and the source prompt embedding (always: they are tiny), and
- depending on ``cache``: the attention probability maps themselves (``"maps"``, the reference behaviour), the
  queries and keys that produce them (``"inputs"``), or only the small head-averaged cross-attention maps that the
  blending mask needs (``"recompute"``: every other map is recomputed on request from (z_j, t_j, p_src) by a
  :class:`~fatezero_lab.inversion.SourceRecomputer`, because attention at a step is a pure function of those three;
  editing instead runs the source rows in its own UNet call).

Either way, ``store.maps(step)`` returns every recorded layer's probabilities for that step, and the helpers below
(``cross_attention``, ``self_attention``) turn them into pictures: ``(frames, h, w)`` arrays.

Shapes: cross maps ``(frames, heads, h*w, tokens)``; self maps ``(frames, heads, h*w, refs*h*w)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from .config import ModelDefaults
from .processors import LayerInfo, TemporalConfig, gather_frames
from .prompts import word_spans, word_token_indices

CACHE_MODES = ("maps", "inputs", "recompute")


@dataclass
class SourceAttention:
    """One layer's source attention at one step: the probabilities, or the queries/keys that produce them.

    ``probs`` (frames, heads, n, m) in "maps" mode; ``q`` (frames, heads, n, d) and ``k`` (frames, heads, m, d) in
    "inputs"/"recompute" mode, from which ``softmax(q kᵀ · scale)`` gives the same probabilities on request.
    """

    scale: float
    probs: torch.Tensor | None = None
    q: torch.Tensor | None = None
    k: torch.Tensor | None = None
    index: torch.Tensor | None = None  # (frames, refs): for self-attention, k is per frame and gathered on use

    def keys(self, device=None, dtype=None) -> torch.Tensor:
        """The keys the queries attend to: (frames, heads, refs*m, d), gathered across reference frames if needed."""
        k = self.k.to(device or self.k.device, dtype or self.k.dtype)
        return k if self.index is None else gather_frames(k, k.shape[0], self.index)

    def probabilities(self) -> torch.Tensor:
        if self.probs is not None:
            return self.probs
        # QKᵀ and the softmax in float32 whatever the store's dtype: fp16 logits can overflow at SD 2.x's scales (the
        # reason for its upcast_attention, which the explicit attention path honours per layer); the maps are read
        # rarely (masks, cross-attention replacement), so upcasting always costs little
        dtype = torch.promote_types(self.q.dtype, torch.float32)  # fp16/bf16 -> fp32; fp32 and fp64 stay
        logits = torch.matmul(self.q.to(dtype), self.keys(dtype=dtype).transpose(-1, -2)) * self.scale  # (frames, heads, n, m)
        return logits.softmax(-1).to(self.q.dtype)

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """A_src · V for values ``v`` (frames, heads, m, d) -> (frames, heads, n, d), without forming A_src if we can."""
        if self.probs is not None:
            return torch.matmul(self.probs.to(v.device, v.dtype), v)
        return F.scaled_dot_product_attention(self.q.to(v.device, v.dtype), self.keys(v.device, v.dtype), v,
                                              scale=self.scale)

    def to(self, device) -> "SourceAttention":
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return SourceAttention(self.scale, mv(self.probs), mv(self.q), mv(self.k), self.index)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.probs, self.q, self.k) if t is not None)


def layer_selected(layer: LayerInfo, max_side: int) -> bool:
    """The reference stores and edits attention only at layers with at most ``max_side``² query positions."""
    return layer.resolution[0] <= max_side and layer.resolution[1] <= max_side


def cross_summary(probs: torch.Tensor, n_tokens: int | None = None) -> torch.Tensor:
    """What the blending mask reads of a cross-attention map: the mean over heads, the prompt's own tokens.

    (frames, heads, hw, tokens) -> (frames, 1, hw, n_tokens) float32.
    """
    return probs.float().mean(1, keepdim=True)[..., :n_tokens]


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
    cache: str = "maps"  # one of CACHE_MODES
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
    recompute: Recomputer | None = field(default=None, repr=False)  # "recompute" mode: gives back a step's attention
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

    def source(self, step: int) -> dict[str, SourceAttention]:
        """Every recorded layer's source attention at ``step`` (recomputed on request in recompute mode)."""
        self._check_step(step)
        if self.cache != "recompute":
            return self.data[step]
        if self._cache_step != step:
            if self.recompute is None:
                raise RuntimeError("this store keeps no attention and has no recomputer to give it back")
            self._cache, self._cache_step = self.recompute.attention(step), step
        return self._cache

    def cross_summary(self, step: int, name: str) -> torch.Tensor:
        """The blending mask's view of cross layer ``name`` at ``step``: (frames, 1, hw, tokens), head-averaged.

        Kept as such for the default mask layers in recompute mode (no UNet call); computed from the kept (or, for
        other layers in recompute mode, recomputed) maps otherwise.
        """
        self._check_step(step)
        kept = self.data.get(step, {}).get(name) if self.cache == "recompute" else None
        if kept is not None:
            return kept.probs
        return cross_summary(self.source(step)[name].probabilities())

    def summarised_layers(self) -> set[str]:
        """Recompute mode: the cross layers whose mask summaries are kept (the others need a recompute pass)."""
        return set(self.data.get(0, {})) if self.cache == "recompute" else set(self.layer_names("cross"))

    def maps(self, step: int) -> dict[str, torch.Tensor]:
        """Every recorded layer's attention probabilities at ``step``, materialised lazily in inputs/recompute mode."""
        return {name: sa.probabilities() for name, sa in self.source(step).items()}

    def layer_map(self, step: int, name: str) -> torch.Tensor:
        """One layer's probabilities (frames, heads, n, m) at ``step``."""
        return self.source(step)[name].probabilities()

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
                    a = self.source(s)[name].probabilities().float()  # (frames, heads, hw, tokens)
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
        if self.temporal.enabled and self.n_frames > 1 and refs > 1:
            ref_frames = self.temporal.frame_indices(self.n_frames)[frame].tolist()
        else:
            ref_frames = [frame]
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
