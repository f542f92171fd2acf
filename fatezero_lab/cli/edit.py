"""``edit``: invert a clip and edit it with FateZero — a preset, an authors' config, or your own clip and prompts.

Where a setting comes from, lowest first: the config dataclasses' defaults; the preset (``--preset``) or authors'
config (``--reference-config``, or ``--config`` with an authors' YAML); ``--config`` with our own JSON/YAML of
FateZeroConfig fields (all or some); the flags. :func:`settle_request` settles them and checks what can be checked
before the model is loaded (files exist and are readable, prompts are non-empty and hold the words the knobs name, the
FateZeroConfig and TemporalConfig build); the edit itself is then checked by the library's one planner
(:func:`fatezero_lab.editing.plan_edit`) once the clip is inverted, before the edit's first UNet call. Every error
names the flag (or preset, or file) that set the value it concerns, read from the error's ``.field``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from .flags import add_dataclass_flags, at_least, cache_choices, error_field, frame_size, given, positive_float
from .inputs import check_model_arg, check_out_arg, check_video_arg, frame_files, load_model
from .provenance import model_provenance, publish, rates, write_provenance

@dataclasses.dataclass
class EditRequest:
    """Everything ``edit`` will do, checked and settled before the model is loaded (:func:`plan_edit`)."""

    model: str
    video: str | None  # a path or toy:<caption>; None when the frames come from a preset's sample clip
    source: str
    target: str
    config: object  # FateZeroConfig
    temporal: object  # TemporalConfig
    steps: int
    frames: int | None  # None: the preset's / reference's own count
    size: int  # 0 = the model's own
    seed: int
    start: int | None
    stride: int | None
    cache: str
    tune_steps: int = 0
    tune_lr: float = 1e-4
    ref: object = None  # ReferenceEdit or presets.Preset
    preset: object = None  # presets.Preset
    config_file: str | None = None
    origins: dict = dataclasses.field(default_factory=dict)  # FateZeroConfig field -> where its value came from
    notes: list = dataclasses.field(default_factory=list)
    preloaded: object = None  # a preset's sample clip, fetched while checking (at --size or the preset's size)


def _read_config_file(parser, path: str) -> tuple[str, object]:
    """("authors", None) for an authors' FateZero YAML, ("ours", dict) for a JSON/YAML of FateZeroConfig fields."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        parser.error(f"--config {path!r} does not exist (expected a JSON/YAML of FateZeroConfig fields, e.g. an "
                     f"edit's config.json, or an authors' FateZero YAML)")
    try:
        data = yaml.safe_load(p.read_text())  # JSON is YAML
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        parser.error(f"--config {path!r} is not readable JSON/YAML: {e}")
    if not isinstance(data, dict):
        parser.error(f"--config {path!r} must hold a mapping of settings, got {type(data).__name__}")
    if {"pretrained_model_path", "dataset_config", "editing_config"} & set(data):
        return "authors", None
    return "ours", data


