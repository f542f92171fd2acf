"""Bad input gets a clear error (naming the argument and what was expected) before any UNet call."""

import numpy as np
import pytest

import fatezero_lab as fz


@pytest.fixture(scope="module")
def counted(tiny_pipe):
    calls = {"n": 0}

    def hook(module, args, kwargs):
        calls["n"] += 1

    handle = tiny_pipe.unet.register_forward_pre_hook(hook, with_kwargs=True)
    yield tiny_pipe, calls
    handle.remove()


@pytest.fixture(scope="module")
def inv(tiny_pipe):
    clip = fz.toyworld.clip("a red circle on grass", frames=2, seed=0)
    return fz.invert(tiny_pipe, clip.frames, clip.caption, steps=2, progress=False)


GOOD = np.full((2, 64, 64, 3), 0.5, np.float32)

INVERT_CASES = [
    (dict(frames=np.zeros((64, 64, 3), np.float32)), "got one image"),
    (dict(frames=np.zeros((2, 64, 64), np.float32)), r"shape \(frames, height, width, 3\)"),
    (dict(frames=np.zeros((2, 60, 64, 3), np.float32)), "multiples of 8"),
    (dict(frames=np.full((2, 64, 64, 3), 3.0, np.float32)), r"in \[0, 1\]"),
    (dict(frames=np.full((2, 64, 64, 3), np.nan, np.float32)), "finite"),
    (dict(prompt=42), "prompt must be a string"),
    (dict(prompt="a silver jeep on a road"), "does not know"),
    (dict(steps=0), "steps must be an integer in 1..1000"),
    (dict(steps=2.5), "steps must be an integer"),
    (dict(cache="disk"), "cache must be .auto. or one of"),
    (dict(temporal="sideways"), "temporal reference frames"),
    (dict(temporal=3.5), "temporal must be"),
    (dict(max_side=0), "max_side must be a positive integer"),
    (dict(frames=[np.zeros((64, 64, 3), np.float32), np.zeros((48, 64, 3), np.float32)]),
     r"frames\[1\] has shape \(48, 64, 3\) but frames\[0\] has \(64, 64, 3\)"),
]


@pytest.mark.parametrize("change, match", INVERT_CASES)
def test_invert_bad_inputs(counted, change, match):
    pipe, calls = counted
    args = dict(frames=GOOD, prompt="a red circle on grass", steps=2)
    args.update(change)
    before = calls["n"]
    with pytest.raises((ValueError, TypeError), match=match):
        fz.invert(pipe, args.pop("frames"), args.pop("prompt"), progress=False, **args)
    assert calls["n"] == before, "a UNet call happened before the error"


EDIT_CASES = [
    (dict(target_prompt="a blue jeep on grass"), "does not know"),
    (dict(blend_words=["jeep"]), "word 'jeep' not in prompt"),
    (dict(reweight={"purple": 2.0}), "word 'purple' not in prompt"),
    (dict(reweight={"blue": -1}), "non-negative"),
    (dict(guidance=-2), "guidance must be"),
    (dict(cross_replace_steps=1.5), "cross_replace_steps must satisfy"),
    (dict(self_replace_steps=(0.8, 0.2)), "self_replace_steps must satisfy"),
    (dict(cross_mode="swap"), "cross_mode must be one of"),
    (dict(cross_mode="replace", target_prompt="a blue circle and a red square on grass"), "same number of tokens"),
    (dict(blend_threshold=-0.1), "blend_threshold must be"),
    (dict(mask_dilation=2), "mask_dilation must be an odd"),
    (dict(mask_normalise="softmax"), "mask_normalise must be one of"),
    (dict(mask_layers=["nope"]), "not a recorded cross-attention layer"),
    (dict(mask_layers=["nope"], use_inversion_attention=False), "not a recorded cross-attention layer"),
    (dict(latent_blend=True, blend_words=["circle"], latent_blend_threshold=1.5), "latent_blend_threshold must be"),
    (dict(latent_blend=True), "latent_blend needs blend_words"),
    (dict(config="fast"), "config must be a FateZeroConfig"),
    (dict(seedling=1), "unexpected keyword"),
]


@pytest.mark.parametrize("change, match", EDIT_CASES)
def test_edit_bad_inputs(counted, inv, change, match):
    pipe, calls = counted
    target = change.pop("target_prompt", "a blue circle on grass")
    before = calls["n"]
    with pytest.raises((ValueError, TypeError), match=match):
        fz.edit(pipe, inv, target, progress=False, **change)
    assert calls["n"] == before, "a UNet call happened before the error"


def test_edit_needs_a_recorded_inversion(counted):
    pipe, calls = counted
    plain = fz.invert(pipe, GOOD, "a red circle on grass", steps=2, record=False, progress=False)
    before = calls["n"]
    with pytest.raises(ValueError, match="recorded no attention"):
        fz.edit(pipe, plain, "a blue circle on grass", progress=False)
    with pytest.raises(TypeError, match="must be the Inversion"):
        fz.edit(pipe, "inversion", "a blue circle on grass", progress=False)
    assert calls["n"] == before


def test_recompute_store_refuses_mask_layers_it_did_not_keep(counted):
    pipe, calls = counted
    inv = fz.invert(pipe, GOOD, "a red circle on grass", steps=2, cache="recompute", progress=False)
    other = [n for n in inv.store.layer_names("cross") if n not in inv.store.summarised_layers()][:1]
    before = calls["n"]
    with pytest.raises(ValueError, match="were not kept by this cache='recompute' inversion"):
        fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], mask_layers=other, progress=False)
    assert calls["n"] == before


def test_every_pass_that_builds_a_store_or_backpropagates_is_refused_before_any_unet_call(counted, inv,
                                                                                          monkeypatch):
    """The one memory check (memory.require_fits) guards inversion, the reconstruction pass, the benchmark, null text
    and tuning: with 1 MiB available each refuses with the figure and the fix, and the UNet never runs."""
    from fatezero_lab import bench, memory, tuning

    pipe, calls = counted
    monkeypatch.setattr(memory, "available_memory", lambda device="cpu": 2 ** 20)
    before = calls["n"]
    refusals = [
        (lambda: fz.invert(pipe, GOOD, "a red circle on grass", steps=2, progress=False),
         r"cache='recompute' needs about .* GiB of store .* but only 0.0 GiB of host memory .* no store mode fits"),
        (lambda: fz.edit(pipe, inv, "a blue circle on grass", use_inversion_attention=False, progress=False),
         rf"the reconstruction pass's cache='{inv.store.cache}' store \(use_inversion_attention=False\) needs about"),
        (lambda: fz.invert(pipe, GOOD, "a red circle on grass", steps=2, record=False, null_text=True,
                           progress=False),
         r"null-text inversion .* needs about .* invert with null_text=dict\(gradient_checkpointing=True\)"),
        (lambda: tuning.tune_on_clip(pipe, GOOD, "a red circle on grass", steps=1, progress=False),
         r"one-shot tuning .* needs about .* use gradient_checkpointing=True .* or copy_pipe=False"),
        (lambda: bench.run_suite(pipe, cases=bench.SUITE[:1], frames=2, steps=2, progress=False),
         r"the benchmark's 3 stores kept at once needs about .* cache='recompute'"),
    ]
    for run, match in refusals:
        with pytest.raises(MemoryError, match=match):
            run()
    assert calls["n"] == before
