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
    # ... and with the coverage loss
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "5", "--cover-weight", "0.1"])
    assert "cover(50)" in (run / "log.txt").read_text()
    # ... scoring the background word too
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "6", "--cover-weight", "0.1",
                "--cover-words", "all"])
    assert (run / "log.txt").read_text().count("cover(50)") >= 2


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


def test_coverage_loss_is_zero_for_a_map_spread_over_the_whole_object():
    """Object = top-left quarter of a 4x4 grid: "red" spread evenly over its 4 cells -> KL 0; piled on one of them
    (0.7, 0.1, 0.1, 0.1) -> KL(uniform || that) > 0. The localisation loss sees no difference: all the mass is
    inside."""
    from fatezero_lab.toyworld.model import build_tokenizer

    tok = build_tokenizer(16)
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, :2, :2] = 1
    region, weight, _ = train.word_targets(tok, ["a red circle on grass"], mask, 16)
    weight = weight * (torch.arange(16) == 2)  # only "red" is scored
    cells = [0, 1, 4, 5]  # the object's cells, row-major
    spread = torch.full((1, 1, 16, 16), 1e-12)  # (B, heads, pixels, tokens)
    spread[0, 0, cells, 2] = 0.25
    peaked = torch.full((1, 1, 16, 16), 1e-12)
    peaked[0, 0, cells, 2] = torch.tensor([0.7, 0.1, 0.1, 0.1])
    expected = sum(0.25 * torch.log(torch.tensor(0.25 / p)) for p in (0.7, 0.1, 0.1, 0.1))
    assert abs(train.coverage_loss([((4, 4), spread)], region, weight).item()) < 1e-5
    assert abs(train.coverage_loss([((4, 4), peaked)], region, weight).item() - expected.item()) < 1e-5
    for probs in (spread, peaked):
        assert abs(train.localisation_loss([((4, 4), probs)], region, weight).item()) < 1e-5


def test_train_config_validation():
    import pytest

    with pytest.raises(ValueError, match="unet_steps"):
        train.TrainConfig(unet_steps=0)
    with pytest.raises(ValueError, match="empty_caption"):
        train.TrainConfig(empty_caption=1.5)
    with pytest.raises(ValueError, match="cover_weight"):
        train.TrainConfig(cover_weight=-0.1)
    with pytest.raises(ValueError, match="cover_words"):
        train.TrainConfig(cover_words="background")


def test_word_targets_point_each_word_at_its_region():
    """Colour and shape words -> their own object's mask (kind 1), the background word -> outside the objects
    (kind 2), "a"/"and"/"on" (kind 3), BOS/EOS/pads and a dropped caption (kind 0) -> no region (weight 0)."""
    from fatezero_lab.toyworld.model import build_tokenizer

    tok = build_tokenizer(16)
    masks = torch.zeros(2, 2, 4, 4)
    masks[:, 0, :2, :2] = 1  # first object: top left
    masks[:, 1, 2:, 2:] = 1  # second object: bottom right
    region, weight, kind = train.word_targets(tok, ["a red circle and a blue square on grass", ""], masks, 16)
    # BOS a red circle and a blue square on grass EOS
    assert kind[0, :11].tolist() == [0, 3, 1, 1, 3, 3, 1, 1, 3, 2, 0]
    assert weight[0, :11].tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 1, 0]
    for token, expected in ((2, masks[0, 0]), (3, masks[0, 0]), (6, masks[0, 1]), (7, masks[0, 1]),
                            (9, 1 - masks[0, 0] - masks[0, 1])):
        assert torch.equal(region[0, token], expected), token
    assert not kind[1].any() and not weight[1].any() and not region[1].any()  # a dropped caption
    # the UNet stage's gather (word_table rows of the pool, expanded per batch) gives the same targets
    table = train.word_table(tok, ["", "a red circle and a blue square on grass"], 16)[[1, 0]]
    for e, g in zip((region, weight, kind), train.targets_from_table(table, masks)):
        assert torch.equal(e, g)


