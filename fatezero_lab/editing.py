"""Editing: DDIM denoising from z_T with the target prompt and the Attention Blending Block (paper step 3).

At edit step i (timestep t) the conditional half of the guided batch is fused with the source attention of store
step j = T−1−i (the inversion step at the same timestep):

- cross-attention, for the first ``cross_replace_steps`` of the steps: shared words read the source maps
  (``replace``: A = A_src; ``refine``: A[..., j] = α_j A_src[..., m(j)] + (1−α_j) A_edit[..., j]), then chosen target
  words are re-weighted: A[..., j] ← w_j A[..., j];
- self-attention, for the first ``self_replace_steps``: with blend words,
      s_fused = M_t ⊙ s_edit + (1 − M_t) ⊙ s_src          (M_t per query row, from the *source* cross-attention)
  and without them (or with threshold ≥ 1) s_fused = s_src. Because M_t is per query row,
      s_fused V = M_t ⊙ (s_edit V) + (1 − M_t) ⊙ (s_src V),
  so the fast path fuses attention *outputs* computed with fused SDPA and never forms s_edit or s_src.

The unconditional half runs plain (the reference edits only the conditional half).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .config import FateZeroConfig, in_window
from .diffusion import check_prompt, ddim_scheduler, decode_latents, encode_prompt
from .inversion import Inversion, RecordControl
from .masks import default_mask_layers, mask_from_maps
from .processors import AttentionControl, attention_control, explicit_attention
from .prompts import align, reweight_vector, word_token_indices
from .store import AttentionStore, SourceAttention, layer_selected


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

    def config_json(self) -> str:
        return self.config.to_json()


class EditControl(AttentionControl):
    """Fuses source attention into the conditional half of a [uncond | cond] batch (see the module docstring)."""

    def __init__(self, store: AttentionStore, cfg: FateZeroConfig, alignment, reweight: torch.Tensor | None,
                 blend_idx: list[int], target_blend_idx: list[int], latent_hw, steps: int, explicit: bool = False):
        super().__init__(store.n_frames, store.temporal, latent_hw, explicit=explicit)
        self.store, self.cfg, self.alignment, self.reweight = store, cfg, alignment, reweight
        self.blend_idx, self.target_blend_idx = blend_idx, target_blend_idx
        self.steps = steps
        self.source: dict[str, SourceAttention] = {}
        self.mask_layers: list[str] = []
        self._masks: dict[tuple[int, int], torch.Tensor] = {}
        self.target_cross: dict[str, torch.Tensor] = {}  # cond-half cross maps at mask layers (for latent blend)
        self.mask_override: torch.Tensor | None = None  # (frames, 1, H, W) float: a given mask instead of M_t

    # --- per step -----------------------------------------------------------------------------------------------------
    def begin_step(self, i: int, source: dict[str, SourceAttention]) -> None:
        self.step, self.source = i, source
        self._masks, self.target_cross = {}, {}

    def self_mask(self, hw: tuple[int, int], like: torch.Tensor | None = None) -> torch.Tensor | None:
        """M_t at query resolution ``hw`` -> (frames, 1, h*w, 1) float, or None (full source self-attention).

        Built once per step and resolution from the stored maps (host memory), then kept on ``like``'s device and
        dtype, so a GPU edit copies it once per step, not once per layer.
        """
        if hw in self._masks:
            return self._masks[hw]
        cfg = self.cfg
        if self.mask_override is not None:  # any overlap with the given mask counts at coarse resolutions
            m = (F.interpolate(self.mask_override, size=hw, mode="area") > 0).float()  # (frames, 1, h, w)
        else:
            if not (cfg.blend_self_attention and self.blend_idx) or cfg.blend_threshold >= 1.0:
                return None
            maps = [self.source[n].probabilities() for n in self.mask_layers]
            res = [self.store.layers[n].resolution for n in self.mask_layers]
            m = mask_from_maps(maps, res, self.blend_idx, hw, cfg.blend_threshold, cfg.mask_dilation,
                               cfg.mask_normalise)["mask"].float()  # (frames, h, w)
        m = m.reshape(m.shape[0], 1, -1, 1)
        if like is not None:
            m = m.to(like.device, like.dtype)
        self._masks[hw] = m
        return m

    # --- per layer ----------------------------------------------------------------------------------------------------
    def attend(self, layer, q, k, v, scale, mask=None):
        cfg, n = self.cfg, self.n_frames
        fuse_cross = cfg.fuse_cross and layer.kind == "cross" and in_window(cfg.cross_replace_steps, self.step, self.steps)
        fuse_self = cfg.fuse_self and layer.kind == "self" and in_window(cfg.self_replace_steps, self.step, self.steps)
        wants_target_map = cfg.latent_blend and layer.kind == "cross" and layer.name in self.mask_layers
        if not (layer_selected(layer, self.store.max_side) and (fuse_cross or fuse_self or wants_target_map)):
            return super().attend(layer, q, k, v, scale, mask)
        # split the guided batch: rows [0, n) are unconditional (run plain), rows [n, 2n) conditional (fused)
        out_u = super().attend(layer, q[:n], k[:n], v[:n], scale, None if mask is None else mask[:n])
        qc, kc, vc = q[n:], k[n:], v[n:]  # (frames, heads, tokens, d)
        src = self.source[layer.name]
        if layer.kind == "cross":
            _, p_edit = explicit_attention(qc, kc, vc, scale, None if mask is None else mask[n:])  # (F, heads, hw, tok)
            if wants_target_map:
                self.target_cross[layer.name] = p_edit
            if fuse_cross:
                p = self.alignment.fuse(src.probabilities().to(p_edit), p_edit)
                if self.reweight is not None:
                    p = p * self.reweight.to(p)
                out_c = torch.matmul(p, vc)
            else:
                out_c = torch.matmul(p_edit, vc)
        elif fuse_self:
            m = self.self_mask(layer.resolution, like=qc)  # (F, 1, hw, 1) or None
            if m is None:
                out_c = src.apply(vc)  # s_src V
            elif cfg.fast_fusion and not self.explicit:
                out_c = m * F.scaled_dot_product_attention(qc, kc, vc, scale=scale) + (1 - m) * src.apply(vc)
            else:  # explicit maps: (M s_edit + (1-M) s_src) V
                _, p_edit = explicit_attention(qc, kc, vc, scale)
                p = m * p_edit + (1 - m) * src.probabilities().to(p_edit)
                out_c = torch.matmul(p, vc)
        else:
            out_c = super().attend(layer, qc, kc, vc, scale)
        return torch.cat([out_u, out_c])


def reconstruction_store(pipe, inversion: Inversion, guidance: float, cache: str, progress: bool) -> AttentionStore:
    """The prompt-to-prompt way: record the source attention while *reconstructing* from z_T with the source prompt
    (guided like the edit) — the ablation FateZero's inversion attention is compared against."""
    src_store = inversion.store
    store = AttentionStore(prompt=inversion.prompt, tokens=src_store.tokens, n_frames=src_store.n_frames,
                           temporal=src_store.temporal, cache="maps" if cache == "maps" else "inputs",
                           max_side=src_store.max_side, order="forward", embedding=src_store.embedding,
                           defaults=src_store.defaults)
    store._tokenizer = src_store._tokenizer
    n = src_store.n_frames
    cond = src_store.embedding.to(pipe.unet.device, pipe.unet.dtype).expand(n, -1, -1)
    uncond = encode_prompt(pipe, "").expand(n, -1, -1)
    sched = ddim_scheduler(pipe, inversion.steps)
    z = inversion.z_T.clone()
    control = RecordControl(store, tuple(z.shape[-2:]), keep=store.cache, rows=slice(n, 2 * n))
    latents = []
    with attention_control(pipe.unet, control):
        for i, t in enumerate(tqdm(sched.timesteps, desc="reconstruction (source attention)", disable=not progress,
                                   leave=False)):
            control.step = i
            latents.append(z)
            eps_u, eps_c = pipe.unet(torch.cat([z, z]), t, encoder_hidden_states=torch.cat([uncond, cond])).sample.chunk(2)
            z = sched.step(eps_u + guidance * (eps_c - eps_u), t, z).prev_sample
    store.timesteps = [int(t) for t in sched.timesteps]
    store.latents = latents
    return store


