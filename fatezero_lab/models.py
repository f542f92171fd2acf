"""Load a Stable Diffusion pipeline: the shipped toy model, a hub id, or a local folder — one code path.

>>> import fatezero_lab as fz
>>> pipe = fz.load_pipeline("toy")          # offline, CPU, ~0.3 s
>>> pipe.unet.config.cross_attention_dim
128

``load_pipeline("CompVis/stable-diffusion-v1-4")`` runs the same ``StableDiffusionPipeline.from_pretrained`` call:
fp16 on CUDA, fp32 on CPU; no safety checker is downloaded or run; a DDIM scheduler with ``steps_offset=1``
replaces whatever scheduler the folder ships, because inversion needs DDIM's forward and inverse timesteps to line up.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .config import ModelDefaults

TOY = "toy"
TOY_FOLDER = Path(__file__).parent / "toyworld" / "weights"
SD_REQUIRED = ("unet", "vae", "text_encoder", "tokenizer")


class ModelNotFoundError(ValueError):
    """Raised when a model name is neither "toy", an existing pipeline folder, nor a reachable hub id."""


@dataclass
class FateZeroPipeline:
    """A diffusers ``StableDiffusionPipeline`` and the facts fatezero_lab keeps about it, side by side.

    Nothing is hung on the diffusers objects: the per-model facts live here. ``pipe.unet``, ``pipe.vae``,
    ``pipe.text_encoder``, ``pipe.tokenizer`` and ``pipe.scheduler`` are the diffusers components; any other
    attribute (``save_pretrained``, ``components`` …) is the diffusers pipeline's own. Every fatezero_lab function also
    accepts a bare diffusers pipeline and wraps it with the reference defaults (:func:`as_pipeline`).
    """

    diffusers: object  # the StableDiffusionPipeline (its scheduler a DDIMScheduler with steps_offset=1)
    defaults: ModelDefaults = field(default_factory=ModelDefaults)  # what an edit's open fields fall back on
    name: str = ""  # what it was loaded from ("toy", a folder, a hub id)
    temporal_layers: dict = field(default_factory=dict)  # processor name -> one-shot-tuned temporal attention
    tuned_on: str | None = None  # the prompt of the clip it was one-shot tuned on (tuning.py), if any

    @property
    def unet(self):
        return self.diffusers.unet

    @property
    def vae(self):
        return self.diffusers.vae

    @property
    def text_encoder(self):
        return self.diffusers.text_encoder

    @property
    def tokenizer(self):
        return self.diffusers.tokenizer

    @property
    def scheduler(self):
        return self.diffusers.scheduler

    @property
    def resolution(self) -> tuple[int, int]:
        """The frame size (H, W) the model was trained at: the UNet's sample size times the VAE's downsampling."""
        s = self.unet.config.sample_size
        h, w = (s, s) if isinstance(s, int) else tuple(s)
        f = 2 ** (len(self.vae.config.block_out_channels) - 1)
        return h * f, w * f

    @property
    def is_toy(self) -> bool:
        """A toy-world model (its tokenizer knows only the toy world's words)."""
        return len(self.tokenizer.get_vocab()) < 1000

    def to(self, *args, **kwargs) -> "FateZeroPipeline":
        """Move/cast the diffusers pipeline and the tuned temporal layers together."""
        self.diffusers.to(*args, **kwargs)
        for module in self.temporal_layers.values():
            module.to(*args, **kwargs)
        return self

    def __getattr__(self, name):
        if name.startswith("__") or name == "diffusers":  # copy/pickle probe before __init__ ran
            raise AttributeError(name)
        return getattr(self.diffusers, name)

    def __repr__(self) -> str:
        tuned = f", tuned_on={self.tuned_on!r}" if self.tuned_on else ""
        return (f"FateZeroPipeline(name={self.name!r}, resolution={self.resolution}, device={self.unet.device}, "
                f"dtype={self.unet.dtype}, defaults={self.defaults.source!r}{tuned})")


def as_pipeline(pipe) -> FateZeroPipeline:
    """``pipe`` itself if it is a :class:`FateZeroPipeline`, else a bare diffusers pipeline wrapped with the
    reference defaults."""
    if isinstance(pipe, FateZeroPipeline):
        return pipe
    if not all(hasattr(pipe, c) for c in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")):
        raise TypeError(f"pipe must be a pipeline from fatezero_lab.load_pipeline (or a diffusers "
                        f"StableDiffusionPipeline), got {type(pipe).__name__}")
    return FateZeroPipeline(pipe)


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve(name: str | os.PathLike) -> tuple[str, bool]:
    """Map a model name to ``(path_or_id, is_local)``, raising a clear error for names that cannot work."""
    if not isinstance(name, (str, os.PathLike)) or str(name) == "":
        raise ModelNotFoundError(f"model must be 'toy', a pipeline folder or a hub id like "
                                 f"'CompVis/stable-diffusion-v1-4'; got {name!r}")
    name = str(name)
    if name == TOY:
        if not (TOY_FOLDER / "model_index.json").exists():
            raise ModelNotFoundError(
                f"the toy model's weights are missing from {TOY_FOLDER}; reinstall the package or train them with "
                f"`python -m fatezero_lab.toyworld.train`")
        return str(TOY_FOLDER), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"{name!r} is a file; expected a diffusers pipeline folder holding model_index.json")
        if not (path / "model_index.json").exists():
            raise ModelNotFoundError(
                f"folder {name!r} has no model_index.json, so it is not a diffusers pipeline folder "
                f"(expected subfolders {', '.join(SD_REQUIRED)} and model_index.json, as written by save_pretrained)")
        return str(path), True
    if _looks_like_hub_id(name):
        return name, False
    raise ModelNotFoundError(
        f"unknown model {name!r}: not 'toy', not an existing folder, and not a hub id of the form 'owner/name' "
        f"(e.g. 'CompVis/stable-diffusion-v1-4' or 'stable-diffusion-v1-5/stable-diffusion-v1-5')")


@contextlib.contextmanager
def _quiet_loading():
    """Hide the loaders' progress bars and transformers' "torchvision not installed" notices while loading
    (they are noise in a notebook); restore both libraries' settings afterwards."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    level, d_bars, t_bars = tlog.get_verbosity(), dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error(), dlog.disable_progress_bar(), tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(level)
        if d_bars:
            dlog.enable_progress_bar()
        if t_bars:
            tlog.enable_progress_bar()


def load_pipeline(name: str | os.PathLike = TOY, device: str | None = None, dtype=None,
                  local_files_only: bool | None = None) -> FateZeroPipeline:
    """Load ``name`` as a ``StableDiffusionPipeline`` with a DDIM scheduler (``steps_offset=1``), ready for FateZero,
    wrapped in a :class:`FateZeroPipeline` with the model's defaults.

    Args:
        name: ``"toy"`` (the shipped toy model), a local pipeline folder, or a hub id such as
            ``"CompVis/stable-diffusion-v1-4"``.
        device: ``"cuda"``, ``"mps"`` or ``"cpu"``; default: the best available.
        dtype: default fp16 on CUDA, fp32 elsewhere (the toy model always loads in fp32).
        local_files_only: default True for local folders and when ``HF_HUB_OFFLINE=1``.
    """
    import torch

    with _quiet_loading():  # the first import of the pipeline class prints transformers' torchvision notices
        from diffusers import DDIMScheduler, StableDiffusionPipeline

    path, is_local = resolve(name)
    device = device or default_device()
    if dtype is None:
        dtype = torch.float16 if (device == "cuda" and name != TOY) else torch.float32
    if local_files_only is None:
        local_files_only = is_local or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    if device == "cpu" and not is_local:
        warnings.warn(f"loading {name!r} on the CPU in fp32: expect minutes per inversion step at 512x512. "
                      f"Use a GPU (device='cuda') or the toy model for CPU work.", stacklevel=2)
    try:
        with _quiet_loading():
            pipe = StableDiffusionPipeline.from_pretrained(
                path, dtype=dtype, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
                local_files_only=local_files_only, use_safetensors=True,
            )
    except (OSError, ValueError) as e:
        if is_local:
            raise ModelNotFoundError(f"could not load the pipeline folder {path!r}: {e}") from e
        raise ModelNotFoundError(
            f"could not load {name!r} from the Hugging Face hub ({type(e).__name__}: {str(e).splitlines()[0]}). "
            f"Offline? Download it once on a machine with network (`huggingface-cli download {name}`) and pass the "
            f"local folder, or set HF_HOME to a cache that holds it; the toy model ('toy') always works offline."
        ) from e
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, steps_offset=1, clip_sample=False,
                                               set_alpha_to_one=False)
    pipe.set_progress_bar_config(disable=True)
    defaults = ModelDefaults.from_folder(path if is_local else None)
    return FateZeroPipeline(pipe.to(device), defaults, name=str(name))


def model_summary(pipe) -> dict:
    """Parameter counts and the layout facts FateZero cares about (latent size, attention layers)."""
    pipe = as_pipeline(pipe)
    unet = pipe.unet
    procs = unet.attn_processors
    return {
        "unet_params": sum(p.numel() for p in unet.parameters()),
        "vae_params": sum(p.numel() for p in pipe.vae.parameters()),
        "text_encoder_params": sum(p.numel() for p in pipe.text_encoder.parameters()),
        "latent_channels": unet.config.in_channels,
        "vae_downsample": 2 ** (len(pipe.vae.config.block_out_channels) - 1),
        "self_attention_layers": sum(1 for k in procs if "attn1" in k),
        "cross_attention_layers": sum(1 for k in procs if "attn2" in k),
        "max_prompt_tokens": pipe.tokenizer.model_max_length,
    }


def random_sd_pipeline(seed: int = 0, text_layers: int = 12, dtype=None):
    """A full-size Stable Diffusion v1.x *architecture* with random weights, built offline from configs.

    UNet = diffusers' ``UNet2DConditionModel`` SD-v1 layout (320/640/1280/1280 channels, cross-attention dim 768,
    8 heads), VAE = SD's ``AutoencoderKL`` layout (downsampling 8), text encoder = CLIP ViT-L/14's text tower layout
    (768 wide, 77 positions; ``text_layers`` deep). The tokenizer is the toy one padded to 77 tokens (SD's vocabulary
    cannot be downloaded here). Used to check shapes, layer filters, memory and time at SD's real size.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .toyworld.model import assemble_pipeline, build_scheduler, build_tokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, scaling_factor=0.18215,
    )
    tok = build_tokenizer(77)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=text_layers, num_attention_heads=12,
                                        max_position_embeddings=77, pad_token_id=tok.pad_token_id,
                                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    pipe = assemble_pipeline(vae, text, tok, unet, build_scheduler())
    pipe.set_progress_bar_config(disable=True)
    if dtype is not None:
        pipe.to(dtype=dtype)
    return FateZeroPipeline(pipe, ModelDefaults(), name="random SD v1.x architecture")
