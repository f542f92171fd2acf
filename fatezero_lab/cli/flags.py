"""Flags generated from the config dataclasses, their help, their parsers, and errors mapped back to flags.

- One flag per dataclass field (:func:`add_dataclass_flags`): the field's type decides how it is written (a bool is
  ``--x/--no-x``, a window ``0.6`` or ``0.1,0.6``, a list ``WORD ...``, a mapping ``WORD=FACTOR ...``), its help is
  the field's ``metadata["help"]`` (:func:`flag_help`), and only flags given override (argparse.SUPPRESS).
- An error of the library names the setting it concerns in its ``.field`` (``config.ConfigError``); :func:`error_field`
  reads it and the caller says which flag (or preset, or config file) set it.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

_NONE_WORDS = ("none", "default", "auto-default")  # a flag value meaning "None: leave it to the model"


# --------------------------------------------------------------------------------------------- help and errors
def flag_help(cls, name: str) -> str:
    """The help of the flag of field ``name`` of dataclass ``cls``: the field's ``metadata["help"]`` (every config
    field carries one; tests/test_cli_metrics_viz.py checks it)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.metadata.get("help") or f"{cls.__name__}.{name}"


def error_field(error: BaseException) -> str | None:
    """The setting ``error`` concerns: its ``.field`` ("guidance", "temporal.reference", "steps", ...; a
    ``config.ConfigError``), else None."""
    return getattr(error, "field", None)


def cache_choices() -> tuple[str, ...]:
    """``--cache``'s choices: "auto" and the store modes' registry (``store_modes.STORE_MODES``)."""
    from fatezero_lab.store_modes import STORE_MODES

    return ("auto", *STORE_MODES)


def field_choices(cls, name: str) -> tuple[str, ...] | None:
    """The values a string field may take where a registry lists them (FateZeroConfig.self_fusion: the fusion
    rules' registry), so that argparse refuses a bad one before anything is loaded; None elsewhere."""
    if cls.__name__ == "FateZeroConfig" and name == "self_fusion":
        from fatezero_lab.fusion import SELF_FUSIONS

        return tuple(SELF_FUSIONS)
    return None


# ------------------------------------------------------------------------------- flags from the dataclass fields
def _members(hint) -> tuple[list, bool]:
    """The non-None members of a type hint and whether None is allowed."""
    args = typing.get_args(hint)
    if args and (typing.get_origin(hint) is typing.Union or type(hint).__name__ == "UnionType"):
        return [a for a in args if a is not type(None)], type(None) in args
    return [hint], False


def _is_pair(t) -> bool:
    return typing.get_origin(t) is tuple and len(typing.get_args(t)) == 2 and Ellipsis not in typing.get_args(t)


def flag_kind(hint) -> tuple[str, bool]:
    """How a field of type ``hint`` is written on the command line: "bool", "mapping", "window", "words", "int",
    "float" or "str"; and whether "none" is accepted (the field may be None)."""
    members, optional = _members(hint)
    bases = [typing.get_origin(m) or m for m in members]
    if bool in bases:
        return "bool", optional
    if dict in bases:
        return "mapping", optional
    if any(_is_pair(m) for m in members):
        return "window", optional
    if list in bases or tuple in bases:
        return "words", optional
    for kind, t in (("int", int), ("float", float), ("str", str)):
        if t in bases:
            return kind, optional
    raise TypeError(f"no command-line form for a field of type {hint!r}: teach fatezero_lab.cli.flags.flag_kind it")


def _none(text: str, optional: bool):
    if optional and text.strip().lower() in _NONE_WORDS:
        return True
    return False


def _number(kind: str, optional: bool):
    def parse(text: str):
        if _none(text, optional):
            return None
        try:
            return int(text) if kind == "int" else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind == 'int' else 'a number'}"
                                             + (" or 'none'" if optional else "") + f", got {text!r}") from None
    return parse


def _text(optional: bool):
    def parse(text: str):
        return None if _none(text, optional) else text
    return parse