def test_word_table_follows_the_tokenizer_it_is_given():
    """No cache keyed by id(tokenizer): a tokenizer changed in place (as by ``add_tokens``) gets its new positions."""
    import types

    class Tokenizer:  # n tokens per word
        n = 1

        def __call__(self, text, add_special_tokens=True):
            return types.SimpleNamespace(input_ids=[7] * (self.n * len(text.split())))

    tok = Tokenizer()
    for n in (1, 2, 1):
        tok.n = n
        kind = train.word_table(tok, ["a red circle on grass"], 16)[0, :, 1]
        assert kind[1 + n] == 1 and kind[1 + 2 * n] == 1, n  # "red" and "circle" start after BOS and "a"


def _train_cli(*args: str) -> None:
    """Run the training CLI in a fresh process: with its DataLoader render workers forked from the pytest process,
    notebook kernels that process started afterwards stalled for minutes (nbmake; measured 172 s vs 60 s for
    test_train.py + notebook 06), so the workers stay out of the test process."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-m", "fatezero_lab.toyworld.train", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)


def test_time_fitted_stages_with_render_workers(tmp_path):
    """--workers renders frames in DataLoader processes; --*-minutes fits each stage's step count to the budget
    (timed over steps 10-60, so a tiny budget gives 61 steps), stored in the checkpoint and kept on resume;
    --stage decoder trains the decoder alone."""
    run = tmp_path / "run"
    common = ["--quick", "--run", str(run), "--workers", "2", "--ckpt-every", "1000"]
    _train_cli(*common, "--stage", "latents", "--vae-minutes", "0.001", "--vae-steps", "5000")
    vae_state = torch.load(run / "vae.pt", weights_only=False)
    assert vae_state["step"] == vae_state["fitted_total"] == 61
    _train_cli(*common, "--stage", "decoder", "--decoder-minutes", "0.001")
    assert torch.load(run / "decoder.pt", weights_only=False)["step"] == 61
    train.main(["--quick", "--run", str(run), "--ckpt-every", "1000", "--stage", "unet", "--unet-minutes", "0.001",
                "--unet-steps", "5000"])  # the UNet stage renders nothing (cached latents): in-process is fine
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 61
    log = (run / "log.txt").read_text()
    for stage in ("vae", "decoder", "unet"):
        assert f"{stage}: " in log and "steps fit in 0.001 min" in log
    # export without the budgets: the fitted counts in the checkpoints hold, nothing trains again
    train.main(["--quick", "--run", str(run), "--stage", "export", "--export-to", str(tmp_path / "out")])
    assert "resumed at step 61" in (run / "log.txt").read_text()
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 61
    assert (tmp_path / "out" / "model_index.json").exists()
    # --extend 1 trains a fitted stage on to the given step count
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--extend", "1", "--unet-steps", "63"])
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 63


def test_train_config_device_and_budget_validation():
    import pytest

    with pytest.raises(ValueError, match="device must be"):
        train.TrainConfig(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            train.TrainConfig(device="cuda")
    with pytest.raises(ValueError, match="workers"):
        train.TrainConfig(workers=-1)
    with pytest.raises(ValueError, match="unet_minutes"):
        train.TrainConfig(unet_minutes=-1.0)
    with pytest.raises(ValueError, match="loc_max_t"):
        train.TrainConfig(loc_max_t=0)


def test_localisation_limited_to_low_noise_timesteps(tmp_path):
    """--loc-max-t 1: no sample qualifies, so the logged localisation/binding losses are exactly 0."""
    run = tmp_path / "run"
    train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "2", "--loc-max-t", "1",
                "--bind-weight", "0.1"])
    assert "loc(50) 0.000 bind(50) 0.000" in (run / "log.txt").read_text()


def test_export_stage_trains_nothing_and_needs_checkpoints(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="no vae checkpoint"):
        train.main(["--quick", "--run", str(tmp_path / "empty"), "--stage", "export"])
    run = tmp_path / "run"
    train.main(["--quick", "--run", str(run), "--stage", "latents"])
    with pytest.raises(SystemExit) as stopped:
        train.main(["--quick", "--run", str(run), "--stage", "unet", "--unet-steps", "3", "--minutes", "1e-9"])
    assert stopped.value.code == 0  # a planned stop: scripts go on
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 1  # the hard stop after one step
    assert "unet: stopped after 1e-09 min at step 1 (resume by running again)" in (run / "log.txt").read_text()
    train.main(["--quick", "--run", str(run), "--stage", "export", "--unet-steps", "3",
                "--export-to", str(tmp_path / "out")])
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 1
    assert "unet: exporting the checkpoint at step 1 of 3" in (run / "log.txt").read_text()
    # the library function raises an exception (a RuntimeError), not SystemExit; only main() exits
    from fatezero_lab.toyworld.model import ToyModelConfig

    cfg = train.TrainConfig(**{**train.QUICK_TRAIN, "run": str(run), "unet_steps": 3, "minutes": 1e-9})
    pool = torch.load(run / "latents.pt", weights_only=False)
    with pytest.raises(train.StageStopped, match="resume by running again") as stopped:
        train.train_unet(cfg, ToyModelConfig(**train.QUICK_MODEL), pool, run, train.Logger(run))
    assert isinstance(stopped.value, RuntimeError)
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 2  # resumed, one step, checkpoint saved


def test_fine_tune_from_an_exported_pipeline(tmp_path):
    """--init-from: the export's VAE and scaling are kept, the UNet/text encoder start from its weights."""
    import pytest

    first, out = tmp_path / "first", tmp_path / "export"
    train.main(["--quick", "--run", str(first), "--export-to", str(out)])
    with pytest.raises(ValueError, match="not an exported toy pipeline folder"):
        train.TrainConfig(init_from=str(first))
    run, out2 = tmp_path / "tuned", tmp_path / "export2"
    train.main(["--quick", "--run", str(run), "--init-from", str(out), "--stage", "latents"])
    exported = load_pipeline(str(out), device="cpu")
    seeded = torch.load(run / "unet.pt", weights_only=False)
    assert seeded["step"] == 0 and seeded["opt"] is None
    for name, w in exported.unet.state_dict().items():
        assert torch.equal(seeded["unet"][name], w.float()), name
    assert torch.load(run / "latents.pt", weights_only=False)["scaling_factor"] == exported.vae.config.scaling_factor
    train.main(["--quick", "--run", str(run), "--init-from", str(out), "--unet-steps", "2", "--export-to", str(out2)])
    assert "init: run seeded from" in (run / "log.txt").read_text()
    assert torch.load(run / "unet.pt", weights_only=False)["step"] == 2
    tuned = load_pipeline(str(out2), device="cpu")
    assert tuned.tokenizer.get_vocab() == exported.tokenizer.get_vocab()  # the text encoder's rows keep their words
    assert tuned.vae.config.scaling_factor == exported.vae.config.scaling_factor
    for name, w in exported.vae.state_dict().items():  # the VAE is carried over unchanged
        assert torch.equal(tuned.vae.state_dict()[name], w), name