@torch.no_grad()
def edit(pipe, inversion: Inversion, target_prompt: str, config: FateZeroConfig | None = None, progress: bool = True,
         mask: np.ndarray | None = None, **overrides) -> EditResult:
    """Edit the inverted clip towards ``target_prompt`` with FateZero's attention fusion.

    ``config`` (a :class:`FateZeroConfig`) and/or keyword overrides set the knobs, e.g.
    ``edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], fuse_self=False)``.
    ``mask`` (frames, H, W) bool replaces the attention-derived M_t in self-attention fusion (an ablation: "what if
    the mask were perfect?" — pass the toy world's true object mask).
    """
    # 0. check every input before any UNet call
    if not isinstance(inversion, Inversion):
        raise TypeError(f"inversion must be the Inversion returned by fatezero_lab.invert, got {type(inversion).__name__}")
    if inversion.store is None:
        raise ValueError("this inversion recorded no attention (invert(..., record=False)); invert again with record=True")
    check_prompt(pipe, target_prompt, "target_prompt")
    if config is not None and not isinstance(config, FateZeroConfig):
        raise TypeError(f"config must be a FateZeroConfig, got {type(config).__name__}")
    cfg = (config or FateZeroConfig()).replace(**overrides) if overrides else (config or FateZeroConfig())
    store = inversion.store
    cfg = cfg.resolved(store.defaults)  # the model's measured mask rule where the config leaves it open
    if store.steps != inversion.steps:
        raise ValueError(f"the store holds {store.steps} steps but the inversion has {inversion.steps}")
    tok = pipe.tokenizer
    blend_idx = sorted({i for w in cfg.blend_words for i in word_token_indices(tok, inversion.prompt, w)})
    target_blend_idx = sorted({i for w in cfg.target_blend_words for i in word_token_indices(tok, target_prompt, w)})
    alignment = align(tok, inversion.prompt, target_prompt, cfg.cross_mode)
    reweight = reweight_vector(tok, target_prompt, cfg.reweight)
    steps, n = inversion.steps, store.n_frames
    if mask is not None:
        mask = np.asarray(mask)
        if mask.ndim != 3 or mask.shape[0] != n:
            raise ValueError(f"mask must have shape (frames={n}, height, width), got {mask.shape}")

    # 1. the source attention: the inversion's (FateZero) or a reconstruction pass's (prompt-to-prompt)
    if not cfg.use_inversion_attention:
        store = reconstruction_store(pipe, inversion, cfg.guidance, store.cache, progress)
    mask_layers = (default_mask_layers(store) if cfg.mask_layers == "auto"
                   else store._choose_layers("cross", cfg.mask_layers))

    # 2. prompts: [uncond | target] for classifier-free guidance
    cond = encode_prompt(pipe, target_prompt).expand(n, -1, -1)
    uncond = encode_prompt(pipe, "").expand(n, -1, -1)
    context = torch.cat([uncond, cond])  # (2F, tokens, dim)

    # 3. denoise from z_T with the Attention Blending Block
    sched = ddim_scheduler(pipe, steps)
    z = inversion.z_T.clone()
    control = EditControl(store, cfg, alignment, reweight, blend_idx, target_blend_idx, tuple(z.shape[-2:]), steps)
    control.mask_layers = mask_layers
    if mask is not None:
        control.mask_override = torch.from_numpy(mask.astype(np.float32))[:, None]  # (frames, 1, H, W)
    masks: dict[int, np.ndarray] = {}
    self_res = max((store.layers[n_].resolution for n_ in store.layer_names("self")), default=None)
    with attention_control(pipe.unet, control):
        for i, t in enumerate(tqdm(sched.timesteps, desc="FateZero edit", disable=not progress, leave=False)):
            # 3a. the source attention of the matching step (store step T-1-i for an inversion store)
            j = store.source_step(i)
            if int(store.timesteps[j]) != int(t):
                raise RuntimeError(f"edit step {i} (t={int(t)}) would replay source step {j} "
                                   f"(t={store.timesteps[j]}): timesteps do not line up")
            control.begin_step(i, store.source(j))
            # 3b. guided UNet call; the control fuses attention in the conditional half
            eps_u, eps_c = pipe.unet(torch.cat([z, z]), t, encoder_hidden_states=context).sample.chunk(2)
            eps = eps_u + cfg.guidance * (eps_c - eps_u)
            z = sched.step(eps, t, z).prev_sample
            if cfg.fuse_self and in_window(cfg.self_replace_steps, i, steps) and self_res is not None:
                m = control.self_mask(tuple(self_res))
                if m is not None:
                    masks[i] = m.view(n, *self_res).bool().cpu().numpy()
            # 3c. optional prompt-to-prompt latent blend: keep the source latent outside the words' mask
            if cfg.latent_blend and in_window(cfg.latent_blend_steps, i, steps):
                z = _latent_blend(control, store, inversion, cfg, z, i, blend_idx, target_blend_idx)

    # 4. decode
    frames = decode_latents(pipe, z)
    return EditResult(frames=frames, latents=z, masks=masks, source_prompt=inversion.prompt,
                      target_prompt=target_prompt, config=cfg, source_store=store)


def _latent_blend(control: EditControl, store, inversion, cfg, z, i, blend_idx, target_blend_idx):
    """z ← z_src + M (z − z_src), M from the source words' (and target words') cross-attention at the mask layers."""
    hw = tuple(z.shape[-2:])
    layers = control.mask_layers
    res = [store.layers[n].resolution for n in layers]
    mask = torch.zeros(z.shape[0], *hw, dtype=torch.bool)
    if blend_idx:
        st = mask_from_maps([control.source[n].probabilities() for n in layers], res, blend_idx, hw,
                            cfg.latent_blend_threshold, cfg.mask_dilation, cfg.mask_normalise)
        mask |= st["mask"].cpu()
    if target_blend_idx and control.target_cross:
        st = mask_from_maps([control.target_cross[n] for n in layers], res, target_blend_idx, hw,
                            cfg.latent_blend_threshold, cfg.mask_dilation, cfg.mask_normalise)
        mask |= st["mask"].cpu()
    z_src = inversion.latents[inversion.steps - 1 - i] if store.order == "reverse" else (
        store.latents[i + 1] if i + 1 < store.steps else inversion.latents[0])
    m = mask[:, None].to(z)
    return z_src.to(z) + m * (z - z_src.to(z))
