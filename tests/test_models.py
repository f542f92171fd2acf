import json

import numpy as np
import pytest
import torch

import fatezero_lab as fz
from fatezero_lab.models import ModelNotFoundError, load_pipeline
from fatezero_lab.toyworld import vocabulary
from fatezero_lab.toyworld.model import build_tokenizer


def test_tokenizer_every_toy_word_is_one_token():
    tok = build_tokenizer(16)
    for w in vocabulary():
        assert len(tok(w, add_special_tokens=False).input_ids) == 1, w
    ids = tok("a red circle and a blue square on grass", padding="max_length", max_length=16).input_ids
    assert ids[0] == tok.bos_token_id and ids[10] == tok.eos_token_id
    assert ids[11:] == [tok.pad_token_id] * 5
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3  # a distinct pad token


def test_save_load_roundtrip_offline(tiny_pipe, tiny_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = load_pipeline(str(tiny_folder), device="cpu")
    assert isinstance(pipe, fz.FateZeroPipeline) and type(pipe.diffusers).__name__ == "StableDiffusionPipeline"
    assert pipe.defaults == fz.ModelDefaults(source=str(tiny_folder)) or pipe.defaults.source == str(tiny_folder)
    assert not hasattr(pipe.diffusers, "fatezero_defaults")  # nothing hung on the diffusers object
    assert pipe.scheduler.config.steps_offset == 1 and type(pipe.scheduler).__name__ == "DDIMScheduler"
    assert pipe.safety_checker is None
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    emb = fz.encode_prompt(tiny_pipe, "a red circle on grass")
    with torch.no_grad():
        a = tiny_pipe.unet(z, 10, encoder_hidden_states=emb).sample
        b = pipe.unet(z, 10, encoder_hidden_states=fz.encode_prompt(pipe, "a red circle on grass")).sample
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert pipe.tokenizer("a red circle").input_ids == tiny_pipe.tokenizer("a red circle").input_ids


def test_toy_model_ships_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = load_pipeline("toy", device="cpu")
    summary = fz.models.model_summary(pipe)
    assert summary["latent_channels"] == 4 and summary["vae_downsample"] == 4
    assert pipe.unet.dtype == torch.float32
    # self-attention at the full latent resolution, two transformer blocks per attention layer
    assert any(k.startswith("down_blocks.0.attentions.0.transformer_blocks.1.attn1") for k in pipe.unet.attn_processors)
    meta = json.loads((fz.models.TOY_FOLDER / "toy_model.json").read_text())
    assert "toy_model_config" in meta
    size = sum(f.stat().st_size for f in fz.models.TOY_FOLDER.rglob("*") if f.is_file())
    assert size <= 25e6


@pytest.mark.parametrize("name, match", [
    ("not-a-model", "unknown model"),
    ("", "model must be"),
    ("a/b/c", "unknown model"),
])
def test_load_pipeline_bad_names(name, match):
    with pytest.raises(ModelNotFoundError, match=match):
        load_pipeline(name)


def test_load_pipeline_folder_without_model_index(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model_index.json"):
        load_pipeline(str(tmp_path))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        load_pipeline(str(f))


def test_unreachable_hub_gives_offline_advice(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="Offline"):
        load_pipeline("CompVis/stable-diffusion-v1-4", device="cpu")


def test_prompt_with_unknown_words_is_refused(tiny_pipe):
    frames = np.zeros((2, 64, 64, 3), np.float32)
    with pytest.raises(ValueError, match="jeep"):
        fz.invert(tiny_pipe, frames, "a silver jeep on grass", steps=2)


@pytest.mark.parametrize("hw", [(16, 16), (16, 24), (12, 20)])
def test_layer_probe_at_the_smallest_size_equals_the_full_size_probe(tiny_pipe, hw):
    """attention_layers probes the UNet at its smallest input and scales up; a probe at full size must agree."""
    from fatezero_lab.processors import AttentionControl, _attention_layers, attention_control

    h, w = hw
    control = AttentionControl(n_frames=1, temporal=False, latent_hw=(h, w))
    unet = tiny_pipe.unet
    with torch.no_grad(), attention_control(unet, control):
        unet(torch.zeros(1, 4, h, w), 1, encoder_hidden_states=torch.zeros(1, 1, unet.config.cross_attention_dim))
    full = [control.layers[n] for n in unet.attn_processors if n in control.layers]
    assert [vars(a) for a in _attention_layers(unet, h, w)] == [vars(b) for b in full]
    assert {l.resolution for l in full} >= {(h, w), (h // 4, w // 4)}
