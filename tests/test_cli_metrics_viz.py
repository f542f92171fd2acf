"""The main job (CLI demo), ground-truth metrics and figures."""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import fatezero_lab as fz
from fatezero_lab.__main__ import main, new_output_folder
from fatezero_lab.metrics import background_psnr, centroid_error, flicker, toy_edit_metrics


def test_demo_writes_outputs_and_never_overwrites(tiny_folder, tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--model", str(tiny_folder), "--frames", "2", "--steps", "2", "--out", str(out)]
    assert main(args) == 0
    for name in ("strip.png", "source.mp4", "edit.mp4", "truth.mp4", "reconstruction.mp4", "report.json",
                 "config.json"):
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
    assert data["suite"] == fz.bench.SUITE_VERSION and len(data["rows"]) == len(fast_variants) == 7


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