def _our_config_changes(parser, path: str, data: dict) -> dict:
    """The FateZeroConfig fields of our own config file (windows as tuples); unknown keys exit 2 listing the fields."""
    from fatezero_lab.config import FateZeroConfig

    names = [f.name for f in dataclasses.fields(FateZeroConfig)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        parser.error(f"--config {path!r}: unknown FateZeroConfig field(s) {unknown}; the fields are {names} (an "
                     f"authors' FateZero YAML has editing_config / dataset_config instead)")
    return {k: (tuple(v) if k.endswith("_steps") and isinstance(v, list) else v) for k, v in data.items()}


def _load_reference(parser, path: str, index):
    from fatezero_lab.reference_config import read_reference_yaml

    try:
        return read_reference_yaml(path, index or 0)
    except (OSError, ValueError) as e:
        parser.error(f"--reference-config: {e}")


# ------------------------------------------------------------------------------------------- settling the request
def settle_request(args, parser) -> EditRequest:
    """Settle and check every input of ``edit`` that can be checked before the model is loaded; a bad one exits 2
    (``parser.error``) naming its flag. The clip of a preset without ``--video`` is fetched here (so an offline
    machine fails now)."""
    # 1. where the edit comes from: a preset, an authors' config, or flags alone
    ref, preset, origin_name, config_kind, our_data = _edit_source(args, parser)
    # 2. prompts
    source = args.source if args.source is not None else ref.source_prompt
    target = args.target if args.target is not None else ref.target_prompt
    for flag, prompt in (("--source", source), ("--target", target)):
        if not isinstance(prompt, str) or not prompt.strip():
            what = "caption of the source clip" if flag == "--source" else "prompt to edit towards"
            parser.error(f"{flag} is empty; give the {what}")
    # 3. the clip and 4. the model
    video = _video(args, parser, ref, preset)
    model = _model(args, parser, ref, preset, video)
    # 5. the knobs: defaults < preset / authors' config < our --config file < flags
    config, origins, notes = _knobs(args, parser, ref, origin_name, config_kind, our_data, source, target)
    # 6. spatial-temporal attention
    temporal = temporal_settings(args, parser, ref.temporal if ref is not None else None)
    # 7. numbers and the rest
    steps = args.steps if args.steps is not None else (ref.steps if ref is not None else 50)
    frames = args.frames
    if frames is None and ref is None:
        frames = 8
    tuning = getattr(preset, "tuning", None)
    tune_steps = args.tune_steps if args.tune_steps is not None else (tuning.steps if tuning else 0)
    tune_lr = args.tune_lr if args.tune_lr is not None else (tuning.lr if tuning else 1e-4)
    if tuning is not None and tune_steps == 0 and args.model is None:
        notes.append(f"preset {preset.name} is a shape edit made on a one-shot tuned model; --tune-steps 0 edits "
                     f"with the plain {model}")
    if video is not None and Path(video).is_dir():
        _check_frame_count(args, parser, ref, video, frames)
    check_out_arg(parser, args.out)
    preloaded = None
    if video is None:  # the one slow check, so last: fetched now (downloaded once, then cached), offline fails here
        import fatezero_lab as fz

        try:
            preloaded = preset.load_clip(size=args.size or preset.image_size, n_frames=args.frames)
        except (OSError, fz.data.ClipDownloadError, ValueError) as e:  # offline / checksum / too few frames
            parser.error(f"--preset {preset.name}: its clip {preset.clip!r}: {e}")
    return EditRequest(model=model, video=video, source=source, target=target, config=config, temporal=temporal,
                       steps=steps, frames=frames, size=args.size, seed=args.seed, start=args.start,
                       stride=args.stride, cache=args.cache, tune_steps=tune_steps, tune_lr=tune_lr, ref=ref,
                       preset=preset, config_file=args.config if config_kind == "ours" else None, origins=origins,
                       notes=notes, preloaded=preloaded)


def _edit_source(args, parser):
    """(ref, preset, origin name, config kind, our config's data): the preset or authors' config the edit starts
    from (None: flags alone), and our own --config file's settings."""
    import fatezero_lab as fz

    config_kind, our_data = (None, None)
    if args.config is not None:
        config_kind, our_data = _read_config_file(parser, args.config)
    authors_file = args.reference_config
    if config_kind == "authors":
        if authors_file is not None:
            parser.error("give the authors' YAML once: --config FILE or --reference-config FILE, not both")
        authors_file = args.config
    if args.preset is not None and authors_file is not None:
        parser.error("--preset and an authors' config (--reference-config / --config) both name an edit; choose one")
    if args.reference_index is not None and authors_file is None:
        parser.error("--reference-index needs --reference-config (or --config with an authors' YAML)"
                     + ("; a preset is one entry already (fz.presets.list() names the others)" if args.preset else ""))
    ref = preset = origin_name = None
    if args.preset is not None:
        try:
            ref = preset = fz.presets.load(args.preset)
        except ValueError as e:
            parser.error(f"--preset: {e}")
        origin_name = f"preset {args.preset}"
    elif authors_file is not None:
        ref = _load_reference(parser, authors_file, args.reference_index)
        origin_name = f"{'--config' if config_kind == 'authors' else '--reference-config'} {authors_file}"
    if ref is None:
        missing = [f"--{n}" for n in ("video", "source", "target") if getattr(args, n) is None]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)} "
                         f"(or give --preset NAME or --reference-config FILE)")
    return ref, preset, origin_name, config_kind, our_data


def _video(args, parser, ref, preset) -> str | None:
    """The clip: --video, else the preset's local copy or the authors' config's dataset path; None = the preset's
    sample clip, fetched by fatezero_lab.data (checked after the model's name)."""
    video = args.video
    if video is None and preset is not None and preset.video_path() is not None:
        video = str(preset.video_path())
    if video is None and preset is None:  # an authors' config: its dataset_config.path, if it is here
        found = ref.video_path()
        if found is None:
            parser.error(f"the config's clip {ref.dataset_path!r} was not found (looked under the working "
                         f"directory and the folders above {ref.path}); pass --video")
        video = str(found)
    return video


