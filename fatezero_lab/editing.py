"""Editing: DDIM denoising from z_T with the target prompt and the Attention Blending Block (paper step 3).

At edit step i (timestep t) the conditional half of the guided batch is fused with the source attention of store
step j = T−1−i (the inversion step at the same timestep):

- cross-attention, for the first ``cross_replace_steps`` of the steps: shared words read the source maps
  (``replace``: A = A_src; ``refine``: A[..., j] = α_j A_src[..., m(j)] + (1−α_j) A_edit[..., j]), then chosen target
  words are re-weighted: A[..., j] ← w_j A[..., j];
- self-attention, for the first ``self_replace_steps``, as ``self_fusion`` says: ``"masked"``
      s_fused = M_t ⊙ s_edit + (1 − M_t) ⊙ s_src          (M_t per query row, from the *source* cross-attention),
  ``"full_source"`` s_fused = s_src, or ``"none"``;
- optionally, after each scheduler step, prompt-to-prompt's latent blend.

Each rule is a small class of :mod:`fatezero_lab.fusion` with its equation; :class:`EditControl` only dispatches.
The unconditional half runs plain (the reference edits only the conditional half).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import ConfigError, FateZeroConfig, step_range
from .cost import announced
from .diffusion import check_prompt, ddim_loop, ddim_scheduler, decode_latents, encode_prompt, tokens
from .fusion import LATENT_BLENDS, SELF_FUSIONS, BlendMask, cross_fusion
from .inversion import Inversion, RecordControl, SourceRecomputer
from .memory import check_fits
from .models import as_pipeline
from .processors import AttentionControl, explicit_attention
from .prompts import Alignment, align, reweight_vector, word_token_indices
from .store import AttentionStore, SourceAttention
from .store_modes import layer_selected, store_mode


@dataclass
class EditResult:
    """What :func:`edit` returns: the edited clip, the masks it used, and everything needed to reproduce it."""

    frames: np.ndarray  # (F, H, W, 3) the edited clip
    latents: torch.Tensor  # (F, 4, h, w) the edited z_0
    masks: dict[int, np.ndarray]  # edit step -> M_t (F, h, w) bool at the finest fused self-attention resolution
    source_prompt: str
    target_prompt: str
    config: FateZeroConfig
    source_store: AttentionStore | None = None  # the store whose attention was fused

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        return (f"EditResult({self.source_prompt!r} -> {self.target_prompt!r}, frames={f}, size={h}x{w}, "
                f"mask steps={len(self.masks)})")


@dataclass
class EditPlan:
    """Everything an edit derives from its inputs before the first UNet call (checked by :func:`plan_edit`)."""

    cfg: FateZeroConfig  # resolved: no field left to the model, mask_layers a list of full names
    target_prompt: str
    alignment: Alignment  # which source token each target token reads (cross-attention fusion)
    reweight: torch.Tensor | None  # (tokens,) target cross-attention multipliers, or None
    blend_idx: list[int]  # source token positions of the blend words (M_t)
    target_blend_idx: list[int]  # target token positions added to the latent-blend mask
    mask_override: torch.Tensor | None  # (F, 1, H, W) float: a given mask instead of M_t


class EditControl(AttentionControl):
    """The Attention Blending Block: fuses source attention into the conditional rows of the guided batch.

    The batch is [uncond | cond] (F rows each) — or, for a store mode with source rows ("recompute"),
    [source | uncond | cond]: the source rows replay the inversion step's latent with the source prompt in the same
    UNet call, so each layer computes the source attention and fuses it at once. The source and unconditional rows
    run plain; the conditional rows go to the parts built here from the plan (:mod:`fatezero_lab.fusion`): the cross
    rule, the self rule, the latent blend and the blend mask they share.
    """

    def __init__(self, store: AttentionStore, plan: EditPlan, latent_hw, steps: int, explicit: bool = False,
                 temporal_layers: dict | None = None):
        super().__init__(store.n_frames, store.temporal, latent_hw, explicit=explicit, temporal_layers=temporal_layers)
        cfg = plan.cfg
        self.store, self.plan, self.cfg, self.steps = store, plan, cfg, steps
        self.mode = store_mode(store.cache)  # the store mode: where this step's source attention comes from
        self.n_source = store.n_frames if self.mode.source_rows else 0  # source rows in the UNet batch
        # 1. the windows, counted as the reference counts them
        self.cross_steps = step_range(cfg.cross_replace_steps, steps + 1)  # the reference's cross schedule
        self.self_steps = step_range(cfg.self_replace_steps, steps)
        lb = step_range(cfg.latent_blend_steps, steps)
        self.blend_steps = range(lb.start, max(lb.start, lb.stop - 1))  # reference: start < i + 1 < end
        selves = store.layer_names("self")
        self.self_res = max((store.layers[n].resolution for n in selves), default=None)  # M_t kept at this size
        # 2. the parts, built once
        self.blend_mask = BlendMask(store, plan)
        self.cross = cross_fusion(plan.alignment, plan.reweight) if cfg.fuse_cross else None
        name = cfg.self_fusion
        if plan.mask_override is not None and name == "full_source":
            name = "masked"  # a given mask replaces M_t whatever the self rule says (as the sentinel always did)
        rule = SELF_FUSIONS[name](self.blend_mask, fast=cfg.fast_fusion and not explicit)
        self.self_fusion = rule if rule.fuses else None
        self.latent_blend = (LATENT_BLENDS[cfg.latent_blend_mode](store, plan, self.blend_mask) if cfg.latent_blend
                             else None)
        self.masks: dict[int, np.ndarray] = {}  # edit step -> M_t (F, h, w) bool, for EditResult
        self.source: dict[str, SourceAttention] = {}  # this step's kept source attention (empty with source rows)
        self.source_step = 0

    # --- per step (called by the loop) -------------------------------------------------------------------------------
    def begin_step(self, step: int, t: int) -> None:
        self.step = step
        j = self.source_step = self.store.source_step(step)  # the inversion step at the same timestep
        if int(self.store.timesteps[j]) != int(t):
            raise RuntimeError(f"edit step {step} (t={t}) would replay source step {j} "
                               f"(t={self.store.timesteps[j]}): timesteps do not line up")
        self.source = self.mode.step_source(self.store, j)
        self.blend_mask.begin_step(j)
        if self.latent_blend is not None:
            self.latent_blend.begin_step()

    def extra_rows(self):
        """The store mode's extra rows (recompute: z_j of the inversion and the source prompt), or None."""
        return self.mode.extra_rows(self.store, self.source_step)

    def end_step(self, step: int, z: torch.Tensor) -> torch.Tensor:
        # 1. keep M_t (at the finest fused self-attention resolution) for the result
        if self.self_fusion is not None and step in self.self_steps and self.self_res is not None:
            m = self.self_fusion.result_mask(tuple(self.self_res))
            if m is not None:
                self.masks[step] = m.view(self.n_frames, *self.self_res).bool().cpu().numpy()
        # 2. optional prompt-to-prompt latent blend: keep the source latent outside the words' mask
        if self.latent_blend is not None and step in self.blend_steps:
            z = self.latent_blend(z, step)
        return z

    # --- per layer (called by the processors) ------------------------------------------------------------------------
    def attend(self, layer, q, k, v, scale, mask=None):
        n, s = self.n_frames, self.n_source
        cross = self.cross if layer.kind == "cross" and self.step in self.cross_steps else None
        fuse_self = self.self_fusion if layer.kind == "self" and self.step in self.self_steps else None
        watch = self.latent_blend is not None and self.latent_blend.watches(layer)  # the target words' maps
        if not (layer_selected(layer, self.store.max_side) and (cross or fuse_self or watch)):
            return super().attend(layer, q, k, v, scale, mask)
        # 1. the source rows (if any) and the unconditional rows run plain
        out_plain = super().attend(layer, q[:s + n], k[:s + n], v[:s + n], scale,
                                   None if mask is None else mask[:s + n])
        if s:  # the source attention of this very call: softmax(q_src k_srcᵀ · scale), never stored
            src = SourceAttention(scale, q=q[:s], k=k[:s], index=self.frame_index if self.uses_temporal(layer) else None)
        else:
            src = self.source[layer.name]
        # 2. the conditional rows, fused with the source attention by the rules
        qc = q[s + n:]  # (frames, heads, n, d)
        kc, vc = self.gather(layer, k[s + n:], v[s + n:])  # (frames, heads, refs*m, d)
        if layer.kind == "cross":
            _, p_edit = explicit_attention(qc, kc, vc, scale, None if mask is None else mask[s + n:],
                                           upcast=layer.upcast)  # (F, h, hw, tok)
            if watch:
                self.latent_blend.observe(layer.name, p_edit)
            p = p_edit if cross is None else cross(src.probabilities().to(p_edit), p_edit)
            out_c = torch.matmul(p, vc)
        else:  # a self-attention layer here is always inside its fusion window (see the test above)
            out_c = fuse_self(layer, qc, kc, vc, src, scale)
        return torch.cat([out_plain, out_c])


