import errno
import json
import shutil
import types

import numpy as np
import pytest
import torch
from huggingface_hub import errors as hub_errors

import fatezero_lab as fz
from fatezero_lab.models import GatedModelError, ModelNotFoundError, UnsupportedModelError, load_pipeline
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


@pytest.mark.parametrize("hw", [(16, 16), (16, 24), (12, 20), (18, 18), (5, 7)])
def test_layer_probe_at_the_smallest_size_equals_the_full_size_probe(tiny_pipe, hw):
    """attention_layers reads the layers from the module tree (grids halved and rounded up per level); a forward
    probe at full size must agree, odd sizes included."""
    from fatezero_lab.processors import AttentionControl, attention_control, attention_layers

    h, w = hw
    control = AttentionControl(n_frames=1, temporal=False, latent_hw=(h, w))
    unet = tiny_pipe.unet
    with torch.no_grad(), attention_control(unet, control):
        unet(torch.zeros(1, 4, h, w), 1, encoder_hidden_states=torch.zeros(1, 1, unet.config.cross_attention_dim))
    full = [control.layers[n] for n in unet.attn_processors if n in control.layers]
    assert [vars(a) for a in attention_layers(unet, (h, w))] == [vars(b) for b in full]
    assert {l.resolution for l in full} >= {(h, w), (-(-h // 4), -(-w // 4))}


# --- loading like a user expects: families refused before the weights, errors that name the cause, fp16 files ---------
SDXL_UNET = dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
                 transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80, cross_attention_dim=64)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def no_weights(monkeypatch):
    """Fail the test if any pipeline weights are loaded (the refusals must come first)."""
    from diffusers import StableDiffusionPipeline

    def refuse(*args, **kwargs):
        raise AssertionError("weights were loaded before the model was checked")

    monkeypatch.setattr(StableDiffusionPipeline, "from_pretrained", classmethod(refuse))


@pytest.fixture(scope="module")
def sdxl_pipe():
    """A tiny random-weight SDXL pipeline (the loader used to read it, then crash at the first UNet call with
    `TypeError: argument of type 'NoneType' is not iterable`)."""
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from fatezero_lab.toyworld.model import build_scheduler

    torch.manual_seed(0)
    tok = build_tokenizer(16)
    text = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=4,
                max_position_embeddings=16, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id)
    pipe = StableDiffusionXLPipeline(
        vae=AutoencoderKL(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                          up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4),
        text_encoder=CLIPTextModel(CLIPTextConfig(**text)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text, projection_dim=32)),
        tokenizer=tok, tokenizer_2=tok, unet=UNet2DConditionModel(**SDXL_UNET), scheduler=build_scheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def sdxl_folder(sdxl_pipe, tmp_path_factory):
    """The tiny SDXL pipeline as diffusers saves it."""
    folder = tmp_path_factory.mktemp("tiny_sdxl")
    sdxl_pipe.save_pretrained(folder)
    return folder


def test_sdxl_folder_is_refused_before_loading_weights(sdxl_folder, no_weights):
    with pytest.raises(UnsupportedModelError) as e:
        load_pipeline(str(sdxl_folder), device="cpu")
    msg = str(e.value)
    assert "is a Stable Diffusion XL pipeline" in msg and "StableDiffusionXLPipeline" in msg
    assert "addition_embed_type='text_time'" in msg and "text_encoder_2" in msg
    assert "'CompVis/stable-diffusion-v1-4'" in msg  # what to load instead


def test_a_bare_sdxl_pipeline_is_refused_before_any_compute(sdxl_pipe):
    frames = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(UnsupportedModelError, match=r"pipe \(a StableDiffusionXLPipeline\) is a Stable Diffusion XL"):
        fz.invert(sdxl_pipe, frames, "a red circle", steps=1)


def _write_pipeline_json(folder, model_index: dict, configs: dict):
    """A pipeline folder of config files only (what inspect_model reads; no weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps(model_index))
    for sub, cfg in configs.items():
        (folder / sub).mkdir(exist_ok=True)
        (folder / sub / "config.json").write_text(json.dumps(cfg))
    return folder


def _sd_index(class_name="StableDiffusionPipeline", **components):
    index = {"_class_name": class_name, "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"],
             "safety_checker": [None, None]}
    index.update(components)
    return {k: v for k, v in index.items() if v is not None}


def _unet_config(**changes):
    from diffusers import UNet2DConditionModel

    cfg = dict(UNet2DConditionModel.load_config(str(fz.models.TOY_FOLDER / "unet")))
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize("model_index, unet, match", [
    (_sd_index("StableDiffusion3Pipeline", unet=None, transformer=["diffusers", "SD3Transformer2DModel"],
               text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
               text_encoder_3=["transformers", "T5EncoderModel"]),
     None, r"is a Stable Diffusion 3 pipeline .*no 'unet' component \(its denoiser is a transformer: transformer "
           r"\(SD3Transformer2DModel\)\)"),
    (_sd_index("FluxPipeline", unet=None, transformer=["diffusers", "FluxTransformer2DModel"]),
     None, r"is a FLUX pipeline .*denoiser is a transformer"),
    (_sd_index("PixArtAlphaPipeline", unet=None, transformer=["diffusers", "PixArtTransformer2DModel"]),
     None, "is a PixArt pipeline"),
    (_sd_index("StableDiffusionInpaintPipeline"), _unet_config(in_channels=9),
     r"is an inpainting pipeline .*takes 9 input channels for 4 output channels"),
    # no family in the class name: the UNet config gives it away
    (_sd_index(), _unet_config(**{k: v for k, v in SDXL_UNET.items() if "addition" in k or "projection_class" in k}),
     r"is not a Stable Diffusion 1.x/2.x pipeline \(its UNet has addition_embed_type='text_time'"),
    (_sd_index(), _unet_config(cross_attention_dim=[128, 128, 128]),
     r"not a Stable Diffusion 1.x/2.x pipeline \(its UNet has a cross_attention_dim per block"),
    (_sd_index(), _unet_config(in_channels=5), "takes 5 input channels"),
    (_sd_index(), _unet_config(num_class_embeds=1000, in_channels=7), "takes class labels"),
    (_sd_index("TextToVideoSDPipeline", unet=["diffusers", "UNet3DConditionModel"]), None,
     "its UNet is a UNet3DConditionModel"),
    (_sd_index(tokenizer=None), _unet_config(), "its model_index.json lacks tokenizer"),
])
def test_unsupported_families_are_refused_from_their_configs(tmp_path, no_weights, model_index, unet, match):
    configs = {"vae": {"block_out_channels": [32, 32, 32]}}
    configs.update({"unet": unet} if unet is not None else {})
    for comp in ("text_encoder", "tokenizer", "scheduler", "unet"):
        if comp in model_index:
            (tmp_path / "model" / comp).mkdir(parents=True, exist_ok=True)
    folder = _write_pipeline_json(tmp_path / "model", model_index, configs)
    with pytest.raises(UnsupportedModelError, match=match) as e:
        load_pipeline(str(folder), device="cpu")
    assert "fatezero_lab edits Stable Diffusion 1.x and 2.x models" in str(e.value)


def test_folder_missing_a_component_subfolder(tiny_folder, tmp_path, no_weights):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_folder, folder)
    shutil.rmtree(folder / "unet")
    with pytest.raises(fz.ModelNotFoundError, match=r"lacks the subfolder\(s\) unet/"):
        load_pipeline(str(folder), device="cpu")


# --- hub errors: the hub is simulated by raising huggingface_hub's own exceptions from the config read -----------------
def _hub_error(cls, message="simulated", status=403):
    """A huggingface_hub HTTP error as the hub client raises it (a minimal stand-in for the HTTP response)."""
    if issubclass(cls, hub_errors.HfHubHTTPError):
        return cls(message, response=types.SimpleNamespace(headers={}, request=None, status_code=status))
    return cls(message)


@pytest.mark.parametrize("error, kind, match", [
    (_hub_error(hub_errors.GatedRepoError), GatedModelError,
     r"is a gated model .*https://huggingface.co/owner/model .*`hf auth login`.*HF_TOKEN"),
    (_hub_error(hub_errors.RepositoryNotFoundError, status=404), fz.ModelNotFoundError,
     r"no model 'owner/model' on the Hugging Face hub, or it is private .*`hf auth login`"),
    (_hub_error(hub_errors.RevisionNotFoundError, status=404), fz.ModelNotFoundError,
     r"has no revision 'v9' on the Hugging Face hub"),
    (_hub_error(hub_errors.LocalEntryNotFoundError), fz.ModelNotFoundError,
     r"not in the local Hugging Face cache .*HF_HUB_OFFLINE is set.*Offline\? .*`hf download owner/model "
     r"--revision v9 --exclude \"\*.ckpt\""),
    (_hub_error(hub_errors.OfflineModeIsEnabled), fz.ModelNotFoundError, "the hub cannot be reached"),
    (_hub_error(hub_errors.RemoteEntryNotFoundError, status=404), fz.ModelNotFoundError,
     r"lacks a file this package reads .*from_single_file"),
    (OSError(errno.ENOSPC, "No space left on device"), OSError,
     r"no space left on the disk while fetching 'owner/model' .*`hf cache ls`.*HF_HOME"),
])
def test_hub_errors_name_the_cause_and_the_current_cli(monkeypatch, no_weights, error, kind, match):
    def hub_file(repo_id, filename, revision, local_files_only):
        assert local_files_only  # HF_HUB_OFFLINE=1: the config read never goes to the network
        raise error

    monkeypatch.setattr(fz.models, "_hub_file", hub_file)
    with pytest.raises(kind, match=match) as e:
        load_pipeline("owner/model", device="cpu", revision="v9")
    assert "huggingface-cli" not in str(e.value)
    assert e.value.__cause__ is error or isinstance(e.value, UnsupportedModelError)
    if kind is OSError:
        assert e.value.errno == errno.ENOSPC


def _serve_hub_from(monkeypatch, folder, commit="0123456789abcdef0123456789abcdef01234567", tmp_path=None):
    """Simulate a hub cache holding ``folder``'s config files under snapshots/<commit>/."""
    snapshot = tmp_path / "snapshots" / commit
    shutil.copytree(folder, snapshot, ignore=shutil.ignore_patterns("*.safetensors"))

    def hub_file(repo_id, filename, revision, local_files_only):
        return str(snapshot / filename)

    monkeypatch.setattr(fz.models, "_hub_file", hub_file)
    return commit


def test_hub_sdxl_is_refused_before_any_weight_download(monkeypatch, tmp_path, sdxl_folder, no_weights):
    _serve_hub_from(monkeypatch, sdxl_folder, tmp_path=tmp_path)
    with pytest.raises(UnsupportedModelError, match="model 'stabilityai/sdxl-like' is a Stable Diffusion XL pipeline"):
        load_pipeline("stabilityai/sdxl-like", device="cpu")


@pytest.mark.filterwarnings("ignore:loading 'owner/model' on the CPU")
def test_errors_while_loading_weights_are_explained_too(monkeypatch, tmp_path, tiny_folder):
    """A full disk or a gated answer during the weight download (diffusers wraps the hub's error) names the cause."""
    from diffusers import StableDiffusionPipeline

    commit = _serve_hub_from(monkeypatch, tiny_folder, tmp_path=tmp_path)
    info = fz.models.inspect_model("owner/model")
    assert info.revision == commit and info.resolution == (64, 64) and not info.is_local

    def full_disk(*args, **kwargs):
        assert kwargs["revision"] == commit  # the weights come from the commit the configs were read from
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StableDiffusionPipeline, "from_pretrained", classmethod(full_disk))
    with pytest.raises(OSError, match="no space left on the disk") as e:
        load_pipeline("owner/model", device="cpu")
    assert e.value.errno == errno.ENOSPC

    def gated(*args, **kwargs):
        try:
            raise _hub_error(hub_errors.GatedRepoError)
        except hub_errors.GatedRepoError as inner:
            raise OSError("Cannot load model owner/model: the model is not fully cached locally") from inner

    monkeypatch.setattr(StableDiffusionPipeline, "from_pretrained", classmethod(gated))
    with pytest.raises(GatedModelError, match="hf auth login"):
        load_pipeline("owner/model", device="cpu")