def _model(args, parser, ref, preset, video) -> str:
    """The model: --model, else the preset's or the authors' config's, else the toy; then the clip is checked."""
    import fatezero_lab as fz

    model = args.model
    if model is None and preset is not None:
        model = preset.model_id if preset.needs_tuning else (preset.model_path() or preset.model_id)
    if model is None and ref is not None:
        model = ref.model_path()
        if model is None:
            parser.error(f"the config's pretrained_model_path {ref.pretrained_model_path!r} was not found "
                         f"(a one-shot tuned checkpoint?); pass --model")
    model = model or "toy"
    check_model_arg(parser, model)
    if video is None:
        try:  # a preset's sample clip: is it one fatezero_lab.data can fetch? (fetched last, in settle_request)
            fz.presets.check_clip(preset)
        except FileNotFoundError as e:
            parser.error(f"--preset {preset.name}: {e}")
    else:
        check_video_arg(parser, video)
    return model


def set_by(error: BaseException, origins: dict) -> str:
    """`` (set by --flag)`` for the setting ``error`` concerns (its ``.field``), '' when it names none."""
    field = error_field(error)
    return f" (set by {origins[field]})" if field in origins else ""


def _knobs(args, parser, ref, origin_name, config_kind, our_data, source, target):
    """(FateZeroConfig, field -> where its value came from, notes): defaults < preset / authors' config < our
    --config file < flags; the words the knobs name must be words of their prompts."""
    import fatezero_lab as fz
    from fatezero_lab.prompts import words

    config = ref.config if ref is not None else fz.FateZeroConfig()
    origins = {f.name: (origin_name or "FateZeroConfig default") for f in dataclasses.fields(fz.FateZeroConfig)}
    changes = {}
    if config_kind == "ours":
        file_changes = _our_config_changes(parser, args.config, our_data)
        changes.update(file_changes)
        origins.update({k: f"--config {args.config}" for k in file_changes})
    flags = given(args, fz.FateZeroConfig)
    changes.update(flags)
    origins.update({k: args.knob_flags[k] for k in flags})
    notes = []
    if (ref is not None and args.source is not None and args.source != ref.source_prompt
            and "alignment_prompt" not in changes and config.alignment_prompt is not None):
        changes["alignment_prompt"] = None  # the preset's alignment prompt belongs to its own source caption
        notes.append(f"--source replaces {origin_name}'s caption: alignment_prompt "
                     f"{config.alignment_prompt!r} dropped (the target is aligned with --source)")
    try:
        config = config.replace(**changes)
    except (ValueError, TypeError) as e:
        parser.error(f"invalid edit settings: {e}{set_by(e, origins)}")
    # words the knobs name must be words of their prompts (the library's planner checks them again with the tokenizer)
    alignment = config.alignment_prompt or source
    checks = [("blend_words", config.blend_words, alignment, "source" if alignment == source else "alignment"),
              ("target_blend_words", config.target_blend_words, target, "target"),
              ("reweight", list(config.reweight), target, "target")]
    for name, named, prompt, role in checks:
        missing = [w for w in named if str(w).lower() not in words(prompt)]
        if missing:
            parser.error(f"{name} {missing} (set by {origins[name]}) not in the {role} prompt {prompt!r}; name words "
                         f"of that prompt, or pass {args.knob_flags[name]} with no value to clear it")
    return config, origins, notes


def temporal_settings(args, parser, base=None):
    """The TemporalConfig: ``base`` (default: TemporalConfig's defaults) with the --temporal-* flags and
    --no-temporal; a bad value exits 2 naming its flag."""
    import fatezero_lab as fz

    changes = given(args, fz.TemporalConfig, "temporal_")
    if args.no_temporal:
        changes["enabled"] = False
    try:
        return dataclasses.replace(base if base is not None else fz.TemporalConfig(), **changes)
    except (ValueError, TypeError) as e:
        field = error_field(e)  # "temporal.<field>"
        flag = "--temporal-" + field.split(".", 1)[-1].replace("_", "-") if field else "--temporal-*"
        parser.error(f"invalid temporal settings ({flag}): {e}")


