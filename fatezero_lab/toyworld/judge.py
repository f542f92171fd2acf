"""An analytic judge for toy-world images: what colours, shapes and background does a (generated) frame show?

No training and no learned weights: the toy world (``world.py``) was designed so that its vocabulary can be read off a
frame with a few colour rules and one geometric feature, which makes the judge a fixed, inspectable yardstick for
the generative model and for edits ("did the red circle become blue, and did it stay a circle on grass?").

How it works
------------
1. **Pixel classes** (:func:`pixel_classes`). Every pixel gets one of ``CLASS_NAMES`` = the 4 object colours + the 4
   backgrounds. Brightness is the one thing the world varies a lot (stripes/dots darken objects by up to 25 %, a
   shading gradient by up to 20 %, lighting drift by ±8 %, background textures by ±20 %), and all of it *multiplies*
   the RGB colour, which leaves hue and saturation unchanged. So a pixel is placed in the **chroma plane**
   ``(s·cos 2πh, s·sin 2πh)`` (HSV hue ``h`` as an angle, saturation ``s`` as a radius) and given the class of the
   nearest of 7 prototypes (:data:`PROTOTYPES`): red, yellow, blue, purple (saturated, s ≈ 0.75–0.87), grass (green,
   s ≈ 0.62), wood (orange-brown, s ≈ 0.56) and *grey* (s = 0). Grey pixels are split by brightness: snow is near
   white (v ≈ 0.9), stone mid-grey (v ≈ 0.5); the cut is ``SNOW_MIN_VALUE`` = 0.72, half-way between the two
   textures' ranges (stone never exceeds ~0.71 even with drift, snow never falls below ~0.74).
   Two guards keep dark or washed-out pixels out of the object classes, since object colours are bright and
   saturated and hue is meaningless on near-black pixels: an object class needs ``v >= OBJECT_MIN_VALUE`` (0.30;
   the darkest rendered object pixels have v ≈ 0.46) and ``s >= OBJECT_MIN_SATURATION`` (0.40; the least saturated
   object colour, purple, has s ≥ 0.64). A pixel failing a guard falls back to its nearest *background* prototype.
   Measured on interior pixels of 300 rendered frames every object colour and every background is classified right
   > 99.9 % of the time; the red/wood pair is the closest (hue 0.00 vs 0.07, saturation 0.84 vs 0.56) and
   still 0.3 apart in the chroma plane.
2. **Background** = the most common background class among the non-object pixels.
3. **Objects**: for each object colour, its pixels are cleaned by a 3×3 morphological opening (erode then dilate,
   numpy shifts) that removes the thin rings of blended colour that appear where an object meets the background
   (e.g. red over grass blends to an orange that can look yellow), then the largest 4-connected blob is kept and
   grown back into the raw class pixels within 1 px, so that the corners the opening shaved off (triangle tips,
   square corners) are restored. A colour whose blob has ``>= min_pixels`` pixels (default 12; the smallest rendered
   object has ~110) is an object (:class:`Detection`).
4. **Shape** (:func:`classify_shape`) from two features of the mask:

   * ``fill`` = mask area / bounding-box area: square ≈ 1.0, circle ≈ π/4 ≈ 0.785, upward triangle ≈ 0.5.
   * ``bottom`` = fraction of the area in the lower half of the bounding box: a triangle points up, so ≈ 0.75 of its
     area is in the lower half; circles and squares are symmetric (0.5).

   A mask is a **triangle** if ``fill < TRIANGLE_MAX_FILL`` (0.66) or ``bottom > TRIANGLE_MIN_BOTTOM`` (0.64);
   otherwise a **square** if ``fill > SQUARE_MIN_FILL`` (0.88) else a **circle**. Thresholds were chosen half-way
   between the classes' measured ranges on rendered and Gaussian-blurred (σ = 1 px) frames; 0.88 leaves room for
   the rounded ("cushion") corners of generated squares, and the ``bottom`` test catches blurred triangles whose
   tips are rounded off (which raises their fill towards the circle's).

Measured on 600 random static frames (1–2 objects, all backgrounds, lighting drift), see ``tests/test_judge.py``:
background 100 %, colour 100 %, shape 100 % (and ≥ 99 % of each after a σ = 1 px Gaussian blur).

Limits: the judge reads colour by hue, so an object whose generated colour drifts half-way to another colour's hue
is counted as whichever is nearer; an object of a colour painted twice counts once (the largest blob); objects are
assumed to be brighter and more saturated than the background, as they are in the toy world.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .world import BACKGROUNDS, COLOURS, parse_caption

CLASS_NAMES: list[str] = list(COLOURS) + list(BACKGROUNDS)
"""Pixel classes: index ``i`` of :func:`pixel_classes` means ``CLASS_NAMES[i]`` (object colours first)."""

N_COLOURS = len(COLOURS)

# (hue in turns, saturation) of each chroma prototype, measured medians of rendered frames. "grey" stands for both snow
# and stone, which only brightness separates.
PROTOTYPES: dict[str, tuple[float, float]] = {
    "red": (0.005, 0.85),
    "yellow": (0.140, 0.86),
    "blue": (0.630, 0.82),
    "purple": (0.785, 0.74),
    "grass": (0.300, 0.62),
    "wood": (0.074, 0.56),
    "grey": (0.0, 0.0),
}
SNOW_MIN_VALUE = 0.72  # grey pixels at least this bright are snow, darker ones stone
OBJECT_MIN_VALUE = 0.30  # darker pixels are never object colours
OBJECT_MIN_SATURATION = 0.40  # less saturated pixels are never object colours
TRIANGLE_MAX_FILL = 0.64  # fill below this: triangle (ideal 0.5; circles measure >= 0.72)
TRIANGLE_MIN_TAPER = 0.22  # or |taper| above this: triangle (ideal 0.5; circles and squares <= 0.15)
SQUARE_MIN_SQUARENESS = 0.42  # else squareness at least this: square (circles <= 0.30, squares >= 0.48 up to σ=1.5 blur)
HALO_DISTANCE = 3  # a detection with more than HALO_SHARE of its pixels this close (px) to a larger one is a fringe
HALO_SHARE = 0.5


@dataclass
class Detection:
    """One object found in an image: its colour, shape, pixel mask and the shape features."""

    colour: str  # one of COLOURS
    shape: str | None  # one of SHAPES; None if the mask was too small to tell
    mask: np.ndarray  # (H, W) bool
    fill: float  # mask area / bounding-box area (square ~1.0, circle ~0.785, triangle ~0.5)
    taper: float = 0.0  # (width at 3/4 height - width at 1/4 height) / max width (upward triangle 0.5, others 0)
    kurtosis: float = 2.0  # kurtosis of the mask's x and y coordinates (square 1.8, circle 2.0, triangle 2.4)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def squareness(self) -> float:
        """0 for an ideal circle, 1 for an ideal square (see :func:`squareness`)."""
        return squareness(self.fill, self.kurtosis)

    def __repr__(self) -> str:
        return (f"Detection({self.colour} {self.shape}, area={self.area}, fill={self.fill:.2f}, "
                f"taper={self.taper:.2f}, kurtosis={self.kurtosis:.2f})")


@dataclass
class Judgement:
    """What the judge saw: the background (None if no background pixels were left) and the objects found."""

    background: str | None
    objects: list[Detection] = field(default_factory=list)

    @property
    def pairs(self) -> set[tuple[str, str | None]]:
        """The set of (colour, shape) pairs seen."""
        return {(d.colour, d.shape) for d in self.objects}

    @property
    def caption(self) -> str | None:
        """A toy caption of what was seen (largest object first), or None if it is not one (no or >2 objects)."""
        objs = sorted(self.objects, key=lambda d: -d.area)
        if not 1 <= len(objs) <= 2 or self.background is None or any(d.shape is None for d in objs):
            return None
        return " and ".join(f"a {d.colour} {d.shape}" for d in objs) + f" on {self.background}"

    def matches(self, caption: str) -> bool:
        """True iff the image shows exactly the caption's (colour, shape) pairs (no more, no fewer) on its background."""
        objs, bg = parse_caption(caption)
        return (len(self.objects) == len(objs) and self.pairs == set(objs)) and self.background == bg

    def colour_ok(self, caption: str) -> bool:
        """True iff the set of object colours seen equals the caption's (so the object count matches too)."""
        objs, _ = parse_caption(caption)
        return len(self.objects) == len(objs) and {d.colour for d in self.objects} == {c for c, _ in objs}

    def shape_ok(self, caption: str) -> bool:
        """True iff the shapes are right, judged apart from colour.

        If the colours are right, each caption object's shape is checked against the object of that colour (so a
        swapped "red circle and blue square" fails); otherwise the multiset of shapes seen must equal the caption's.
        """
        objs, _ = parse_caption(caption)
        if len(self.objects) != len(objs):
            return False
        if self.colour_ok(caption):
            seen = {d.colour: d.shape for d in self.objects}
            return all(seen[c] == s for c, s in objs)
        return sorted(str(d.shape) for d in self.objects) == sorted(s for _, s in objs)

    def background_ok(self, caption: str) -> bool:
        """True iff the background seen is the caption's."""
        _, bg = parse_caption(caption)
        return self.background == bg


