"""fatezero_lab.lab: the one mode switch of the notebooks (toy / sd), the SD stand-in, examples, scores and the gallery.

Offline: sd mode runs on the tiny random-weight stand-in, and its clip (the paper's teaser) is served from a cache
folder filled with the authors' frames from the shared reference folder (the tests that need it skip without it).
"""

import shutil
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import fatezero_lab as fz
from fatezero_lab import data
from fatezero_lab import lab as fzlab

SHARED = next((d for d in (Path(__file__).resolve().parents[1] / "shared/reference",
                           Path(__file__).resolve().parents[2] / "shared/reference",
                           Path("/work/shared/reference")) if d.is_dir()), Path("/work/shared/reference"))
TEASER = SHARED / "FateZero" / "data" / "teaser_car-turn"
needs_teaser = pytest.mark.skipif(not TEASER.is_dir(), reason=f"the shared teaser frames ({TEASER}) are not here")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, no mode variables from the caller's shell, no GPU, not in Colab, outputs in tmp."""
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    for name in (fzlab.MODE_ENV, fzlab.STANDIN_ENV, fzlab.FAST_ENV, fzlab.PROFILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(fzlab.OUT_ENV, str(tmp_path / "out"))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "empty_cache"))
    monkeypatch.setattr(fzlab, "_cuda", lambda: False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


@pytest.fixture
def teaser_cache(tmp_path, monkeypatch):
    """A clip cache holding 'car-turn' (the authors' frames), as scripts/test.sh prepares it for the notebooks."""
    if not TEASER.is_dir():
        pytest.skip(f"the shared teaser frames ({TEASER}) are not here")
    cache = tmp_path / "cache"
    shutil.copytree(TEASER, cache / "car-turn")
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    return cache


@pytest.fixture(scope="module")
def standin():
    return fzlab.standin_pipeline()


@pytest.fixture
def sd_lab(teaser_cache, standin, monkeypatch):
    monkeypatch.setattr(fzlab, "standin_pipeline", lambda dtype=None: standin)  # built once per module
    lab = fzlab.setup("sd", fast=True, standin=True, quiet=True)
    lab.steps = 3
    return lab


@pytest.fixture(scope="module")
def toy_lab():
    lab = fzlab.setup("toy", fast=True, quiet=True)
    lab.steps = 3
    return lab


# --- the switch --------------------------------------------------------------------------------------------------------
def test_auto_without_cuda_is_toy_and_says_why(capsys):
    lab = fzlab.setup(fast=True)
    assert lab.mode == "toy" and lab.has_ground_truth and "no CUDA" in lab.why
    assert (lab.frames, lab.steps, lab.size) == (4, 10, 64)
    assert capsys.readouterr().out == ""  # outside Colab: nothing to switch


def test_env_picks_the_mode_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv(fzlab.MODE_ENV, "toy")
    monkeypatch.setenv(fzlab.FAST_ENV, "1")
    lab = fzlab.setup()
    assert lab.mode == "toy" and lab.fast and "FATEZERO_LAB_MODE" in lab.why
    monkeypatch.setenv(fzlab.MODE_ENV, "gpu")
    with pytest.raises(ValueError, match="mode must be one of"):
        fzlab.setup()
    with pytest.raises(ValueError, match="'auto', 'toy', 'sd'"):
        fzlab.setup("cuda")


def test_colab_without_gpu_says_how_to_switch(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    lab = fzlab.setup(fast=True)
    out = capsys.readouterr().out
    assert lab.mode == "toy" and "Runtime > Change runtime type" in out and "T4 GPU" in out
    assert "Colab" in lab.why
    fzlab.setup("toy", fast=True)  # asked for: no note
    assert capsys.readouterr().out == ""


def test_auto_sd_falls_back_to_toy_loudly_explicit_sd_raises(monkeypatch, capsys):
    """CUDA present but the clip cannot be fetched (offline, empty cache): auto says why and runs the toy; an explicit
    sd raises the real error."""
    monkeypatch.setattr(fzlab, "_cuda", lambda: True)
    monkeypatch.setattr(fzlab, "standin_pipeline", lambda dtype=None: fz.load_pipeline("toy"))  # no SD download
    lab = fzlab.setup(fast=True, standin=True)
    assert lab.mode == "toy" and "fell back" in lab.why
    assert "could not start" in capsys.readouterr().out
    with pytest.raises(data.ClipDownloadError, match="car-turn"):
        fzlab.setup("sd", fast=True, standin=True)


# --- the stand-in ------------------------------------------------------------------------------------------------------
def test_standin_is_a_small_sd_layout_pipeline(standin):
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )

    p = standin
    assert isinstance(p.diffusers, StableDiffusionPipeline) and isinstance(p.unet, UNet2DConditionModel)
    assert isinstance(p.vae, AutoencoderKL) and isinstance(p.scheduler, DDIMScheduler)
    assert p.unet.config.down_block_types == ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",)
    assert p.unet.config.up_block_types == ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3
    assert p.scheduler.config.steps_offset == 1 and p.resolution == (128, 128)
    assert p.tokenizer.model_max_length == 77 and not p.is_toy and p.defaults.source == "reference"
    assert sum(t.numel() for t in p.unet.parameters()) < 8_000_000  # seconds per notebook on a CPU (SD: 860M)
    # every preset prompt tokenizes word by word; unknown words fall back to pieces instead of failing
    for name in fz.presets.names():
        pr = fz.presets.load(name)
        for prompt in (pr.source_prompt, pr.target_prompt):
            assert p.tokenizer.unk_token not in p.tokenizer.tokenize(prompt), prompt
    assert len(p.tokenizer.tokenize("xylophone")) > 1


def test_shipped_standin_tokenizer_is_current_and_the_same_in_every_process():
    """The stand-in's tokenizer is learnt once and shipped (the BPE learner orders tied merges differently per
    process): every word of the presets and the toy world is one token of it, and a fresh process gets the same ids."""
    import json
    import subprocess
    import sys

    tok = fzlab.standin_tokenizer()
    assert len(tok) == fzlab.STANDIN_VOCAB and tok.model_max_length == 77
    split = [w for w in fzlab._standin_words() if len(tok(w, add_special_tokens=False).input_ids) != 1]
    assert not split, (f"{split[:5]} are not single tokens of the shipped stand-in tokenizer: the presets changed; "
                       f"rerun fatezero_lab.lab.learn_standin_tokenizer() and commit fatezero_lab/standin_tokenizer")
    code = ("import json, fatezero_lab.lab as l; t = l.standin_tokenizer(); "
            "print(json.dumps(t('a silver jeep driving down a curvy road').input_ids))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(other.strip().splitlines()[-1]) == tok("a silver jeep driving down a curvy road").input_ids


# --- sd mode -----------------------------------------------------------------------------------------------------------
def test_sd_lab_runs_the_papers_teaser(sd_lab):
    lab = sd_lab
    p = fz.presets.load("jeep_watercolor")
    assert lab.mode == "sd" and lab.standin and not lab.has_ground_truth
    assert (lab.source_prompt, lab.target_prompt) == (p.source_prompt, p.target_prompt)
    assert lab.clip.shape == (4, 128, 128, 3) and (lab.frames, lab.size) == (4, 128)
    text = repr(lab)
    for piece in ("mode='sd'", "stand-in", "car-turn", "jeep_watercolor", "ground truth: no", "FATEZERO_LAB_MODE"):
        assert piece in text
    ex = lab.example("a red circle on grass", "a blue circle on grass", blend_words=["circle"])  # toy args unused
    assert ex.preset.name == "jeep_watercolor" and ex.truth is None and ex.words == ["jeep", "road"]
    assert ex.temporal.reference == ("mid",) and ex.temporal.min_channels == 64  # 640 at a tenth of SD's widths
    assert "no ground truth" in ex.missing and ex.main_metric == "clip_t" and ex.object_mask() is None
    assert list(ex.clips({"edit": ex.frames})) == ["source", "edit"]
    inv = fz.invert(lab.pipe, ex.frames, ex.source, steps=lab.steps, temporal=ex.temporal, progress=False)
    out = fz.edit(lab.pipe, inv, ex.target, ex.config, progress=False)
    s = ex.scores(out.frames)
    assert set(s) == set(fzlab.CLIP_METRICS) and all(np.isfinite(v) for v in s.values())
    name, area = ex.mask_quality(np.ones((4, 16, 16), bool))
    assert name.startswith("area") and area == 1.0


def test_sd_example_of_another_preset_and_variants(sd_lab):
    ex = sd_lab.example(preset="jeep_posche")
    assert ex.blend_words == ["silver", "jeep"] and ex.frames is sd_lab.clip  # same clip, not fetched again
    rows = sd_lab.run_variants(ex, {"masked": {"blend": True}, "per frame": {"temporal": False},
                                    "latent blend, no words": {"latent_blend": True}})
    assert list(rows) == ["masked", "per frame", "latent blend, no words"]
    assert all(set(r) == set(fzlab.CLIP_METRICS) for r in rows.values())
    assert sd_lab.tuning == {"steps": 20, "lr": fz.presets.load("jeep_posche").tuning.lr}


def test_clip_metrics_missing_are_nan_with_a_note(sd_lab, monkeypatch, capsys):
    def gone(device):
        raise OSError("openai/clip-vit-base-patch32 is not in the local cache (offline)")

    sd_lab.standin = False  # as with the real download
    monkeypatch.setattr(fzlab, "_load_clip", gone)
    s = sd_lab.clip_scores(sd_lab.clip, "a", "b")
    assert all(np.isnan(v) for v in s.values()) and "could not be loaded" in capsys.readouterr().out
    sd_lab.clip_scores(sd_lab.clip, "a", "b")
    assert capsys.readouterr().out == ""  # said once


def test_gallery_sd_with_own_clip_and_prompts(sd_lab, tmp_path):
    lab = sd_lab
    assert lab.gallery_choices() == fz.presets.names()
    info = lab.gallery_info("jeep_posche")
    assert info["needs_tuning"] and info["blend_words"] == ["silver", "jeep"] and "car-turn" in info["description"]
    clip = fz.video.write(tmp_path / "mine.mp4", np.random.default_rng(0).random((12, 96, 160, 3)), fps=24)
    ex = lab.gallery_example("jeep_watercolor", "a silver jeep on a road", "a red jeep on a road", video=clip,
                             start=2, stride=2)
    assert ex.frames.shape == (4, 128, 128, 3) and ex.frames.fps == pytest.approx(12)
    assert ex.config.reweight == {} and ex.source == "a silver jeep on a road"  # 'watercolor' is not in the target
    ex = lab.gallery_example("jeep_posche", target="a Porsche car driving down a curvy road in the countryside",
                             blend_words=["jeep"])
    assert ex.blend_words == ["jeep"]
    path = lab.save(ex.frames, "jeep_posche: mine!", fps=8)
    assert path.name == "jeep_posche_mine.mp4" and path.parent == Path(fzlab.os.environ[fzlab.OUT_ENV])
    with pytest.raises(ValueError, match="unknown gallery choice"):
        lab.gallery_example("jeep_cubism")
    with pytest.raises(data.ClipDownloadError, match="cat_tiger_leopard_grass"):
        lab.gallery_example("cat_tiger")  # the authors' clip, fetched like the teaser: offline here


def _record_fetches(monkeypatch):
    calls = []

    def fake_fetch(name, **kw):
        calls.append((name, kw["n_frames"], kw["start"], kw["stride"]))
        return np.zeros((kw["n_frames"], kw["size"], kw["size"], 3), np.float32)

    monkeypatch.setattr(data, "fetch", fake_fetch)
    return calls


def test_gallery_runs_each_preset_at_its_own_frames_steps_and_tuning(teaser_cache, standin, monkeypatch, capsys):
    """The gallery's examples carry their preset's own frames (the clip is fetched at them), sampling, DDIM steps
    and tuning — the notebook runs ``steps=item.steps`` and ``**item.tuning`` — not the default preset's."""
    monkeypatch.setattr(fzlab, "standin_pipeline", lambda dtype=None: standin)
    lab = fzlab.setup("sd", fast=False, standin=True, quiet=True, profile="paper")  # no caps
    assert (lab.frames, lab.steps) == (8, 50) and lab.clip.shape[0] == 8  # jeep_watercolor's own
    calls = _record_fetches(monkeypatch)
    ex = lab.gallery_example("train_shinkai")
    assert calls[-1] == ("train", 32, 0, 7) and ex.frames.shape[0] == 32 and ex.steps == 50 and ex.note == ""
    ex = lab.gallery_example("jeep_watercolor_10_steps")
    assert ex.steps == 10 and ex.frames is lab.clip  # the default's clip and frames, its own steps
    ex = lab.gallery_example("swan_duck")
    assert calls[-1] == ("swan_swarov", 8, 0, 1) and ex.steps == 30 and ex.tuning == {"steps": 150, "lr": 1e-5}
    assert lab.gallery_example("man_batman").tuning == {"steps": 250, "lr": 1e-5}
    assert lab.gallery_example("lily_monet") is not None and calls[-1] == ("red_water_lily_opening", 8, 1, 20)
    info = lab.gallery_info("swan_duck")
    assert (info["frames"], info["steps"], info["note"]) == (8, 30, "") and "150 tuning steps" in info["description"]
    assert lab.tuning == {"steps": 200, "lr": 1e-5}  # the shape lesson's: jeep_posche's own
    capsys.readouterr()

    # caps (a GPU profile's) lower them and say so
    capped = fzlab.SDLab.setup("jeep_watercolor", standin=True, max_frames=8, max_steps=20, max_tuning_steps=100,
                               caps_why="the t4 profile")
    assert (capped.frames, capped.steps) == (8, 20)
    ex = capped.gallery_example("train_shinkai")
    assert calls[-1] == ("train", 8, 0, 7) and ex.steps == 20 and ex.tuning == capped.tuning
    assert ex.note.startswith("the t4 profile caps preset 'train_shinkai': 8 of its 32 frames")
    assert ex.note in capsys.readouterr().out and "capped: the t4 profile" in repr(ex)
    assert capped.gallery_example("swan_duck").tuning == {"steps": 100, "lr": 1e-5}


def test_fast_mode_caps_every_preset(sd_lab, monkeypatch, capsys):
    calls = _record_fetches(monkeypatch)
    ex = sd_lab.gallery_example("swan_duck")
    assert calls == [("swan_swarov", 4, 0, 1)] and (ex.steps, ex.tuning) == (10, {"steps": 20, "lr": 1e-5})
    assert "the 'quick' profile caps preset 'swan_duck'" in capsys.readouterr().out
    assert sd_lab.gallery_example("jeep_watercolor_10_steps").steps == 10  # already within the cap


def test_paper_vs_yours(sd_lab, toy_lab, monkeypatch, capsys):
    ex = sd_lab.example()
    fig = fz.viz.paper_vs_yours(ex, ex.frames)  # offline here: says why, shows the source and yours
    assert "the paper's result for preset 'jeep_watercolor' is not shown" in capsys.readouterr().out
    assert fig is not None and len(fig.axes) == 2 * len(ex.frames)
    theirs = np.zeros((8, 32, 32, 3), np.float32)
    monkeypatch.setattr(data, "fetch_result", lambda name, **kw: theirs if name == "jeep_watercolor" else None)
    fig = fz.viz.paper_vs_yours(ex, ex.frames)
    assert len(fig.axes) == 3 * len(ex.frames) and "the paper's result / yours" in fig._suptitle.get_text()
    assert [fig.axes[i * len(ex.frames)].get_ylabel() for i in range(3)] == ["source", "the paper's result", "yours"]
    assert fz.viz.paper_vs_yours(toy_lab.example(), ex.frames) is None  # toy: no paper's result


# --- toy mode ----------------------------------------------------------------------------------------------------------
def test_toy_examples_have_ground_truth(toy_lab):
    lab = toy_lab
    assert "mode='toy'" in repr(lab) and "ground truth: yes" in repr(lab)
    ex = lab.example("a red square and a blue circle on grass", "a red square and a yellow circle on grass",
                     blend_words=["circle"], motion="up", seed=4)
    assert ex.has_ground_truth and ex.missing == "" and ex.main_metric == "psnr" and ex.temporal is True
    assert list(ex.clips({"edit": ex.frames})) == ["source", "edit", "ground truth"]
    assert ex.object_mask("circle").shape == (4, 64, 64) and ex.object_mask("circle", size=16).shape == (4, 16, 16)
    assert ex.object_mask("grass") is None
    name, value = ex.mask_quality(ex.object_mask("circle", size=16), "circle")
    assert name.startswith("IoU") and value == 1.0
    s = ex.scores(ex.truth.frames)
    assert s["psnr"] > 40 and s["accuracy"] == 1.0  # the truth scores perfectly against itself
    assert lab.example("a yellow square on wood").target == "a yellow square on wood"  # invert-only lessons
    assert lab.example().source == "a red circle on grass"
    z = lab.noise(2)
    assert tuple(z.shape) == (2, 4, 16, 16)


def test_toy_gallery(toy_lab, tmp_path):
    lab = toy_lab
    choices = lab.gallery_choices()
    assert len(choices) == len(fz.bench.SUITE) and choices[0].startswith("toy 0: ")
    assert lab.gallery_info(choices[7])["needs_tuning"]  # the shape cases
    ex = lab.gallery_example(choices[0])
    assert ex.has_ground_truth and ex.target == fz.bench.SUITE[0].target
    frames = tmp_path / "frames"
    fz.video.write(frames, np.random.default_rng(1).random((6, 80, 80, 3)))
    own = lab.gallery_example(choices[0], video=frames)
    assert not own.has_ground_truth and own.frames.shape == (4, 64, 64, 3)


# --- one protocol, two labs; one reading of a variant -------------------------------------------------------------------
def test_toy_and_sd_labs_are_the_same_protocol(toy_lab, sd_lab):
    """Both labs are complete Lab subclasses (nothing abstract left), built complete by setup(), with the same public
    names; the mode is the class, not a field."""
    import inspect

    assert fzlab.Lab.__abstractmethods__ >= {"example", "tuning", "gallery_choices", "gallery_info", "gallery_example"}
    with pytest.raises(TypeError, match="abstract"):
        fzlab.Lab(pipe=toy_lab.pipe, frames=1, steps=1, size=64)
    for lab, cls in ((toy_lab, fzlab.ToyLab), (sd_lab, fzlab.SDLab)):
        assert type(lab) is cls and isinstance(lab, fzlab.Lab) and not cls.__abstractmethods__
        assert fzlab.LABS[lab.mode] is cls and lab.example() is lab.example()  # the default example, built once
        assert lab.clip is lab.example().frames and lab.source_prompt == lab.example().source
    public = lambda c: {n for n, _ in inspect.getmembers(c) if not n.startswith("_")}  # noqa: E731
    assert public(fzlab.ToyLab) == public(fzlab.SDLab)
    assert public(fzlab.ToyLab) - public(fzlab.Lab) == {"mode", "has_ground_truth", "setup"}  # the class's own
    for name in ("mode", "has_ground_truth", "pipe", "frames", "steps", "size", "clip", "source_prompt",
                 "target_prompt", "blend_words", "example", "run_variants", "tuning", "gallery_example", "noise"):
        assert hasattr(toy_lab, name) and hasattr(sd_lab, name), name


def test_one_reading_of_a_variant_for_the_benchmark_and_the_lab(toy_lab, monkeypatch):
    """bench.run_suite and Lab.run_variants read fz.bench.VARIANTS through bench.variant_edit: on the same case
    (the lab's example declaring the suite's latent-blend word) they invert and edit with the same arguments."""
    import fatezero_lab.editing
    import fatezero_lab.inversion

    calls = {}

    class Stop(Exception):
        pass

    def fake_invert(pipe, frames, prompt, steps=None, temporal=True, **kw):
        calls.setdefault("invert", []).append(temporal)
        return ("inversion", temporal)

    def fake_edit(pipe, inv, target, config=None, **kw):
        kw.pop("progress", None)
        kw.pop("guidance", None)
        calls.setdefault("edit", []).append((inv[1], target, {k: kw[k] for k in sorted(kw)}))
        out = types.SimpleNamespace(frames=np.zeros((toy_lab.frames, 64, 64, 3), np.float32))
        return out

    for module in (fz, fatezero_lab.editing, fatezero_lab.inversion):
        monkeypatch.setattr(module, "invert", fake_invert, raising=False)
        monkeypatch.setattr(module, "edit", fake_edit, raising=False)
    monkeypatch.setattr(fz.metrics, "toy_edit_metrics", lambda *a, **k: {})
    case = fz.bench.SUITE[0]
    fz.bench.run_suite(toy_lab.pipe, [case], fz.bench.VARIANTS, frames=toy_lab.frames, steps=2, progress=False)
    suite = calls.pop("edit")
    ex = toy_lab.example(case.source, case.target, [case.blend])
    ex = __import__("dataclasses").replace(ex, config=ex.config.replace(target_blend_words=["blue"]))
    toy_lab.run_variants(ex, fz.bench.VARIANTS)
    assert calls["edit"] == suite and len(suite) == len(fz.bench.VARIANTS)
    by_name = dict(zip(fz.bench.VARIANTS, suite))
    assert by_name["FateZero (masked blending)"][2]["blend_words"] == ["circle"]
    assert by_name["plain DDIM edit (no fusion)"][2]["blend_words"] == []
    assert by_name["FateZero + latent blend"][2]["target_blend_words"] == ["blue"]
    assert by_name["FateZero without spatial-temporal"][0] is False
    assert fz.bench.variant_edit({"latent_blend": True}, ["circle"]) == (True, {"latent_blend": False,
                                                                              "blend_words": []})


# --- profiles (issue 30 item 3) --------------------------------------------------------------------------------------
def test_profiles_size_the_work_and_bad_values_are_refused(monkeypatch):
    lab = fzlab.setup("toy", quiet=True, profile="quick")
    assert (lab.frames, lab.steps, lab.fast, lab.profile.name) == (4, 10, True, "quick")
    lab = fzlab.setup("toy", quiet=True, profile="t4")  # a GPU profile: the toy keeps its own 8 x 50
    assert (lab.frames, lab.steps) == (8, 50) and "profile:      't4'" in repr(lab)
    assert (fzlab.setup("toy", quiet=True, frames=3, steps=7).frames, fzlab.setup("toy", quiet=True, steps=7).steps) \
        == (3, 7)
    monkeypatch.setenv(fzlab.PROFILE_ENV, "quick")
    assert fzlab.setup("toy", quiet=True).steps == 10
    for kwargs, what in ((dict(profile="colab"), "profile must be one of"), (dict(frames=0), "frames must be"),
                         (dict(steps=2.5), "steps must be"), (dict(steps=5000), "at most 1000")):
        with pytest.raises(ValueError, match=what):
            fzlab.setup("toy", quiet=True, **kwargs)
    assert fzlab.capped(8, 50, fzlab.PROFILES["t4"]) == (8, 25, "capped by the 't4' profile: 50 -> 25 steps")
    assert fzlab.capped(8, 10, fzlab.PROFILES["t4"]) == (8, 10, "")  # under the caps: the preset's own
    assert fzlab.capped(8, 50, fzlab.PROFILES["t4"], steps=40)[1] == 40  # asked for: no cap


def test_sd_profile_caps_the_preset_and_prints_estimates(teaser_cache, standin, monkeypatch, capsys):
    monkeypatch.setattr(fzlab, "standin_pipeline", lambda dtype=None: standin)
    lab = fzlab.setup("sd", standin=True, quiet=True)  # the stand-in counts as a small GPU: the t4 profile
    assert (lab.profile.name, lab.frames, lab.steps) == ("t4", 8, 25) and "25 of its 50 DDIM steps" in lab.capped
    assert "cost:" in repr(lab) and "on a T4" in repr(lab) and "estimate, unmeasured" in repr(lab)
    with pytest.raises(ValueError, match="samples 8 frames"):
        fzlab.setup("sd", standin=True, quiet=True, frames=9)
    lab = fzlab.setup("sd", standin=True, quiet=True, profile="quick", steps=2)
    assert (lab.frames, lab.steps) == (4, 2)
    ex = lab.example()
    capsys.readouterr()
    fz.invert(lab.pipe, ex.frames, ex.source, steps=lab.steps, temporal=ex.temporal, progress=False)
    assert "[cost] invert 4 frames × 2 steps" in capsys.readouterr().out


# --- yardsticks: the model's own scores beside an edit's ----------------------------------------------------------------
def test_yardsticks_score_the_model_alone_like_the_edit(toy_lab):
    """The identity edit is fz.edit towards the source prompt with the example's knobs; the edit's row is scored
    exactly as ex.scores scores it (kept_psnr: outside both objects; PSNR to the truth)."""
    ex = toy_lab.example("a red circle on grass", "a blue circle on grass", blend_words=["circle"])
    inv = fz.invert(toy_lab.pipe, ex.frames, ex.source, steps=toy_lab.steps, temporal=ex.temporal, progress=False)
    out = fz.edit(toy_lab.pipe, inv, ex.target, ex.config, progress=False)
    ys = ex.yardsticks(inv, out.frames)
    assert list(ys.rows) == ["autoencoder D(E(x))", ys.RECONSTRUCTION, ys.IDENTITY, "this edit"]
    same = fz.edit(toy_lab.pipe, inv, ex.source, ex.config, progress=False).frames
    np.testing.assert_allclose(ys.frames[ys.IDENTITY], same, atol=1e-6)
    np.testing.assert_allclose(ys.frames[ys.RECONSTRUCTION], fz.reconstruct(toy_lab.pipe, inv, progress=False),
                               atol=1e-6)
    s = ex.scores(out.frames)
    assert ys.rows["this edit"]["truth"] == pytest.approx(s["psnr"])
    assert ys.rows["this edit"]["kept"] == pytest.approx(s["background_psnr"]) == pytest.approx(s["kept_psnr"])
    assert ys.identity_kept == ys.rows[ys.IDENTITY]["kept"] and ys.ceiling == ys.rows[ys.RECONSTRUCTION]["source"]
    assert ys.rows["autoencoder D(E(x))"]["source"] > 25  # the toy VAE alone gives the clip back closely
    text = repr(ys)
    assert text.startswith("Yardsticks (toy, 3 steps") and "vs truth" in text and "the method costs" in text
    assert ys.has_ground_truth
    assert f"keeps {s['kept_psnr']:.1f} dB" in ys.reading() and f"ground truth: {s['psnr']:.1f} dB" in ys.reading()
    assert ys.beside(ex.psnr_row(ex.frames), "the source").startswith("where nothing should change: the source keeps")
    assert ex.yardsticks(inv).reading() == ""  # without the edit: the yardsticks alone


def test_yardsticks_in_sd_mode_drop_the_new_words_and_compare_with_the_source(sd_lab):
    """jeep_watercolor re-weights 'watercolor', a word the source prompt lacks: the identity edit drops it (no
    error); with no ground truth and no true mask every column is against the source, whole frame."""
    ex = sd_lab.example()
    assert ex.config.reweight  # the preset's eq_params: what the identity edit must drop
    inv = fz.invert(sd_lab.pipe, ex.frames, ex.source, steps=sd_lab.steps, temporal=ex.temporal, progress=False)
    ys = ex.yardsticks(inv, ex.frames)
    assert all(np.isnan(r["truth"]) and r["kept"] == r["source"] for r in ys.rows.values())
    assert ys.rows["this edit"]["source"] > 100  # the source itself: PSNR capped at 120 dB
    assert "vs truth" not in repr(ys) and "no ground truth" in repr(ys) and not ys.has_ground_truth