def reconstruction_store(pipe, inversion: Inversion, guidance: float, progress: bool,
                         prompt: str | None = None, unconditional: str = "empty",
                         mask_layers: list[str] | None = None) -> AttentionStore:
    """The prompt-to-prompt way: record the source attention while *reconstructing* from z_T with the source prompt
    (guided like the edit) — the ablation FateZero's inversion attention is compared against.

    The pass keeps what its store mode ``STORE_MODES[inversion.store.cache].reconstruction`` keeps (the built-in
    modes: their own form): in ``recompute`` mode only its latents z̄_0 … z̄_T and the head-mean cross maps of
    ``mask_layers``, and the edit replays, at its step i, the rows ε_θ(z̄_i, t_i, p_src) (``RecomputeMode``):

        A_src(i) = softmax(q(z̄_i, t_i, p_src) · k(z̄_i, t_i, p_src)ᵀ · scale),
        z̄_{i+1} = DDIM(z̄_i, ε_θ(z̄_i, t_i, u) + w · (ε_θ(z̄_i, t_i, p_src) − ε_θ(z̄_i, t_i, u))),   z̄_0 = z_T

    (the attention of the p_src rows does not see the u rows, so the replay gives the attention recorded here).
    Refused with MemoryError, before any UNet call, if its store cannot fit beside the inversion's.

    ``prompt``: the source prompt of this pass (the edit's ``alignment_prompt``); None = the inversion prompt.
    ``unconditional``: the edit's (see :func:`guided_context`). ``mask_layers``: the edit's mask layers (full
    names; None = the model's defaults), whose summaries a ``recompute`` store keeps.
    """
    pipe = as_pipeline(pipe)
    src = inversion.store
    n = src.n_frames
    prompt = inversion.prompt if prompt is None else prompt
    toks = tokens(pipe, prompt)
    mode = store_mode(src.mode.reconstruction)  # maps stay maps, inputs inputs, recompute recompute
    latent_hw = tuple(inversion.z_T.shape[-2:])
    # 0. the one memory check, before any UNet call: this store lives beside the inversion's
    _, height, width, _ = inversion.frames.shape
    fix = ("use fewer frames, steps or pixels" if mode.name == "recompute" else
           "invert with cache='recompute' (its reconstruction pass keeps only its latents and the mask maps), "
           "or use fewer frames, steps or pixels")
    check_fits(pipe, n, height, width, inversion.steps, mode.name, src.temporal, src.max_side,
               prompt_tokens=len(toks), what=f"the reconstruction pass's cache={mode.name!r} store "
                                             f"(use_inversion_attention=False)", fix=fix)
    # 1. the source prompt and the guided context, as the edit's
    embedding = src.embedding if prompt == inversion.prompt else encode_prompt(pipe, prompt)  # (1, tokens, dim)
    cond = embedding.to(pipe.unet.device, pipe.unet.dtype).expand(n, -1, -1)  # (F, tokens, dim)
    context = guided_context(pipe, inversion, cond, unconditional)  # (2F, tokens, dim), or one per step
    # 2. guided DDIM from z_T, recording the conditional rows [uncond | cond] -> rows F..2F−1
    control = RecordControl(n, src.temporal, latent_hw, src.max_side, keep=mode, rows=slice(n, 2 * n),
                            n_tokens=len(toks), temporal_layers=pipe.temporal_layers,
                            summary_layers=mode.record_layers(pipe, latent_hw, src.max_side, mask_layers))
    sched = ddim_scheduler(pipe, inversion.steps)
    latents = ddim_loop(pipe, inversion.z_T.clone(), sched, context, control, guidance, progress,
                        "reconstruction (source attention)")  # steps + 1 latents: z̄_i the UNet saw, then z̄_T
    # 3. the store, replayed in forward order (edit step i reads store step i, the same timestep)
    timesteps = [int(t) for t in sched.timesteps]
    emb = embedding.detach().cpu()
    recomputer = (SourceRecomputer(pipe, latents, timesteps, emb, src.temporal, src.max_side)
                  if mode.source_rows else None)  # the inspection API's one-UNet-call recomputation
    return AttentionStore(prompt=prompt, tokens=toks, n_frames=n, temporal=src.temporal, tokenizer=src.tokenizer,
                          cache=mode.name, max_side=src.max_side, order="forward", layers=control.selected,
                          timesteps=timesteps, latents=latents, embedding=emb, defaults=src.defaults,
                          data=control.recorded, recomputer=recomputer)