# ---------------------------------------------------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------------------------------------------------
def as_image(image) -> np.ndarray:
    """Any toy frame as float32 (H, W, 3) in [0, 1]: accepts uint8, channel-first (3, H, W), or torch tensors."""
    if hasattr(image, "detach"):  # a torch tensor, without importing torch
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim != 3:
        raise ValueError(f"expected one image (H, W, 3), got shape {a.shape}")
    if a.shape[-1] != 3 and a.shape[0] == 3:
        a = np.moveaxis(a, 0, -1)
    if a.shape[-1] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def rgb_to_hsv(image: np.ndarray) -> np.ndarray:
    """Vectorised RGB -> HSV, all channels in [0, 1] (hue in turns: 0 red, 1/3 green, 2/3 blue)."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    mx = image.max(-1)
    mn = image.min(-1)
    c = mx - mn
    safe = np.where(c > 0, c, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)) / 6.0
    h = np.where(c > 0, h, 0.0)
    s = np.where(mx > 0, c / np.where(mx > 0, mx, 1.0), 0.0)
    return np.stack([h, s, mx], -1).astype(np.float32)


def _chroma(h: np.ndarray, s: np.ndarray) -> np.ndarray:
    a = 2 * np.pi * h
    return np.stack([s * np.cos(a), s * np.sin(a)], -1)


_PROTO_NAMES = list(PROTOTYPES)
_PROTO_XY = _chroma(np.array([p[0] for p in PROTOTYPES.values()]), np.array([p[1] for p in PROTOTYPES.values()]))


def pixel_classes(image) -> np.ndarray:
    """(H, W) int: each pixel's class, an index into :data:`CLASS_NAMES` (see the module docstring for the rules)."""
    hsv = rgb_to_hsv(as_image(image))
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    d = ((_chroma(h, s)[..., None, :] - _PROTO_XY) ** 2).sum(-1)  # (H, W, 7) squared distances to the prototypes
    n_obj = N_COLOURS
    obj_ok = (v >= OBJECT_MIN_VALUE) & (s >= OBJECT_MIN_SATURATION)
    d[..., :n_obj] = np.where(obj_ok[..., None], d[..., :n_obj], np.inf)
    best = np.argmin(d, -1)
    grey = _PROTO_NAMES.index("grey")
    names = np.array([CLASS_NAMES.index(n) if n != "grey" else -1 for n in _PROTO_NAMES])
    out = names[best]
    is_grey = best == grey
    out[is_grey & (v >= SNOW_MIN_VALUE)] = CLASS_NAMES.index("snow")
    out[is_grey & (v < SNOW_MIN_VALUE)] = CLASS_NAMES.index("stone")
    return out.astype(np.int64)


