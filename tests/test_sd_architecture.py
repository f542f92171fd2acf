"""Stable Diffusion layouts: SD 1.x at full size with random weights (slow: FZ_SLOW=1), and tiny SD 2.x-layout
pipelines (fast, offline): resolution from the UNet's sample size, the layer-size limit scaled with it, and
``upcast_attention`` honoured on the explicit attention path."""

import numpy as np
import pytest
import torch

import fatezero_lab as fz
from fatezero_lab.processors import (AttentionControl, FateZeroAttnProcessor, attention_control, attention_layers,
                                     explicit_attention)
from fatezero_lab.store_modes import layer_selected


@pytest.fixture(scope="module")
def sd_pipe():
    return fz.models.random_sd_pipeline(text_layers=2)


@pytest.mark.slow
def test_sd_layout_and_layer_filter(sd_pipe):
    layers = fz.attention_layers(sd_pipe.unet, latent_hw=(64, 64))  # 512x512 input
    assert sum(l.kind == "self" for l in layers) == 16 and sum(l.kind == "cross" for l in layers) == 16
    res = sorted({l.resolution for l in layers}, reverse=True)
    assert res == [(64, 64), (32, 32), (16, 16), (8, 8)]
    assert {l.heads for l in layers} == {8}
    # the reference records/edits only layers with <= 32x32 queries: the 5 self + 5 cross 64x64 layers run plain
    assert sd_pipe.max_side == 32
    assert sum(not layer_selected(l, sd_pipe.max_side) for l in layers) == 10


@pytest.mark.slow
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