def guided_context(pipe, inversion: Inversion, cond: torch.Tensor,
                   unconditional: str = "empty") -> torch.Tensor | list[torch.Tensor]:
    """[uncond | cond] for the guided loop, (2F, tokens, dim). The guided prediction is

        ε̂ = ε_θ(z, t, u) + w · (ε_θ(z, t, p) − ε_θ(z, t, u))

    with u = ∅ = τ("") (``unconditional="empty"``, the paper), u = ∅_i, the step's tuned embedding of a null-text
    inversion (one context per step), or u = τ(p_src), the inversion prompt's embedding (``"source"``: negative-prompt
    inversion, Miyake et al. 2023). With u = τ(p_src) the source prompt's guided step *is* the inversion's unguided
    one at every w, so w scales only what the target prompt changes, ε(p_tgt) − ε(p_src) — null-text inversion's
    aim without its optimisation (Miyake et al. argue that the tuned ∅_i approach τ(p_src)).
    """
    n = len(cond)
    nt = inversion.null_text
    if nt is not None:
        return [torch.cat([nt.uncond(i, n).to(cond), cond]) for i in range(inversion.steps)]
    if unconditional == "source":
        return torch.cat([encode_prompt(pipe, inversion.prompt).to(cond).expand(n, -1, -1), cond])  # (2F, tokens, dim)
    return torch.cat([encode_prompt(pipe, "").expand(n, -1, -1), cond])