def object_mask(image, colour: str) -> np.ndarray:
    """(H, W) bool: the pixels classified as object colour ``colour`` (raw, before any clean-up)."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {list(COLOURS)}")
    return pixel_classes(image) == CLASS_NAMES.index(colour)


# ---------------------------------------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------------------------------------
def _shifts(m: np.ndarray, pad_mode: str):
    """The 9 one-pixel shifts of a bool mask (its 3×3 neighbourhood), padded with ``pad_mode``."""
    p = np.pad(m, 1, mode=pad_mode)
    h, w = m.shape
    return [p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)]


def erode(m: np.ndarray) -> np.ndarray:
    """3×3 binary erosion (a pixel survives if its whole 3×3 neighbourhood is set; the border is replicated)."""
    return np.logical_and.reduce(_shifts(m, "edge"))


def dilate(m: np.ndarray) -> np.ndarray:
    """3×3 binary dilation (a pixel is set if anything in its 3×3 neighbourhood is)."""
    return np.logical_or.reduce(_shifts(m, "constant"))


def opening(m: np.ndarray) -> np.ndarray:
    """3×3 morphological opening: removes specks and lines thinner than 3 px, keeps solid regions (a square exactly)."""
    return dilate(erode(m))


def largest_component(m: np.ndarray) -> np.ndarray:
    """The largest 4-connected blob of a bool mask (all False if the mask is empty); breadth-first flood fill."""
    h, w = m.shape
    seen = np.zeros(m.shape, bool)
    best: list[tuple[int, int]] = []
    for y0, x0 in zip(*np.nonzero(m)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        blob, queue = [], deque([(int(y0), int(x0))])
        while queue:
            y, x = queue.popleft()
            blob.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and m[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        if len(blob) > len(best):
            best = blob
    out = np.zeros(m.shape, bool)
    if best:
        ys, xs = zip(*best)
        out[list(ys), list(xs)] = True
    return out


def refine_boundary(image: np.ndarray, blob: np.ndarray, background: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    """Move the edge of ``blob`` to where the pixel colour is half-way between object and background.

    Pixels blended from an object colour and the background (anti-aliasing, blur) often fall out of the object's
    hue/saturation class well before they are 50 % object (red over grass turns orange, purple over snow turns
    lilac), so the class mask alone sits ~1 px inside the true outline. Here the object colour ``o`` (median of the
    blob's interior) and the local background colour ``g`` (median of the ``background``-class pixels 3–4 px
    outside the blob) are measured, and every pixel of the band from 1 px inside to 2 px outside the blob is given to
    the nearer of the two in RGB, i.e. to the object iff it is at least half object (for a pure blend). ``blocked``
    pixels (other objects) are never added.
    """
    grown2 = dilate(dilate(blob))
    ring = dilate(dilate(grown2)) & ~grown2 & background
    inner = erode(blob)
    core = inner if inner.sum() >= 3 else blob
    if ring.sum() < 3:
        return blob
    o = np.median(image[core], 0)
    g = np.median(image[ring], 0)
    band = grown2 & ~inner & ~blocked
    closer = ((image - o) ** 2).sum(-1) < ((image - g) ** 2).sum(-1)
    return largest_component((blob & ~band) | (band & closer))


def clean_mask(image: np.ndarray, raw: np.ndarray, background: np.ndarray | None = None,
               blocked: np.ndarray | None = None) -> np.ndarray:
    """The object's mask from its raw class pixels: 3×3 opening, largest blob, then :func:`refine_boundary`.

    ``background`` marks the pixels of background classes (default: everything not in ``raw``), ``blocked`` the
    pixels of other objects (default: none).
    """
    blob = largest_component(opening(raw))
    if not blob.any():
        return blob
    if background is None:
        background = ~raw
    if blocked is None:
        blocked = np.zeros(raw.shape, bool)
    return refine_boundary(image, blob, background, blocked)


# ---------------------------------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------------------------------
def shape_features(mask: np.ndarray) -> tuple[float, float, float]:
    """``(fill, taper, kurtosis)`` of a mask (definitions and typical values in the module docstring)."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 2:
        return 0.0, 0.0, 0.0
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fill = len(ys) / float((y1 - y0) * (x1 - x0))
    widths = mask[y0:y1].sum(1).astype(np.float64)  # pixels per row, top to bottom
    rows = np.arange(y1 - y0) + 0.5  # row centres, measured from the top of the box
    width_at = lambda f: np.interp(f * (y1 - y0), rows, widths)  # noqa: E731
    taper = (width_at(0.75) - width_at(0.25)) / widths.max()
    kurt = []
    for v in (xs, ys):
        d = v - v.mean()
        var = (d ** 2).mean()
        kurt.append((d ** 4).mean() / var ** 2 if var > 0 else 0.0)
    return float(fill), float(taper), float(np.mean(kurt))


