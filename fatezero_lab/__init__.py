"""fatezero_lab: FateZero (ICCV 2023) step by step on Hugging Face diffusers, with a CPU toy world.

>>> import fatezero_lab as fz
>>> pipe = fz.load_pipeline("toy")
>>> clip = fz.toyworld.clip("a red circle on grass", motion="left_to_right", frames=8)
>>> inv = fz.invert(pipe, clip.frames, clip.caption, steps=50)
>>> frames = fz.reconstruct(pipe, inv)
"""

from . import diffusion, toyworld, video
from .diffusion import decode_latents, encode_frames, encode_prompt, psnr, sample
from .inversion import Inversion, invert, reconstruct, vae_roundtrip
from .models import ModelNotFoundError, load_pipeline

__version__ = "0.1.0"

__all__ = ["Inversion", "ModelNotFoundError", "decode_latents", "diffusion", "encode_frames", "encode_prompt",
           "invert", "load_pipeline", "psnr", "reconstruct", "sample", "toyworld", "vae_roundtrip", "video"]
