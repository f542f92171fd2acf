"""The paper's examples as presets (fatezero_lab/presets): every preset loads through the authors'-config reader,
round-trips, ships in the wheel, and holds the same values as the authors' YAML files it mirrors (compared when
their configs are beside this checkout). The golden values below were read from the authors' files by hand."""

import dataclasses
import fnmatch
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import fatezero_lab as fz
from fatezero_lab import presets
from fatezero_lab.config import FateZeroConfig
from fatezero_lab.processors import TemporalConfig
from fatezero_lab.reference_config import ReferenceEdit, read_reference_yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
NAMES = presets.names()
JEEP = "a silver jeep driving down a curvy road in the countryside"


def _authors_config_dir():
    for d in (ROOT.parent / "shared/reference/FateZero/config", Path("/work/shared/reference/FateZero/config")):
        if d.is_dir():
            return d
    return None


AUTHORS = _authors_config_dir()


# --- every preset -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_every_preset_loads_through_the_reader_and_round_trips(name, tmp_path):
    p = presets.load(name)
    assert isinstance(p, presets.Preset) and isinstance(p, ReferenceEdit) and p.name == name
    # presets.load(name) is read_reference_yaml(packaged file, index), plus the preset's own facts
    assert p.path == presets.path(name) and p.path.parent == presets.PRESET_DIR
    assert p.reference_edit() == read_reference_yaml(presets.path(name), p.index)
    # the knobs are a plain FateZeroConfig and TemporalConfig, and survive our own serialisations
    assert isinstance(p.config, FateZeroConfig) and isinstance(p.temporal, TemporalConfig)
    assert FateZeroConfig.from_json(p.config.to_json()) == p.config
    assert FateZeroConfig.from_yaml(p.config.to_yaml()) == p.config
    assert TemporalConfig(**dataclasses.asdict(p.temporal)) == p.temporal
    # the file round-trips: dumped again (what a learner's edited copy would be) it reads as the same edit
    copy = tmp_path / p.path.name
    copy.write_text(yaml.safe_dump(yaml.safe_load(p.path.read_text()), sort_keys=False))
    again = read_reference_yaml(copy, p.index)
    assert dataclasses.replace(again, path=p.path) == p.reference_edit()
    # an edit, not a reconstruction; a sane clip; the model the authors used
    assert not p.is_reconstruction and p.steps >= 1 and p.image_size == 512
    assert p.n_frames == p.n_sample_frame >= 1 and p.sampling_rate >= 1
    assert p.offset == {"left": 0, "right": 0, "top": 0, "bottom": 0}
    assert p.kind in presets.KINDS and p.description and "\n" not in p.description
    assert p.clip in fz.data.list_clips() and presets.check_clip(p) == p.clip  # every preset's clip is listed
    if p.needs_tuning:
        assert p.kind == "shape" and p.model_id == p.tuning.base_model and p.model_path() is None
        assert p.tuning.steps > 0 and p.tuning.lr > 0 and p.tuning.checkpoint.startswith("chenyangqi/")
    else:  # every zero-shot example of the authors uses Stable Diffusion v1.4
        assert p.model_id == presets.SD14 == "CompVis/stable-diffusion-v1-4"
        assert p.pretrained_model_path == "./ckpt/stable-diffusion-v1-4"
    text = repr(p)
    assert name in text and p.target_prompt in text and p.model_id in text and "\n" in text
    assert set(p.summary().splitlines()[: len(text.splitlines())]) == set(text.splitlines())


def test_packaged_files_hold_only_keys_the_reader_uses():
    assert presets.files() == sorted(presets.PRESET_DIR.glob("*.yaml"))  # no file without a preset
    for f in presets.files():
        n = len(yaml.safe_load(f.read_text())["editing_config"]["editing_prompts"])
        for i in range(n):
            assert read_reference_yaml(f, i).ignored == {}, f  # nothing the reader only records


def test_preset_files_ship_in_the_wheel():
    if tomllib is None:  # pragma: no cover
        pytest.skip("tomllib needs Python 3.11")
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["fatezero_lab"]
    for f in presets.files():
        rel = f.relative_to(ROOT / "fatezero_lab").as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), rel
    # the presets folder is a package (found by setuptools' find with include fatezero_lab*)
    assert (presets.PRESET_DIR / "__init__.py").is_file()


