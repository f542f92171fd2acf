"""The CUDA path (FZ_GPU=1 on a machine with an NVIDIA GPU): fp16 loading, the engine in fp16, toy model GPU = CPU.

CI has no GPU, so these are skipped there with a reason; they were run on the device machine a session was lent
(docs/gpu_sd.md records the run).
"""

import os

import numpy as np
import pytest
import torch

import fatezero_lab as fz

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(os.environ.get("FZ_GPU", "") in ("", "0"), reason="GPU test: set FZ_GPU=1 to run it"),
    pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU test: no CUDA device"),
]


def _edit(pipe, frames, cache, steps=4):
    inv = fz.invert(pipe, frames, "a red circle on grass", steps=steps, cache=cache, progress=False)
    return fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"], progress=False).frames


def test_a_pipeline_folder_loads_in_fp16_on_cuda_and_matches_fp32(tiny_pipe, tiny_folder):
    pipe = fz.load_pipeline(str(tiny_folder), device="cuda")
    assert pipe.unet.dtype == torch.float16 and pipe.vae.dtype == torch.float16 and pipe.unet.device.type == "cuda"
    z = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref_emb = fz.encode_prompt(tiny_pipe, "a red circle on grass").expand(2, -1, -1)
        ref = tiny_pipe.unet(z, 10, encoder_hidden_states=ref_emb).sample
        emb = fz.encode_prompt(pipe, "a red circle on grass").expand(2, -1, -1)
        got = pipe.unet(z.to("cuda", torch.float16), 10, encoder_hidden_states=emb).sample.float().cpu()
    assert (got - ref).norm() / ref.norm() < 1e-2  # fp16 rounding, nothing else


def test_store_modes_agree_in_fp16_on_cuda_and_match_fp32_on_the_cpu():
    # the trained toy model (a random one is chaotic in half precision: any rounding changes its picture)
    clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=4, seed=0)
    pipe = fz.load_pipeline("toy", device="cuda", dtype=torch.float16)
    outs = {m: _edit(pipe, clip.frames, m, steps=10) for m in ("maps", "inputs", "recompute")}
    for m, out in outs.items():
        assert out.shape == (4, 64, 64, 3) and np.isfinite(out).all(), m
    assert fz.psnr(outs["maps"], outs["inputs"]) > 40.0 and fz.psnr(outs["maps"], outs["recompute"]) > 40.0
    fp32 = _edit(fz.load_pipeline("toy", device="cpu"), clip.frames, "recompute", steps=10)
    assert fz.psnr(outs["recompute"], fp32) > 35.0  # bf16 on a CPU gave 50 dB between modes, 46 dB to fp32


def test_toy_model_edit_on_cuda_matches_the_cpu():  # fp32 on both
    clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=4, seed=0)
    outs = [_edit(fz.load_pipeline("toy", device=d), clip.frames, "recompute", steps=10) for d in ("cuda", "cpu")]
    assert fz.psnr(outs[0], outs[1]) > 35.0  # same method, different kernels


def test_sd_architecture_edits_in_fp16_on_cuda():
    pipe = fz.models.random_sd_pipeline(text_layers=2, dtype=torch.float16).to("cuda")
    frames = np.random.default_rng(0).random((2, 256, 256, 3)).astype(np.float32)
    out = _edit(pipe, frames, "maps", steps=2)
    assert out.shape == (2, 256, 256, 3) and np.isfinite(out).all()
