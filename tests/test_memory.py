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


def test_choose_cache_follows_the_measured_order_of_each_device(tiny_pipe):
    """CPU: inputs first (docs/memory.md); CUDA: recompute first (2.3x faster than inputs on an H200,
    docs/gpu_sd.md); nothing fits: the smallest store on either."""
    from fatezero_lab import store_modes

    assert store_modes.speed_order("cpu") == ["inputs", "maps", "recompute"]
    assert store_modes.speed_order("cuda:0") == ["recompute", "inputs", "maps"]
    plenty = dict(available=10 * 2**40, gpu_available=10 * 2**40)
    assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, device="cuda", **plenty) == "recompute"
    assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, device="cpu", available=10 * 2**40) == "inputs"
    assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, available=10 * 2**40) == "inputs"  # the UNet's device
    for device in ("cpu", "cuda"):
        assert memory.choose_cache(tiny_pipe, 8, 64, 64, 50, device=device, available=1, gpu_available=1) == \
            "recompute"


def test_reconstruction_and_backprop_estimates(tiny_pipe):
    """The reconstruction pass keeps each built-in mode's own form (same bytes as the inversion's store); backprop
    estimates: checkpointing keeps fewer activations, tuning adds its trained tensors and the UNet's copy."""
    assert [memory.reconstruction_cache(c) for c in ("maps", "inputs", "recompute")] == ["maps", "inputs", "recompute"]
    with pytest.raises(fz.ConfigError, match="cache must be one of"):
        memory.reconstruction_cache("disk")
    full, ckpt = (memory.estimate_backprop(tiny_pipe, 8, 64, 64, c) for c in (False, True))
    assert full.store_bytes == ckpt.store_bytes == 0 and full.working_bytes > 2 * ckpt.working_bytes
    from fatezero_lab import tuning

    est = tuning.check_memory(tiny_pipe, 8, 64, 64, checkpointing=True, copy_pipe=True)
    unet = sum(p.numel() * p.element_size() for p in tiny_pipe.unet.parameters())
    assert est.working_bytes == ckpt.working_bytes + 16 * tuning.trainable_parameters(tiny_pipe) + unet
    both = memory.combined([memory.estimate_memory(tiny_pipe, 8, 64, 64, 50, cache=c) for c in ("inputs", "maps")])
    assert both.cache == "inputs+maps" and both.store_bytes == sum(
        memory.estimate_memory(tiny_pipe, 8, 64, 64, 50, cache=c).store_bytes for c in ("inputs", "maps"))


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


def test_backprop_estimate_covers_what_autograd_keeps():
    """estimate_backprop's activation factor against a count of the tensors autograd saves for null text's backward
    (∅ requires grad, the UNet frozen; each storage once, weights not counted) on SD v1's UNet layout at a tenth of
    its widths (the count per widest-channel unit does not depend on the scale), 2 frames at a 16² latent."""
    import dataclasses

    import torch

    from fatezero_lab.models import SD_V1_TENTH
    from fatezero_lab.processors import AttentionControl, attention_control

    pipe = fz.models.random_sd_pipeline(layout=dataclasses.replace(SD_V1_TENTH, unet_layers=2))
    unet = pipe.unet.requires_grad_(False)  # as null text runs it
    weights = {p.untyped_storage().data_ptr() for p in unet.parameters()}
    saved = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in weights:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    frames, side = 2, 16
    null = fz.encode_prompt(pipe, "").expand(frames, -1, -1).clone().requires_grad_(True)  # (F, tokens, dim)
    with attention_control(unet, AttentionControl(frames, True, (side, side))), \
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        unet(torch.randn(frames, 4, side, side), 10, encoder_hidden_states=null)
    est = memory.estimate_backprop(pipe, frames, 8 * side, 8 * side, checkpointing=False)
    assert 0.8 * est.working_bytes < sum(saved.values()) <= est.working_bytes, (sum(saved.values()), est)