def test_list_names_and_kinds():
    table = presets.list()
    assert list(table) == NAMES and len(NAMES) == len(set(NAMES))
    assert {"jeep_watercolor", "jeep_posche", "jeep_watercolor_10_steps"} <= set(NAMES)
    lines = repr(table).splitlines()
    assert len(lines) == len(NAMES) and lines[0].startswith("jeep_watercolor ")
    assert "clip 'car-turn'" in table["jeep_watercolor"] and "clip 'cat_tiger_leopard_grass'" in table["cat_tiger"]
    shape = presets.list("shape")
    assert set(shape) == {n for n in NAMES if presets.load(n).kind == "shape"} and "jeep_posche" in shape
    with pytest.raises(ValueError, match="kind must be one of"):
        presets.list("colour")


def test_unknown_preset_names_the_available_ones():
    with pytest.raises(presets.UnknownPresetError) as e:
        presets.load("jeep_watercolour")
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and "Did you mean 'jeep_watercolor'" in msg
    for name in NAMES:
        assert name in msg
    with pytest.raises(ValueError, match="Available presets"):
        presets.path(None)


# --- golden values (read from the authors' files by hand) -------------------------------------------------------------
def test_teaser_presets_golden():
    wc = fz.presets.load("jeep_watercolor")
    assert (wc.clip, wc.model_id, wc.kind, wc.index) == ("car-turn", "CompVis/stable-diffusion-v1-4", "style", 1)
    assert wc.source_prompt == JEEP and wc.target_prompt == "watercolor painting of " + JEEP
    c = wc.config
    assert (c.guidance, c.cross_replace_steps, c.self_replace_steps, c.cross_mode) == (7.5, (0.0, 0.8), (0.0, 0.8),
                                                                                        "refine")
    assert c.reweight == {"watercolor": 10.0} and c.blend_words == [] and not c.latent_blend
    assert wc.temporal == TemporalConfig(reference=("mid",), min_channels=640, groupnorm="clip")
    assert (wc.steps, wc.n_sample_frame, wc.sampling_rate, wc.image_size) == (50, 8, 1, 512)
    assert not wc.needs_tuning and wc.mirrors == ("teaser/jeep_watercolor.yaml", "style/jeep_watercolor.yaml")

    fast = fz.presets.load("jeep_watercolor_10_steps")
    assert fast.steps == 10 and fast.config == c and fast.target_prompt == wc.target_prompt

    po = fz.presets.load("jeep_posche")
    assert po.needs_tuning and po.kind == "shape" and po.clip == "car-turn"
    assert po.tuning.steps == 200 and po.tuning.checkpoint == "chenyangqi/jeep_tuned_200"
    assert po.source_prompt == JEEP + "," and po.alignment_prompt == JEEP
    assert po.target_prompt == "a Porsche car driving down a curvy road in the countryside"
    c = po.config
    assert c.cross_mode == "replace" and (c.cross_replace_steps, c.self_replace_steps) == ((0.0, 0.5), (0.0, 0.5))
    assert c.blend_words == ["silver", "jeep"] and c.blend_threshold == 0.3 and c.self_fusion == "masked"
    assert c.alignment_prompt == JEEP and po.temporal.reference == (-1, "first")
    lb = fz.presets.load("jeep_posche_latent_blend")
    assert lb.config.latent_blend and lb.config.target_blend_words == ["Porsche", "car"] and lb.guidance == 7.0


def test_attribute_and_style_presets_golden():
    bear = fz.presets.load("bear_tiger")
    assert bear.clip == "bear_tiger_lion_leopard" and bear.config.cross_mode == "replace" and bear.config.self_replace_steps == (0, 0.7)
    gpu = fz.presets.load("bus_gpu")
    assert gpu.config.reweight == {"GPU": 10.0} and gpu.config.cross_replace_steps == (0.0, 0.1)
    squirrel = fz.presets.load("squirrel_robot_mouse")
    assert squirrel.config.reweight == {"mouse": 10.0, "robot": 20.0, "screwdriver": 10.0}
    swan = fz.presets.load("swan_cartoon")
    assert (swan.clip, swan.sampling_rate, swan.config.reweight) == ("style-blackswan", 6, {"cartoon": 10.0})
    lily = fz.presets.load("lily_monet")
    assert (lily.start_sample_frame, lily.sampling_rate, lily.temporal.min_channels) == (1, 20, 1280)
    assert fz.presets.load("rabbit_pokemon").temporal == TemporalConfig(reference=(-1, "first"), groupnorm="clip")
    assert fz.presets.load("train_shinkai").n_frames == 32
    duck = fz.presets.load("swan_duck")
    assert duck.steps == 30 and duck.config.blend_words == ["swan"] and duck.config.blend_threshold == 0.2
    assert duck.tuning.steps == 150


