"""Load a Stable Diffusion pipeline: the shipped toy model, a hub id, or a local folder — one code path.

>>> import fatezero_lab as fz
>>> pipe = fz.load_pipeline("toy")          # offline, CPU, ~0.3 s
>>> pipe.unet.config.cross_attention_dim
128

``load_pipeline("CompVis/stable-diffusion-v1-4")`` runs the same ``StableDiffusionPipeline.from_pretrained`` call:
fp16 on CUDA (the repository's ``fp16`` weight files when it has them: half the download), fp32 on CPU; no safety
checker is downloaded or run; a DDIM scheduler with ``steps_offset=1`` replaces whatever scheduler the folder ships,
because inversion needs DDIM's forward and inverse timesteps to line up.

Before any weights are read, :func:`inspect_model` reads the pipeline's small config files (``model_index.json``,
``unet/config.json``, ``vae/config.json``) and refuses what this package cannot edit — SDXL, SD 3, FLUX and other
transformer pipelines, inpainting/depth/upscaling UNets — with a message saying what the model is and what to load
instead. Hub failures come back as errors naming the cause (gated, missing, offline, disk full) and the ``hf``
command that fixes it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .config import ModelDefaults

TOY = "toy"
TOY_FOLDER = Path(__file__).parent / "toyworld" / "weights"
SD_REQUIRED = ("unet", "vae", "text_encoder", "tokenizer")
SUGGESTED = ("CompVis/stable-diffusion-v1-4", "stable-diffusion-v1-5/stable-diffusion-v1-5")  # the paper's, its successor
# what `hf download` may skip for this package: the single-file checkpoints, pickles, Flax weights, the safety checker
DOWNLOAD_EXCLUDE = ("*.ckpt", "*.bin", "*.msgpack", "safety_checker/*")
# pipeline class-name prefixes of the families this package refuses, and what to call them in the message
UNSUPPORTED_FAMILIES = (
    ("StableDiffusionXL", "a Stable Diffusion XL pipeline"),
    ("StableDiffusion3", "a Stable Diffusion 3 pipeline"),
    ("StableDiffusionInpaint", "an inpainting pipeline"),
    ("StableDiffusionDepth2Img", "a depth-to-image pipeline"),
    ("StableDiffusionUpscale", "an upscaling pipeline"),
    ("StableDiffusionLatentUpscale", "an upscaling pipeline"),
    ("StableUnCLIP", "a Stable unCLIP pipeline"),
    ("Flux", "a FLUX pipeline"),
    ("PixArt", "a PixArt pipeline"),
    ("Sana", "a Sana pipeline"),
    ("HunyuanDiT", "a Hunyuan-DiT pipeline"),
    ("Kandinsky", "a Kandinsky pipeline"),
    ("IF", "a DeepFloyd IF pipeline"),
    ("Wuerstchen", "a Würstchen pipeline"),
    ("StableCascade", "a Stable Cascade pipeline"),
)


class ModelLoadError(ValueError):
    """A model could not be loaded; the message names the cause and how to fix it."""


class ModelNotFoundError(ModelLoadError):
    """Raised when a model name is neither "toy", an existing pipeline folder, nor a reachable hub id."""


class GatedModelError(ModelLoadError):
    """Raised for a hub model that needs its licence accepted and a logged-in machine (``hf auth login``)."""


class UnsupportedModelError(ModelLoadError):
    """Raised, before any weights load, for a model this package cannot edit (SDXL, SD 3, FLUX, inpainting …)."""


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
    revision: str | None = None  # the hub commit the files came from (None: a local folder, or unknown)
    variant: str | None = None  # the weight files loaded: "fp16" (the half-size files) or None (the full ones)

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
        """The frame size (H, W) the model was trained at: the UNet's sample size times the VAE's downsampling
        (SD 1.x and SD 2.x-base: 512, SD 2.x-768: 768, the toy: 64)."""
        return _resolution(self.unet.config.sample_size, self.vae.config.block_out_channels)

    @property
    def max_side(self) -> int:
        """The largest query-grid side whose attention is recorded and fused (``invert``'s default): the reference's
        32 at SD 1.x's 64² latent, scaled with this model's latent (SD 2.x-768: 48); see ModelDefaults.max_side_for."""
        return self.defaults.max_side_for(self.unet.config.sample_size)

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


def _resolution(sample_size, vae_block_out_channels) -> tuple[int, int]:
    """(H, W) in pixels of a UNet ``sample_size`` (int or (h, w) latents) under a VAE with these block widths
    (each block after the first halves the image: SD's four blocks downsample by 8)."""
    h, w = (sample_size, sample_size) if isinstance(sample_size, int) else tuple(sample_size)
    f = 2 ** (len(vae_block_out_channels) - 1)
    return h * f, w * f


def as_pipeline(pipe) -> FateZeroPipeline:
    """``pipe`` itself if it is a :class:`FateZeroPipeline`, else a bare diffusers pipeline wrapped with the
    reference defaults."""
    if isinstance(pipe, FateZeroPipeline):
        return pipe
    if not all(hasattr(pipe, c) for c in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")):
        raise TypeError(f"pipe must be a pipeline from fatezero_lab.load_pipeline (or a diffusers "
                        f"StableDiffusionPipeline), got {type(pipe).__name__}")
    components = getattr(pipe, "components", None) or {c: getattr(pipe, c) for c in SD_REQUIRED}
    index = {"_class_name": type(pipe).__name__,
             **{k: ["", type(v).__name__] for k, v in components.items() if v is not None}}
    check_supported(type(pipe).__name__, index, dict(getattr(pipe.unet, "config", {})),
                    label=f"pipe (a {type(pipe).__name__})")
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


# --- what a model is, read from its config files before any weights ---------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """What a pipeline's config files say, read before any weights are loaded (:func:`inspect_model`)."""

    name: str  # as given ("toy", a folder, a hub id)
    path: str  # the local folder, or the hub id
    is_local: bool  # a folder on this machine (no hub involved)
    resolution: tuple[int, int]  # (H, W) the model was trained at: UNet sample_size × VAE downsampling
    max_side: int  # invert's default layer-size limit for it (ModelDefaults.max_side_for)
    upcast_attention: bool  # the UNet computes attention scores in float32 (SD 2.x's UNet config)
    revision: str | None  # the hub commit of the cached files (None for a local folder)


def download_command(name: str, revision: str | None = None) -> str:
    """The ``hf download`` command that fetches what this package loads from hub model ``name`` into the Hugging
    Face cache (``load_pipeline(name)`` then finds it offline)."""
    rev = f" --revision {revision}" if revision else ""
    skip = "".join(f' --exclude "{p}"' for p in DOWNLOAD_EXCLUDE)
    return f"hf download {name}{rev}{skip}"


def _hub_file(repo_id: str, filename: str, revision: str | None, local_files_only: bool) -> str:
    """The local path of one file of a hub repository (from the cache, else downloaded): the one hub call made
    before the weights load."""
    from huggingface_hub import hf_hub_download

    return hf_hub_download(repo_id, filename, revision=revision, local_files_only=local_files_only)


def _offline_requested() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no", "off")


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _causes(e: BaseException):
    """``e`` and the exceptions it was raised from or during, outermost first."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def explain_load_error(e: BaseException, name: str, revision: str | None = None) -> Exception | None:
    """The error to raise instead of ``e`` (raised while loading ``name``): one that names the real cause — gated
    repository, missing repository/revision/file, no network or offline mode, full disk — and the fix. None if
    ``e`` is none of those."""
    from huggingface_hub import errors as hub

    chain = list(_causes(e))

    def found(cls):
        return next((c for c in chain if isinstance(c, cls)), None)

    page = f"https://huggingface.co/{name}"
    if found(hub.GatedRepoError):
        return GatedModelError(
            f"{name!r} is a gated model on the Hugging Face hub: open {page} while logged in and accept its "
            f"licence, then log this machine in with `hf auth login` (or set the HF_TOKEN environment variable; in "
            f"Colab, add HF_TOKEN under Secrets) and load again.")
    if found(hub.RevisionNotFoundError):
        return ModelNotFoundError(
            f"model {name!r} has no revision {revision or 'main'!r} on the Hugging Face hub: pass an existing branch, tag or "
            f"commit ({page}/commits/main lists them), or revision=None for the main branch.")
    if found(hub.RepositoryNotFoundError):
        return ModelNotFoundError(
            f"no model {name!r} on the Hugging Face hub, or it is private and this machine is not logged in: check "
            f"the owner/name spelling (https://huggingface.co/models), or for a private model log in with "
            f"`hf auth login`; a local pipeline folder or 'toy' also work.")
    disk = next((c for c in chain if isinstance(c, OSError) and c.errno == errno.ENOSPC), None)
    if disk is not None:
        return OSError(
            errno.ENOSPC,
            f"no space left on the disk while fetching {name!r} into the Hugging Face cache ({_hub_cache()}): free "
            f"space there (`hf cache ls` lists the cached models, `hf cache rm MODEL` deletes one) or set HF_HOME to "
            f"a larger disk before loading; the download resumes where it stopped.")
    local = found(hub.LocalEntryNotFoundError)
    if local is not None or found(hub.OfflineModeIsEnabled) or found(ConnectionError):
        why = ("HF_HUB_OFFLINE is set" if _offline_requested()
               else "no network connection, or the hub did not answer")
        return ModelNotFoundError(
            f"{name!r} is not in the local Hugging Face cache ({_hub_cache()}) and the hub cannot be reached "
            f"({why}). Offline? Fetch it once on a machine with network: `{download_command(name, revision)}` "
            f"fills the cache (copy it here, or set HF_HOME to it); add `--local-dir FOLDER` to get a folder to pass "
            f"instead. The toy model ('toy') always works offline.")
    missing = found(hub.EntryNotFoundError)
    if missing is not None:
        return ModelNotFoundError(
            f"{name!r} on the Hugging Face hub lacks a file this package reads ({str(missing).splitlines()[0]}): "
            f"it is not a complete diffusers pipeline repository. A single .safetensors/.ckpt checkpoint can be "
            f"converted with diffusers' StableDiffusionPipeline.from_single_file(path).save_pretrained(folder); "
            f"then load that folder.")
    http = found(hub.HfHubHTTPError)
    if http is not None:
        status = getattr(getattr(http, "response", None), "status_code", "?")
        return ModelLoadError(
            f"the Hugging Face hub answered HTTP {status} for {name!r} ({str(http).splitlines()[0]}). With a missing "
            f"or outdated token log in again with `hf auth login`; otherwise try again later.")
    return None


def _read_json(path: str | Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"could not read {what} ({path}): {e}") from e


def _components(model_index: dict) -> dict[str, str]:
    """model_index.json's components -> their class names (the entries that are not null)."""
    return {k: str(v[-1]) for k, v in model_index.items()
            if not k.startswith("_") and isinstance(v, (list, tuple)) and len(v) == 2 and v[-1] is not None}


def unsupported_reasons(model_index: dict, unet_config: dict | None) -> list[str]:
    """Why a pipeline with this ``model_index.json`` and ``unet/config.json`` cannot be edited here ([] = it can).

    This package edits SD 1.x/2.x: a ``UNet2DConditionModel`` conditioned on one CLIP text encoder's tokens only,
    whose input and output are the VAE latents.
    """
    comps = _components(model_index)
    reasons = []
    if "unet" not in comps:
        denoiser = next((f"{k} ({comps[k]})" for k in ("transformer", "prior", "decoder") if k in comps), None)
        reasons.append("its model_index.json has no 'unet' component"
                       + (f" (its denoiser is a transformer: {denoiser})" if denoiser else ""))
    elif comps["unet"] != "UNet2DConditionModel":
        reasons.append(f"its UNet is a {comps['unet']}, not a UNet2DConditionModel")
    for extra in ("text_encoder_2", "text_encoder_3"):
        if extra in comps:
            reasons.append(f"it has a second text encoder ({extra}: {comps[extra]})")
    if unet_config is not None:
        c = unet_config
        if c.get("addition_embed_type") is not None:
            reasons.append(f"its UNet has addition_embed_type={c['addition_embed_type']!r} (extra conditioning; "
                           f"SDXL's 'text_time' embeds image sizes and crops)")
        if isinstance(c.get("cross_attention_dim"), (list, tuple)):
            reasons.append(f"its UNet has a cross_attention_dim per block ({list(c['cross_attention_dim'])})")
        if c.get("encoder_hid_dim_type") is not None:
            reasons.append(f"its UNet projects its conditioning (encoder_hid_dim_type={c['encoder_hid_dim_type']!r})")
        if c.get("class_embed_type") is not None or c.get("num_class_embeds") is not None:
            reasons.append("its UNet takes class labels (class_embed_type/num_class_embeds)")
        if c.get("in_channels", 4) != c.get("out_channels", 4):
            reasons.append(f"its UNet takes {c.get('in_channels')} input channels for {c.get('out_channels')} output "
                           f"channels (image or mask channels beside the latents: an inpainting, depth-to-image or "
                           f"upscaling model)")
    missing = [k for k in SD_REQUIRED if k not in comps and not (k == "unet" and reasons)]
    if missing:
        reasons.append(f"its model_index.json lacks {', '.join(missing)}")
    return reasons


def check_supported(name: str, model_index: dict, unet_config: dict | None, label: str | None = None) -> None:
    """Raise :class:`UnsupportedModelError` for a pipeline this package cannot edit, saying what it is and what to
    load instead (before any weights load: diffusers would load an SDXL folder and fail at the first UNet call).
    ``label``: how the message names it (default ``model 'name'``)."""
    cls = model_index.get("_class_name")
    cls = str(cls[-1] if isinstance(cls, (list, tuple)) else cls)
    family = next((what for prefix, what in UNSUPPORTED_FAMILIES if cls.startswith(prefix)), None)
    reasons = unsupported_reasons(model_index, unet_config)
    if family is None and not reasons:
        return
    if family is not None:
        reasons.insert(0, f"model_index.json names {cls}")
    raise UnsupportedModelError(
        f"{label or f'model {name!r}'} is {family or 'not a Stable Diffusion 1.x/2.x pipeline'} "
        f"({'; '.join(reasons)}). "
        f"fatezero_lab edits Stable Diffusion 1.x and 2.x models — a UNet2DConditionModel with one CLIP text "
        f"encoder, the architecture FateZero was built on — and this one would fail or edit wrongly once running. "
        f"Load an SD 1.x/2.x model instead, e.g. {SUGGESTED[0]!r} (the paper's) or {SUGGESTED[1]!r}.")


def inspect_model(name: str | os.PathLike = TOY, revision: str | None = None,
                  local_files_only: bool | None = None) -> ModelInfo:
    """Read a model's config files — no weights — and check that this package can edit it.

    Raises :class:`ModelNotFoundError` (bad name, missing folder/repository/revision, offline and not cached),
    :class:`GatedModelError` (licence not accepted / not logged in), :class:`UnsupportedModelError` (SDXL, SD 3,
    FLUX, inpainting …) or ``OSError(ENOSPC)`` (disk full), each saying how to fix it. Arguments as
    :func:`load_pipeline`.
    """
    path, is_local = resolve(name)
    name = str(name)
    if local_files_only is None:
        local_files_only = is_local or _offline_requested()
    commit = None

    def config(filename: str) -> dict:
        nonlocal commit
        if is_local:
            return _read_json(Path(path) / filename, f"{filename} of {name!r}")
        try:
            local = _hub_file(path, filename, revision, local_files_only)
        except Exception as e:
            better = explain_load_error(e, name, revision)
            if better is None:
                raise
            raise better from e
        if filename == "model_index.json":  # .../snapshots/<commit>/model_index.json in the hub cache
            parent = Path(local).parent.name
            commit = parent if re.fullmatch(r"[0-9a-f]{40}", parent) else None
        return _read_json(local, f"{filename} of {name!r}")

    model_index = config("model_index.json")
    comps = _components(model_index)
    unet, unreadable = None, None
    if "unet" in comps:  # (an SD 3 or FLUX repository has none: its model_index.json alone says enough)
        try:
            unet = config("unet/config.json")
        except ModelLoadError as e:  # a refusal below says more than a missing file; else raised after it
            unreadable = e
    check_supported(name, model_index, unet)
    if is_local:
        absent = [k for k in SD_REQUIRED if not (Path(path) / k).is_dir()]
        if absent:
            raise ModelNotFoundError(
                f"pipeline folder {name!r} lacks the subfolder(s) {', '.join(a + '/' for a in absent)} that its "
                f"model_index.json names: copy the whole folder (as written by save_pretrained or "
                f"`hf download ... --local-dir FOLDER`)")
    if unreadable is not None:
        raise unreadable
    vae = config("vae/config.json") if "vae" in comps else {}
    defaults = ModelDefaults.from_folder(path if is_local else None)
    return ModelInfo(name=name, path=path, is_local=is_local,
                     resolution=_resolution(unet.get("sample_size", 64), vae.get("block_out_channels", (0,) * 4)),
                     max_side=defaults.max_side_for(unet.get("sample_size", 64)),
                     upcast_attention=bool(unet.get("upcast_attention", False)), revision=commit)


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


def _is_missing_variant(e: BaseException, variant: str) -> bool:
    """diffusers' "no such modeling files" answer to a ``variant`` the folder/repository does not have."""
    return isinstance(e, ValueError) and f"variant={variant}" in str(e)


def _dtype_keyword() -> str:
    """``from_pretrained``'s dtype argument: ``dtype`` from diffusers 0.40 on, ``torch_dtype`` before (0.39, Colab's
    preinstalled version, ignores an unknown ``dtype=`` with a warning and loads fp32)."""
    import diffusers

    major, minor = (int(x) for x in diffusers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (0, 40) else "torch_dtype"


def load_pipeline(name: str | os.PathLike = TOY, device: str | None = None, dtype=None,
                  local_files_only: bool | None = None, variant: str | None = "auto",
                  revision: str | None = None) -> FateZeroPipeline:
    """Load ``name`` as a ``StableDiffusionPipeline`` with a DDIM scheduler (``steps_offset=1``), ready for FateZero,
    wrapped in a :class:`FateZeroPipeline` with the model's defaults.

    Args:
        name: ``"toy"`` (the shipped toy model), a local pipeline folder, or a hub id such as
            ``"CompVis/stable-diffusion-v1-4"``. SD 1.x and 2.x only: other families are refused before any
            weights load (:func:`inspect_model`).
        device: ``"cuda"``, ``"mps"`` or ``"cpu"``; default: the best available.
        dtype: default fp16 on CUDA, fp32 elsewhere (the toy model always loads in fp32).
        local_files_only: default True for local folders and when ``HF_HUB_OFFLINE=1``.
        variant: which weight files: ``"auto"`` (default) takes the ``fp16`` files when loading in fp16 (on CUDA:
            half the download) and the full ones otherwise; a model without fp16 files falls back to its full
            weights with a warning. ``None``: the full weights; or a variant name (``"fp16"``).
        revision: a hub branch, tag or commit (default: main).
    """
    import torch

    if variant is not None and not isinstance(variant, str):
        raise ValueError(f"variant must be 'auto', None (the full weights) or a variant name like 'fp16', got {variant!r}")
    if dtype is not None and dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"dtype must be torch.float16, torch.bfloat16, torch.float32 or None (fp16 on CUDA, "
                         f"fp32 elsewhere), got {dtype!r}")
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA GPU: in Colab, Runtime > Change runtime type > "
                         f"a GPU, then run again; or pass device='cpu' (slow at SD's size) or use the toy model")
    info = inspect_model(name, revision=revision, local_files_only=local_files_only)  # configs only, checked
    path, is_local = info.path, info.is_local
    with _quiet_loading():  # the first import of the pipeline class prints transformers' torchvision notices
        from diffusers import DDIMScheduler, StableDiffusionPipeline

    device = device or default_device()
    if dtype is None:
        dtype = torch.float16 if (device == "cuda" and name != TOY) else torch.float32
    if local_files_only is None:
        local_files_only = is_local or _offline_requested()
    if variant == "auto":
        variant = "fp16" if dtype == torch.float16 else None
    if device == "cpu" and not is_local:
        warnings.warn(f"loading {name!r} on the CPU in fp32: expect minutes per inversion step at 512x512. "
                      f"Use a GPU (device='cuda') or the toy model for CPU work.", stacklevel=2)

    def from_pretrained(variant):
        with _quiet_loading():
            return StableDiffusionPipeline.from_pretrained(
                path, **{_dtype_keyword(): dtype}, safety_checker=None, feature_extractor=None, requires_safety_checker=False,
                local_files_only=local_files_only, use_safetensors=True, variant=variant,
                revision=None if is_local else (info.revision or revision),
            )

    try:
        try:
            pipe = from_pretrained(variant)
        except ValueError as e:
            if variant is None or not _is_missing_variant(e, variant):
                raise
            warnings.warn(f"{name!r} has no {variant} weight files (variant={variant!r}); loading its full weights "
                          f"instead (about twice the download) and casting them to {dtype}.", stacklevel=2)
            variant = None
            pipe = from_pretrained(None)
    except (OSError, ValueError) as e:
        better = explain_load_error(e, str(name), revision)
        if better is not None:
            raise better from e
        if is_local:
            raise ModelNotFoundError(f"could not load the pipeline folder {path!r}: {e}") from e
        raise ModelNotFoundError(
            f"could not load {name!r} from the Hugging Face hub ({type(e).__name__}: {str(e).splitlines()[0]}). "
            f"Fetch it with `{download_command(str(name), revision)}` and load again, or pass a local pipeline "
            f"folder; the toy model ('toy') always works offline.") from e
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, steps_offset=1, clip_sample=False,
                                               set_alpha_to_one=False)
    pipe.set_progress_bar_config(disable=True)
    defaults = ModelDefaults.from_folder(path if is_local else None)
    return FateZeroPipeline(pipe.to(device), defaults, name=str(name), revision=info.revision, variant=variant)


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


@dataclass(frozen=True)
class SDLayout:
    """The sizes of a random-weight pipeline with Stable Diffusion v1's layout (:func:`random_sd_pipeline`): UNet
    CrossAttnDownBlock2D x3 + DownBlock2D mirrored up, 8 heads; a 4-level ``AutoencoderKL`` (downsampling 8, SD's
    scaling factor); a ``CLIPTextModel``. The defaults are SD v1.x's own sizes."""

    widths: tuple[int, ...] = (320, 640, 1280, 1280)  # UNet block widths
    unet_layers: int = 2  # resnets (and attention layers) per down block
    text_dim: int = 768  # text width = UNet cross-attention dim (CLIP ViT-L/14's text tower)
    text_layers: int = 12  # CLIPTextModel transformer layers
    text_heads: int = 12  # CLIPTextModel attention heads
    text_ffn: int = 3072  # CLIPTextModel MLP width
    projection_dim: int = 512  # CLIPTextConfig.projection_dim (the text model has no projection: config only)
    vocab_size: int | None = 49408  # text embedding rows; None = the tokenizer's size
    vae_widths: tuple[int, ...] = (128, 256, 512, 512)  # AutoencoderKL block widths (4 levels: downsampling 8)
    vae_layers: int = 2  # resnets per VAE block
    size: int = 512  # frame side in pixels (latents: size / 8)


SD_V1 = SDLayout()  # full size: shapes, layer filters, memory and time at SD's real size
# the notebooks' SD stand-in (fatezero_lab.lab): SD v1's widths / 10, one layer per block, 128 px (16² latents)
SD_V1_TENTH = SDLayout(widths=(32, 64, 128, 128), unet_layers=1, text_dim=32, text_layers=2, text_heads=4,
                       text_ffn=64, projection_dim=32, vocab_size=None, vae_widths=(32, 32, 64, 64), vae_layers=1,
                       size=128)


def random_sd_pipeline(seed: int = 0, text_layers: int | None = None, dtype=None, layout: SDLayout = SD_V1,
                       tokenizer=None, name: str = "random SD v1.x architecture"):
    """A Stable Diffusion v1.x *architecture* with random weights, built offline from configs (the package's one
    random-SD builder) -> FateZeroPipeline.

    ``layout`` gives the sizes (:data:`SD_V1`: full size, UNet 320/640/1280/1280 channels, cross-attention dim 768,
    8 heads, SD's VAE, CLIP ViT-L/14's text tower layout, 77 positions; :data:`SD_V1_TENTH`: the notebooks' tiny
    stand-in); ``text_layers`` overrides its text depth. The tokenizer defaults to the toy one padded to 77 tokens
    (SD's vocabulary cannot be downloaded here). Scheduler: DDIM with SD's noise schedule and ``steps_offset=1``. The
    reference's defaults apply (:class:`ModelDefaults`). Used to check shapes, layer filters, memory and time.
    """
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from .toyworld.model import assemble_pipeline, build_scheduler, build_tokenizer

    tok = tokenizer if tokenizer is not None else build_tokenizer(77)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(sample_size=layout.size // 8, block_out_channels=layout.widths,
                                layers_per_block=layout.unet_layers, cross_attention_dim=layout.text_dim,
                                attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=layout.size,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=layout.vae_widths, layers_per_block=layout.vae_layers, norm_num_groups=32,
        scaling_factor=0.18215,
    )
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=layout.vocab_size or len(tok), hidden_size=layout.text_dim, intermediate_size=layout.text_ffn,
        num_hidden_layers=layout.text_layers if text_layers is None else text_layers,
        num_attention_heads=layout.text_heads, max_position_embeddings=77, projection_dim=layout.projection_dim,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
    pipe = assemble_pipeline(vae.eval(), text.eval(), tok, unet.eval(), build_scheduler())
    pipe.set_progress_bar_config(disable=True)
    if dtype is not None:
        pipe.to(dtype=dtype)
    return FateZeroPipeline(pipe, ModelDefaults(), name=name)
