"""The authors' side of the parity benchmark. Runs INSIDE ``.venv-reference`` (scripts/reference_env.sh), never in the
project venv; ``benchmarks/reference_parity.py`` drives it through files in one output folder.

    .venv-reference/bin/python benchmarks/reference_side.py build --out OUT/model --words "a silver jeep ..."
    .venv-reference/bin/python benchmarks/reference_side.py run --model OUT/model --job OUT/job.json --out OUT/ref

``build`` makes (seeded) a random tiny model with Stable Diffusion v1's layout — UNet: CrossAttnDownBlock2D ×3 +
DownBlock2D, mirrored up blocks, one transformer block per attention layer, widths (32, 64, 128, 128) (SD's
(320, 640, 1280, 1280) / 10, so ``least_sc_channel`` 64 here plays SD's 640); a 2-level ``AutoencoderKL``; a 1-layer
``CLIPTextModel``; a ``CLIPTokenizer`` whose BPE is learned offline from the given words (model_max_length 77);
SD v1's DDIM scheduler config — and saves it with diffusers 0.11.1's ``save_pretrained``.

``run`` loads it the way the authors' ``test_fatezero.py`` does (``UNetPseudo3DConditionModel.from_2d_model``,
``DDIMScheduler.from_pretrained``, ``P2pDDIMSpatioTemporalPipeline``), then, for the job's frames and prompts:
the text embeddings; the VAE posterior mean and std and the sampled z_0; one UNet call per probe timestep on z_0;
``prepare_latents_ddim_inverted(..., store_attention=True)`` (every latent of the trajectory); and the edit
``__call__(edit_type="swap", ...)`` (the latent after every step, the self-attention blend mask of every call, the
decoded frames). Everything is written to ``--out`` as .pt/.npy plus ``meta.json``.

The authors' code is imported from its checkout ($FATEZERO_REF, default shared/reference/FateZero beside this repository) at run
time; none of it is copied here.

Environment shims (none touches the method's math):

1. ``torchvision`` stand-in: the index's torchvision needs the CUDA torch. The authors use it only to write mask
   PNGs (``spatial_blend.py``: ``tvu.save_image``, made a no-op) and for ``transforms.ToPILImage`` in
   ``common/image_util.py`` (never reached here).
2. ``torch.Tensor.cuda`` returns the tensor itself (``print_pipeline`` prints a CUDA tensor; not called here);
   ``torch.cuda.get_device_name`` returns "cpu" (their transformer block asks it, to pick xformers, for blocks
   wider than 320 channels; none here).
3. ``mid_block_type`` is removed from a copy of ``unet/config.json`` that ``from_2d_model`` reads (it renames only
   the down/up block types; SD v1.4's own config has no such key). The weights file is the same (a symlink).
4. The tokenizer is built with ``model_max_length=77`` (their mappers and equalizer are 77 wide).
5. The working directory is a scratch folder under ``--out`` (``show_cross_attention`` writes ``trash/``);
   ``save_path`` (needed by ``make_controller`` when blend words are given) points there too.
6. ``attention_util.show_cross_attention`` (images of the averaged cross-attention, drawn after the edit's last
   step) returns None: it hard-codes SD's 16×16 layers, which a 40² latent does not have, and draws nothing used.
7. The posterior sample uses an explicit seeded ``torch.Generator`` (``test_fatezero.py`` passes none and draws from
   the global RNG it seeded earlier: same distribution, a different draw).

Instrumentation (reads values, changes nothing): ``attention_util.SpatialBlender`` is replaced by a subclass whose
``__call__`` calls the original and records (store step, mask); the edit's ``callback`` records each step's latent.

Job keys beyond the frames, prompts, steps and guidance: ``alignment_prompt`` (their controller's source prompt,
``editing_config.source_prompt`` or ``editing_prompts[0]``; default the inversion prompt), ``p2p_config`` (one entry of
their ``p2p_config``, passed as their sample logger passes it), ``use_inversion_attention`` (default true; false runs
their logger's entry-0 ``edit_type="save"`` pass with ``save_prompt`` from z_T first, whose attention the edit then
fuses), ``model_config`` (their ``model_config``).

Instrumentation also records the latent-blend mask of every edit step (``edit_latent_masks.pt``: the union mask their
``SpatialBlender(prompt_choose='both')`` computes, and whether that step blends).

Diagnostics (opt-in job keys; they CHANGE the authors' model and are reported as such, never as the reference):

- ``zero_added``: after inflation, zero every parameter the 2-D weights do not provide (``attn_temporal.*``,
  ``norm_temporal.*``, ``conv_temporal.*``), except a Dirac temporal kernel ``conv_temporal.weight`` (no ``lora``
  key), which is already the identity and would become zero. With ``lora`` every added parameter is zeroed.
- ``save_prompt_inversion`` (with ``use_inversion_attention`` false): their reconstruction pass runs with the inversion
  prompt (``dataset_config.prompt``, as fatezero_lab's does) instead of ``editing_prompts[0]``.
- ``framewise_groupnorm``: ``nn.GroupNorm`` given a 5-D (b, c, f, h, w) tensor normalises each frame separately
  (their ResNet blocks and ``conv_norm_out`` pool the statistics over all frames of the clip).
- ``dtype: "float64"``: the models, the frames and torch's default dtype in float64 (the parity runner's
  ``--float64``, run on both sides): separates float rounding amplified by the loop from a difference in what is
  computed. Not the authors' precision. Their word mappers are made float32 explicitly and ``torch.einsum`` does not
  promote, so in this mode ``torch.einsum`` casts floating operands to float64 (a shim of dtypes, not of the math).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

REF = Path(os.environ.get("FATEZERO_REF", Path(__file__).resolve().parents[2] / "shared" / "reference" / "FateZero"))
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
SD_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    clip_sample=False, set_alpha_to_one=False, steps_offset=1, trained_betas=None)  # SD v1.4's


# --- environment shims -------------------------------------------------------------------------------------------------
def install_shims():
    import torch

    tv = types.ModuleType("torchvision")
    tv.__path__ = []  # a package, so "import torchvision.utils" resolves
    tv_utils = types.ModuleType("torchvision.utils")
    tv_utils.save_image = lambda *a, **k: None
    tv_transforms = types.ModuleType("torchvision.transforms")

    class _NoTransform:
        def __init__(self, *a, **k):
            raise RuntimeError("torchvision stand-in: transforms are not available in the reference runner")

    tv_transforms.ToPILImage = _NoTransform
    tv.utils, tv.transforms = tv_utils, tv_transforms
    sys.modules.update({"torchvision": tv, "torchvision.utils": tv_utils, "torchvision.transforms": tv_transforms})
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.cuda.get_device_name = lambda *a, **k: "cpu"
    if str(REF) not in sys.path:
        sys.path.insert(0, str(REF))


# --- build -------------------------------------------------------------------------------------------------------------
def build_tokenizer(words: list[str], folder: Path, min_vocab: int = 0):
    """CLIP-style BPE learned from ``words`` (every word one token), saved as a slow ``CLIPTokenizer``; ``min_vocab``
    pads the vocabulary with never-produced entries (fatezero_lab checks prompt words only for a vocabulary under
    1000 entries, its toy world's; a YAML case's punctuated prompts need the real tokenizer's treatment)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import CLIPTokenizer

    alphabet = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=10_000, min_frequency=1, special_tokens=[BOS, EOS], show_progress=False,
                                  initial_alphabet=alphabet, end_of_word_suffix="</w>")
    tok.train_from_iterator(sorted(set(words)) * 2, trainer=trainer)
    with tempfile.TemporaryDirectory() as d:
        tok.model.save(d)
        vocab = json.loads((Path(d) / "vocab.json").read_text())
        for ch in alphabet:  # every character as a word end too, so any lowercase word tokenizes
            vocab.setdefault(ch + "</w>", len(vocab))
        pad = 0
        while len(vocab) < min_vocab:  # unused entries: no merge produces them
            vocab.setdefault(f"<unused{pad}>", len(vocab))
            pad += 1
        (Path(d) / "vocab.json").write_text(json.dumps(vocab))
        clip = CLIPTokenizer(str(Path(d) / "vocab.json"), str(Path(d) / "merges.txt"), model_max_length=77)
    for w in set(words):
        ids = clip(w, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise RuntimeError(f"tokenizer splits {w!r} into {clip.convert_ids_to_tokens(ids)}")
    clip.save_pretrained(str(folder))
    return clip


def cmd_build(args):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    words = args.words.split()
    tok = build_tokenizer(words, out / "tokenizer", args.min_vocab)
    torch.manual_seed(args.seed)
    text_dim = args.text_dim
    te = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok.get_vocab()), hidden_size=text_dim,
                                      intermediate_size=2 * text_dim, num_hidden_layers=1, num_attention_heads=4,
                                      max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))
    vae_ch = tuple(int(c) for c in args.vae_channels.split(","))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * len(vae_ch),
                        up_block_types=("UpDecoderBlock2D",) * len(vae_ch), block_out_channels=vae_ch,
                        layers_per_block=1, norm_num_groups=32, sample_size=args.latent * 2 ** (len(vae_ch) - 1))
    ch = tuple(int(c) for c in args.channels.split(","))
    unet = UNet2DConditionModel(
        sample_size=args.latent, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=ch, layers_per_block=2, cross_attention_dim=text_dim,
        attention_head_dim=args.heads,  # diffusers' legacy name: the number of heads (SD v1: 8)
        norm_num_groups=32)
    sched = DDIMScheduler(**SD_SCHEDULER)
    for name, module in (("text_encoder", te), ("vae", vae), ("unet", unet)):
        module.save_pretrained(str(out / name))
    sched.save_pretrained(str(out / "scheduler"))
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.11.1",
             "feature_extractor": [None, None], "safety_checker": [None, None], "requires_safety_checker": False,
             "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    (out / "model_index.json").write_text(json.dumps(index, indent=2))
    # shim 3: the folder from_2d_model reads (config without mid_block_type, the same weights file)
    inflate = out / "unet_for_inflation"
    inflate.mkdir(exist_ok=True)
    cfg = json.loads((out / "unet" / "config.json").read_text())
    cfg.pop("mid_block_type", None)
    (inflate / "config.json").write_text(json.dumps(cfg, indent=2))
    bins = list((out / "unet").glob("*.bin"))
    if len(bins) != 1:
        raise SystemExit(f"expected one .bin in {out / 'unet'} (from_2d_model loads *.bin), found {bins}")
    link = inflate / bins[0].name
    if not link.exists():
        link.symlink_to(Path("..") / "unet" / bins[0].name)
    print(f"reference_side build: {out} (tokenizer {len(tok.get_vocab())} tokens, unet {ch}, vae {vae_ch}, "
          f"latent {args.latent}², heads {args.heads})")


