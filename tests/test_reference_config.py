"""Reading the authors' YAML configs (fatezero_lab/reference_config.py) and `python -m fatezero_lab edit
--reference-config`. The golden values below were read from the YAML files by hand."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import fatezero_lab as fz
from fatezero_lab.cli import main
from fatezero_lab.config import FateZeroConfig
from fatezero_lab.processors import TemporalConfig
from fatezero_lab.reference_config import ReferenceEdit, from_reference_yaml, read_reference_yaml


def _reference_dir():
    for d in (Path(__file__).resolve().parents[2] / "shared/reference/FateZero/config",
              Path("/work/shared/reference/FateZero/config")):
        if d.is_dir():
            return d
    return None


REF = _reference_dir()
CONFIGS = sorted(REF.rglob("*.yaml")) if REF else []
needs_ref = pytest.mark.skipif(REF is None, reason="the authors' configs are not beside this checkout")


def ref_yaml(name: str) -> Path:
    return REF / name


# --- every file, every index ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", CONFIGS or [None], ids=[str(p.relative_to(REF)) for p in CONFIGS] or ["none"])
def test_every_reference_config_loads_every_index(path):
    if path is None:
        pytest.skip("the authors' configs are not beside this checkout")
    raw = yaml.safe_load(path.read_text())
    prompts = raw["editing_config"]["editing_prompts"]
    for i, prompt in enumerate(prompts):
        ref = read_reference_yaml(path, i)
        assert isinstance(ref, ReferenceEdit) and isinstance(ref.config, FateZeroConfig)
        assert isinstance(ref.temporal, TemporalConfig)
        assert ref.target_prompt == prompt and ref.source_prompt == raw["dataset_config"]["prompt"]
        assert ref.steps == raw["editing_config"]["num_inference_steps"] and ref.index == i
        assert ref.n_prompts == len(prompts)
        assert ref.pretrained_model_path == raw["pretrained_model_path"]
        assert ref.config == FateZeroConfig.from_dict(ref.config.to_dict())  # a plain, serialisable config
        assert from_reference_yaml(path, i) == ref.config
        assert "seed" in ref.ignored and str(path) in ref.summary()
    with pytest.raises(ValueError, match="out of range"):
        read_reference_yaml(path, len(prompts))


# --- golden checks ----------------------------------------------------------------------------------------------------
JEEP = "a silver jeep driving down a curvy road in the countryside"


@needs_ref
def test_teaser_jeep_watercolor_golden():
    path = ref_yaml("teaser/jeep_watercolor.yaml")
    rec = read_reference_yaml(path, 0)
    assert rec.source_prompt == rec.target_prompt == rec.alignment_prompt == JEEP and rec.is_reconstruction
    c = rec.config
    assert (c.cross_replace_steps, c.self_replace_steps, c.cross_mode) == ((0.0, 0.8), (0.0, 0.9), "refine")
    assert c.reweight == {} and c.blend_words == []
    assert c.self_fusion == "full_source"  # blend_th [2, 2]: an empty mask = full source self-attention
    assert (c.fuse_cross, c.latent_blend, c.use_inversion_attention) == (True, False, True)

    ref = read_reference_yaml(path, 1)
    assert ref.target_prompt == "watercolor painting of " + JEEP and not ref.is_reconstruction
    c = ref.config
    assert c.guidance == ref.guidance == 7.5 and ref.steps == 50
    assert (c.cross_replace_steps, c.self_replace_steps, c.cross_mode) == ((0.0, 0.8), (0.0, 0.8), "refine")
    assert c.reweight == {"watercolor": 10.0}
    assert c.blend_words == [] and c.target_blend_words == [] and c.self_fusion == "full_source"
    assert c.blend_threshold == 0.3 and c.latent_blend is False and c.use_inversion_attention is True
    assert (c.mask_dilation, c.mask_normalise, c.mask_layers) == (3, "max", "auto")
    assert ref.temporal == TemporalConfig(enabled=True, reference=("mid",), min_channels=640, groupnorm="clip")
    assert (ref.dataset_path, ref.n_sample_frame, ref.sampling_rate, ref.stride, ref.start_sample_frame) == \
        ("data/teaser_car-turn", 8, 1, 80, 0)
    assert ref.offset == {"left": 0, "right": 0, "top": 0, "bottom": 0} and ref.image_size == 512
    assert ref.pretrained_model_path == "./ckpt/stable-diffusion-v1-4"
    assert ref.model_path() == "CompVis/stable-diffusion-v1-4"
    assert ref.ignored["model_config.lora"] == 160 and ref.ignored["seed"] == 0
    assert ref.ignored["editing_config.clip_length"] == 8  # "${..dataset_config.n_sample_frame}" resolved
    assert ref.ignored["editing_config.p2p_config.1.use_inversion_attention"] is True
    assert from_reference_yaml(path, 1) == c
    if (REF.parent / "data/teaser_car-turn").is_dir():
        assert ref.video_path().resolve() == (REF.parent / "data/teaser_car-turn").resolve()
        clip = ref.load_clip(size=64)
        assert clip.shape == (8, 64, 64, 3) and clip.dtype == np.float32


@needs_ref
def test_attribute_configs_with_blend_words_and_thresholds_golden():
    # entry 0 of the attribute files: blend_words [['cat'], ['cat']], blend_th [2, 2], eq_params silver/sculpture x2
    cat = read_reference_yaml(ref_yaml("attribute/cat_tiger_leopard_grass.yaml"), 0)
    assert cat.is_reconstruction and cat.target_prompt == "A black cat walking on the floor next to a wall"
    c = cat.config
    assert c.blend_words == ["cat"] and c.self_fusion == "full_source"  # blend_th [2, 2]: an empty mask
    assert c.target_blend_words == []  # the target list feeds only the latent blend, which is off
    assert c.reweight == {}  # 'silver', 'sculpture' are not in the target: they select no token there
    assert (c.cross_replace_steps, c.self_replace_steps) == ((0.0, 0.8), (0.0, 0.6))
    assert any("silver" in n for n in cat.notes)

    bus = read_reference_yaml(ref_yaml("attribute/bus_gpu.yaml"), 0)
    assert bus.config.blend_words == []  # 'cat' is not a word of "a white and blue bus on the road"
    gpu = read_reference_yaml(ref_yaml("attribute/bus_gpu.yaml"), 1)
    c = gpu.config
    assert gpu.target_prompt == "a black and green GPU on the road"
    assert c.cross_mode == "replace"  # is_replace_controller: true and 8 words on both sides
    assert (c.cross_replace_steps, c.self_replace_steps) == ((0.0, 0.1), (0.0, 0.1))
    assert c.reweight == {"GPU": 10.0}  # 'Nvidia' is not in the target
    assert any("Nvidia" in n for n in gpu.notes)

    # a shape edit with a real threshold: blend_words [['swan'], ['cat']], blend_th [0.2, 0.2], 30 steps
    duck = read_reference_yaml(ref_yaml("shape/swan_duck_flamingo.yaml"), 1)
    c = duck.config
    assert duck.steps == 30 and c.blend_words == ["swan"] and c.blend_threshold == 0.2 and c.self_fusion == "masked"
    assert (c.cross_replace_steps, c.self_replace_steps, c.cross_mode) == ((0.0, 0.0), (0.0, 0.5), "refine")
    assert duck.temporal == TemporalConfig(reference=(-1, "first"), min_channels=0, groupnorm="clip")  # their default
    assert duck.model_path() is None  # ./ckpt/swan_150, a tuned checkpoint that is not here

    porsche = read_reference_yaml(ref_yaml("teaser/jeep_posche.yaml"), 1)
    c = porsche.config
    assert c.blend_words == ["silver", "jeep"] and c.target_blend_words == [] and c.cross_mode == "replace"
    assert porsche.source_prompt == JEEP + "," and porsche.alignment_prompt == JEEP
    assert any("punctuation" in n for n in porsche.notes)


@needs_ref
def test_latent_blend_teaser_golden():
    path = ref_yaml("teaser/jeep_posche_local_latent_blend.yaml")
    ref = read_reference_yaml(path, 0)
    target = "a Porsche car driving down a curvy road in the countryside"
    assert ref.source_prompt == JEEP + "," and ref.target_prompt == target and not ref.is_reconstruction
    c = ref.config
    assert c.guidance == 7.0  # guidance_scale is absent: their sample logger's default
    assert c.latent_blend and c.latent_blend_steps == (0.2, 0.8) and c.latent_blend_threshold == 0.3
    assert c.blend_threshold == 0.3 and c.self_fusion == "masked"
    assert c.target_blend_words == ["Porsche", "car"]
    # no source_prompt key and editing_prompts[0] is the target itself: their controller searches 'silver', 'jeep'
    # in the Porsche prompt, finds nothing, and its masks come from the target words only
    assert ref.alignment_prompt == target and c.blend_words == []
    assert c.cross_mode == "replace" and (c.cross_replace_steps, c.self_replace_steps) == ((0.0, 0.5), (0.0, 0.5))
    assert any("alignment prompt" in n for n in ref.notes) and any("default 7" in n for n in ref.notes)
    with pytest.raises(ValueError, match=r"out of range.*1 prompt"):
        read_reference_yaml(path, 1)


@needs_ref
def test_unknown_key_in_an_authors_config_raises_with_its_name(tmp_path):
    raw = yaml.safe_load(ref_yaml("teaser/jeep_watercolor.yaml").read_text())
    raw["editing_config"]["p2p_config"][1]["masked_latents"] = True  # not a key of their code
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"'editing_config\.p2p_config\.1\.masked_latents'.*bad\.yaml.*blend_th"):
        read_reference_yaml(bad, 1)


# --- a config written here (runs without the authors' folder) ---------------------------------------------------------
def write_config(tmp_path, frames_dir="data/clip", **changes):
    cfg = {
        "pretrained_model_path": "./ckpt/stable-diffusion-v1-5",
        "dataset_config": {"path": str(frames_dir), "prompt": "a red circle on grass", "n_sample_frame": 2,
                           "sampling_rate": 1, "stride": 80,
                           "offset": {"left": 0, "right": 0, "top": 0, "bottom": 0}},
        "editing_config": {
            "use_invertion_latents": True, "use_inversion_attention": True, "guidance_scale": 5.0,
            "source_prompt": "${dataset_config.prompt}", "clip_length": "${..dataset_config.n_sample_frame}",
            "editing_prompts": ["a red circle on grass", "a blue circle on grass"],
            "p2p_config": {
                0: {"is_replace_controller": False, "cross_replace_steps": {"default_": 0.8},
                    "self_replace_steps": 0.6, "blend_th": [2, 2], "blend_self_attention": True},
                1: {"is_replace_controller": True, "cross_replace_steps": {"default_": 0.5, "blue": 0.5,
                                                                           "square": 0.2},
                    "self_replace_steps": [0.1, 0.7], "eq_params": {"words": ["blue", "grass", "sky"],
                                                                    "values": [2, 3]},
                    "blend_words": [["circle"], ["circle"]], "blend_self_attention": True, "blend_latents": True,
                    "blend_th": [0.4, 0.9]},
            },
            "num_inference_steps": 2, "prompt2prompt_edit": True, "sample_seeds": [0],
        },
        "model_config": {"lora": 160, "SparseCausalAttention_index": [-1, "first"], "least_sc_channel": 0},
        "test_pipeline_config": {
            "target": "video_diffusion.pipelines.p2p_ddim_spatial_temporal.P2pDDIMSpatioTemporalPipeline",
            "num_inference_steps": "${..validation_sample_logger.num_inference_steps}"},
        "seed": 0,
    }
    for dotted, value in changes.items():
        node, keys = cfg, dotted.split("/")
        for k in keys[:-1]:
            node = node[int(k) if k.isdigit() else k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


_DELETE = object()


def test_own_config_maps_every_knob(tmp_path):
    path = write_config(tmp_path)
    rec = read_reference_yaml(path, 0)
    assert rec.is_reconstruction and rec.config.self_fusion == "full_source" and rec.config.blend_words == []
    ref = read_reference_yaml(path, 1)
    c = ref.config
    assert ref.alignment_prompt == "a red circle on grass"  # "${dataset_config.prompt}" resolved
    assert ref.ignored["editing_config.clip_length"] == 2  # "${..dataset_config.n_sample_frame}" resolved
    assert "test_pipeline_config.num_inference_steps" in ref.ignored  # never resolved, never read
    assert ref.steps == 2 and c.guidance == 5.0 and c.cross_mode == "replace"  # 5 words on both sides
    assert c.cross_replace_steps == (0.0, 0.5)  # per-word 'blue' = default, 'square' not in the target: dropped
    assert c.self_replace_steps == (0.1, 0.7)
    assert c.reweight == {"blue": 2.0, "grass": 3.0}  # zip: 'sky' has no value
    assert c.blend_words == ["circle"] and c.target_blend_words == ["circle"] and c.latent_blend
    assert c.blend_threshold == 0.4 and c.latent_blend_threshold == 0.4  # blend_th[0] for both; [1] unused
    assert ref.temporal == TemporalConfig(reference=(-1, "first"), min_channels=0, groupnorm="clip")
    assert ref.model_path() == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert any("square" in n for n in ref.notes) and any("zip" in n for n in ref.notes)


def test_own_config_variants(tmp_path):
    # their replace is gated by equal word counts
    p = write_config(tmp_path, **{"editing_config/editing_prompts/1": "a blue circle on the grass"})
    ref = read_reference_yaml(p, 1)
    assert ref.config.cross_mode == "refine" and any("word counts" in n for n in ref.notes)
    # is_replace_controller absent = True in their code
    p = write_config(tmp_path, **{"editing_config/p2p_config/1/is_replace_controller": _DELETE})
    assert read_reference_yaml(p, 1).config.cross_mode == "replace"
    # an empty index list = plain per-frame attention; least_sc_channel -> min_channels
    p = write_config(tmp_path, **{"model_config": {"SparseCausalAttention_index": [], "least_sc_channel": 1280}})
    assert read_reference_yaml(p, 1).temporal == TemporalConfig(enabled=False, min_channels=1280, groupnorm="clip")
    p = write_config(tmp_path, **{"model_config": {"SparseCausalAttention_index": ["middle", 1, "last"]}})
    assert read_reference_yaml(p, 1).temporal.reference == ("mid", 1, "last")
    # use_inversion_attention: false -> entry 0 is their attention-recording plain pass; the others fuse it
    p = write_config(tmp_path, **{"editing_config/use_inversion_attention": False})
    plain = read_reference_yaml(p, 0).config
    assert (plain.fuse_cross, plain.self_fusion, plain.use_inversion_attention) == (False, "none", False)
    assert read_reference_yaml(p, 1).config.use_inversion_attention is False
    # no prompt2prompt_edit (the config/tune files): plain DDIM from the inverted noise
    p = write_config(tmp_path, **{"editing_config/prompt2prompt_edit": _DELETE, "editing_config/p2p_config": _DELETE})
    c = read_reference_yaml(p, 1).config
    assert (c.fuse_cross, c.self_fusion, c.guidance) == (False, "none", 5.0)
    # blend words without blend_self_attention or blend_latents are unused: full source self-attention
    p = write_config(tmp_path, **{"editing_config/p2p_config/1/blend_self_attention": _DELETE,
                                  "editing_config/p2p_config/1/blend_latents": _DELETE})
    c = read_reference_yaml(p, 1).config
    assert c.blend_words == [] and c.self_fusion == "full_source" and not c.latent_blend
    # a one-list blend_words and a bare word
    p = write_config(tmp_path, **{"editing_config/p2p_config/1/blend_words": ["circle"]})
    c = read_reference_yaml(p, 1).config
    assert c.blend_words == ["circle"] and c.target_blend_words == []
    # cross_replace_steps as a plain fraction, and with no default_ (their default: every step)
    p = write_config(tmp_path, **{"editing_config/p2p_config/1/cross_replace_steps": 0.3})
    assert read_reference_yaml(p, 1).config.cross_replace_steps == (0.0, 0.3)
    p = write_config(tmp_path, **{"editing_config/p2p_config/1/cross_replace_steps": {"square": 0.2}})
    assert read_reference_yaml(p, 1).config.cross_replace_steps == (0.0, 1.0)
    # a partial offset gets their offset_crop defaults (top = 200)
    p = write_config(tmp_path, **{"dataset_config/offset": {"left": 4}})
    ref = read_reference_yaml(p, 1)
    assert ref.offset == {"left": 4, "right": 0, "top": 200, "bottom": 0} and any("top=200" in n for n in ref.notes)


@pytest.mark.parametrize("changes, match", [
    ({"editing_config/p2p_config/1/masked_latents": True}, r"'editing_config\.p2p_config\.1\.masked_latents'"),
    ({"logdir_typo": "x"}, r"unknown key 'logdir_typo'"),
    ({"model_config/temporal_downsample_time": 4}, r"'model_config\.temporal_downsample_time'"),
    ({"editing_config/p2p_config/1/eq_params/weights": [1]}, r"'editing_config\.p2p_config\.1\.eq_params\.weights'"),
    ({"dataset_config/offset/middle": 3}, r"'dataset_config\.offset\.middle'"),
    ({"editing_config/p2p_config/1/cross_replace_steps": {"default_": 0.5, "blue": 0.2}},
     r"per-word cross-attention window"),
    ({"model_config/temporal_downsample": True}, r"temporal_downsample"),
    ({"model_config/SparseCausalAttention_index": ["previous"]}, r"'previous'"),
    ({"editing_config/p2p_config/1": None}, r"no settings for prompt\(s\) \[1\]"),
    ({"editing_config/p2p_config/1/self_replace_steps": _DELETE}, r"self_replace_steps is required"),
    ({"editing_config/use_invertion_latents": False}, r"use_invertion_latents"),
    ({"editing_config/num_inference_steps": _DELETE}, r"num_inference_steps"),
    ({"editing_config/clip_length": 5}, r"clip_length"),
    ({"editing_config/source_prompt": "${dataset_config.caption}"}, r"dataset_config\.caption"),
    ({"editing_config/p2p_config/1/eq_params/values": [-1, 2]}, r"non-negative|>= 0"),
    ({"editing_config/p2p_config/1/is_replace_controller": "yes"}, r"true or false"),
    ({"test_pipeline_config/target": "my.OtherPipeline"}, r"OtherPipeline"),
])
def test_bad_settings_raise_naming_the_key(tmp_path, changes, match):
    path = write_config(tmp_path, **changes)
    with pytest.raises(ValueError, match=match) as e:
        read_reference_yaml(path, 1)
    assert "mine.yaml" in str(e.value)


def test_unknown_key_message_lists_the_known_keys(tmp_path):
    with pytest.raises(ValueError) as e:
        read_reference_yaml(write_config(tmp_path, **{"editing_config/p2p_config/1/blend_thresh": [0.3]}), 1)
    msg = str(e.value)
    assert "'editing_config.p2p_config.1.blend_thresh'" in msg and str(tmp_path / "mine.yaml") in msg
    for known in ("blend_th", "blend_words", "cross_replace_steps", "eq_params", "is_replace_controller"):
        assert known in msg


def test_bad_files_and_indices(tmp_path):
    path = write_config(tmp_path)
    for index in (2, -1, True, "1"):
        with pytest.raises(ValueError, match="out of range"):
            read_reference_yaml(path, index)
    with pytest.raises(FileNotFoundError):
        read_reference_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping"):
        read_reference_yaml(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("a: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        read_reference_yaml(tmp_path / "broken.yaml")


def test_load_clip_samples_crops_and_resizes_like_their_loader(tmp_path):
    frames = np.zeros((10, 20, 30, 3), np.float32)
    for i in range(10):
        frames[i] = i / 10
    frames[:, :2] = 1.0  # two white rows at the top, cropped away by the offset
    path = write_config(tmp_path, **{"dataset_config/n_sample_frame": 3, "dataset_config/sampling_rate": 3,
                                     "dataset_config/start_sample_frame": 1, "editing_config/clip_length": 3,
                                     "dataset_config/offset": {"left": 0, "right": 0, "top": 2, "bottom": 2}})
    ref = read_reference_yaml(path, 1)
    clip = ref.load_clip(frames, size=8)
    assert clip.shape == (3, 8, 8, 3)
    np.testing.assert_allclose(clip[:, 0, 0, 0], [0.1, 0.4, 0.7], atol=1e-5)  # frames 1, 4, 7; no white row left
    with pytest.raises(FileNotFoundError, match="data/clip"):
        ref.load_clip()  # the config's relative path does not exist here


# --- the command line -------------------------------------------------------------------------------------------------
@pytest.fixture
def no_model(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(fz, "load_pipeline", boom)


@pytest.mark.parametrize("extra, message", [
    (["--reference-config", "{tmp}/missing.yaml"], "does not exist"),
    (["--reference-config", "{cfg}", "--reference-index", "7"], "out of range"),
    (["--reference-index", "1", "--video", "toy:x", "--source", "a", "--target", "b"], "needs --reference-config"),
    (["--video", "toy:a red circle on grass", "--target", "b"], "--source"),
    (["--reference-config", "{cfg}"], "pass --video"),  # the config's clip is not here
])
def test_cli_rejects_bad_reference_requests_before_loading_a_model(tmp_path, capsys, no_model, extra, message):
    cfg = write_config(tmp_path)
    argv = ["edit", "--out", str(tmp_path / "out")] + [a.format(tmp=tmp_path, cfg=cfg) for a in extra]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_rejects_an_unknown_key_before_loading_a_model(tmp_path, capsys, no_model):
    cfg = write_config(tmp_path, **{"editing_config/p2p_config/1/masked_latents": True})
    with pytest.raises(SystemExit) as e:
        main(["edit", "--reference-config", str(cfg), "--reference-index", "1", "--video", "toy:x"])
    assert e.value.code == 2 and "editing_config.p2p_config.1.masked_latents" in capsys.readouterr().err


def test_cli_rejects_an_absent_tuned_model_before_loading(tmp_path, capsys, no_model):
    frames_dir = tmp_path / "clip"
    frames_dir.mkdir()
    cfg = write_config(tmp_path, frames_dir=frames_dir, pretrained_model_path="./ckpt/jeep_tuned_200")
    with pytest.raises(SystemExit) as e:
        main(["edit", "--reference-config", str(cfg)])
    assert e.value.code == 2 and "jeep_tuned_200" in capsys.readouterr().err


def test_cli_edit_from_a_reference_config_on_a_tiny_model(tiny_folder, tmp_path, capsys):
    clip = fz.toyworld.clip("a red circle on grass", frames=4, seed=0)
    fz.video.write(tmp_path / "frames", clip.frames)
    cfg = write_config(tmp_path, frames_dir=tmp_path / "frames")
    out = tmp_path / "edit"
    assert main(["edit", "--reference-config", str(cfg), "--reference-index", "1", "--model", str(tiny_folder),
                 "--size", "64", "--out", str(out)]) == 0
    for name in ("edit.mp4", "source.mp4", "side_by_side.png", "config.json", "masks.npy", "prompts.json"):
        assert (out / name).exists(), name
    used = FateZeroConfig.from_json(out / "config.json")
    assert used.reweight == {"blue": 2.0, "grass": 3.0} and used.latent_blend and used.guidance == 5.0
    assert used.blend_words == ["circle"] and used.self_replace_steps == (0.1, 0.7)
    prompts = json.loads((out / "prompts.json").read_text())
    assert prompts["target"] == "a blue circle on grass" and prompts["reference_index"] == 1 and prompts["steps"] == 2
    assert "(-1, 'first')" in prompts["temporal"]
    assert "mine.yaml [1/1]" in capsys.readouterr().out


def test_cli_edit_without_a_reference_config_is_unchanged(tiny_folder, tmp_path):
    out = tmp_path / "plain"
    assert main(["edit", "--model", str(tiny_folder), "--video", "toy:a red circle on grass", "--frames", "2",
                 "--steps", "2", "--source", "a red circle on grass", "--target", "a blue circle on grass",
                 "--blend-words", "circle", "--out", str(out)]) == 0
    used = FateZeroConfig.from_json(out / "config.json")
    assert used.guidance == 7.5 and used.blend_words == ["circle"] and used.reweight == {}
    assert json.loads((out / "prompts.json").read_text()) == {
        "source": "a red circle on grass", "target": "a blue circle on grass", "video": "toy:a red circle on grass"}
