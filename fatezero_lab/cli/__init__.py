"""Command line: ``python -m fatezero_lab demo|edit|invert|bench|presets`` (console script ``fatezero-lab``).

``demo`` runs the README's main job on a toy-world clip; ``edit`` edits a real clip (or a preset, or an authors'
config) with every :class:`~fatezero_lab.config.FateZeroConfig` knob as a flag; ``invert`` inverts and reconstructs
a clip; ``bench`` runs the ground-truth ablation suite; ``presets`` lists the paper's examples.

``edit`` in one line each::

    python -m fatezero_lab edit --preset jeep_watercolor                      # the paper's teaser, SD v1.4
    python -m fatezero_lab edit --preset jeep_watercolor --video my.mp4 --source "..." --target "..."
    python -m fatezero_lab edit --model CompVis/stable-diffusion-v1-4 --video my.mp4 --source "a silver jeep" \\
        --target "a red jeep" --blend-words jeep --self-replace-steps 0.6 --reweight red=2
    python -m fatezero_lab edit --config outputs/edit/config.json --video my.mp4 --source "..." --target "..."
    python -m fatezero_lab edit --config FateZero/config/teaser/jeep_watercolor.yaml --reference-index 1

Every input is checked before the model is loaded; a bad one exits with status 2 and a message naming the flag.
Results are written to a temporary folder and moved into place when complete, never over earlier results, with
``provenance.json`` beside them (model id and revision, library versions, frames, size, steps, seed, source fps, the
command line).

One module per command (:mod:`.demo`, :mod:`.edit`, :mod:`.invert`, :mod:`.bench`), each registering its own
subparser; the flags generated from the config dataclasses in :mod:`.flags`; input checks in :mod:`.inputs`; output
folders and provenance in :mod:`.provenance`.
"""

from __future__ import annotations

import argparse
import sys

from . import bench, demo, edit, invert
from .edit import EditRequest, settle_request
from .flags import add_dataclass_flags, flag_help, flag_kind
from .provenance import git_head, library_versions, model_provenance, new_output_folder, write_provenance


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m fatezero_lab`` parser (``edit``'s FateZeroConfig and TemporalConfig flags are generated
    from the dataclass fields)."""
    ap = argparse.ArgumentParser(prog="python -m fatezero_lab", description="FateZero step by step on diffusers.")
    sub = ap.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    edit.add_parser(sub)
    invert.add_parser(sub)
    bench.add_parsers(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m fatezero_lab`` with ``argv`` (default: the process's arguments); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args.func(args)


__all__ = ["EditRequest", "add_dataclass_flags", "build_parser", "flag_help", "flag_kind", "git_head",
           "library_versions", "main", "model_provenance", "new_output_folder", "settle_request", "write_provenance"]