# --- the same values as the authors' files ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_values_match_the_authors_config(name):
    if AUTHORS is None:
        pytest.skip("the authors' configs (shared/reference/FateZero/config) are not beside this checkout")
    p = fz.presets.load(name)
    ours = presets.path(name)
    skip = {"path", "ignored", "notes"}  # where the file is, and what the reader only records or explains
    for mirror in p.mirrors:
        theirs = AUTHORS / mirror
        assert theirs.is_file(), mirror
        n = read_reference_yaml(theirs, 0).n_prompts
        assert read_reference_yaml(ours, 0).n_prompts == n  # the same entries, in the same order
        for i in range(n):
            a, b = read_reference_yaml(ours, i), read_reference_yaml(theirs, i)
            for f in dataclasses.fields(ReferenceEdit):
                if f.name not in skip:
                    assert getattr(a, f.name) == getattr(b, f.name), (mirror, i, f.name)
        assert Path(read_reference_yaml(theirs, 0).pretrained_model_path).name == \
            Path(p.pretrained_model_path).name
        if p.needs_tuning:  # the tuning recorded is the one in their tune config
            tune = yaml.safe_load((AUTHORS.parent / p.tuning.config).read_text())
            assert float(tune["learning_rate"]) == p.tuning.lr
            assert Path(tune["pretrained_model_path"]).name == p.tuning.base_model.split("/")[-1]
            assert str(p.tuning.steps) in Path(p.pretrained_model_path).name