# --- SD 2.x layout, tiny ------------------------------------------------------------------------------------------------
def sd2_like_pipeline(tiny_config, sample_size: int, upcast: bool = True, prediction_type: str = "v_prediction"):
    """A tiny random-weight pipeline with SD 2.x's layout choices: linear projections, ``upcast_attention``,
    per-level head counts, v-prediction, a four-level VAE (downsampling 8) and ``sample_size`` latents
    (SD 2.x-768: 96, SD 2-base: 64)."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel

    from fatezero_lab.toyworld.model import assemble_pipeline, build_scheduler, build_text_encoder, build_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 32, 32),
        down_block_types=("CrossAttnDownBlock2D",) * 3, up_block_types=("CrossAttnUpBlock2D",) * 3,
        attention_head_dim=(2, 4, 4), cross_attention_dim=tiny_config.text_dim, use_linear_projection=True,
        upcast_attention=upcast, norm_num_groups=32)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32,) * 4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=1, norm_num_groups=32, sample_size=sample_size * 8)
    tok = build_tokenizer(tiny_config.max_length)
    text = build_text_encoder(len(tok), tiny_config, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
    sched = DDIMScheduler.from_config(build_scheduler().config, prediction_type=prediction_type)
    return assemble_pipeline(vae, text, tok, unet, sched)


@pytest.fixture(scope="module")
def sd2_folders(tiny_config, tmp_path_factory):
    """Saved tiny SD 2.x-768-like (96² latents) and SD 2-base-like (64² latents) pipeline folders."""
    folders = {}
    for label, size in (("768", 96), ("base", 64)):
        folder = tmp_path_factory.mktemp(f"sd2_{label}")
        sd2_like_pipeline(tiny_config, size, prediction_type="v_prediction" if size == 96 else "epsilon"
                          ).save_pretrained(folder)
        folders[label] = folder
    return folders


@pytest.mark.parametrize("label, pixels, max_side, prediction", [
    ("768", 768, 48, "v_prediction"),
    ("base", 512, 32, "epsilon"),
])
def test_sd2_resolution_and_layer_limit_from_the_unet(sd2_folders, monkeypatch, label, pixels, max_side, prediction):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    info = fz.models.inspect_model(str(sd2_folders[label]))  # read from the configs, before any weights
    assert info.resolution == (pixels, pixels) and info.max_side == max_side and info.upcast_attention
    pipe = fz.load_pipeline(str(sd2_folders[label]), device="cpu")
    assert pipe.resolution == (pixels, pixels)  # UNet sample_size × VAE downsampling 8
    assert pipe.max_side == max_side  # the reference's 32 at a 64² latent, scaled with the model's latent
    assert pipe.unet.config.upcast_attention
    assert pipe.scheduler.config.prediction_type == prediction  # the DDIM swap keeps the model's parameterisation
    # the limit keeps the same UNet levels at the model's own size: all but the finest
    latent = pixels // 8
    layers = attention_layers(pipe.unet, (latent, latent))
    kept = {l.resolution[0] for l in layers if layer_selected(l, pipe.max_side)}
    assert kept == {latent // 2, latent // 4}
    assert all(l.upcast for l in layers)


def test_invert_defaults_to_the_models_layer_limit(sd2_folders, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = fz.load_pipeline(str(sd2_folders["768"]), device="cpu")
    frames = np.random.default_rng(0).random((1, 64, 64, 3)).astype(np.float32)
    inv = fz.invert(pipe, frames, "a red circle", steps=1, temporal=False, cache="maps", progress=False)
    assert inv.store.max_side == 48
    assert fz.invert(pipe, frames, "a red circle", steps=1, temporal=False, cache="maps", max_side=2,
                     progress=False).store.max_side == 2  # an explicit value still wins
    toy = fz.models.ModelDefaults().max_side_for(16)
    assert toy == 32  # the toy (16² latents) keeps every layer, as before
    assert fz.models.ModelDefaults(max_side=20).max_side_for(96) == 20  # a model folder's own value wins


def test_explicit_attention_upcasts_scores_in_fp16():
    """fp16 q·kᵀ above 65504 overflows to inf (softmax NaN); upcast computes it in float32, as diffusers does."""
    g = torch.Generator().manual_seed(0)
    q = (100 + torch.randn(1, 2, 4, 8, generator=g)).half()  # (B, heads, n, d); q·k ≈ 8 · 100² > 65504
    k = (100 + torch.randn(1, 2, 5, 8, generator=g)).half()  # (B, heads, m, d)
    v = torch.randn(1, 2, 5, 8, generator=g).half()  # (B, heads, m, d)
    scale = 8 ** -0.5
    ref_probs = (q.float() @ k.float().transpose(-1, -2) * scale).softmax(-1)  # (B, heads, n, m)
    out, probs = explicit_attention(q, k, v, scale, upcast=True)
    assert probs.dtype == torch.float16 and out.dtype == torch.float16
    torch.testing.assert_close(probs.float(), ref_probs, rtol=0, atol=1e-3)
    _, plain = explicit_attention(q, k, v, scale)  # the same tensors without upcasting
    assert not torch.isfinite(plain).all()


def test_upcast_attention_layer_matches_diffusers_attn_processor():
    """An ``upcast_attention`` layer in fp16 under the explicit path equals diffusers' AttnProcessor (which upcasts);
    the scores here are large enough to overflow fp16."""
    from diffusers.models.attention_processor import Attention, AttnProcessor

    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8, upcast_attention=True)
    with torch.no_grad():
        attn.to_q.weight.mul_(300), attn.to_k.weight.mul_(300)  # scores ~1e5: beyond fp16's 65504
    attn = attn.half()
    x = torch.randn(2, 16, 16).half()  # (B, n = 4x4 queries, C)
    attn.set_processor(AttnProcessor())
    with torch.no_grad():
        expected = attn(x)  # (B, n, C)
        attn.upcast_attention = False  # (test only) the same layer without upcasting overflows in diffusers too
        assert not torch.isfinite(attn(x)).all()
        attn.upcast_attention = True
    name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor"
    control = AttentionControl(n_frames=1, explicit=True)
    attn.set_processor(FateZeroAttnProcessor(name, control))
    with torch.no_grad():
        got = attn(x)
    assert torch.isfinite(expected).all() and control.layers[name].upcast
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-3)


def test_upcast_flag_reaches_the_recorded_maps(tiny_config):
    """The recording path (inversion's explicit softmax) runs through the layer's upcast flag: an fp16 tiny SD 2.x
    UNet with blown-up query/key weights records finite maps with the flag and overflows without it."""
    from fatezero_lab.inversion import RecordControl

    def record(upcast: bool):
        pipe = sd2_like_pipeline(tiny_config, 8, upcast=upcast)
        unet = pipe.unet
        with torch.no_grad():
            for name, module in unet.named_modules():
                if name.endswith("attn1"):
                    module.to_q.weight.mul_(200), module.to_k.weight.mul_(200)
        unet = unet.half()
        control = RecordControl(1, False, (8, 8), max_side=32, keep="maps")
        z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)).half()
        ctx = torch.zeros(1, 3, tiny_config.text_dim).half()
        with torch.no_grad(), attention_control(unet, control):
            unet(z, 10, encoder_hidden_states=ctx)
        return [item.probs for name, item in control.recorded[0].items() if ".attn1." in name]

    assert all(torch.isfinite(p).all() for p in record(True))
    assert not all(torch.isfinite(p).all() for p in record(False))