def squareness(fill: float, kurtosis: float) -> float:
    """Where a mask sits between an ideal circle (0) and an ideal square (1), averaged over fill and kurtosis.

    ``((fill - π/4) / (1 - π/4) + (2.0 - kurtosis) / 0.2) / 2``. Each feature alone is thrown by something: fill by a
    single ragged column that widens the bounding box, kurtosis by pixelation of small shapes; their mean is steadier.
    A square with rounded corners that fills 88 % of its box (kurtosis 1.91) scores 0.44.
    """
    return ((fill - np.pi / 4) / (1 - np.pi / 4) + (2.0 - kurtosis) / 0.2) / 2


def classify_shape(fill: float, taper: float = 0.0, kurtosis: float = 2.0) -> str:
    """Triangle if ``fill < 0.64`` or ``|taper| > 0.22``; else square if :func:`squareness` ``>= 0.42``; else circle."""
    if fill < TRIANGLE_MAX_FILL or abs(taper) > TRIANGLE_MIN_TAPER:
        return "triangle"
    return "square" if squareness(fill, kurtosis) >= SQUARE_MIN_SQUARENESS else "circle"


def drop_halos(objects: list[Detection], distance: int = HALO_DISTANCE, share: float = HALO_SHARE) -> list[Detection]:
    """Drop detections that are mostly a fringe around a larger one; keep the rest in their original order.

    A blurred object's edge blends its colour with the background's, and the blend can have a third object colour's
    hue (red over green grass passes through orange and yellow). Such a fringe is thin, but a strong blur can leave
    pieces of it thick enough to survive the opening. A detection with more than ``share`` of its pixels within
    ``distance`` px of a larger detection is taken for such a fringe: toy-world objects are placed at least 4 px
    apart, so a real second object has only its nearest edge that close.
    """
    kept: list[Detection] = []
    for d in sorted(objects, key=lambda d: -d.area):
        fringe = False
        for big in kept:
            zone = big.mask
            for _ in range(distance):
                zone = dilate(zone)
            fringe |= bool((d.mask & zone).sum() > share * d.area)
        if not fringe:
            kept.append(d)
    return [d for d in objects if any(d is k for k in kept)]