# --- the clip ---------------------------------------------------------------------------------------------------------
def test_load_clip_fetches_the_sample_clip_with_the_authors_sampling(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no data/ folder of the authors here
    calls = []

    def fake_fetch(name, **kw):
        calls.append((name, kw))
        return np.zeros((kw["n_frames"], kw["size"], kw["size"], 3), np.float32)

    monkeypatch.setattr(fz.data, "fetch", fake_fetch)
    frames = fz.presets.load("swan_cartoon").load_clip(size=64)
    assert frames.shape == (8, 64, 64, 3)
    assert calls == [("style-blackswan", {"cache_dir": None, "n_frames": 8, "size": 64, "start": 0, "stride": 6})]
    fz.presets.load("lily_monet").load_clip(size=64)  # from frame 1, one in 20 (their config)
    assert calls[-1] == ("red_water_lily_opening", {"cache_dir": None, "n_frames": 8, "size": 64, "start": 1,
                                                    "stride": 20})
    with pytest.raises(FileNotFoundError, match=r"names no sample clip.*--video"):
        dataclasses.replace(fz.presets.load("lily_monet"), clip=None).load_clip()
    monkeypatch.setattr(fz.data, "list_clips", lambda: ["car-turn"])
    with pytest.raises(FileNotFoundError, match=r"'bear_tiger_lion_leopard'.*manifest does not list"):
        fz.presets.load("bear_lion").load_clip()
    assert len(calls) == 2  # neither refusal reached the network


def test_load_clip_from_an_explicit_clip_samples_as_the_authors(tmp_path):
    clip = np.zeros((50, 24, 32, 3), np.float32)
    for i in range(50):
        clip[i] = i / 50
    frames = fz.presets.load("swan_cartoon").load_clip(clip, size=16)  # every sixth frame from 0
    assert frames.shape == (8, 16, 16, 3)
    np.testing.assert_allclose(frames[:, 0, 0, 0], np.arange(0, 48, 6) / 50, atol=1e-5)
    lily = fz.presets.load("lily_monet")  # from frame 1, one in 20: 8 frames need 142
    with pytest.raises(ValueError):
        lily.load_clip(clip, size=16)
    assert lily.load_clip(clip, size=16, n_frames=2).shape == (2, 16, 16, 3)


# --- every preset resolves to a clip; its own settings ------------------------------------------------------------------
def test_all_36_presets_resolve_to_a_clip_with_checksums_offline():
    """Resolving is offline: the manifest lists the clip with its URL(s) and a SHA-256 per file (the authors'
    repository), or the release archive whose checksum is recorded at first download (man_skate only)."""
    assert len(NAMES) == 36
    archive_only = set()
    for name in NAMES:
        info = fz.data.clip_info(presets.check_clip(presets.load(name)))
        if info.get("files"):
            assert info["url"].startswith("https://raw.githubusercontent.com/ChenyangQiQi/FateZero/" + info["commit"])
            assert all(len(f["sha256"]) == 64 and f["bytes"] > 0 for f in info["files"])
        else:
            assert info["url"].endswith(".zip") and info["member"] and "first download" in info["checksum"]
            archive_only.add(name)
    assert archive_only == {"man_wonder_woman", "man_spider_man", "man_batman"}


def test_authors_clips_hold_the_frames_each_preset_samples():
    for name in NAMES:
        p = presets.load(name)
        info = fz.data.clip_info(p.clip)
        if info.get("files"):  # every frame the authors' loader takes exists in the clip
            last = p.start_sample_frame + (p.n_sample_frame - 1) * p.sampling_rate
            assert last < len(info["files"]), (name, last, len(info["files"]))


# the authors' own values (config file: line), read by hand: frames, sampling (start, stride), DDIM steps, tuning
OWN = {
    "jeep_watercolor_10_steps": (8, 0, 1, 10, None),  # low_resource_teaser/jeep_watercolor_ddim_10_steps.yaml:8,9,64
    "swan_duck": (8, 0, 1, 30, 150),  # shape/swan_duck_flamingo.yaml:7,8,97; tune/swan.yaml (ckpt swan_150)
    "man_batman": (8, 0, 1, 50, 250),  # shape/man_wonder_bat_spider.yaml:7,8,100; tune/man_skate.yaml (man_skate_250)
    "jeep_posche": (8, 0, 1, 50, 200),  # teaser/jeep_posche.yaml:8,9,76; tune/jeep.yaml (jeep_tuned_200)
    "train_shinkai": (32, 0, 7, 50, None),  # style/train_shinkai.yaml:6,8,77
    "lily_monet": (8, 1, 20, 50, None),  # style/lily_monet.yaml:7,8,10,73
    "surf_ukiyo": (1, 0, 8, 50, None),  # style/surf_ukiyo.yaml:6,8,70
    "swan_cartoon": (8, 0, 6, 50, None),  # style/swan_cartoon.yaml:7,9,80
    "rabbit_pokemon": (8, 0, 3, 50, None),  # style/rabit_pokemon.yaml:7,9,72
}


@pytest.mark.parametrize("name", sorted(OWN))
def test_run_settings_are_the_presets_own(name):
    frames, start, stride, steps, tuning = OWN[name]
    s = presets.run_settings(name)
    assert (s.frames, s.start, s.stride, s.steps, s.tuning_steps) == (frames, start, stride, steps, tuning)
    assert s.note == "" and not s.capped and s.own == {"frames": frames, "steps": steps, "tuning_steps": tuning}
    assert s.tuning == ({} if tuning is None else {"steps": tuning, "lr": 1e-5})
    assert presets.load(name).run_settings() == s


def test_run_settings_caps_and_says_so():
    s = presets.run_settings("train_shinkai", max_frames=8, max_steps=20, why="the t4 profile")
    assert (s.frames, s.start, s.stride, s.steps) == (8, 0, 7, 20) and s.capped
    assert s.note == ("the t4 profile caps preset 'train_shinkai': 8 of its 32 frames (the first 8 of the authors' "
                      "sampling, one in 7), 20 of its 50 DDIM steps")
    s = presets.run_settings("swan_duck", max_frames=8, max_steps=50, max_tuning_steps=100)
    assert (s.frames, s.steps, s.tuning) == (8, 30, {"steps": 100, "lr": 1e-5})  # a cap above its own value: kept
    assert s.note == "the caps cap preset 'swan_duck': 100 of its 150 tuning steps"
    assert presets.run_settings("jeep_watercolor_10_steps", max_steps=20).note == ""  # 10 <= 20
    assert presets.run_settings("surf_ukiyo", max_frames=4).frames == 1
    for bad in ({"max_frames": 0}, {"max_steps": 2.5}, {"max_tuning_steps": True}):
        with pytest.raises(ValueError, match=f"{next(iter(bad))} must be a positive int or None"):
            presets.run_settings("jeep_watercolor", **bad)