# ---------------------------------------------------------------------------------------------------------------------
# Toy model v2 (docs/toy_edit_quality.md section 12)
# ---------------------------------------------------------------------------------------------------------------------
def test_outside_loss_scores_the_maps_level_off_the_object():
    """Object = top-left quarter of a 4x4 grid (4 cells in, 12 out). "red" with 0.2 on each object cell and 0.2/12 on
    each other cell: mean off 1/60, mean on 0.2 -> L_out = (1/60) / (1/60 + 0.2) = 1/13; all on the object -> 0;
    flat -> 1/2. The localisation loss of the first map is -log 0.8 whatever the skirt's shape."""
    from fatezero_lab.toyworld.model import build_tokenizer

    tok = build_tokenizer(16)
    mask = torch.zeros(1, 1, 4, 4)
    mask[0, 0, :2, :2] = 1
    region, weight, _ = train.word_targets(tok, ["a red circle on grass"], mask, 16)
    weight = weight * (torch.arange(16) == 2)  # only "red" is scored
    cells = torch.tensor([0, 1, 4, 5])
    skirt = torch.full((1, 1, 16, 16), 1e-12)  # (B, heads, pixels, tokens)
    skirt[0, 0, :, 2] = 0.2 / 12
    skirt[0, 0, cells, 2] = 0.2
    inside = torch.full((1, 1, 16, 16), 1e-12)
    inside[0, 0, cells, 2] = 0.25
    flat = torch.full((1, 1, 16, 16), 1 / 16)
    assert abs(train.outside_loss([((4, 4), skirt)], region, weight).item() - 1 / 13) < 1e-5
    assert abs(train.outside_loss([((4, 4), inside)], region, weight).item()) < 1e-5
    assert abs(train.outside_loss([((4, 4), flat)], region, weight).item() - 0.5) < 1e-5
    assert abs(train.localisation_loss([((4, 4), skirt)], region, weight).item()
               + torch.log(torch.tensor(0.8)).item()) < 1e-5


