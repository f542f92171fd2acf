"""The paper's CLIP metrics, offline with a tiny random CLIP built from config."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_clip():
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from fatezero_lab.toyworld.model import build_tokenizer

    torch.manual_seed(0)
    tok = build_tokenizer(16)
    cfg = CLIPConfig(text_config=dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, max_position_embeddings=16,
                                      eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id,
                                      pad_token_id=tok.pad_token_id),
                     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=2, image_size=32, patch_size=8),
                     projection_dim=16)
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return CLIPModel(cfg).eval(), tok, proc


def test_clip_scores_ranges_and_identities(tiny_clip):
    import fatezero_lab as fz

    clip = fz.toyworld.clip("a red circle on grass", frames=4, seed=0)
    s = fz.metrics.clip_scores(clip.frames, "a red circle on grass", "a blue circle on grass", clip=tiny_clip)
    assert set(s) == {"tem_con", "frame_acc", "clip_t"}
    assert -1 <= s["tem_con"] <= 1 and 0 <= s["frame_acc"] <= 1 and -1 <= s["clip_t"] <= 1
    still = np.repeat(clip.frames[:1], 4, axis=0)  # a frozen clip is perfectly consistent
    assert fz.metrics.clip_scores(still, "a", "a red circle", clip=tiny_clip)["tem_con"] == pytest.approx(1.0, abs=1e-5)
    same = fz.metrics.clip_scores(clip.frames, "a red circle on grass", "a red circle on grass", clip=tiny_clip)
    assert same["frame_acc"] == 0.0  # never strictly closer to an identical prompt
