"""The toy model: a real diffusers ``StableDiffusionPipeline``, just tiny, with the SD properties FateZero relies on.

Components (all stock diffusers/transformers classes, saved as a normal pipeline folder):

- ``tokenizer``: a ``CLIPTokenizer`` whose BPE vocabulary/merges are learned from the toy world's words, so every toy
  word is one token; prompts are padded to ``max_length`` with a **distinct** ``<|pad|>`` token.
- ``text_encoder``: a ``CLIPTextModel`` with **zero transformer layers** — token + position embeddings and the final
  layer norm. A word-level encoder is a deliberate choice: with a causal encoder every later token (EOS, pads, the
  second object's words) carries the whole prompt, and a small UNet then reads the pads and its word maps do not
  localise (docs/method.md, "Measured facts", toy models 2 and 3). Here "circle" can only mean "circle", so to draw
  a red circle *at a place* the UNet must look at "red" and "circle" *from that place* — the property that makes a
  cross-attention map a mask. BOS and pads carry no content, so they act as the attention sink that SD's BOS token is.
- ``vae``: ``AutoencoderKL``, 64 px -> 16×16×4 latents (downsampling 4, not SD's 8, so 16×16 latents still hold shapes).
- ``unet``: ``UNet2DConditionModel`` with self- and cross-attention at **every** resolution including the full 16×16
  latent grid, two transformer blocks per attention layer (so replaying source self-attention pins the layout).
- ``scheduler``: ``DDIMScheduler`` with SD's scaled-linear betas and ``steps_offset=1`` written explicitly.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .world import vocabulary

BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"


@dataclass
class ToyModelConfig:
    """Sizes of the toy model's components (one place; ``train.py`` records it in the run folder)."""

    image_size: int = 64  # pixels; the VAE maps it to image_size / 4 latents
    max_length: int = 16  # tokens per prompt incl. BOS/EOS/pads ("a red circle and a blue square on grass" = 11)
    text_dim: int = 128  # text embedding width = UNet cross-attention dim
    vae_channels: tuple[int, ...] = (32, 64, 128)  # AutoencoderKL block widths (3 levels -> downsample 4)
    vae_layers: int = 1  # resnets per VAE block
    unet_channels: tuple[int, ...] = (64, 128, 128)  # UNet block widths at 16×16, 8×8, 4×4
    unet_layers: int = 1  # resnets (and attention layers) per down block; up blocks get one more
    transformer_depth: int = 2  # BasicTransformerBlocks per attention layer (self-attn + cross-attn + FF each)
    heads: int = 4  # attention heads in every UNet attention layer
    lowest_attention: bool = True  # attention at the lowest (4×4) level too; False = SD v1's layout: plain ResNet
    #   blocks there (DownBlock2D / UpBlock2D), attention at the other levels and in the mid block only

    def __post_init__(self):
        if self.image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {self.image_size}")
        if len(self.unet_channels) != 3 or len(self.vae_channels) != 3:
            raise ValueError("unet_channels and vae_channels need exactly 3 levels")
        if any(c % self.heads for c in self.unet_channels):
            raise ValueError(f"every UNet width must be divisible by heads={self.heads}: {self.unet_channels}")


LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")  # the BPE's initial alphabet: every letter is a token