def test_render_only_one_frame_and_the_v2_frame_recipe():
    """``render(spec, only=i)`` is frame i of the whole clip; the default still-frame recipe is unchanged by the new
    options; the v2 recipe draws frames of moving, panning, drifting clips with radii in its range."""
    import numpy as np

    from fatezero_lab.toyworld import world

    spec = world.random_spec(3, frames=8, camera="pan", lighting="drift", motion="scale")
    full, one = world.render(spec), world.render(spec, only=5)
    assert np.array_equal(full.frames[5:6], one.frames) and np.array_equal(full.masks[5:6], one.masks)
    a, b = (train.random_frame(np.random.default_rng(1), 64, 0.5, True, cfg) for cfg in (None, train.TrainConfig()))
    assert a[1] == b[1] and np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])
    assert world.random_spec(7, radius_range=(7.0, 13.0)).objects[0] == world.random_spec(7).objects[0]
    cfg = train.TrainConfig(clip_frames=8, pan_fraction=1.0, drift_fraction=1.0, radius_min=5, radius_max=6)
    f1, f2 = (train.random_frame(np.random.default_rng(2), 64, 0.0, True, cfg) for _ in range(2))
    assert np.array_equal(f1[0], f2[0])  # seeded
    radii = [o.radius for s in range(20) for o in world.random_spec(s, radius_range=(5.0, 6.0)).objects]
    assert 5.0 <= min(radii) and max(radii) <= 6.0


def test_sd_v1_layout_option_leaves_the_shipped_layout_alone():
    """``lowest_attention=False``: plain ResNet blocks at the lowest level (SD v1), attention elsewhere; the default
    keeps attention at every level (the shipped model's layout)."""
    from fatezero_lab.toyworld.model import ToyModelConfig, build_unet

    sd = build_unet(ToyModelConfig(**train.QUICK_MODEL, lowest_attention=False))
    assert [type(b).__name__ for b in sd.down_blocks] == ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                          "DownBlock2D"]
    assert [type(b).__name__ for b in sd.up_blocks] == ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    assert all(len(a.transformer_blocks) == 1 for b in sd.down_blocks[:2] for a in b.attentions)
    shipped = build_unet(ToyModelConfig(**train.QUICK_MODEL))
    assert all(type(b).__name__ == "CrossAttnDownBlock2D" for b in shipped.down_blocks)


def test_v2_config_validation():
    import pytest

    with pytest.raises(ValueError, match="radius"):
        train.TrainConfig(radius_min=9, radius_max=5)
    with pytest.raises(ValueError, match="pan_fraction"):
        train.TrainConfig(pan_fraction=1.5)
    with pytest.raises(ValueError, match="unknown ToyModelConfig"):
        train.TrainConfig(model='{"depth": 1}')
    with pytest.raises(ValueError, match="JSON object"):
        train.TrainConfig(model="depth=1")
    with pytest.raises(ValueError, match="no resume.json"):
        train.TrainConfig(resume_from="tests")
    with pytest.raises(ValueError, match="outside_weight"):
        train.TrainConfig(outside_weight=-1.0)


