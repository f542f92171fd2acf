"""The main job (CLI demo), ground-truth metrics and figures."""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import fatezero_lab as fz
from fatezero_lab.cli import main, new_output_folder
from fatezero_lab.metrics import background_psnr, centroid_error, flicker, temporal_error, toy_edit_metrics


def test_demo_writes_outputs_and_never_overwrites(tiny_folder, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--model", str(tiny_folder), "--frames", "2", "--steps", "2", "--out", str(out)]
    assert main(args) == 0
    for name in ("strip.png", "source.mp4", "edit.mp4", "truth.mp4", "reconstruction.mp4", "report.json",
                 "config.json", "provenance.json"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "a blue circle on grass" and "edit_psnr_vs_ground_truth_db" in report
    assert fz.FateZeroConfig.from_json(out / "config.json").blend_words == ["circle"]
    assert main(args) == 0
    assert (tmp_path / "demo-2" / "strip.png").exists()  # a second run goes to a new folder
    assert "wrote" in capsys.readouterr().out


def test_demo_rejects_bad_prompt_before_compute(tiny_folder, tmp_path):
    with pytest.raises(ValueError, match="--target"):
        main(["demo", "--model", str(tiny_folder), "--target", "a blue jeep on grass", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_new_output_folder(tmp_path):
    a = new_output_folder(tmp_path / "o")
    (a / "f").write_text("x")
    assert new_output_folder(tmp_path / "o").name == "o-2"


def test_metrics_on_exact_ground_truth():
    clip = fz.toyworld.clip("a red circle on grass", frames=4, seed=0)
    truth = clip.edited("a blue circle on grass")
    m = toy_edit_metrics(truth.frames, clip, truth)
    assert m["psnr"] > 90 and m["background_psnr"] > 90 and m["centroid_px"] < 1.0
    assert abs(m["flicker"]) < 1e-9 and m["accuracy"] == 1.0
    bad = toy_edit_metrics(clip.frames, clip, truth)  # "edit" that changed nothing
    assert bad["accuracy"] == 0.0 and bad["centroid_px"] == 32.0 and bad["background_psnr"] > 90
    noisy = truth.frames + np.random.default_rng(0).normal(0, 0.05, truth.frames.shape).astype(np.float32)
    assert flicker(np.clip(noisy, 0, 1), truth.frames) > 0.01
    assert centroid_error(truth.frames, truth.masks[:, 0], "blue") < 1.0
    assert background_psnr(clip.frames, clip.frames, clip.masks) > 90


def test_temporal_error_measures_motion_the_truth_does_not_have():
    clip = fz.toyworld.clip("a red circle on grass", frames=4, seed=0)
    truth = clip.edited("a blue circle on grass")
    assert temporal_error(truth.frames, truth.frames) == 0.0
    assert temporal_error(np.clip(truth.frames + 0.1, 0, 1), truth.frames) < 0.01  # a steady offset is no flicker
    jumpy = truth.frames.copy()
    jumpy[1::2] = truth.frames[0]  # every other frame jumps back to frame 0
    assert temporal_error(jumpy, truth.frames) > 0.005
    # the signed flicker can miss it: an edit frozen on frame 0 is "steadier than the truth" (negative flicker),
    # but every frame after the first differs from how the truth moves
    frozen = np.repeat(truth.frames[:1], 4, axis=0)
    assert flicker(frozen, truth.frames) < 0 < temporal_error(frozen, truth.frames)
    assert toy_edit_metrics(truth.frames, clip, truth)["temporal_error"] == 0.0
    assert temporal_error(truth.frames[:1], truth.frames[:1]) == 0.0
    with pytest.raises(ValueError, match="same"):
        temporal_error(truth.frames[:3], truth.frames)


def test_figures(tiny_pipe):
    clip = fz.toyworld.clip("a red circle on grass", frames=2, seed=0)
    inv = fz.invert(tiny_pipe, clip.frames, clip.caption, steps=2, progress=False)
    figs = [fz.viz.compare_clips({"a": clip.frames, "b": clip.frames}, title="t"),
            fz.viz.attention_over_frames(inv.store.cross_attention("circle", step=0), clip.frames, title="t"),
            fz.viz.mask_stages(fz.blend_mask(inv.store, ["circle"], step=0), truth=clip.masks[:, 0]),
            fz.viz.self_attention_figure(inv.store.self_attention((3, 3), frame=1, step=0), clip.frames, (3, 3), 1,
                                         (16, 16)),
            fz.viz.bar_table({"x": {"psnr": [1.0, 2.0]}, "y": {"psnr": [2.0]}}, "psnr")]
    for f in figs:
        assert f.axes and (f._suptitle is not None or f.axes[0].get_title())


def test_bench_cli_writes_table_and_json(tiny_folder, tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "--model", str(tiny_folder), "--fast", "--cases", "1", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "| FateZero (masked blending) |" in report and "## Claims" in report
    data = json.loads((out / "results.json").read_text())
    fast_variants = [k for k in fz.bench.VARIANTS if "threshold" not in k]  # --fast drops the threshold sweep
    assert data["suite"] == fz.bench.SUITE_VERSION and len(data["rows"]) == len(fast_variants) == 8


def test_edit_and_invert_cli_on_a_folder_of_frames(tiny_folder, tmp_path):
    clip = fz.toyworld.clip("a red circle on grass", frames=3, seed=0)
    fz.video.write(tmp_path / "frames", clip.frames)
    out = tmp_path / "edit"
    assert main(["edit", "--model", str(tiny_folder), "--video", str(tmp_path / "frames"), "--frames", "2",
                 "--size", "64", "--steps", "2", "--source", "a red circle on grass",
                 "--target", "a blue circle on grass", "--blend-words", "circle", "--out", str(out)]) == 0
    for name in ("edit.mp4", "side_by_side.png", "config.json", "masks.npy", "edit_frames"):
        assert (out / name).exists(), name
    assert (tmp_path / "frames" / "0000.png").exists()  # the input is untouched
    inv_out = tmp_path / "inv"
    assert main(["invert", "--model", str(tiny_folder), "--video", "toy:a red circle on grass", "--frames", "2",
                 "--steps", "2", "--source", "a red circle on grass", "--out", str(inv_out)]) == 0
    assert (inv_out / "inversion.pt").exists() and (inv_out / "reconstruction.mp4").exists()


# --- edit: every knob a flag, config files, presets, checks before the model, provenance ------------------------------
import dataclasses  # noqa: E402

from fatezero_lab.cli import build_parser, git_head, model_provenance, settle_request  # noqa: E402
from fatezero_lab.config import FateZeroConfig  # noqa: E402
from fatezero_lab.processors import TemporalConfig  # noqa: E402

TOY_ARGS = ["--video", "toy:a red circle on grass", "--source", "a red circle on grass",
            "--target", "a blue circle on grass"]


def _plan(argv):
    args = build_parser().parse_args(["edit", *argv])
    return settle_request(args, args.edit_parser)


def _edit_options():
    sub = next(a for a in build_parser()._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    return {s for a in sub.choices["edit"]._actions for s in a.option_strings}


def test_every_config_knob_has_a_flag():
    options = _edit_options()
    for f in dataclasses.fields(FateZeroConfig):
        assert "--" + f.name.replace("_", "-") in options, f.name
    for f in dataclasses.fields(TemporalConfig):
        if f.name != "enabled":  # --no-temporal
            assert "--temporal-" + f.name.replace("_", "-") in options, f.name
    for flag in ("--preset", "--config", "--reference-config", "--no-temporal", "--tune-steps", "--start", "--stride"):
        assert flag in options


def test_flags_parse_into_the_config():
    req = _plan(TOY_ARGS + [
        "--self-replace-steps", "0.1,0.6", "--cross-replace-steps", "0.7", "--reweight", "blue=2", "grass=0.5",
        "--blend-words", "circle", "--target-blend-words", "circle,grass", "--latent-blend", "--no-fuse-cross",
        "--mask-layers", "auto", "--blend-threshold", "none", "--cross-mode", "replace", "--guidance", "5",
        "--mask-dilation", "5", "--latent-blend-steps", "0.1:0.9", "--alignment-prompt", "a red circle on grass",
        "--temporal-reference", "first,-1", "--temporal-min-channels", "32", "--temporal-groupnorm", "frame"])
    c = req.config
    assert (c.self_replace_steps, c.cross_replace_steps, c.latent_blend_steps) == ((0.1, 0.6), (0.0, 0.7), (0.1, 0.9))
    assert c.reweight == {"blue": 2.0, "grass": 0.5} and c.blend_words == ["circle"]
    assert c.target_blend_words == ["circle", "grass"] and c.latent_blend and not c.fuse_cross
    assert c.mask_layers == "auto" and c.blend_threshold is None and c.cross_mode == "replace"
    assert (c.guidance, c.mask_dilation, c.alignment_prompt) == (5.0, 5, "a red circle on grass")
    assert req.temporal == TemporalConfig(reference=("first", -1), min_channels=32, groupnorm="frame")
    assert req.origins["guidance"] == "--guidance" and req.origins["self_fusion"] == "FateZeroConfig default"
    assert (req.model, req.steps, req.frames) == ("toy", 50, 8)
    plain = _plan(TOY_ARGS + ["--reweight", "--no-temporal"])  # a list flag with no value clears it
    assert plain.config == FateZeroConfig() and not plain.temporal.enabled


def test_config_files_ours_and_the_authors(tmp_path):
    ours = tmp_path / "mine.json"
    ours.write_text(json.dumps({"guidance": 3.0, "self_replace_steps": [0.1, 0.5], "blend_words": ["circle"]}))
    req = _plan(TOY_ARGS + ["--config", str(ours), "--guidance", "4"])  # flags beat the file, the file the defaults
    assert (req.config.guidance, req.config.self_replace_steps, req.config.blend_words) == (4.0, (0.1, 0.5), ["circle"])
    assert req.origins["self_replace_steps"] == f"--config {ours}" and req.origins["guidance"] == "--guidance"
    full = tmp_path / "full.yaml"
    full.write_text(FateZeroConfig(reweight={"blue": 3.0}, cross_mode="refine").to_yaml())  # ours, in YAML
    assert _plan(TOY_ARGS + ["--config", str(full)]).config == FateZeroConfig(reweight={"blue": 3.0},
                                                                              cross_mode="refine")
    # an authors' YAML passed to --config is detected and read like --reference-config (here: a packaged preset file)
    frames = tmp_path / "frames"
    fz.video.write(frames, fz.toyworld.clip("a red circle on grass", frames=8, seed=0).frames)
    authors = fz.presets.path("jeep_watercolor")
    req = _plan(["--config", str(authors), "--config-index", "1", "--video", str(frames)])
    assert req.config == fz.presets.load("jeep_watercolor").config and req.steps == 50
    assert req.model == "CompVis/stable-diffusion-v1-4" and req.target.startswith("watercolor painting")


@pytest.fixture
def no_model(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(fz, "load_pipeline", boom)


@pytest.mark.parametrize("extra, message", [
    (["--video", "{tmp}/missing.mp4"], "does not exist"),
    (["--video", "{tmp}/empty"], "holds no frames"),
    (["--video", "{tmp}/notes.txt"], "unsupported file type"),
    (["--source", "  "], "--source is empty"),
    (["--target", ""], "--target is empty"),
    (["--steps", "0"], "--steps: expected an integer >= 1"),
    (["--frames", "-2"], "--frames: expected an integer >= 1"),
    (["--size", "30"], "multiple of 8"),
    (["--seed", "-1"], "--seed: expected an integer >= 0"),
    (["--guidance", "99"], "guidance must be a number in [0, 50]"),
    (["--guidance", "99"], "(set by --guidance)"),
    (["--self-replace-steps", "0.9,0.1"], "self_replace_steps must satisfy"),
    (["--cross-replace-steps", "a,b,c"], "start,end pair"),
    (["--reweight", "blue"], "WORD=FACTOR"),
    (["--reweight", "green=2"], "not in the target prompt"),
    (["--blend-words", "square"], "not in the source prompt"),
    (["--cross-mode", "sideways"], "cross_mode must be one of"),
    (["--mask-dilation", "2"], "mask_dilation must be an odd integer"),
    (["--latent-blend"], "latent_blend needs blend_words"),
    (["--temporal-reference", "sideways"], "invalid temporal settings"),
    (["--model", "{tmp}/no_model_here"], "--model:"),
    (["--out", "{tmp}/notes.txt"], "is a file"),
    (["--config", "{tmp}/missing.json"], "does not exist"),
    (["--config", "{tmp}/unknown.json"], "unknown FateZeroConfig field(s) ['guidence']"),
    (["--preset", "jeep_watercolour"], "Did you mean 'jeep_watercolor'"),
    (["--preset", "jeep_watercolor", "--reference-config", "{tmp}/notes.txt"], "choose one"),
    (["--preset", "jeep_watercolor", "--reference-index", "1"], "a preset is one entry already"),
    (["--tune-lr", "0"], "--tune-lr: expected a positive number"),
    (["--video", "{tmp}/three", "--frames", "2", "--stride", "3"], "has 3 frames; 2 frames from frame 0, every 3"),
])
def test_edit_rejects_bad_input_before_loading_a_model(tmp_path, capsys, no_model, extra, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    fz.video.write(tmp_path / "three", np.zeros((3, 8, 8, 3), np.float32))
    (tmp_path / "unknown.json").write_text(json.dumps({"guidence": 7.5}))
    argv = TOY_ARGS + ["--out", str(tmp_path / "out")] + [a.format(tmp=tmp_path) for a in extra]
    with pytest.raises(SystemExit) as e:
        main(["edit", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_preset_own_clip_and_offline_fetch_fail_before_the_model(tmp_path, capsys, monkeypatch, no_model):
    monkeypatch.chdir(tmp_path)

    def offline(name, **k):
        raise fz.data.ClipDownloadError(f"could not download {name!r} (offline?); manual recipe: ...")

    monkeypatch.setattr(fz.data, "fetch", offline)
    for preset, clip in (("jeep_watercolor", "car-turn"), ("cat_tiger", "cat_tiger_leopard_grass")):
        with pytest.raises(SystemExit) as e:  # every preset's clip is fetched (the authors' copy), before the model
            main(["edit", "--preset", preset])
        err = capsys.readouterr().err
        assert e.value.code == 2 and "manual recipe" in err and repr(clip) in err
    monkeypatch.setattr(fz.data, "list_clips", lambda: ["car-turn"])  # a manifest without the preset's clip
    with pytest.raises(SystemExit) as e:
        main(["edit", "--preset", "cat_tiger"])
    assert e.value.code == 2 and "manifest does not list" in capsys.readouterr().err


def test_preset_without_video_fetches_its_clip_then_loads_its_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./ckpt or ./data of the authors here
    events = []

    def fake_fetch(name, **kw):
        events.append(("fetch", name, kw["start"], kw["stride"], kw["n_frames"], kw["size"]))
        return np.zeros((kw["n_frames"], kw["size"], kw["size"], 3), np.float32)

    class Loaded(Exception):
        pass

    def fake_load(name, **kw):
        events.append(("load", name))
        raise Loaded

    monkeypatch.setattr(fz.data, "fetch", fake_fetch)
    monkeypatch.setattr(fz, "load_pipeline", fake_load)
    with pytest.raises(Loaded):
        main(["edit", "--preset", "jeep_watercolor", "--out", str(tmp_path / "out")])
    assert events == [("fetch", "car-turn", 0, 1, 8, 512), ("load", "CompVis/stable-diffusion-v1-4")]
    events.clear()
    with pytest.raises(Loaded):  # a shape preset: the base model of the tuning
        main(["edit", "--preset", "swan_duck", "--frames", "2", "--size", "64", "--out", str(tmp_path / "out")])
    assert events == [("fetch", "swan_swarov", 0, 1, 2, 64), ("load", fz.presets.load("swan_duck").tuning.base_model)]


def test_preset_edit_with_tuning_on_a_tiny_model_writes_provenance(tiny_folder, tmp_path, capsys):
    clip = fz.toyworld.clip("a red circle on grass", frames=4, seed=0)
    fz.video.write(tmp_path / "clip.mp4", clip.frames, fps=12)
    out = tmp_path / "edit"
    argv = ["edit", "--preset", "jeep_posche", "--model", str(tiny_folder), "--video", str(tmp_path / "clip.mp4"),
            "--source", "a red circle on grass", "--target", "a blue circle on grass", "--blend-words", "circle",
            "--frames", "2", "--steps", "2", "--size", "64", "--tune-steps", "1", "--seed", "3", "--out", str(out)]
    assert main(argv) == 0
    for name in ("edit.mp4", "source.mp4", "side_by_side.png", "config.json", "prompts.json", "provenance.json"):
        assert (out / name).exists(), name
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # the temporary folder was moved into place
    used = FateZeroConfig.from_json(out / "config.json")
    preset = fz.presets.load("jeep_posche")
    assert used.blend_words == ["circle"] and used.self_replace_steps == preset.config.self_replace_steps
    assert used.alignment_prompt is None  # the preset's caption was replaced by --source
    prov = json.loads((out / "provenance.json").read_text())
    assert "edit --preset jeep_posche --model" in prov["command"]
    assert prov["argv"] == argv and prov["command"].split()[1:3] == ["-m", "fatezero_lab"]
    for lib in ("torch", "diffusers", "transformers", "fatezero_lab", "python"):
        assert prov["versions"][lib], lib
    assert (prov["frames"], prov["size"], prov["steps"], prov["seed"]) == (2, [64, 64], 2, 3)
    assert prov["source_fps"] == pytest.approx(12.0) and prov["output_fps"] == pytest.approx(12.0)
    assert prov["model"]["id"] == str(tiny_folder) and prov["model"]["source"] == "local folder"
    assert prov["model"]["revision"] is None and len(prov["model"]["unet_weights_sha256"]) == 64
    assert prov["preset"]["name"] == "jeep_posche" and prov["tuning"]["steps"] == 1
    assert prov["setting_origins"]["blend_words"] == "--blend-words"
    assert prov["setting_origins"]["cross_replace_steps"] == "preset jeep_posche"
    assert FateZeroConfig.from_dict(prov["config"]) == used and prov["temporal"]["reference"] == [-1, "first"]
    assert "provenance.json" in prov["outputs"] and "edit.mp4" in prov["outputs"]
    assert "alignment_prompt" in capsys.readouterr().out  # the note saying the preset's caption was dropped


def test_provenance_of_plain_edit_and_invert(tiny_folder, tmp_path):
    clip = fz.toyworld.clip("a red circle on grass", frames=3, seed=0)
    fz.video.write(tmp_path / "frames", clip.frames)
    out = tmp_path / "edit"
    assert main(["edit", "--model", str(tiny_folder), "--video", str(tmp_path / "frames"), "--frames", "2",
                 "--steps", "2", "--source", "a red circle on grass", "--target", "a blue circle on grass",
                 "--stride", "1", "--start", "1", "--out", str(out)]) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["source_fps"] is None and (prov["start"], prov["stride"]) == (1, 1)  # a folder of frames has no rate
    assert prov["preset"] is None and prov["size"] == [64, 64]  # the tiny model's own size
    inv = tmp_path / "inv"
    assert main(["invert", "--model", str(tiny_folder), "--video", "toy:a red circle on grass", "--frames", "2",
                 "--steps", "2", "--source", "a red circle on grass", "--out", str(inv)]) == 0
    prov = json.loads((inv / "provenance.json").read_text())
    assert prov["frames"] == 2 and "reconstruction_psnr_db" in prov and prov["video"].startswith("toy:")


def test_model_revision_from_a_git_clone_or_a_hub_snapshot(tiny_folder, tmp_path):
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    clone = tmp_path / "stable-diffusion-v1-4"
    shutil.copytree(tiny_folder, clone)
    (clone / ".git" / "refs" / "heads").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (clone / ".git" / "packed-refs").write_text(f"# pack-refs\n{commit} refs/heads/main\n")
    assert git_head(clone) == commit
    assert model_provenance(str(clone))["revision"] == commit
    assert model_provenance(str(clone))["revision_from"] == "git checkout"
    snap = tmp_path / "models--x--y" / "snapshots" / commit
    shutil.copytree(tiny_folder, snap)
    assert model_provenance(str(snap))["revision"] == commit
    assert model_provenance("toy")["source"] == "toy" and git_head(tmp_path) is None


def test_presets_subcommand(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "jeep_watercolor" in out and "edit --preset NAME" in out
    assert main(["presets", "jeep_posche"]) == 0
    assert "tuning" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["presets", "nope"])
    assert e.value.code == 2 and "Available presets" in capsys.readouterr().err


def test_dilate_grows_a_mask_by_its_margin_in_four_neighbour_steps():
    from fatezero_lab.metrics import dilate

    m = np.zeros((1, 7, 7), bool)
    m[0, 3, 3] = True
    assert dilate(m, 0).sum() == 1 and dilate(m, 1).sum() == 5 and dilate(m, 2).sum() == 13  # diamonds
    assert dilate(m, 2)[0, 1, 3] and not dilate(m, 2)[0, 1, 2]


# --- errors name their flag through the error's .field; help is the field's metadata ----------------------------------
class _FieldError(ValueError):
    """An error of the library as the CLI sees it: a ValueError whose message names no field, with ``.field``."""

    def __init__(self, field):
        super().__init__("a value the validator refuses")
        self.field = field


def test_a_config_error_names_the_flag_of_its_field(tmp_path, capsys, no_model, monkeypatch):
    """The CLI maps a settings error to the flag (or file, or preset) that set the value from the error's ``.field``
    alone: here the message names no field at all."""
    real = FateZeroConfig.replace

    def refuse(self, **changes):
        if "mask_dilation" in changes:
            raise _FieldError("mask_dilation")
        return real(self, **changes)

    monkeypatch.setattr(FateZeroConfig, "replace", refuse)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main(["edit", *TOY_ARGS, "--mask-dilation", "5", "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "a value the validator refuses (set by --mask-dilation)" in err and not out.exists()
    ours = tmp_path / "mine.json"
    ours.write_text(json.dumps({"mask_dilation": 5}))
    with pytest.raises(SystemExit):
        main(["edit", *TOY_ARGS, "--config", str(ours), "--out", str(out)])
    assert f"(set by --config {ours})" in capsys.readouterr().err

    def refuse_temporal(self):
        raise _FieldError("temporal.groupnorm")

    monkeypatch.setattr(TemporalConfig, "__post_init__", refuse_temporal)
    with pytest.raises(SystemExit) as e:
        main(["edit", *TOY_ARGS, "--temporal-groupnorm", "frame", "--out", str(out)])
    assert e.value.code == 2 and "(--temporal-groupnorm)" in capsys.readouterr().err


def test_the_libraries_planner_checks_the_edit_and_its_error_names_the_flag(tiny_folder, tmp_path, capsys,
                                                                            monkeypatch):
    """After the inversion the CLI runs the library's one planner (editing.plan_edit) before the edit; its errors
    name their flag too, and nothing is written."""
    import fatezero_lab.editing

    seen = []

    def planner(pipe, inv, target, config=None, mask=None, **overrides):
        seen.append((target, config.blend_words))
        raise _FieldError("blend_words")

    monkeypatch.setattr(fatezero_lab.editing, "plan_edit", planner)
    out = tmp_path / "edit"
    with pytest.raises(SystemExit) as e:
        main(["edit", "--model", str(tiny_folder), *TOY_ARGS, "--frames", "2", "--steps", "2", "--blend-words",
              "circle", "--out", str(out)])
    assert e.value.code == 2 and "(set by --blend-words)" in capsys.readouterr().err
    assert seen == [("a blue circle on grass", ["circle"])] and not out.exists()


def test_flag_help_is_the_fields_metadata():
    from fatezero_lab.cli import flag_help
    from fatezero_lab.cli.flags import add_dataclass_flags

    @dataclasses.dataclass
    class Knobs:
        speed: float = dataclasses.field(default=1.0, metadata={"help": "how fast, in units per step"})  # not this

    assert flag_help(Knobs, "speed") == "how fast, in units per step"
    parser = __import__("argparse").ArgumentParser()
    assert add_dataclass_flags(parser, Knobs) == {"speed": "--speed"}
    assert "how fast, in units per step [Knobs.speed]" in " ".join(parser.format_help().split())
    # the real configs: every field with metadata help gets it as its flag's help (all of them, from issue 29 on)
    for cls in (FateZeroConfig, TemporalConfig):
        for f in dataclasses.fields(cls):
            if "help" in f.metadata:
                assert flag_help(cls, f.name) == f.metadata["help"], f.name
            else:
                assert flag_help(cls, f.name), f.name  # interim: the comment beside the field
