"""Store modes: same edits, sizes as estimated, refusal before running out of memory."""

import pytest

import fatezero_lab as fz
from fatezero_lab import memory


@pytest.mark.parametrize("cache", ["maps", "inputs", "recompute"])
@pytest.mark.parametrize("temporal", [True, False])
def test_estimate_matches_measured_store_size(tiny_pipe, cache, temporal):
    clip = fz.toyworld.clip("a red circle on grass", frames=3, seed=0)
    inv = fz.invert(tiny_pipe, clip.frames, clip.caption, steps=3, cache=cache, temporal=temporal, progress=False)
    est = memory.estimate_memory(tiny_pipe, 3, 64, 64, 3, cache=cache, temporal=temporal,
                                 prompt_tokens=len(inv.store.tokens))
    assert inv.store.nbytes() == est.store_bytes


def test_mode_sizes_are_ordered(tiny_pipe):
    sizes = {c: memory.estimate_memory(tiny_pipe, 8, 64, 64, 50, cache=c).store_bytes
             for c in ("maps", "inputs", "recompute")}
    assert sizes["maps"] > sizes["inputs"] > sizes["recompute"]


def test_choose_cache_and_refusal(tiny_pipe):
    big = memory.estimate_memory(tiny_pipe, 8, 64, 64, 50, cache="maps")
    assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, available=10 * 2**40) == "inputs"  # fastest
    small = memory.estimate_memory(tiny_pipe, 8, 64, 64, 50, cache="recompute")
    room = int((small.store_bytes + small.working_bytes) / 0.8) + 1
    assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, available=room) == "recompute"
    with pytest.raises(MemoryError, match="cache='maps' needs about .* cache='inputs' would fit"):
        memory.check_fits(tiny_pipe, 8, 64, 64, 50, "maps", available=big.store_bytes // 2)


def test_sd_full_setting_estimate_matches_the_reference_order_of_magnitude():
    """SD v1.4, 8 frames, 512x512, 50 steps, fp16: maps ~75 GB, inputs several GB, latents ~26 MB."""
    pytest.importorskip("torch")
    import torch

    pipe = fz.models.random_sd_pipeline(text_layers=1, dtype=torch.float16)
    est = {c: memory.estimate_memory(pipe, 8, 512, 512, 50, cache=c, prompt_tokens=12)
           for c in ("maps", "inputs", "recompute")}
    gb = 1e9
    assert 50 * gb < est["maps"].store_bytes < 120 * gb
    assert 3 * gb < est["inputs"].store_bytes < 15 * gb
    assert est["recompute"].store_bytes < 0.05 * gb  # latents 26 MB + the five 16x16 mask layers' maps 25 MB
    # the largest single map (a 32x32 self-attention layer with first+previous keys) is counted whole
    biggest = 8 * 8 * 1024 * 2048 * 2  # frames * heads * queries * keys * fp16
    assert est["maps"].working_bytes - est["inputs"].working_bytes == biggest
    assert est["maps"].store_bytes / est["recompute"].store_bytes > 1000
    assert est["maps"].store_bytes / est["inputs"].store_bytes > 5
