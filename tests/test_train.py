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


def test_train_config_validation():
    import pytest

    with pytest.raises(ValueError, match="unet_steps"):
        train.TrainConfig(unet_steps=0)
    with pytest.raises(ValueError, match="empty_caption"):
        train.TrainConfig(empty_caption=1.5)