def _window(optional: bool):
    """A fraction ``0.6`` (= the window [0, 0.6)) or a pair ``0.1,0.6`` / ``0.1:0.6``; ``none`` where allowed."""
    def parse(text: str):
        if _none(text, optional):
            return None
        parts = [p for p in re.split(r"[,:]", text.strip()) if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            return values[0]
        if len(values) == 2:
            return tuple(values)
        raise argparse.ArgumentTypeError("expected a fraction like 0.6 or a start,end pair like 0.1,0.6"
                                         + (" (or 'none' for the model's default)" if optional else "")
                                         + f", got {text!r}")
    return parse


def _split_words(values) -> list[str]:
    """Tokens split further at commas: ``--blend-words silver jeep`` = ``--blend-words silver,jeep``."""
    return [w.strip() for v in values for w in str(v).split(",") if w.strip()]


def _mapping(values) -> dict:
    """``blue=2 red=0.5`` (or ``blue=2,red=0.5``) -> {"blue": 2.0, "red": 0.5}; no values -> {} (off)."""
    out = {}
    for item in _split_words(values):
        word, sep, value = item.partition("=")
        try:
            if not sep or not word.strip():
                raise ValueError
            out[word.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected WORD=FACTOR items such as blue=2, got {item!r}") from None
    return out


class _ListAction(argparse.Action):
    """nargs='*' values post-processed: words (comma-split), a mapping, or 'auto'."""

    def __init__(self, *args, form: str = "words", **kwargs):
        self.form = form
        super().__init__(*args, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.form == "mapping":
            try:
                value = _mapping(values)
            except argparse.ArgumentTypeError as e:
                raise argparse.ArgumentError(self, str(e)) from None
        else:
            value = _split_words(values)
            if self.form == "layers" and value == ["auto"]:
                value = "auto"
            elif self.form == "references":
                value = tuple(int(v) if re.fullmatch(r"[+-]?\d+", v) else v for v in value)
        setattr(namespace, self.dest, value)


_EXAMPLES = {"window": "0.6 or 0.1,0.6", "mapping": "WORD=FACTOR ...", "words": "WORD ..."}


def add_dataclass_flags(parser, cls, prefix: str = "", dest_prefix: str = "knob_", skip=(),
                        helps: dict | None = None) -> dict[str, str]:
    """One flag per field of dataclass ``cls`` (except ``skip``), generated from the field types, so that no knob
    is forgotten; ``--x`` is ``--<prefix><field-with-dashes>``, its help :func:`flag_help` (or ``helps[name]``).
    Flags left out keep the attribute absent (argparse.SUPPRESS): only what was given overrides. Returns field ->
    flag."""
    hints = typing.get_type_hints(cls)
    flags = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, optional = flag_kind(hints[f.name])
        flag = "--" + prefix + f.name.replace("_", "-")
        text = ((helps or {}).get(f.name) or flag_help(cls, f.name)).replace("%", "%%")
        text += f" [{cls.__name__}.{f.name}]"
        common = dict(dest=dest_prefix + f.name, default=argparse.SUPPRESS, help=text)
        if kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif kind in ("mapping", "words"):
            form = kind
            if f.name == "mask_layers":
                form = "layers"
            elif cls.__name__ == "TemporalConfig" and f.name == "reference":
                form = "references"
            parser.add_argument(flag, nargs="*", action=_ListAction, form=form, metavar=_EXAMPLES[kind].split()[0],
                                **common)
        elif kind == "window":
            parser.add_argument(flag, type=_window(optional), metavar="F|A,B", **common)
        elif kind in ("int", "float"):
            parser.add_argument(flag, type=_number(kind, optional), metavar=kind.upper(), **common)
        elif field_choices(cls, f.name):
            parser.add_argument(flag, choices=field_choices(cls, f.name), **common)
        else:
            parser.add_argument(flag, type=_text(optional), metavar="TEXT", **common)
        flags[f.name] = flag
    return flags


def given(args, cls, dest_prefix: str = "knob_") -> dict:
    """The fields of ``cls`` set on the command line (field -> parsed value)."""
    return {f.name: getattr(args, dest_prefix + f.name) for f in dataclasses.fields(cls)
            if hasattr(args, dest_prefix + f.name)}


# -------------------------------------------------------------------------------------------- argument checking
def at_least(minimum, kind=int, what="an integer"):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, got {text!r}")
        return value
    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def frame_size(text: str) -> int:
    """0 (the model's own size) or a positive multiple of 8 (the VAE downsamples by 8)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or value % 8:
        raise argparse.ArgumentTypeError(f"expected 0 (the model's size) or a positive multiple of 8 (the VAE "
                                         f"downsamples by 8), got {text!r}")
    return value
