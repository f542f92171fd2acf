"""The engine on a full-size SD v1.x architecture with random weights (slow: FZ_SLOW=1)."""

import numpy as np
import pytest

import fatezero_lab as fz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sd_pipe():
    return fz.models.random_sd_pipeline(text_layers=2)


def test_sd_layout_and_layer_filter(sd_pipe):
    layers = fz.attention_layers(sd_pipe.unet, latent_hw=(64, 64))  # 512x512 input
    assert sum(l.kind == "self" for l in layers) == 16 and sum(l.kind == "cross" for l in layers) == 16
    res = sorted({l.resolution for l in layers}, reverse=True)
    assert res == [(64, 64), (32, 32), (16, 16), (8, 8)]
    assert {l.heads for l in layers} == {8}
    # the reference records/edits only layers with <= 32x32 queries: the 5 self + 5 cross 64x64 layers run plain
    from fatezero_lab.store import layer_selected
    assert sum(not layer_selected(l, 32) for l in layers) == 10


def test_one_inversion_step_and_one_edit_step_at_256(sd_pipe):
    frames = np.random.default_rng(0).random((2, 256, 256, 3)).astype(np.float32)
    inv = fz.invert(sd_pipe, frames, "a red circle on grass", steps=1, temporal=True, cache="maps", progress=False)
    store = inv.store
    assert inv.latents.shape == (2, 2, 4, 32, 32)
    assert sorted({l.resolution for l in store.layers.values()}, reverse=True) == [(32, 32), (16, 16), (8, 8), (4, 4)]
    name = store.layer_names("self", resolution=32)[0]
    assert tuple(store.layer_map(0, name).shape) == (2, 8, 1024, 2 * 1024)  # (frames, heads, hw, refs*hw)
    mask = fz.blend_mask(store, ["circle"], step=0)
    assert mask.mask.shape == (2, 32, 32)
    assert len(mask.layers) == len(store.layer_names("cross", resolution=8))  # the 1/4-resolution cross layers
    out = fz.edit(sd_pipe, inv, "a blue circle on grass", blend_words=["circle"], progress=False)
    assert out.frames.shape == (2, 256, 256, 3) and np.isfinite(out.frames).all()
