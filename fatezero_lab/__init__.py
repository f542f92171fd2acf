"""fatezero_lab: FateZero (ICCV 2023) step by step on Hugging Face diffusers, with a CPU toy world.

>>> import fatezero_lab as fz
>>> pipe = fz.load_pipeline("toy")
>>> clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=8)
>>> inv = fz.invert(pipe, clip.frames, clip.caption, steps=50, temporal=True)
>>> inv.store.cross_attention(word="circle", step=10).shape            # (frames, h, w)
>>> mask = fz.blend_mask(inv.store, words=["circle"], step=10, threshold=0.3)
>>> out = fz.edit(pipe, inv, "a blue circle on grass", blend_words=["circle"])
"""

from . import (bench, cost, data, diffusion, fusion, lab, masks, memory, metrics, models, presets, project, store_modes,
               toyworld, tuning, video, viz)
from .config import ConfigError, FateZeroConfig, InversionConfig, ModelDefaults, TemporalConfig
from .diffusion import decode_latents, encode_frames, encode_prompt, sample
from .metrics import psnr
from .editing import EditResult, edit
from .inversion import Inversion, invert, reconstruct, vae_roundtrip
from .masks import MaskResult, blend_mask
from .models import FateZeroPipeline, ModelNotFoundError, as_pipeline, load_pipeline
from .processors import attention_control, attention_layers
from .store import AttentionStore

__version__ = "0.1.0"

__all__ = ["AttentionStore", "ConfigError", "InversionConfig", "EditResult", "FateZeroConfig", "FateZeroPipeline", "ModelDefaults", "as_pipeline", "Inversion", "MaskResult", "ModelNotFoundError",
           "TemporalConfig", "attention_control", "attention_layers", "blend_mask", "decode_latents", "diffusion",
           "edit", "encode_frames", "encode_prompt", "invert", "load_pipeline", "psnr", "reconstruct", "sample",
           "toyworld", "vae_roundtrip", "video", "viz", "data", "masks", "memory", "metrics", "models", "bench", "tuning",
           "presets", "lab", "fusion", "store_modes", "cost", "project"]
