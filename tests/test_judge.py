"""Tests of the analytic toy-world judge (fatezero_lab/toyworld/judge.py): fast, a few dozen 64×64 frames in all."""

from __future__ import annotations

import numpy as np
import pytest

from fatezero_lab.toyworld import world
from fatezero_lab.toyworld.judge import (CLASS_NAMES, Detection, Judgement, classify_shape, judge, object_mask,
                                         pixel_classes, shape_features, squareness)

SEEDS = range(30)  # fixed seeds of random static single frames (1 or 2 objects, every background and lighting)


def frame(seed: int) -> world.Clip:
    return world.render(world.random_spec(seed, frames=1, motion="static"))


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders: mimics the softness of a generated (VAE-decoded) image."""
    r = int(np.ceil(3 * sigma))
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma**2))
    k /= k.sum()
    out = img.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (r, r)
        p = np.pad(out, pad, mode="reflect")
        n = out.shape[axis]
        out = sum(w * np.take(p, np.arange(i, i + n), axis=axis) for i, w in enumerate(k))
    return out.astype(np.float32)


@pytest.fixture(scope="module")
def clips() -> list[world.Clip]:
    return [frame(s) for s in SEEDS]


def test_accuracy_on_fixed_seeds(clips):
    n_obj = bg = colour = shape = matched = 0
    for c in clips:
        j = judge(c.frames[0])
        found = {d.colour: d for d in j.objects}
        bg += j.background == c.spec.background
        matched += j.matches(c.caption)
        assert set(found) <= set(world.COLOURS)
        assert len(j.objects) == len(c.spec.objects), (c.caption, j)  # nothing missed, nothing extra
        for o in c.spec.objects:
            n_obj += 1
            colour += o.colour in found
            shape += o.colour in found and found[o.colour].shape == o.shape
    assert n_obj > 40  # the fixed seeds include two-object frames
    assert bg == len(clips)
    assert colour == n_obj
    assert shape >= 0.97 * n_obj
    assert matched >= 0.95 * len(clips)


def test_per_attribute_checks_agree_with_matches(clips):
    for c in clips[:10]:
        j = judge(c.frames[0])
        assert j.colour_ok(c.caption) and j.shape_ok(c.caption) and j.background_ok(c.caption)
        assert j.matches(c.caption) == (j.colour_ok(c.caption) and j.shape_ok(c.caption) and j.background_ok(c.caption))
        assert j.caption is not None and judge(c.frames[0]).matches(j.caption)


@pytest.mark.parametrize("background", world.BACKGROUNDS)
def test_background_only_has_no_objects(background):
    for seed in (0, 1):
        tex = world.background_texture(background, 64, seed)
        for img in (tex, np.clip(tex * 0.92, 0, 1), np.clip(tex * 1.08, 0, 1), gaussian_blur(tex, 1.0)):
            j = judge(img)
            assert j.objects == [], (background, seed, j)
            assert j.background == background


def test_colour_edit_does_not_match_original_caption(clips):
    for c in clips[:8]:
        k = 0
        new = next(col for col in world.COLOURS if col not in {o.colour for o in c.spec.objects})
        edited = world.render(c.spec, edit={"obj": k, "colour": new})
        j = judge(edited.frames[0])
        assert not j.matches(c.caption)
        assert j.matches(edited.caption)
        assert not j.colour_ok(c.caption) and j.background_ok(c.caption)


def test_shape_and_background_edits_are_caught(clips):
    c = next(c for c in clips if len(c.spec.objects) == 1)
    o = c.spec.objects[0]
    new_shape = next(s for s in world.SHAPES if s != o.shape)
    j = judge(world.render(c.spec, edit={"shape": new_shape}).frames[0])
    assert not j.matches(c.caption) and not j.shape_ok(c.caption) and j.colour_ok(c.caption)
    new_bg = next(b for b in world.BACKGROUNDS if b != c.spec.background)
    j = judge(world.render(c.spec, edit={"background": new_bg}).frames[0])
    assert not j.matches(c.caption) and not j.background_ok(c.caption) and j.colour_ok(c.caption)


def test_wrong_captions_do_not_match():
    c = world.clip("a red circle and a blue square on grass", frames=1, motion="left_to_right", seed=3)
    j = judge(c.frames[0])
    assert j.matches("a red circle and a blue square on grass")
    assert j.matches("a blue square and a red circle on grass")  # order does not matter
    for wrong in ("a red square and a blue circle on grass",  # shapes swapped between the colours
                  "a red circle on grass",  # an object missing from the caption
                  "a red circle and a blue square on snow",
                  "a red circle and a yellow square on grass"):
        assert not j.matches(wrong), wrong
    swapped = "a red square and a blue circle on grass"
    assert j.colour_ok(swapped) and not j.shape_ok(swapped)


def test_blurred_frames_are_still_judged_right(clips):
    ok = 0
    for c in clips[:20]:
        ok += judge(gaussian_blur(c.frames[0], 1.0)).matches(c.caption)
    assert ok >= 18  # measured: all 600 of 600 frames at sigma = 1


def test_strong_blur_leaves_no_colour_fringe_object():
    # red over grass blends through orange to yellow; at sigma 1.5 a piece of that fringe survives the opening
    c = frame(1289)
    assert c.caption == "a red circle on grass"
    j = judge(gaussian_blur(c.frames[0], 1.5))
    assert [d.colour for d in j.objects] == ["red"]


def test_masks_overlap_true_masks(clips):
    for sigma, least in ((0.0, 0.8), (1.0, 0.75)):
        ious = []
        for c in clips[:15]:
            img = c.frames[0] if sigma == 0 else gaussian_blur(c.frames[0], sigma)
            found = {d.colour: d for d in judge(img).objects}
            for k, o in enumerate(c.spec.objects):
                m, t = found[o.colour].mask, c.masks[0, k]
                ious.append((m & t).sum() / (m | t).sum())
        assert min(ious) > least, (sigma, min(ious))
        assert np.mean(ious) > 0.9


def test_pixel_classes_and_object_mask():
    c = world.clip("a yellow triangle on wood", frames=1, motion="static", seed=1)
    img = c.frames[0]
    cls = pixel_classes(img)
    assert cls.shape == img.shape[:2] and cls.dtype.kind == "i"
    assert cls.min() >= 0 and cls.max() < len(CLASS_NAMES)
    inside, outside = c.masks[0, 0], ~c.masks[0, 0]
    assert (cls[inside] == CLASS_NAMES.index("yellow")).mean() > 0.9
    assert (cls[outside] == CLASS_NAMES.index("wood")).mean() > 0.95
    m = object_mask(img, "yellow")
    assert m.dtype == bool and m.shape == img.shape[:2]
    assert np.array_equal(m, cls == CLASS_NAMES.index("yellow"))
    assert not object_mask(img, "blue").any()
    with pytest.raises(ValueError):
        object_mask(img, "green")


def test_input_formats_agree():
    c = world.clip("a purple square on stone", frames=1, motion="static", seed=5)
    img = c.frames[0]
    ref = judge(img)
    as_uint8 = judge((img * 255).round().astype(np.uint8))
    channel_first = judge(np.moveaxis(img, -1, 0))
    for j in (as_uint8, channel_first):
        assert j.background == ref.background and j.pairs == ref.pairs


def _ideal(shape: str, r: float = 20.0, n: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n] + 0.5
    dx, dy = xx - n / 2, yy - n / 2
    if shape == "circle":
        return np.hypot(dx, dy) <= r
    if shape == "square":
        return np.maximum(abs(dx), abs(dy)) <= r
    s3 = np.sqrt(3) / 2  # upward triangle, as world.py draws it
    return np.maximum.reduce([dy - r / 2, -s3 * dx - 0.5 * dy - r / 2, s3 * dx - 0.5 * dy - r / 2]) <= 0


def test_shape_features_of_ideal_shapes():
    fill, taper, kurt = shape_features(_ideal("square"))
    assert fill == pytest.approx(1.0) and abs(taper) < 0.05 and kurt == pytest.approx(1.8, abs=0.03)
    fill, taper, kurt = shape_features(_ideal("circle"))
    assert fill == pytest.approx(np.pi / 4, abs=0.03) and abs(taper) < 0.05 and kurt == pytest.approx(2.0, abs=0.03)
    fill, taper, kurt = shape_features(_ideal("triangle"))
    assert fill == pytest.approx(0.5, abs=0.05) and taper == pytest.approx(0.5, abs=0.05)
    for s in world.SHAPES:
        assert classify_shape(*shape_features(_ideal(s))) == s
    assert squareness(np.pi / 4, 2.0) == pytest.approx(0.0) and squareness(1.0, 1.8) == pytest.approx(1.0)


def test_rounded_square_is_still_a_square():
    # a generated "cushion" square: corners rounded until it fills only ~0.89 of its box
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    a, rho = 12.0, 9.0
    ax, ay = np.maximum(abs(xx - 32) - (a - rho), 0), np.maximum(abs(yy - 32) - (a - rho), 0)
    mask = ax**2 + ay**2 <= rho**2
    fill, taper, kurt = shape_features(mask)
    assert 0.87 < fill < 0.9
    assert classify_shape(fill, taper, kurt) == "square"


def test_judgement_api():
    d = Detection(colour="red", shape="circle", mask=np.zeros((4, 4), bool), fill=0.8)
    j = Judgement(background="grass", objects=[d])
    assert j.matches("a red circle on grass") and not j.matches("a red circle on snow")
    assert j.caption == "a red circle on grass"
    assert not Judgement(background="grass", objects=[]).matches("a red circle on grass")
    assert Judgement(background="grass", objects=[]).caption is None
