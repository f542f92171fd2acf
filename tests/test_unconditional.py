"""Negative-prompt inversion (FateZeroConfig.unconditional="source"): the source prompt as the unconditional input.

With u = τ(p_src) the guided prediction of the source prompt is ε(p_src) + w (ε(p_src) − ε(p_src)) = ε(p_src) at every
w, so guided sampling with the source prompt is the unguided one — exactly, in float64 — and the edit's guidance
scales only what the target prompt changes.
"""

import numpy as np
import pytest
import torch

import fatezero_lab as fz
from fatezero_lab.editing import guided_context


def test_guided_context_rows(pipe64, clip):
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=2, cache="maps", progress=False)
    cond = fz.encode_prompt(pipe64, "a blue circle on grass").expand(2, -1, -1)  # (F, tokens, dim)
    ctx = guided_context(pipe64, inv, cond, "source")  # (2F, tokens, dim)
    assert ctx.shape == (4, *cond.shape[1:])
    assert torch.equal(ctx[:2], fz.encode_prompt(pipe64, clip.caption).expand(2, -1, -1))
    assert torch.equal(ctx[2:], cond)
    assert torch.equal(guided_context(pipe64, inv, cond)[:2], fz.encode_prompt(pipe64, "").expand(2, -1, -1))


@pytest.mark.parametrize("cache", ["maps", "inputs", "recompute"])
def test_source_prompt_guidance_retraces_the_inversion(pipe64, clip, cache):
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=4, cache=cache, progress=False)
    unguided = fz.reconstruct(pipe64, inv, guidance=1.0, progress=False)
    off = dict(fuse_cross=False, fuse_self=False, guidance=5.0, progress=False)
    same = fz.edit(pipe64, inv, clip.caption, unconditional="source", **off).frames
    assert np.abs(same - unguided).max() < 1e-9
    plain = fz.edit(pipe64, inv, clip.caption, **off).frames  # τ("") at w = 5 leaves the trajectory
    assert np.abs(plain - unguided).max() > 1e-3
    # and with a new prompt the edit moves: guidance then scales ε(target) − ε(source)
    moved = fz.edit(pipe64, inv, "a blue circle on grass", unconditional="source", **off).frames
    assert np.abs(moved - unguided).max() > 1e-3


def test_reconstruction_attention_pass_is_unguided(pipe64, clip):
    """The prompt-to-prompt ablation's reconstruction pass (use_inversion_attention=False) runs guided like the edit:
    with the source prompt as u its latents are those of unguided sampling from z_T, step for step."""
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=4, cache="maps", progress=False)
    kw = dict(blend_words=["circle"], use_inversion_attention=False, guidance=5.0, progress=False)
    rec = fz.edit(pipe64, inv, "a blue circle on grass", unconditional="source", **kw).source_store.latents
    z0 = fz.sample(pipe64, inv.z_T, inv.prompt, steps=4, guidance=1.0, temporal=inv.temporal, progress=False)
    assert len(rec) == 5 and float((rec[-1] - z0).abs().max()) < 1e-9
    rec_plain = fz.edit(pipe64, inv, "a blue circle on grass", **kw).source_store.latents
    assert float((rec_plain[-1] - z0).abs().max()) > 1e-3


def test_bad_unconditional_is_refused_before_compute(pipe64, clip):
    with pytest.raises(ValueError, match="unconditional must be one of"):
        fz.FateZeroConfig(unconditional="negative")
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=2, cache="maps", progress=False,
                    null_text=dict(iterations=1))
    with pytest.raises(ValueError, match="null-text embeddings"):
        fz.edit(pipe64, inv, "a blue circle on grass", unconditional="source", progress=False)