def _check_frame_count(args, parser, ref, video: str, frames) -> None:
    """A folder of frames: is it long enough? (cheap: count files)"""
    n = frames if frames is not None else ref.n_sample_frame
    start = args.start if args.start is not None else (ref.start_sample_frame if ref is not None else 0)
    stride = args.stride if args.stride is not None else (ref.sampling_rate if ref is not None else 1)
    have = len(frame_files(video))
    need = start + (n - 1) * stride + 1 if n > 0 else 1
    if have < need:
        parser.error(f"--video {video!r} has {have} frames; {n} frames from frame {start}, every {stride}, need "
                     f"{need}: lower --frames, --start or --stride")


def read_frames(req: EditRequest, pipe):
    """The clip at the size the model works at: the preset's sample clip, the authors' sampling of the file a
    config names, or ``--video`` with --frames/--start/--stride."""
    import fatezero_lab as fz

    size = req.size or pipe.resolution[0]  # the model's own frame size (toy 64, SD v1 512)
    ref = req.ref
    if ref is not None and (req.start is not None or req.stride is not None):
        ref = dataclasses.replace(
            ref, start_sample_frame=req.start if req.start is not None else ref.start_sample_frame,
            sampling_rate=req.stride if req.stride is not None else ref.sampling_rate)
    if req.video is not None and req.video.startswith("toy:"):
        n = req.frames or (ref.n_sample_frame if ref is not None and ref.n_sample_frame > 0 else 8)
        return fz.toyworld.clip(req.video[4:], frames=n, seed=req.seed).frames, None
    if req.preloaded is not None and ref is req.ref and req.preloaded.shape[1:3] == (size, size):
        return req.preloaded, ref.sampling_rate
    if ref is not None:
        frames = ref.load_clip(req.video, size=size, n_frames=req.frames)
        return frames, ref.sampling_rate
    kwargs = {"n_frames": req.frames, "size": size, "start": req.start or 0}
    if req.stride is not None:
        kwargs["stride"] = req.stride
    return fz.video.prepare(req.video, **kwargs), req.stride




# ------------------------------------------------------------------------------------------------------- the command
def cmd_edit(args) -> int:
    import torch

    import fatezero_lab as fz

    t0 = time.time()
    parser = args.edit_parser
    req = settle_request(args, parser)  # 0. every input checked that can be without the model; nothing loaded yet
    if req.ref is not None:
        print(req.ref.summary())
    for note in req.notes:
        print(f"note: {note}")
    pipe = load_model(req.model, args)
    config = _check_with_tokenizer(parser, pipe, req)  # 1. what needs the tokenizer before the inversion
    try:
        frames, stride = read_frames(req, pipe)
    except (OSError, ValueError) as e:
        parser.error(f"--video: {e}")
    source_fps, output_fps = rates(frames, req.video, stride)
    # 2. compute: (one-shot tuning), inversion with the source prompt, the library's planner, FateZero edit
    torch.manual_seed(req.seed)
    tune_report = None
    if req.tune_steps:
        pipe, tune_report = fz.tuning.tune_on_clip(pipe, frames, req.source, steps=req.tune_steps, lr=req.tune_lr,
                                                   seed=req.seed, temporal=req.temporal)
        print(f"one-shot tuning: {tune_report}")
    inv = fz.invert(pipe, frames, req.source, steps=req.steps, temporal=req.temporal, cache=req.cache)
    try:  # every check of the edit against the inversion and the tokenizer, before its first UNet call
        fz.editing.plan_edit(pipe, inv, req.target, config)
    except (ValueError, TypeError) as e:
        parser.error(f"invalid edit settings: {e}{set_by(e, req.origins)}")
    res = fz.edit(pipe, inv, req.target, config)
    fps = output_fps or getattr(fz.video, "DEFAULT_FPS", 8.0)  # the source's speed when it has one
    # 3. write, all at once, with provenance
    out = publish(args.out, lambda folder: _write_edit(folder, args, req, pipe, frames, inv, res, fps, source_fps,
                                                       stride, tune_report, t0))
    print(f"wrote {out.resolve()}")
    return 0


