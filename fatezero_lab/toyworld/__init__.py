"""The toy world: a procedural video world with exact ground truth, and the tiny Stable-Diffusion-layout model
trained on it (see ``world.py``, ``judge.py``, ``model.py``, ``train.py``)."""

from .world import (BACKGROUNDS, CAMERAS, COLOURS, LIGHTINGS, MOTIONS, PATTERNS, SHAPES, Clip, ClipSpec, ToyObject,
                    apply_edit, background_texture, clip, parse_caption, random_spec, render, spec_for_caption,
                    vocabulary)

__all__ = ["BACKGROUNDS", "CAMERAS", "COLOURS", "LIGHTINGS", "MOTIONS", "PATTERNS", "SHAPES", "Clip", "ClipSpec",
           "ToyObject", "apply_edit", "background_texture", "clip", "parse_caption", "random_spec", "render",
           "spec_for_caption", "vocabulary"]
