"""The extension points: a new fusion rule or store mode is one class plus one registry entry, defined outside the
package (here), and an edit runs with it. Float64 on the tiny pipeline: equal rules give bit-identical latents."""

import numpy as np
import pytest
import torch

import fatezero_lab as fz
from fatezero_lab import fusion, memory, store_modes


class SourceOnly(fusion.SelfFusion):
    """s = s_src, written again outside the package (the built-in "full_source")."""

    def __call__(self, layer, qc, kc, vc, src, scale):
        return src.apply(vc)


class HalfMask(fusion.MaskedSelfFusion):
    """s = ½ M_t s_edit + (1 − ½ M_t) s_src: a rule of our own (a softer mask)."""

    def __call__(self, layer, qc, kc, vc, src, scale):
        m = self.mask.self_mask(layer.resolution, like=qc)
        edit = torch.nn.functional.scaled_dot_product_attention(qc, kc, vc, scale=scale)
        return 0.5 * m * edit + (1 - 0.5 * m) * src.apply(vc)


class MapsAgain(store_modes.MapsMode):
    """The maps mode under another name (keeps the same maps, the same bytes)."""

    name = "maps_again"


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(fusion.SELF_FUSIONS, "source_only", SourceOnly)
    monkeypatch.setitem(fusion.SELF_FUSIONS, "half_mask", HalfMask)
    monkeypatch.setitem(store_modes.STORE_MODES, "maps_again", MapsAgain)


def test_a_new_self_fusion_rule_equal_to_full_source_gives_the_same_edit(registered, pipe64, clip):
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=3, cache="maps", progress=False)
    kw = dict(blend_words=["circle"], progress=False)
    built_in = fz.edit(pipe64, inv, "a blue circle on grass", self_fusion="full_source", **kw)
    mine = fz.edit(pipe64, inv, "a blue circle on grass", self_fusion="source_only", **kw)
    assert torch.equal(mine.latents, built_in.latents) and mine.config.self_fusion == "source_only"
    half = fz.edit(pipe64, inv, "a blue circle on grass", self_fusion="half_mask", **kw)
    masked = fz.edit(pipe64, inv, "a blue circle on grass", self_fusion="masked", **kw)
    assert set(half.masks) == set(masked.masks) and half.masks  # the mask it used is kept, as the built-in's
    d_half, d_masked = ((r.latents - built_in.latents).abs().max().item() for r in (half, masked))
    assert 0 < d_half < d_masked  # half the mask moves the edit part of the way from the source


def test_a_new_store_mode_is_inverted_estimated_and_edited_like_its_parent(registered, pipe64, clip):
    assert "maps_again" in store_modes.speed_order()
    invs = {c: fz.invert(pipe64, clip.frames, clip.caption, steps=3, cache=c, progress=False)
            for c in ("maps", "maps_again")}
    assert invs["maps_again"].store.cache == "maps_again"
    assert invs["maps_again"].store.nbytes() == invs["maps"].store.nbytes() == memory.estimate_memory(
        pipe64, 2, 64, 64, 3, cache="maps_again", prompt_tokens=len(invs["maps"].store.tokens)).store_bytes
    for kw in (dict(blend_words=["circle"]), dict(blend_words=["circle"], use_inversion_attention=False)):
        outs = [fz.edit(pipe64, invs[c], "a blue circle on grass", progress=False, **kw) for c in invs]
        assert torch.equal(outs[0].latents, outs[1].latents)
        assert all(np.array_equal(outs[0].masks[k], outs[1].masks[k]) for k in outs[0].masks)


def test_an_unregistered_rule_or_mode_is_refused_before_any_compute(pipe64, clip):
    inv = fz.invert(pipe64, clip.frames, clip.caption, steps=2, cache="maps", progress=False)
    with pytest.raises(fz.ConfigError, match="self_fusion must be one of") as e:
        fz.edit(pipe64, inv, "a blue circle on grass", self_fusion="source_only", progress=False)
    assert e.value.field == "self_fusion"
    with pytest.raises(fz.ConfigError, match="cache must be 'auto' or one of") as e:
        fz.invert(pipe64, clip.frames, clip.caption, steps=2, cache="maps_again", progress=False)
    assert e.value.field == "cache"