def _check_with_tokenizer(parser, pipe, req: EditRequest):
    """The request's config after the checks that need the tokenizer: the prompts' lengths, and replace's equal
    token counts (the reference's replace copes with unequal counts; ours falls back to refine, with a note)."""
    import fatezero_lab as fz
    from fatezero_lab.prompts import align

    config = req.config
    try:
        for flag, prompt in (("--source", req.source), ("--target", req.target)):
            fz.diffusion.check_prompt(pipe, prompt, flag)
    except ValueError as e:
        parser.error(str(e))
    if config.cross_mode == "replace":
        try:
            align(pipe.tokenizer, config.alignment_prompt or req.source, req.target, "replace")
        except ValueError as e:
            print(f"note: {e}; using cross_mode='refine'")
            config = config.replace(cross_mode="refine")
    return config


def _write_edit(out: Path, args, req: EditRequest, pipe, frames, inv, res, fps, source_fps, stride, tune_report,
                t0) -> None:
    """The edit's results in ``out``: the clips, frames, masks, config, prompts and provenance."""
    import numpy as np

    import fatezero_lab as fz

    fz.video.write(out / "source.mp4", frames, fps=fps)
    fz.video.write(out / "edit.mp4", res.frames, fps=fps)
    fz.video.write(out / "edit_frames", res.frames)
    fz.video.save_png(out / "side_by_side.png", fz.video.grid([np.asarray(frames), res.frames]),
                      scale=max(1, 192 // frames.shape[1]))
    if res.masks:
        masks = np.stack([res.masks[i] for i in sorted(res.masks)])  # (steps, frames, h, w)
        np.save(out / "masks.npy", masks)
        fz.video.save_png(out / "masks.png", fz.video.grid([np.repeat(m[..., None], 3, -1).astype(np.float32)
                                                            for m in masks[:: max(1, len(masks) // 6)]]), scale=4)
    res.config.to_json(out / "config.json")
    prompts = {"source": req.source, "target": req.target, "video": req.video}
    if req.ref is not None:
        prompts.update(reference_config=str(req.ref.path), reference_index=req.ref.index, steps=req.steps,
                       temporal=str(req.temporal), notes=req.ref.notes)
    if req.preset is not None:
        prompts.update(preset=req.preset.name, clip=req.preset.clip)
    (out / "prompts.json").write_text(json.dumps(prompts, indent=2))
    write_provenance(
        out, args.argv, t0, model=model_provenance(req.model, pipe, args.revision), frames=int(frames.shape[0]),
        size=list(frames.shape[1:3]), steps=req.steps, seed=req.seed, source_fps=source_fps, output_fps=fps,
        video=req.video, clip=req.preset.clip if req.preset is not None and req.video is None else None,
        start=req.ref.start_sample_frame if req.ref is not None and req.start is None else req.start,
        stride=stride, prompts={"source": req.source, "target": req.target, "alignment": res.config.alignment_prompt},
        config=res.config.to_dict(), temporal=dataclasses.asdict(getattr(inv, "temporal", None) or req.temporal),
        cache={"asked": req.cache, "used": inv.store.cache}, setting_origins=req.origins,
        preset=None if req.preset is None else {"name": req.preset.name, "file": str(req.preset.path),
                                                "index": req.preset.index, "mirrors": list(req.preset.mirrors)},
        reference_config=None if req.ref is None or req.preset is not None else
        {"file": str(req.ref.path), "index": req.ref.index},
        config_file=req.config_file,
        tuning=None if tune_report is None else {"steps": req.tune_steps, "lr": req.tune_lr,
                                                 "seconds": round(tune_report.seconds, 1),
                                                 "first_loss": tune_report.losses[0],
                                                 "last_loss": tune_report.losses[-1]},
        notes=req.notes)


# --------------------------------------------------------------------------------------------------------- the flags
def add_clip_and_run_flags(e, name: str, edit: bool) -> None:
    """The flags ``edit`` and ``invert`` share: the clip, prompts and model; frames and steps; spatial-temporal
    attention (TemporalConfig's fields). ``edit`` may take its prompts, clip and settings from a preset or config."""
    import fatezero_lab as fz

    io = e.add_argument_group("clip, prompts, model")
    io.add_argument("--video", required=not edit,
                    help="mp4/gif file, folder of frames, or toy:<caption> for a toy clip"
                         + (" (default: the preset's / config's clip)" if edit else ""))
    io.add_argument("--source", required=not edit, help="the source prompt (the clip's caption)")
    if edit:
        io.add_argument("--target", help="the target prompt")
        _add_source_flags(e)
    io.add_argument("--model", default=None if edit else "toy",
                    help="'toy', a pipeline folder or a hub id (default: the preset's / config's model, else toy)")
    io.add_argument("--revision", default=None,
                    help="hub branch, tag or commit of --model (default: main); recorded in provenance.json")
    io.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    run = e.add_argument_group("frames and steps")
    run.add_argument("--frames", type=at_least(1), default=None if edit else 8,
                     help="frames to edit (default: the preset's / config's, else 8)")
    run.add_argument("--start", type=at_least(0), default=None, help="first frame taken (default 0)")
    run.add_argument("--stride", type=at_least(1), default=None,
                     help="take every N-th frame (default: consecutive, or the config's sampling_rate)")
    run.add_argument("--size", type=frame_size, default=0,
                     help="frame size, a multiple of 8 (default 0: the model's own, 64 for the toy, 512 for SD)")
    run.add_argument("--steps", type=at_least(1), default=None if edit else 50,
                     help="DDIM steps of inversion and edit (default: the preset's / config's, else 50)")
    run.add_argument("--seed", type=at_least(0), default=0)
    run.add_argument("--cache", default="auto", choices=cache_choices(),
                     help="how the inversion keeps the source attention (auto: the fastest that fits in memory)")
    run.add_argument("--out", default=f"outputs/{name}",
                     help="result folder (a new sibling -2, -3 ... when it is not empty)")
    tg = e.add_argument_group("spatial-temporal attention (TemporalConfig; default: the preset's / config's)")
    tg.add_argument("--no-temporal", action="store_true", help="plain per-frame self-attention")
    add_dataclass_flags(tg, fz.TemporalConfig, prefix="temporal-", dest_prefix="temporal_", skip=("enabled",),
                        helps={"reference": "the frames each frame's self-attention reads keys/values from: "
                                            "first, last, mid, previous, self, next, all or int offsets, e.g. "
                                            "'mid' (the authors' zero-shot SD configs) or 'first previous' (default)"})


def _add_source_flags(e) -> None:
    src = e.add_argument_group("where the settings come from")
    src.add_argument("--preset", metavar="NAME", default=None,
                     help="one of the paper's examples (python -m fatezero_lab presets lists them): its clip, "
                          "prompts, knobs, steps, frames and model; flags given here override it")
    src.add_argument("--config", metavar="FILE", default=None,
                     help="our JSON/YAML of FateZeroConfig fields (all or some; e.g. an edit's config.json), "
                          "or an authors' FateZero YAML (detected by its editing_config/dataset_config)")
    src.add_argument("--reference-config", metavar="FILE", default=None,
                     help="an authors' FateZero YAML config (config/**/*.yaml): its prompts, fusion knobs, "
                          "temporal attention, steps, guidance, clip and model; flags given here override it")
    src.add_argument("--reference-index", "--config-index", dest="reference_index", metavar="N",
                     type=at_least(0), default=None,
                     help="which editing_prompts entry of the authors' config (default 0; entry 0 is usually "
                          "the source prompt itself, i.e. a reconstruction)")


def add_parser(sub) -> None:
    """``edit``'s subparser: the shared clip/run/temporal flags, one flag per FateZeroConfig field, tuning."""
    import fatezero_lab as fz

    text = "invert a clip and edit it with FateZero (a preset, an authors' config or your own clip and prompts)"
    e = sub.add_parser("edit", help=text, description=text)
    add_clip_and_run_flags(e, "edit", edit=True)
    kg = e.add_argument_group(
        "FateZeroConfig knobs (each field of fatezero_lab.FateZeroConfig; default: the preset's / config's, "
        "else FateZeroConfig's). Windows: 0.6 = [0, 0.6) or 0.1,0.6; lists: words separated by spaces or "
        "commas, no value = empty; 'none' = the model's default")
    e.set_defaults(knob_flags=add_dataclass_flags(kg, fz.FateZeroConfig))
    tu = e.add_argument_group("one-shot tuning (the shape presets' tuned model)")
    tu.add_argument("--tune-steps", type=at_least(0), default=None,
                    help="tune the model on the clip for N steps before inverting (fatezero_lab.tuning; "
                         "default: the preset's for shape presets, else 0 = off)")
    tu.add_argument("--tune-lr", type=positive_float, default=None,
                    help="learning rate of the tuning (default: the preset's, else 1e-4)")
    e.set_defaults(func=cmd_edit, edit_parser=e)