def test_inspect_model_reads_configs_only():
    info = fz.models.inspect_model("toy")
    assert info.is_local and info.resolution == (64, 64) and info.max_side == 32 and not info.upcast_attention
    assert info.revision is None


# --- fp16 weight files --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def variant_folder(tiny_config, tmp_path_factory):
    """Full fp32 weights of seed 0 and, beside them, fp16 files of *another* seed (so the test sees which loaded)."""
    from fatezero_lab.toyworld.model import build_pipeline

    folder = tmp_path_factory.mktemp("variant")
    build_pipeline(tiny_config, seed=0).save_pretrained(folder)
    build_pipeline(tiny_config, seed=1).to(dtype=torch.float16).save_pretrained(folder, variant="fp16")
    assert (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors").exists()
    return folder


def _first_weight(pipe):
    return pipe.unet.conv_in.weight.detach().float()


def test_fp16_loads_the_fp16_files(variant_folder, tiny_config):
    from fatezero_lab.toyworld.model import build_pipeline

    half = load_pipeline(str(variant_folder), device="cpu", dtype=torch.float16)  # what CUDA's default does
    assert half.variant == "fp16" and half.unet.dtype == torch.float16
    seed1 = build_pipeline(tiny_config, seed=1).to(dtype=torch.float16)
    torch.testing.assert_close(_first_weight(half), _first_weight(seed1), rtol=0, atol=0)
    full = load_pipeline(str(variant_folder), device="cpu")  # fp32: the full files
    assert full.variant is None and full.unet.dtype == torch.float32
    torch.testing.assert_close(_first_weight(full), _first_weight(build_pipeline(tiny_config, seed=0)), rtol=0, atol=0)
    forced = load_pipeline(str(variant_folder), device="cpu", dtype=torch.float16, variant=None)
    assert forced.variant is None
    torch.testing.assert_close(_first_weight(forced), _first_weight(full).half().float(), rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:loading 'owner/model' on the CPU")
def test_hub_model_without_fp16_files_falls_back(monkeypatch, tmp_path, tiny_folder):
    """diffusers refuses variant='fp16' for a repository without fp16 files before downloading any weights; the
    loader then asks for the full weights, with a note."""
    from diffusers import StableDiffusionPipeline

    _serve_hub_from(monkeypatch, tiny_folder, tmp_path=tmp_path)
    real = StableDiffusionPipeline.from_pretrained.__func__
    asked = []

    def hub(cls, path, **kwargs):
        asked.append(kwargs["variant"])
        if kwargs["variant"] is not None:  # the message diffusers' download gives (pipeline_loading_utils)
            raise ValueError(f"You are trying to load model files of the `variant={kwargs['variant']}`, but no such "
                             f"modeling files are available. ")
        return real(cls, str(tiny_folder), **{**kwargs, "revision": None})

    monkeypatch.setattr(StableDiffusionPipeline, "from_pretrained", classmethod(hub))
    with pytest.warns(UserWarning, match="'owner/model' has no fp16 weight files"):
        pipe = load_pipeline("owner/model", device="cpu", dtype=torch.float16)
    assert asked == ["fp16", None] and pipe.variant is None and pipe.revision is not None


def test_fp16_without_fp16_files_falls_back_with_a_note(tiny_folder, tiny_pipe):
    with pytest.warns(UserWarning, match=r"has no fp16 weight files \(variant='fp16'\); loading its full weights"):
        pipe = load_pipeline(str(tiny_folder), device="cpu", dtype=torch.float16)
    assert pipe.variant is None and pipe.unet.dtype == torch.float16
    torch.testing.assert_close(_first_weight(pipe), _first_weight(tiny_pipe).half().float(), rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(variant=16), "variant must be 'auto', None"),
    (dict(dtype="half"), "dtype must be torch.float16"),
])
def test_bad_loading_arguments(kwargs, match, no_weights):
    with pytest.raises(ValueError, match=match):
        load_pipeline("toy", device="cpu", **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_requested_without_a_gpu(no_weights):
    with pytest.raises(ValueError, match="no CUDA GPU: in Colab, Runtime > Change runtime type"):
        load_pipeline("toy", device="cuda")