# ---------------------------------------------------------------------------------------------------------------------
# The judge
# ---------------------------------------------------------------------------------------------------------------------
def judge(image, min_pixels: int = 12) -> Judgement:
    """Judge one image (H, W, 3) in [0, 1] (uint8 and channel-first also accepted): background and objects.

    Every object colour whose cleaned mask (:func:`clean_mask`) has at least ``min_pixels`` pixels is reported once,
    with its shape from :func:`classify_shape`. The background is the majority background class among the pixels
    that are in no object mask.
    """
    img = as_image(image)
    classes = pixel_classes(img)
    is_bg = classes >= N_COLOURS
    objects: list[Detection] = []
    for k, colour in enumerate(COLOURS):
        raw = classes == k
        if raw.sum() < min_pixels:
            continue
        mask = clean_mask(img, raw, background=is_bg, blocked=~is_bg & ~raw)
        if mask.sum() < min_pixels:
            continue
        fill, taper, kurt = shape_features(mask)
        objects.append(Detection(colour=colour, shape=classify_shape(fill, taper, kurt), mask=mask, fill=fill,
                                 taper=taper, kurtosis=kurt))
    objects = drop_halos(objects)
    taken = np.logical_or.reduce([d.mask for d in objects]) if objects else np.zeros(classes.shape, bool)
    rest = classes[~taken & is_bg]
    background = None
    if rest.size:
        counts = np.bincount(rest - N_COLOURS, minlength=len(BACKGROUNDS))
        background = BACKGROUNDS[int(np.argmax(counts))]
    return Judgement(background=background, objects=objects)