def plan_edit(pipe, inversion: Inversion, target_prompt: str, config: FateZeroConfig | None = None,
              mask: np.ndarray | None = None, **overrides) -> EditPlan:
    """Check every input of :func:`edit` and derive what the loop needs — before any UNet call."""
    pipe = as_pipeline(pipe)
    if not isinstance(inversion, Inversion):
        raise TypeError(f"inversion must be the Inversion returned by fatezero_lab.invert, got {type(inversion).__name__}")
    if inversion.store is None:
        raise ValueError("this inversion recorded no attention (invert(..., record=False)); invert again with record=True")
    store = inversion.store
    if store.steps != inversion.steps:
        raise ValueError(f"the store holds {store.steps} steps but the inversion has {inversion.steps}")
    check_prompt(pipe, target_prompt, "target_prompt")
    if config is not None and not isinstance(config, FateZeroConfig):
        raise TypeError(f"config must be a FateZeroConfig, got {type(config).__name__}")
    cfg = (config or FateZeroConfig()).replace(**overrides)
    cfg = cfg.resolved(store.defaults, store)  # the one resolution step: nothing left to the model after it
    for name, registry in (("self_fusion", SELF_FUSIONS), ("latent_blend_mode", LATENT_BLENDS)):
        if getattr(cfg, name) not in registry:
            raise ConfigError(f"{name} must be one of {list(registry)} (the registered rules of fusion.py), "
                              f"got {getattr(cfg, name)!r}", name)
    missing = sorted(set(cfg.mask_layers) - store.summarised_layers())
    if missing and cfg.use_inversion_attention and (cfg.blend_words or cfg.target_blend_words):
        raise ConfigError(f"mask_layers {missing} were not kept by this cache={store.cache!r} inversion, which keeps "
                          f"the mask maps of the model's default mask layers only; leave mask_layers='auto' or invert "
                          f"with cache='inputs' or 'maps'", "mask_layers")
    nt = inversion.null_text
    if nt is not None and cfg.unconditional != "empty":
        raise ConfigError(f"unconditional={cfg.unconditional!r} replaces the unconditional embedding, but this "
                          f"inversion carries null-text embeddings that replace it already: use one of them "
                          f"(unconditional='empty' with this inversion, or invert without null_text)", "unconditional")
    if nt is not None and cfg.guidance != nt.config.guidance:
        import warnings

        warnings.warn(f"this inversion's null-text embeddings were tuned for guidance {nt.config.guidance}, the edit "
                      f"runs at {cfg.guidance}: they retrace the inversion only at their own guidance (invert again "
                      f"with null_text=dict(guidance={cfg.guidance}))", stacklevel=3)
    source_prompt = inversion.prompt if cfg.alignment_prompt is None else check_prompt(pipe, cfg.alignment_prompt,
                                                                                       "alignment_prompt")
    tok = pipe.tokenizer
    override = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim != 3 or mask.shape[0] != store.n_frames:
            raise ValueError(f"mask must have shape (frames={store.n_frames}, height, width), got {mask.shape}")
        override = torch.from_numpy(mask.astype(np.float32))[:, None]  # (frames, 1, H, W)
    return EditPlan(
        cfg=cfg, target_prompt=target_prompt,
        alignment=align(tok, source_prompt, target_prompt, cfg.cross_mode, tail=cfg.refine_tail),
        reweight=reweight_vector(tok, target_prompt, cfg.reweight),
        blend_idx=sorted({i for w in cfg.blend_words for i in word_token_indices(tok, source_prompt, w)}),
        target_blend_idx=sorted({i for w in cfg.target_blend_words for i in word_token_indices(tok, target_prompt, w)}),
        mask_override=override)