# --- run ---------------------------------------------------------------------------------------------------------------
def added_parameters(unet3d, unet2d_folder: Path) -> list[str]:
    """Names of the inflated UNet's entries that the 2-D weights do not provide."""
    import torch

    sd2 = torch.load(next(unet2d_folder.glob("*.bin")), map_location="cpu")
    return [k for k in unet3d.state_dict() if k not in sd2]


def framewise_groupnorm(unet):
    """Diagnostic: every nn.GroupNorm of ``unet`` normalises a 5-D input frame by frame."""
    import torch
    from einops import rearrange

    count = 0
    for m in unet.modules():
        if isinstance(m, torch.nn.GroupNorm):
            orig = m.forward

            def fwd(x, orig=orig):
                if x.ndim == 5:
                    f = x.shape[2]
                    return rearrange(orig(rearrange(x, "b c f h w -> (b f) c h w")), "(b f) c h w -> b c f h w", f=f)
                return orig(x)

            m.forward = fwd
            count += 1
    return count


def cmd_run(args):
    install_shims()
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import AutoTokenizer, CLIPTextModel

    from video_diffusion.models.unet_3d_condition import UNetPseudo3DConditionModel
    from video_diffusion.pipelines.p2p_ddim_spatial_temporal import P2pDDIMSpatioTemporalPipeline
    from video_diffusion.prompt_attention import attention_util
    from video_diffusion.prompt_attention.spatial_blend import SpatialBlender

    job = json.loads(Path(args.job).read_text())
    model, out = Path(args.model), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / "scratch"
    scratch.mkdir(exist_ok=True)
    os.chdir(scratch)  # shim 5
    torch.set_num_threads(int(job.get("threads", 1)))
    meta = {"job": job, "diagnostics": {}}
    if job.get("dtype") == "float64":  # a diagnostic of rounding: their tensors made without a dtype follow it too
        torch.set_default_dtype(torch.float64)
        einsum = torch.einsum  # their word mappers are made float32 explicitly: einsum does not promote, so cast

        def einsum64(eq, *ops):
            ops = ops[0] if len(ops) == 1 and isinstance(ops[0], (list, tuple)) else ops
            return einsum(eq, *[o.double() if torch.is_tensor(o) and o.is_floating_point() else o for o in ops])

        torch.einsum = einsum64

    # 1. the components, as test_fatezero.py loads them (seeded first, as it seeds before building)
    torch.manual_seed(int(job.get("seed", 0)))
    tokenizer = AutoTokenizer.from_pretrained(str(model), subfolder="tokenizer", use_fast=False)
    text_encoder = CLIPTextModel.from_pretrained(str(model), subfolder="text_encoder")
    vae = AutoencoderKL.from_pretrained(str(model), subfolder="vae")
    model_config = dict(job.get("model_config", {}))
    unet = UNetPseudo3DConditionModel.from_2d_model(str(model / "unet_for_inflation"), model_config=model_config)
    added = added_parameters(unet, model / "unet_for_inflation")
    meta["added_parameters"] = len(added)
    meta["added_parameter_kinds"] = sorted({".".join(k.split(".")[-3:]) for k in added})[:40]
    if job.get("zero_added"):
        keep = [] if "lora" in model_config else [k for k in added if k.endswith("conv_temporal.weight")]
        sd = unet.state_dict()
        with torch.no_grad():
            for k in added:
                if k not in keep:
                    sd[k].zero_()
        meta["diagnostics"]["zero_added"] = {"zeroed": len(added) - len(keep), "kept_dirac": len(keep)}
    if job.get("framewise_groupnorm"):
        meta["diagnostics"]["framewise_groupnorm"] = framewise_groupnorm(unet)
    dtype = torch.float64 if job.get("dtype") == "float64" else torch.float32  # float64: a diagnostic of rounding
    for m in (vae, unet, text_encoder):
        m.to(dtype)
    scheduler = DDIMScheduler.from_pretrained(str(model), subfolder="scheduler")
    pipe = P2pDDIMSpatioTemporalPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                         scheduler=scheduler, disk_store=False)
    steps = int(job["steps"])
    pipe.scheduler.set_timesteps(steps)
    pipe.set_progress_bar_config(disable=True)
    for m in (vae, unet, text_encoder):
        m.requires_grad_(False)
        m.eval()
    meta["timesteps"] = [int(t) for t in pipe.scheduler.timesteps]
    meta["final_alpha_cumprod"] = float(pipe.scheduler.final_alpha_cumprod)
    meta["scheduler_config"] = {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")}

    # 2. inputs: frames (F, H, W, 3) in [0, 1] -> (F, 3, H, W) in [-1, 1], as their dataset yields them
    frames = np.load(job["frames"]).astype(np.float32)
    images = (torch.from_numpy(frames).permute(0, 3, 1, 2) * 2 - 1).to(dtype)
    n_frames = images.shape[0]
    src, tgt = job["source_prompt"], job["target_prompt"]
    ali = job.get("alignment_prompt") or src  # their controller's source prompt (editing_prompts[0] / source_prompt)
    use_inv = bool(job.get("use_inversion_attention", True))

    with torch.no_grad():
        # 3. text embeddings (their _encode_prompt: [uncond | cond])
        emb_src = pipe._encode_prompt(src, "cpu", 1, True, None)
        emb_tgt = pipe._encode_prompt(tgt, "cpu", 1, True, None)
        torch.save({"uncond": emb_src[0:1], "source": emb_src[1:2], "target": emb_tgt[1:2]}, out / "text.pt")
        # 4. the VAE posterior (read for comparison; the inversion below samples it itself)
        dist = vae.encode(images).latent_dist
        torch.save({"mean": dist.mean * 0.18215, "std": dist.std * 0.18215}, out / "posterior.pt")
        # 5. one UNet call per probe timestep on the sampled z_0 (no controller registered yet)
        gen = torch.Generator().manual_seed(int(job.get("vae_seed", 0)))
        z0 = vae.encode(images).latent_dist.sample(gen) * 0.18215  # the same draw the inversion makes below
        z0_bcfhw = z0.permute(1, 0, 2, 3)[None]  # (1, 4, F, h, w)
        probes = {}
        for t in job.get("probe_timesteps", []):
            eps = unet(z0_bcfhw, torch.tensor(int(t)), encoder_hidden_states=emb_src[1:2]).sample
            probes[int(t)] = eps[0].permute(1, 0, 2, 3).contiguous()  # (F, 4, h, w)
        torch.save(probes, out / "unet_probe.pt")

        # 6. inversion, as test_fatezero.py calls it (their own posterior sample, seeded generator: shim 7)
        gen = torch.Generator().manual_seed(int(job.get("vae_seed", 0)))
        inv = pipe.prepare_latents_ddim_inverted(images, batch_size=1, num_images_per_prompt=1,
                                                 text_embeddings=emb_src, store_attention=True, prompt=src,
                                                 generator=gen, LOW_RESOURCE=True, save_path=None)
        inv_latents = torch.stack([z[0].permute(1, 0, 2, 3) for z in inv])  # (steps + 1, F, 4, h, w)
        torch.save(inv_latents, out / "inversion_latents.pt")
        meta["z0_equals_probe_input"] = bool(torch.equal(inv_latents[0], z0))

        # 7. the edit
        if job.get("edit", True):
            records, latent_records = [], {}

            class RecordingBlender(SpatialBlender):
                def get_mask(self, *a, **k):
                    self._last_mask = super().get_mask(*a, **k)
                    return self._last_mask

                def __call__(self, attention_store, step_in_store=None, target_h=None, target_w=None, x_t=None):
                    result = super().__call__(attention_store, step_in_store=step_in_store, target_h=target_h,
                                              target_w=target_w, x_t=x_t)
                    if x_t is None:  # the self-attention blender: result is the mask (1, F, h, w)
                        records.append((int(step_in_store), result[0].detach().cpu().bool()))
                    else:  # the latent blender: the union mask (row 1 of 'both'), called once per step (counter)
                        latent_records[int(self.counter) - 1] = {
                            "mask": self._last_mask[-1].detach().cpu().bool(),
                            "blends": bool(self.start_blend < self.counter < self.end_blend),
                            "step_in_store": None if step_in_store is None else int(step_in_store)}
                    return result

            attention_util.SpatialBlender = RecordingBlender
            attention_util.show_cross_attention = lambda *a, **k: None  # shim 6
            step_latents = []

            def callback(i, t, latents):
                step_latents.append(latents[0].permute(1, 0, 2, 3).detach().clone())

            # the word alignment and equalizer their make_controller builds (same functions, same inputs; read only)
            from video_diffusion.prompt_attention import seq_aligner

            align = {"refine": seq_aligner.get_refinement_mapper([ali, tgt], tokenizer)}
            if len(ali.split(" ")) == len(tgt.split(" ")):
                align["replace"] = seq_aligner.get_replacement_mapper([ali, tgt], tokenizer)
            eqp = job["p2p_config"].get("eq_params")
            if eqp:
                align["equalizer"] = attention_util.get_equalizer(tgt, eqp["words"], eqp["values"], tokenizer=tokenizer)
            torch.save(align, out / "alignment.pt")
            p2p = dict(job["p2p_config"])
            p2p.setdefault("cross_replace_steps", {"default_": 0.8})
            p2p.setdefault("self_replace_steps", 0.6)
            for k in ("use_inversion_attention", "save_self_attention"):  # their sample logger overwrites these
                p2p.pop(k, None)
            common = dict(source_prompt=ali, image=images, strength=None, num_inference_steps=steps,
                          clip_length=n_frames, guidance_scale=float(job["guidance"]), num_images_per_prompt=1,
                          latents=inv[-1], uncond_embeddings_list=None, save_path=str(scratch), output_type="np")
            if not use_inv:  # their logger's entry 0: a plain pass from z_T that records the attention to fuse
                p2p0 = dict(job.get("p2p_config_0") or p2p)
                for k in ("use_inversion_attention", "save_self_attention"):
                    p2p0.pop(k, None)
                save_prompt = src if job.get("save_prompt_inversion") else (job.get("save_prompt") or ali)
                meta["save_prompt"] = save_prompt
                pipe(prompt=save_prompt, edit_type="save",
                     generator=torch.Generator().manual_seed(int(job.get("vae_seed", 0))),
                     use_inversion_attention=False, save_self_attention=True, **common, **p2p0)
                meta["reconstruction_store_steps"] = len(pipe.store_controller.attention_store_all_step)
            res = pipe(prompt=tgt, edit_type="swap",
                       generator=torch.Generator().manual_seed(int(job.get("vae_seed", 0))),
                       use_inversion_attention=use_inv, save_self_attention=False, callback=callback,
                       callback_steps=1, **common, **p2p)
            images_out = np.asarray(res["sdimage_output"].images[0], dtype=np.float32)  # (F, H, W, 3)
            np.save(out / "edit_frames.npy", images_out)
            torch.save(torch.stack(step_latents), out / "edit_latents.pt")  # (steps, F, 4, h, w)
            masks = {}
            for s_store, m in records:
                # their forward reads store entry N - 1 - cur_step (inversion store) or cur_step (reconstruction)
                step = steps - 1 - s_store if use_inv else s_store
                masks.setdefault(step, []).append(m)
            torch.save(masks, out / "edit_masks.pt")  # edit step -> [(F, h, w) bool per fused self layer]
            torch.save(latent_records, out / "edit_latent_masks.pt")  # edit step -> {mask (F, h, w), blends}
            meta["mask_calls_per_step"] = {int(k): len(v) for k, v in masks.items()}
            meta["is_replace_controller_effective"] = bool(
                p2p.get("is_replace_controller", True) and len(ali.split(" ")) == len(tgt.split(" ")))
            meta["latent_blend_steps"] = sorted(k for k, v in latent_records.items() if v["blends"])
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    print(f"reference_side run: wrote {out}")


# --- sd_probe ----------------------------------------------------------------------------------------------------------
def cmd_sd_probe(args):
    """Causes 1 and 2 at Stable Diffusion v1's full size: a random UNet with SD v1.4's UNet config (860 M
    parameters), inflated as their test_fatezero.py inflates it, one call on a random clip — as shipped, with the
    added parameters zeroed, and zeroed with frame-wise GroupNorm. Saves the 2-D weights (for our side) and the ε."""
    import torch
    from diffusers import UNet2DConditionModel

    from video_diffusion.models.unet_3d_condition import UNetPseudo3DConditionModel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    unet2d = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)  # SD v1's config
    unet2d.save_pretrained(str(out / "unet"))
    cfg = json.loads((out / "unet" / "config.json").read_text())
    cfg.pop("mid_block_type", None)  # shim 3, as in build
    inflate = out / "unet_for_inflation"
    inflate.mkdir(exist_ok=True)
    (inflate / "config.json").write_text(json.dumps(cfg, indent=2))
    for b in (out / "unet").glob("*.bin"):
        if not (inflate / b.name).exists():
            (inflate / b.name).symlink_to(Path("..") / "unet" / b.name)
    del unet2d
    g = torch.Generator().manual_seed(args.seed + 1)
    z = torch.randn(1, 4, args.frames, args.latent, args.latent, generator=g)  # (1, 4, F, h, w)
    text = torch.randn(1, 77, 768, generator=g)
    torch.save({"z": z, "text": text, "t": args.t}, out / "inputs.pt")
    model_config = {"SparseCausalAttention_index": ["mid"], "least_sc_channel": 640, "lora": 160}  # zero-shot SD
    torch.manual_seed(args.seed)
    unet = UNetPseudo3DConditionModel.from_2d_model(str(inflate), model_config=model_config).eval()
    added = added_parameters(unet, inflate)
    eps = {}
    with torch.no_grad():
        eps["as_shipped"] = unet(z, torch.tensor(args.t), encoder_hidden_states=text).sample
        sd = unet.state_dict()
        for k in added:
            sd[k].zero_()
        eps["zero_added"] = unet(z, torch.tensor(args.t), encoder_hidden_states=text).sample
        framewise_groupnorm(unet)
        eps["zero_added_framewise_groupnorm"] = unet(z, torch.tensor(args.t), encoder_hidden_states=text).sample
    torch.save({k: v[0].permute(1, 0, 2, 3).contiguous() for k, v in eps.items()}, out / "eps.pt")  # (F, 4, h, w)
    meta = {"added_parameters": len(added), "parameters": sum(p.numel() for p in unet.parameters()),
            "model_config": model_config, "frames": args.frames, "latent": args.latent, "t": args.t}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(f"reference_side sd_probe: wrote {out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build and save the random tiny SD-layout model")
    b.add_argument("--out", required=True)
    b.add_argument("--words", required=True, help="space-separated words the tokenizer must keep whole")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--channels", default="32,64,128,128")
    b.add_argument("--vae-channels", default="32,64")
    b.add_argument("--latent", type=int, default=40, help="latent side the UNet config records")
    b.add_argument("--heads", type=int, default=4)
    b.add_argument("--text-dim", type=int, default=32)
    b.add_argument("--min-vocab", type=int, default=0, help="pad the tokenizer's vocabulary to this many entries")
    r = sub.add_parser("run", help="run inversion + edit with the authors' pipeline on a job")
    r.add_argument("--model", required=True)
    r.add_argument("--job", required=True)
    r.add_argument("--out", required=True)
    p = sub.add_parser("sd_probe", help="one call of a random full-size SD v1 UNet, inflated (causes 1 and 2)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--latent", type=int, default=64)
    p.add_argument("--t", type=int, default=401)
    p.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.cmd == "build":
        install_shims()
        cmd_build(args)
    elif args.cmd == "sd_probe":
        install_shims()
        cmd_sd_probe(args)
    else:
        cmd_run(args)


if __name__ == "__main__":
    main()
