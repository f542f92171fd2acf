"""The toy world: coloured shapes on textured backgrounds, moving, with exact ground truth for every edit.

A *clip spec* (:class:`ClipSpec`) is a small frozen description — which objects (colour, shape, size, path,
appearance), which background, which motion, camera and lighting — and :func:`render` turns it into frames and
per-frame object masks, deterministically. An edit ("the red circle becomes blue") is the same spec with one field
changed, so ``render(spec, edit=...)`` gives the **exact** edited clip: same motion, same textures, same stripes.

Example::

    >>> from fatezero_lab import toyworld
    >>> c = toyworld.clip("a red circle on grass", motion="left_to_right", frames=8, seed=0)
    >>> c.frames.shape, c.masks.shape, c.caption
    ((8, 64, 64, 3), (8, 1, 64, 64), 'a red circle on grass')
    >>> gt = c.edited("a blue circle on grass")       # the ground-truth edit
"""

from __future__ import annotations

import colorsys
import dataclasses
import re
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------------------------------------------------
# The vocabulary of the world. Object colours are saturated and bright; backgrounds are desaturated, dark or green, so
# an analytic judge (judge.py) can tell them apart by hue/saturation/value.
# ---------------------------------------------------------------------------------------------------------------------
COLOURS: dict[str, tuple[float, float, float]] = {  # name -> base RGB in [0, 1]
    "red": (0.86, 0.16, 0.14),
    "blue": (0.16, 0.32, 0.90),
    "yellow": (0.95, 0.82, 0.12),
    "purple": (0.62, 0.20, 0.80),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
BACKGROUNDS: tuple[str, ...] = ("grass", "snow", "wood", "stone")
MOTIONS: tuple[str, ...] = ("static", "left_to_right", "right_to_left", "up", "down", "circle", "scale")
CAMERAS: tuple[str, ...] = ("static", "pan")
LIGHTINGS: tuple[str, ...] = ("constant", "drift")
PATTERNS: tuple[str, ...] = ("plain", "stripes", "dots")
FILLER_WORDS: tuple[str, ...] = ("a", "and", "on")


@dataclass(frozen=True)
class ToyObject:
    """One object of a scene. Geometry is in pixels of a ``size``×``size`` frame."""

    colour: str  # one of COLOURS
    shape: str  # one of SHAPES
    radius: float  # half-size in pixels (circle radius, square half-side, triangle circumradius)
    x: float  # centre at the middle frame, pixels from the left
    y: float  # centre at the middle frame, pixels from the top
    dx: float = 0.0  # displacement per frame (pixels) for translating motions
    dy: float = 0.0
    # --- appearance freedom: many valid looks for the same caption (what makes frames edited alone flicker) ---
    shade: tuple[float, float, float] = (0.0, 0.0, 0.0)  # RGB offset added to the base colour
    pattern: str = "plain"  # one of PATTERNS
    pattern_angle: float = 0.0  # radians
    pattern_period: float = 6.0  # pixels
    shading_angle: float = 0.0  # direction of the light gradient over the object, radians
    shading_strength: float = 0.15  # 0 = flat; darkening at the far side of the object


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render a clip; hashable, deterministic, cheap to edit with ``dataclasses.replace``."""

    objects: tuple[ToyObject, ...]  # 1 or 2 objects; the caption names them in this order
    background: str  # one of BACKGROUNDS
    frames: int = 8  # number of frames
    size: int = 64  # frame height = width in pixels
    motion: str = "left_to_right"  # one of MOTIONS (applied to every object with its own speed)
    camera: str = "static"  # "pan": the background slides under the objects
    lighting: str = "constant"  # "drift": global brightness changes slowly over the clip
    seed: int = 0  # seed of the background texture
    pan: tuple[float, float] = (1.5, 0.0)  # background shift per frame (pixels) when camera == "pan"

    @property
    def caption(self) -> str:
        """The caption the toy model was trained with: ``a red circle and a blue square on grass``."""
        names = " and ".join(f"a {o.colour} {o.shape}" for o in self.objects)
        return f"{names} on {self.background}"


@dataclass
class Clip:
    """A rendered clip: ``frames`` (F, H, W, 3) float32 in [0, 1] and ``masks`` (F, n_objects, H, W) bool."""

    spec: ClipSpec
    frames: np.ndarray
    masks: np.ndarray

    @property
    def caption(self) -> str:
        return self.spec.caption

    def edited(self, target: str | dict | None = None, **changes) -> "Clip":
        """The exact ground-truth clip for an edit, given as a target caption or as field changes (see :func:`render`)."""
        if isinstance(target, str):
            return render(spec_for_caption(self.spec, target))
        edit = dict(target or {}, **changes)
        return render(self.spec, edit=edit)

    def __repr__(self) -> str:
        f, h, w, _ = self.frames.shape
        return (f"Clip({self.caption!r}, frames={f}, size={h}x{w}, motion={self.spec.motion!r}, "
                f"camera={self.spec.camera!r}, lighting={self.spec.lighting!r}, seed={self.spec.seed})")

    def _repr_html_(self) -> str:  # a strip of frames in notebooks
        from .. import video

        return video.strip_html(self.frames, title=repr(self))


# ---------------------------------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------------------------------
_CAPTION_RE = re.compile(r"^\s*(?:a\s+)?(\w+)\s+(\w+)(?:\s+and\s+(?:a\s+)?(\w+)\s+(\w+))?\s+on\s+(\w+)\s*$")


def parse_caption(caption: str) -> tuple[list[tuple[str, str]], str]:
    """``"a red circle and a blue square on grass"`` -> ``([("red", "circle"), ("blue", "square")], "grass")``."""
    m = _CAPTION_RE.match(caption.lower())
    if m is None:
        raise ValueError(
            f"caption {caption!r} is not a toy-world caption; expected 'a <colour> <shape> on <background>' or "
            f"'a <colour> <shape> and a <colour> <shape> on <background>' with colours {list(COLOURS)}, "
            f"shapes {list(SHAPES)}, backgrounds {list(BACKGROUNDS)}")
    c1, s1, c2, s2, bg = m.groups()
    objs = [(c1, s1)] + ([(c2, s2)] if c2 else [])
    for c, s in objs:
        _check("colour", c, COLOURS)
        _check("shape", s, SHAPES)
    _check("background", bg, BACKGROUNDS)
    return objs, bg


def spec_for_caption(spec: ClipSpec, caption: str) -> ClipSpec:
    """The same clip (motion, textures, appearance) with the colours/shapes/background named by ``caption``."""
    objs, bg = parse_caption(caption)
    if len(objs) != len(spec.objects):
        raise ValueError(f"caption {caption!r} names {len(objs)} object(s) but the clip has {len(spec.objects)}")
    new = tuple(dataclasses.replace(o, colour=c, shape=s) for o, (c, s) in zip(spec.objects, objs))
    return dataclasses.replace(spec, objects=new, background=bg)


def vocabulary() -> list[str]:
    """Every word a toy caption can use (the toy tokenizer's vocabulary, besides special tokens)."""
    return list(FILLER_WORDS) + list(COLOURS) + list(SHAPES) + list(BACKGROUNDS)


def _check(kind: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; expected one of {list(allowed)}")


# ---------------------------------------------------------------------------------------------------------------------
# Random specs
# ---------------------------------------------------------------------------------------------------------------------
def random_object(rng: np.random.Generator, size: int, colour: str | None = None, shape: str | None = None,
                  avoid: ToyObject | None = None, speed: float = 2.0, travel: tuple[float, float] = (0.0, 0.0),
                  radius_range: tuple[float, float] | None = None) -> ToyObject:
    """A random object with random appearance; ``avoid`` keeps it clear of another object.

    ``travel`` (pixels in x, y) is how far the motion takes the centre from its middle-frame position, so the path
    stays inside the frame. ``radius_range`` (pixels of a 64-pixel frame; default 7–13, 7–11 beside another object)
    is where the radius is drawn from, whatever the colour and shape.
    """
    colour = colour or str(rng.choice(list(COLOURS)))
    shape = shape or str(rng.choice(SHAPES))
    s = size / 64.0
    for _ in range(100):
        lo, hi = radius_range or (7.0, 13.0 if avoid is None else 11.0)
        radius = float(rng.uniform(lo, hi)) * s
        mx = min(radius + 2 * s + travel[0], size / 2 - 1)
        my = min(radius + 2 * s + travel[1], size / 2 - 1)
        x = float(rng.uniform(mx, size - mx))
        y = float(rng.uniform(my, size - my))
        if avoid is None or np.hypot(x - avoid.x, y - avoid.y) > radius + avoid.radius + 4 * s:
            break
    angle = float(rng.uniform(0, 2 * np.pi))
    return ToyObject(
        colour=colour, shape=shape, radius=radius, x=x, y=y,
        dx=float(np.cos(angle) * speed * s), dy=float(np.sin(angle) * speed * s),
        shade=tuple(float(v) for v in rng.uniform(-0.07, 0.07, size=3)),
        pattern=str(rng.choice(PATTERNS)),
        pattern_angle=float(rng.uniform(0, np.pi)),
        pattern_period=float(rng.uniform(4.0, 8.0)) * s,
        shading_angle=float(rng.uniform(0, 2 * np.pi)),
        shading_strength=float(rng.uniform(0.0, 0.2)),
    )


def random_spec(seed: int, n_objects: int | None = None, frames: int = 8, size: int = 64,
                motion: str | None = None, camera: str | None = None, lighting: str | None = None,
                background: str | None = None, radius_range: tuple[float, float] | None = None) -> ClipSpec:
    """A random clip spec; two objects always get different colours so captions stay unambiguous.
    ``radius_range``: see :func:`random_object` (the same range for one and two objects)."""
    rng = np.random.default_rng(seed)
    n = n_objects or int(rng.choice([1, 2]))
    motion = motion or str(rng.choice(MOTIONS))
    speed = 2.0 * size / 64.0
    half = (frames - 1) / 2.0
    travel = {"left_to_right": (speed * half, 0.0), "right_to_left": (speed * half, 0.0),
              "up": (0.0, speed * half), "down": (0.0, speed * half),
              "circle": (1.5 * speed, 1.5 * speed), "scale": (3.0, 3.0)}.get(motion, (0.0, 0.0))
    first = random_object(rng, size, travel=travel, radius_range=radius_range)
    objects = [first]
    if n == 2:
        colour = str(rng.choice([c for c in COLOURS if c != first.colour]))
        objects.append(random_object(rng, size, colour=colour, avoid=first, travel=travel, radius_range=radius_range))
    return ClipSpec(
        objects=tuple(objects),
        background=background or str(rng.choice(BACKGROUNDS)),
        frames=frames, size=size,
        motion=motion,
        camera=camera or str(rng.choice(CAMERAS)),
        lighting=lighting or str(rng.choice(LIGHTINGS)),
        seed=int(rng.integers(0, 2**31 - 1)),
        pan=(float(rng.uniform(-2, 2)), float(rng.uniform(-1, 1))),
    )


def clip(caption: str = "a red circle on grass", motion: str = "left_to_right", frames: int = 8, seed: int = 0,
         size: int = 64, camera: str = "static", lighting: str = "constant") -> Clip:
    """Render a clip of the scene a caption describes; positions, sizes and looks are drawn from ``seed``.

    >>> clip("a red circle and a blue square on snow", motion="circle", frames=8).masks.shape
    (8, 2, 64, 64)
    """
    objs, bg = parse_caption(caption)
    _check("motion", motion, MOTIONS)
    _check("camera", camera, CAMERAS)
    _check("lighting", lighting, LIGHTINGS)
    if not (1 <= frames <= 64):
        raise ValueError(f"frames must be in 1..64, got {frames}")
    if size % 8 or not (32 <= size <= 512):
        raise ValueError(f"size must be a multiple of 8 in 32..512, got {size}")
    spec = random_spec(seed, n_objects=len(objs), frames=frames, size=size, motion=motion, camera=camera,
                       lighting=lighting, background=bg)
    spec = spec_for_caption(spec, caption)
    return render(spec)


# ---------------------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------------------
def render(spec: ClipSpec, edit: dict | None = None, only: int | None = None) -> Clip:
    """Render ``spec`` (optionally with an ``edit``) to frames and masks.

    ``edit`` changes fields and nothing else, e.g. ``{"colour": "blue"}`` (object 0), ``{"obj": 1, "shape": "square"}``
    or ``{"background": "snow"}``: the result is the exact ground truth of that edit. ``only=i`` renders frame ``i``
    alone (``frames``/``masks`` then hold that one frame, equal to ``render(spec).frames[i:i + 1]``; the training
    data draws single frames from clips this way).
    """
    if edit:
        spec = apply_edit(spec, edit)
    _check("background", spec.background, BACKGROUNDS)
    _check("motion", spec.motion, MOTIONS)
    n, f = spec.size, spec.frames
    if only is not None and not 0 <= only < f:
        raise ValueError(f"only={only} but the clip has {f} frame(s); expected 0..{f - 1}")
    indices = range(f) if only is None else [only]
    frames = np.empty((len(indices), n, n, 3), np.float32)
    masks = np.zeros((len(indices), len(spec.objects), n, n), bool)
    margin = int(np.ceil(max(abs(spec.pan[0]), abs(spec.pan[1])) * f)) + 2
    texture = background_texture(spec.background, n + 2 * margin, spec.seed)  # (n+2m, n+2m, 3)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5
    for out, i in enumerate(indices):
        # 1. background: a window of the texture, sliding when the camera pans
        t = i - (f - 1) / 2.0  # frame time centred on the middle frame
        ox, oy = (spec.pan if spec.camera == "pan" else (0.0, 0.0))
        img = _crop(texture, margin + ox * t, margin + oy * t, n)
        # 2. objects, back to front
        for k, obj in enumerate(spec.objects):
            cx, cy, r = _pose(obj, spec, i)
            cover = _coverage(obj.shape, xx - cx, yy - cy, r)  # (H, W) anti-aliased coverage in [0, 1]
            colour = _object_colour(obj, xx - cx, yy - cy, r)  # (H, W, 3)
            img = img * (1 - cover[..., None]) + colour * cover[..., None]
            masks[out, k] = cover > 0.5
            for j in range(k):  # a later object hides an earlier one
                masks[out, j] &= ~masks[out, k]
        # 3. lighting
        if spec.lighting == "drift":
            img = img * (1.0 + 0.08 * np.sin(np.pi * (i / max(f - 1, 1)) - np.pi / 2 + spec.seed % 7))
        frames[out] = np.clip(img, 0.0, 1.0)
    return Clip(spec=spec, frames=frames, masks=masks)


def apply_edit(spec: ClipSpec, edit: dict) -> ClipSpec:
    """Apply ``{"obj": k, "colour"/"shape": ...}`` and/or ``{"background": ...}`` to a spec."""
    edit = dict(edit)
    allowed = {"obj", "colour", "shape", "background"}
    unknown = set(edit) - allowed
    if unknown:
        raise ValueError(f"unknown edit field(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
    k = int(edit.pop("obj", 0))
    if not 0 <= k < len(spec.objects):
        raise ValueError(f"edit obj={k} but the clip has {len(spec.objects)} object(s)")
    if "background" in edit:
        _check("background", edit["background"], BACKGROUNDS)
        spec = dataclasses.replace(spec, background=edit.pop("background"))
    if edit:
        if "colour" in edit:
            _check("colour", edit["colour"], COLOURS)
        if "shape" in edit:
            _check("shape", edit["shape"], SHAPES)
        objs = list(spec.objects)
        objs[k] = dataclasses.replace(objs[k], **edit)
        spec = dataclasses.replace(spec, objects=tuple(objs))
    return spec


def _pose(obj: ToyObject, spec: ClipSpec, i: int) -> tuple[float, float, float]:
    """Centre and radius of ``obj`` in frame ``i``; paths are centred on the middle frame and stay in the frame."""
    f, n = spec.frames, spec.size
    t = i - (f - 1) / 2.0
    x, y, r = obj.x, obj.y, obj.radius
    speed = float(np.hypot(obj.dx, obj.dy)) or 1.0
    if spec.motion == "left_to_right":
        x += speed * t
    elif spec.motion == "right_to_left":
        x -= speed * t
    elif spec.motion == "up":
        y -= speed * t
    elif spec.motion == "down":
        y += speed * t
    elif spec.motion == "circle":
        a = 2 * np.pi * i / max(f, 1) + np.arctan2(obj.dy, obj.dx)
        x += 1.5 * speed * np.cos(a)
        y += 1.5 * speed * np.sin(a)
    elif spec.motion == "scale":
        r *= 1.0 + 0.25 * t / max((f - 1) / 2.0, 1.0)
    lo, hi = r + 1.0, n - r - 1.0
    return float(np.clip(x, lo, hi)), float(np.clip(y, lo, hi)), float(r)


def _coverage(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Anti-aliased coverage from a signed distance (negative inside): clip(0.5 - d, 0, 1)."""
    if shape == "circle":
        d = np.sqrt(dx**2 + dy**2) - r
    elif shape == "square":
        d = np.maximum(np.abs(dx), np.abs(dy)) - r * 0.85
    elif shape == "triangle":  # upward equilateral triangle with circumradius r, centred on its centroid
        s3 = np.sqrt(3.0) / 2.0
        d = np.maximum.reduce([dy - r / 2, -s3 * dx - 0.5 * dy - r / 2, s3 * dx - 0.5 * dy - r / 2])
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {list(SHAPES)}")
    return np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)


def _object_colour(obj: ToyObject, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Base colour + shade, a pattern (stripes or dots, darker) and a soft light gradient across the object."""
    base = np.clip(np.array(COLOURS[obj.colour]) + np.array(obj.shade), 0, 1).astype(np.float32)
    u = dx * np.cos(obj.pattern_angle) + dy * np.sin(obj.pattern_angle)
    if obj.pattern == "stripes":
        pat = 0.5 + 0.5 * np.cos(2 * np.pi * u / obj.pattern_period)
    elif obj.pattern == "dots":
        v = -dx * np.sin(obj.pattern_angle) + dy * np.cos(obj.pattern_angle)
        pat = (0.5 + 0.5 * np.cos(2 * np.pi * u / obj.pattern_period)) * (0.5 + 0.5 * np.cos(2 * np.pi * v / obj.pattern_period))
    else:
        pat = np.zeros_like(dx)
    light = 1.0 - obj.shading_strength * 0.5 * (1 + (dx * np.cos(obj.shading_angle) + dy * np.sin(obj.shading_angle)) / max(r, 1e-3))
    value = (1.0 - 0.25 * pat) * light  # (H, W)
    return base[None, None, :] * value[..., None]


def _crop(tex: np.ndarray, x0: float, y0: float, n: int) -> np.ndarray:
    """Bilinear crop of an n×n window at sub-pixel offset (x0, y0) of a texture."""
    ix, iy = int(np.floor(x0)), int(np.floor(y0))
    fx, fy = x0 - ix, y0 - iy
    a = tex[iy:iy + n + 1, ix:ix + n + 1]
    top = a[:n, :n] * (1 - fx) + a[:n, 1:n + 1] * fx
    bot = a[1:n + 1, :n] * (1 - fx) + a[1:n + 1, 1:n + 1] * fx
    return top * (1 - fy) + bot * fy


def _smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Value noise: a cells×cells random grid, bilinearly upsampled to n×n (structured, not per-pixel)."""
    g = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    t = np.linspace(0, cells, n, endpoint=False, dtype=np.float32)
    i = np.floor(t).astype(int)
    f = t - i
    f = f * f * (3 - 2 * f)  # smoothstep
    a = g[i][:, i] * (1 - f)[None, :] + g[i][:, i + 1] * f[None, :]
    b = g[i + 1][:, i] * (1 - f)[None, :] + g[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h, s, v), np.float32)


def background_texture(name: str, n: int, seed: int) -> np.ndarray:
    """An n×n×3 procedural texture; smooth enough for the VAE to keep, with seed-dependent variation."""
    _check("background", name, BACKGROUNDS)
    rng = np.random.default_rng([seed, BACKGROUNDS.index(name)])
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    lo = _smooth_noise(rng, n, max(2, n // 16))  # large blotches
    if name == "grass":
        base = _hsv(rng.uniform(0.26, 0.34), rng.uniform(0.55, 0.7), rng.uniform(0.45, 0.6))
        period = rng.uniform(6.0, 9.0)
        blades = np.sin(2 * np.pi * xx / period + 1.5 * np.sin(yy / 7.0 + rng.uniform(0, 6)) + 2 * lo)
        v = 1.0 + 0.12 * blades + 0.1 * lo
        img = base[None, None] * v[..., None]
    elif name == "snow":
        base = _hsv(rng.uniform(0.55, 0.62), rng.uniform(0.03, 0.1), rng.uniform(0.86, 0.95))
        mid = _smooth_noise(rng, n, max(2, n // 8))
        v = 1.0 + 0.04 * lo + 0.03 * mid
        img = base[None, None] * v[..., None]
        img[..., 2] += 0.03 * mid  # faint blue shadows
    elif name == "wood":
        base = _hsv(rng.uniform(0.06, 0.09), rng.uniform(0.5, 0.62), rng.uniform(0.38, 0.46))
        plank_h = rng.uniform(9, 14)
        plank = np.floor((yy + rng.uniform(0, plank_h)) / plank_h)
        shade = 0.1 * np.sin(plank * 2.3 + rng.uniform(0, 6))
        grain = np.sin(2 * np.pi * yy / 6.0 + 2.5 * np.sin(xx / 9.0 + plank) + lo)
        seam = np.clip(1 - np.abs(((yy + rng.uniform(0, plank_h)) % plank_h) - 1.0) / 1.5, 0, 1)
        v = 1.0 + shade + 0.07 * grain - 0.25 * seam
        img = base[None, None] * v[..., None]
    else:  # stone: soft grey cobbles
        base = _hsv(rng.uniform(0.0, 1.0), rng.uniform(0.0, 0.06), rng.uniform(0.5, 0.6))
        k = max(4, (n * n) // 160)
        px, py = rng.uniform(0, n, k), rng.uniform(0, n, k)
        d = np.sqrt((xx[..., None] - px) ** 2 + (yy[..., None] - py) ** 2)  # (n, n, k)
        d.sort(axis=-1)
        edge = np.clip((d[..., 1] - d[..., 0]) / 4.0, 0, 1)  # 0 on the joints between cobbles
        cell = rng.uniform(-0.08, 0.08, k)[np.argmin(np.sqrt((xx[..., None] - px) ** 2 + (yy[..., None] - py) ** 2), -1)]
        v = 0.8 + 0.2 * edge + cell + 0.04 * lo
        img = base[None, None] * v[..., None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)
