"""One-shot video tuning: zero-initialised temporal layers, loss goes down, only the intended tensors change."""

import numpy as np
import pytest
import torch

import fatezero_lab as fz
from fatezero_lab import tuning


@pytest.fixture(scope="module")
def clip():
    return fz.toyworld.clip("a red circle on grass", frames=3, seed=0)


@torch.no_grad()
def test_zero_initialised_temporal_layers_change_nothing(tiny_pipe, clip):
    import copy

    base = fz.invert(tiny_pipe, clip.frames, clip.caption, steps=3, record=False, progress=False).z_T
    inner = copy.copy(tiny_pipe)
    inner.unet = copy.deepcopy(tiny_pipe.unet)
    pipe = fz.as_pipeline(inner)
    tuning.add_temporal_layers(pipe)
    assert len(tuning.temporal_layers(pipe)) == sum("attn1" in k for k in pipe.unet.attn_processors)
    again = fz.invert(pipe, clip.frames, clip.caption, steps=3, record=False, progress=False).z_T
    assert (again - base).abs().max().item() == 0.0


def test_tuning_lowers_loss_changes_only_intended_tensors_and_round_trips(tiny_pipe, clip, tmp_path):
    before = {n: p.detach().clone() for n, p in tiny_pipe.unet.named_parameters()}
    tuned, report = tuning.tune_on_clip(tiny_pipe, clip.frames, clip.caption, steps=40, lr=2e-3, progress=False)
    assert np.mean(report.losses[-10:]) < np.mean(report.losses[:10])
    for n, p in tiny_pipe.unet.named_parameters():  # the base model is untouched
        assert torch.equal(p, before[n]), n
    changed = {n for n, p in tuned.unet.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".to_q." in n for n in changed)
    assert any(".attn1.to_q." in n for n in changed) and any(".attn2.to_q." in n for n in changed)
    assert any(m.to_out.weight.abs().sum() > 0 for m in tuning.temporal_layers(tuned).values())
    path = tuning.save_tuned(tuned, tmp_path / "tuned.safetensors")
    loaded = tuning.load_tuned(tiny_pipe, path)
    a = fz.invert(tuned, clip.frames, clip.caption, steps=2, record=False, progress=False).z_T
    b = fz.invert(loaded, clip.frames, clip.caption, steps=2, record=False, progress=False).z_T
    assert (a - b).abs().max().item() < 1e-5
    out = fz.edit(tuned, fz.invert(tuned, clip.frames, clip.caption, steps=2, progress=False), "a red square on grass",
                  blend_words=["circle"], progress=False)
    assert out.frames.shape == clip.frames.shape