@announced  # its cost estimate is printed first in sd mode (cost.py)
@torch.no_grad()
def edit(pipe, inversion: Inversion, target_prompt: str, config: FateZeroConfig | None = None, progress: bool = True,
         mask: np.ndarray | None = None, **overrides) -> EditResult:
    """Edit the inverted clip towards ``target_prompt`` with FateZero's attention fusion.

    ``config`` (a :class:`FateZeroConfig`) and/or keyword overrides set the knobs, e.g.
    ``edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], self_fusion="full_source")``.
    ``mask`` (frames, H, W) bool replaces the attention-derived M_t in self-attention fusion (an ablation: "what if
    the mask were perfect?" — pass the toy world's true object mask).
    """
    pipe = as_pipeline(pipe)
    # 0. check every input and resolve the config before any UNet call
    plan = plan_edit(pipe, inversion, target_prompt, config, mask, **overrides)
    cfg, n = plan.cfg, inversion.store.n_frames
    # 1. the source attention: the inversion's (FateZero) or a reconstruction pass's (prompt-to-prompt)
    store = (inversion.store if cfg.use_inversion_attention
             else reconstruction_store(pipe, inversion, cfg.guidance, progress, cfg.alignment_prompt,
                                       cfg.unconditional, cfg.mask_layers))
    # 2. denoise from z_T with [uncond | target] guidance; the control is the Attention Blending Block
    context = guided_context(pipe, inversion, encode_prompt(pipe, target_prompt).expand(n, -1, -1),
                             cfg.unconditional)  # (2F, tokens, dim), or one per step
    control = EditControl(store, plan, tuple(inversion.z_T.shape[-2:]), inversion.steps,
                          temporal_layers=pipe.temporal_layers)
    z = ddim_loop(pipe, inversion.z_T.clone(), ddim_scheduler(pipe, inversion.steps), context, control,
                  cfg.guidance, progress, "FateZero edit")[-1]
    # 3. decode
    return EditResult(frames=decode_latents(pipe, z), latents=z, masks=control.masks, source_prompt=inversion.prompt,
                      target_prompt=target_prompt, config=cfg, source_store=store)
