"""A short CPU training run of the toy model (tiny sizes, a few steps): the script works end to end and resumes."""

import json

import torch

from fatezero_lab.models import load_pipeline
from fatezero_lab.toyworld import train


def test_quick_training_run_exports_a_loadable_pipeline(tmp_path):
    run, out = tmp_path / "run", tmp_path / "export"
    train.main(["--quick", "--run", str(run), "--export-to", str(out), "--decoder-steps", "2"])
    assert (run / "vae.pt").exists() and (run / "unet.pt").exists() and (run / "latents.pt").exists()
    assert (run / "decoder.pt").exists() and "decoder: held-out round-trip PSNR" in (run / "log.txt").read_text()
    state = torch.load(run / "unet.pt", weights_only=False)
    assert state["step"] == 2
    pipe = load_pipeline(str(out), device="cpu")
    assert pipe.vae.config.scaling_factor > 0
    info = json.loads((out / "toy_model.json").read_text())
    assert info["train_config"]["unet_steps"] == 2
    # resuming with more steps continues from the checkpoint instead of starting over
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "3"])
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 3
    assert "resumed at step 2" in (run / "log.txt").read_text()
    # ... also with the binding loss switched on (logged beside the localisation loss)
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "4", "--bind-weight", "0.1"])
    assert "bind(50)" in (run / "log.txt").read_text()


def test_binding_loss_rewards_object_pixels_that_read_their_own_words():
    """Caption "a red circle on grass": object pixels reading red/circle -> loss ~0; reading "a" -> large."""
    from fatezero_lab.toyworld.model import build_tokenizer

    tok = build_tokenizer(16)
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, :2, :2] = 1  # the circle covers the top-left quarter
    region, weight, kind = train.word_targets(tok, ["a red circle on grass"], mask, 16)
    assert kind[0, :7].tolist() == [0, 3, 1, 1, 3, 2, 0]  # BOS a red circle on grass EOS
    own = torch.zeros(1, 1, 16, 16)
    own[..., 2] = own[..., 3] = 0.3  # every pixel: red and circle
    own[..., 8] = 0.4  # and a pad (the sink, ignored)
    wrong = torch.zeros(1, 1, 16, 16)
    wrong[..., 1], wrong[..., 2], wrong[..., 8] = 0.55, 0.05, 0.4  # "a" dominates, "red" barely read
    good = train.binding_loss([((4, 4), own)], region, kind).item()
    bad = train.binding_loss([((4, 4), wrong)], region, kind).item()
    assert abs(good) < 1e-5
    assert abs(bad - (-torch.log(torch.tensor(0.05 / 0.6)).item())) < 1e-4


def test_train_config_validation():
    import pytest

    with pytest.raises(ValueError, match="unet_steps"):
        train.TrainConfig(unet_steps=0)
    with pytest.raises(ValueError, match="empty_caption"):
        train.TrainConfig(empty_caption=1.5)