def bpe_tokenizer(words, max_length: int, alphabet=LETTERS, vocab_size: int = 10_000, pad_vocab_to: int = 0):
    """A CLIP-style BPE ``CLIPTokenizer`` learnt offline over ``words`` with the ``tokenizers`` trainer: ``</w>`` word
    ends, the special tokens BOS/EOS and a distinct PAD, prompts padded to ``max_length``.

    Every character of ``alphabet`` is also a word end ("a</w>"), so any word over the alphabet tokenizes (unknown
    words into pieces, as in SD's tokenizer); ``pad_vocab_to`` fills the vocabulary with unused entries up to that
    size (an open vocabulary's size rather than the toy's closed one). The toy model's tokenizer
    (:func:`build_tokenizer`) and the SD stand-in's (``fatezero_lab.lab.standin_tokenizer``) are both this one.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    alphabet = list(alphabet)
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=1, special_tokens=[BOS, EOS, PAD], show_progress=False,
        initial_alphabet=alphabet, end_of_word_suffix="</w>",
    )
    bpe.train_from_iterator(list(words) * 2, trainer=trainer)
    with tempfile.TemporaryDirectory() as d:
        bpe.model.save(d)
        vocab_path, merges_path = Path(d) / "vocab.json", Path(d) / "merges.txt"
        vocab = json.loads(vocab_path.read_text())
        for ch in alphabet:  # every character also as a word end, so that any word tokenizes
            vocab.setdefault(ch + "</w>", len(vocab))
        for i in range(len(vocab), pad_vocab_to):  # unused entries
            vocab[f"<unused{i}>"] = i
        vocab_path.write_text(json.dumps(vocab))
        return CLIPTokenizer(str(vocab_path), str(merges_path), pad_token=PAD, model_max_length=max_length)


def build_tokenizer(max_length: int = 16):
    """A ``CLIPTokenizer`` in which every toy-world word is a single token (checked here)."""
    words = vocabulary()
    tok = bpe_tokenizer(words, max_length)
    for w in words:
        ids = tok(w, add_special_tokens=False).input_ids
        if len(ids) != 1:  # pragma: no cover - guards the BPE learner
            raise RuntimeError(f"toy tokenizer splits {w!r} into {tok.convert_ids_to_tokens(ids)}")
    return tok


def build_text_encoder(vocab_size: int, cfg: ToyModelConfig, pad_token_id: int, bos_token_id: int,
                       eos_token_id: int):
    """A word-level ``CLIPTextModel``: embeddings + final layer norm, no transformer layers (see module docstring)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=cfg.text_dim, intermediate_size=cfg.text_dim * 2,
        num_hidden_layers=0, num_attention_heads=2, max_position_embeddings=cfg.max_length,
        pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, projection_dim=cfg.text_dim,
    )
    return CLIPTextModel(config)


def build_vae(cfg: ToyModelConfig):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=cfg.image_size,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=tuple(cfg.vae_channels), layers_per_block=cfg.vae_layers, norm_num_groups=32,
    )


def build_unet(cfg: ToyModelConfig):
    from diffusers import UNet2DConditionModel

    lowest_down, lowest_up = (("CrossAttnDownBlock2D", "CrossAttnUpBlock2D") if cfg.lowest_attention
                              else ("DownBlock2D", "UpBlock2D"))
    return UNet2DConditionModel(
        sample_size=cfg.image_size // 4, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", lowest_down),
        mid_block_type="UNetMidBlock2DCrossAttn",
        up_block_types=(lowest_up, "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=tuple(cfg.unet_channels), layers_per_block=cfg.unet_layers,
        transformer_layers_per_block=cfg.transformer_depth, cross_attention_dim=cfg.text_dim,
        attention_head_dim=cfg.heads,  # diffusers' legacy name: this is the number of heads
        norm_num_groups=32,
    )


def scheduler_config() -> dict:
    """SD v1's noise schedule, with ``steps_offset=1`` written explicitly.

    ``from_config`` drops keys left at their defaults (docs/method.md, "Measured facts": diffusers behaviour that
    bites).
    """
    return dict(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon",
    )


def build_scheduler():
    from diffusers import DDIMScheduler

    return DDIMScheduler(**scheduler_config())


def assemble_pipeline(vae, text_encoder, tokenizer, unet, scheduler=None):
    """Wrap components in a stock ``StableDiffusionPipeline`` (no safety checker, no feature extractor)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler or build_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def build_pipeline(cfg: ToyModelConfig | None = None, seed: int = 0):
    """An untrained toy pipeline (random weights) — used by training and by fast offline tests."""
    import torch

    cfg = cfg or ToyModelConfig()
    torch.manual_seed(seed)
    tok = build_tokenizer(cfg.max_length)
    te = build_text_encoder(len(tok), cfg, tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
    return assemble_pipeline(build_vae(cfg), te, tok, build_unet(cfg))


def save_pipeline(pipe, folder: str | os.PathLike, cfg: ToyModelConfig | None = None, info: dict | None = None) -> Path:
    """``save_pretrained`` (safetensors) plus the toy config and training info in ``toy_model.json``."""
    folder = Path(folder)
    old = folder / "toy_model.json"
    keep = json.loads(old.read_text()).get("fatezero_defaults") if old.exists() else None  # measured mask rule
    pipe.save_pretrained(folder, safe_serialization=True)
    meta = {"toy_model_config": asdict(cfg or ToyModelConfig()), **(info or {})}
    if keep and "fatezero_defaults" not in meta:
        meta["fatezero_defaults"] = keep
    (folder / "toy_model.json").write_text(json.dumps(meta, indent=2))
    return folder