def test_compact_resume_point_continues_a_run_on_a_fresh_machine(tmp_path):
    """A --quick v2 run with the shipped VAE: 3 steps, a compact resume point (fp16 EMA weights, tokenizer, recipe; no
    optimiser), then a fresh run folder continues from it at step 3 with a fresh optimiser warming up again, and a
    changed recipe is refused before any training."""
    import pytest
    from safetensors.torch import load_file

    from fatezero_lab.toyworld.train import PACKAGE_WEIGHTS

    recipe = ["--quick", "--vae-from", str(PACKAGE_WEIGHTS), "--model", '{"lowest_attention": false}', "--pool", "32",
              "--clip-frames", "8", "--radius-min", "5", "--radius-max", "15", "--unet-steps", "6", "--warmup", "10",
              "--outside-weight", "0.3", "--cover-weight", "0.1", "--loc-max-t", "600", "--log-every", "1"]
    run, point, fresh = tmp_path / "run", tmp_path / "point", tmp_path / "fresh"
    with pytest.raises(SystemExit):
        train.main([*recipe, "--run", str(run), "--stage", "unet", "--minutes", "1e-9"])  # stops after step 1
    train.main([*recipe, "--run", str(run), "--stage", "unet", "--ckpt-every", "1000"])  # progress lines, then save
    log = (run / "log.txt").read_text()
    assert "unet: step 2/6 loss(50)" in log and "out(50)" in log and "samples/s" in log
    assert "unet: step 6 loss(50)" in log and "(checkpoint)" in log
    state = torch.load(run / "unet.pt", weights_only=False)
    assert state["step"] == 6
    # the compact point: the EMA in fp16, the recipe, no optimiser
    train.main([*recipe, "--run", str(run), "--stage", "resume-point", "--export-to", str(point)])
    meta = json.loads((point / "resume.json").read_text())
    assert meta["step"] == 6 and meta["data_seed"] == 0 and meta["train_config"]["outside_weight"] == 0.3
    assert meta["model"]["lowest_attention"] is False and "step **6 of 6**" in (point / "README.md").read_text()
    assert not list(point.glob("*.tmp"))
    ema = load_file(str(point / "unet_ema.safetensors"))
    assert all(v.dtype == torch.float16 for v in ema.values())
    name = next(iter(ema))
    assert torch.equal(ema[name], state["ema_unet"][name].half())
    # a fresh folder: a changed recipe is refused before anything trains; the recorded one continues at step 6
    more = [a if a != "6" else "8" for a in recipe]
    with pytest.raises(ValueError, match="different recipe: unet_steps=6"):
        train.main([*more, "--run", str(fresh), "--stage", "unet", "--resume-from", str(point)])
    assert not (fresh / "unet.pt").exists()
    train.main([*recipe, "--run", str(fresh), "--stage", "unet", "--resume-from", str(point)])
    assert "seeded from the compact resume point" in (fresh / "log.txt").read_text()
    seeded = torch.load(fresh / "unet.pt", weights_only=False)
    assert seeded["step"] == 6 and seeded["opt"] is None and seeded["warm_from"] == 6
    assert torch.equal(seeded["unet"][name], ema[name].float())
    # a point recorded with a longer schedule: the fresh optimiser warms up from step 6 over --resume-warmup steps,
    # the schedule's decay continues: lr(6) = 1e-3 · (6 + 1 − 6)/4 = 2.5e-4; lr(7) = 1e-3 · 2/4 · (8 − 7)/1.6
    meta["unet_steps"] = meta["train_config"]["unet_steps"] = 8
    (point / "resume.json").write_text(json.dumps(meta))
    fresh2 = tmp_path / "fresh2"
    train.main([*more, "--run", str(fresh2), "--stage", "unet", "--resume-from", str(point), "--resume-warmup", "4",
                "--ckpt-every", "1000", "--ckpt-minutes", "1e-9"])
    log = (fresh2 / "log.txt").read_text()
    assert "lr 2.50e-04" in log.split("unet: step 7 ")[1].split("\n")[0]  # each step saved (--ckpt-minutes)
    assert "lr 3.13e-04" in log.split("unet: step 8 ")[1].split("\n")[0]
    assert torch.load(fresh2 / "unet.pt", weights_only=False)["step"] == 8
