import numpy as np
import pytest

from fatezero_lab import toyworld as tw


def dilate(m, r=1):
    out = m.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(m, dy, axis=-2), dx, axis=-1)
    return out


def test_render_is_deterministic():
    a = tw.clip("a red circle and a blue square on grass", motion="circle", frames=8, seed=3)
    b = tw.clip("a red circle and a blue square on grass", motion="circle", frames=8, seed=3)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    c = tw.clip("a red circle and a blue square on grass", motion="circle", frames=8, seed=4)
    assert not np.array_equal(a.frames, c.frames)


def test_shapes_ranges_and_caption():
    c = tw.clip("a yellow triangle on wood", motion="scale", frames=12, seed=1, camera="pan", lighting="drift")
    assert c.frames.shape == (12, 64, 64, 3) and c.frames.dtype == np.float32
    assert c.masks.shape == (12, 1, 64, 64) and c.masks.dtype == bool
    assert 0.0 <= c.frames.min() and c.frames.max() <= 1.0
    assert c.caption == "a yellow triangle on wood"
    assert c.masks.sum(axis=(2, 3)).min() > 50  # the object is visible in every frame


@pytest.mark.parametrize("motion", tw.MOTIONS)
def test_every_motion_keeps_objects_in_frame(motion):
    c = tw.clip("a purple square and a red circle on stone", motion=motion, frames=16, seed=2)
    areas = c.masks.sum(axis=(2, 3))  # (frames, objects)
    assert (areas > 30).all()
    if motion in ("left_to_right", "right_to_left", "up", "down", "circle"):
        centroids = [np.argwhere(m[0]).mean(0) for m in c.masks]
        assert np.linalg.norm(centroids[-1] - centroids[0]) > 3 or motion == "circle"


def test_ground_truth_colour_edit_changes_only_the_object():
    c = tw.clip("a red circle on grass", motion="left_to_right", frames=8, seed=0)
    gt = c.edited("a blue circle on grass")
    np.testing.assert_array_equal(gt.masks, c.masks)  # same motion, same geometry
    outside = ~dilate(c.masks[:, 0])  # anti-aliased edges blend both colours
    np.testing.assert_array_equal(gt.frames[outside], c.frames[outside])  # background untouched
    inside = c.masks[:, 0]
    assert gt.frames[inside][:, 2].mean() > c.frames[inside][:, 2].mean() + 0.3  # bluer
    assert gt.spec.objects[0].pattern == c.spec.objects[0].pattern  # stripes/dots kept


def test_ground_truth_shape_and_background_edits():
    c = tw.clip("a red circle and a blue square on snow", motion="right_to_left", frames=8, seed=5)
    shape = c.edited({"obj": 1, "shape": "triangle"})
    assert shape.caption == "a red circle and a blue triangle on snow"
    np.testing.assert_array_equal(shape.masks[:, 0] | shape.masks[:, 1], shape.masks.any(axis=1))
    assert shape.spec.objects[0] == c.spec.objects[0]  # the other object is untouched
    assert not np.array_equal(shape.masks[:, 1], c.masks[:, 1])
    bg = c.edited(background="wood")
    np.testing.assert_array_equal(bg.masks, c.masks)
    both = c.masks.any(axis=1)
    inner = ~dilate(~both)
    np.testing.assert_allclose(bg.frames[inner], c.frames[inner])  # objects untouched
    assert not np.allclose(bg.frames[~both], c.frames[~both])


def test_camera_pan_moves_the_background():
    c = tw.clip("a red circle on wood", motion="static", frames=8, seed=0, camera="pan")
    s = tw.clip("a red circle on wood", motion="static", frames=8, seed=0, camera="static")
    bg = ~c.masks[:, 0]
    assert np.abs(c.frames[0] - c.frames[-1])[bg[0] & bg[-1]].mean() > 0.01
    assert np.abs(s.frames[0] - s.frames[-1])[bg[0] & bg[-1]].mean() < 1e-6


def test_lighting_drift_changes_brightness():
    c = tw.clip("a red circle on snow", motion="static", frames=8, seed=0, lighting="drift")
    means = c.frames.mean(axis=(1, 2, 3))
    assert means.max() - means.min() > 0.02


def test_appearance_varies_between_seeds():
    looks = {(o.pattern, round(o.shade[0], 3)) for s in range(12) for o in tw.random_spec(s, n_objects=1).objects}
    assert len(looks) >= 6


def test_vocabulary_and_parse():
    objs, bg = tw.parse_caption("a red circle and a blue square on grass")
    assert objs == [("red", "circle"), ("blue", "square")] and bg == "grass"
    assert {"red", "circle", "grass", "and", "on", "a"} <= set(tw.vocabulary())
    assert len(tw.COLOURS) >= 4 and len(tw.SHAPES) >= 3 and len(tw.BACKGROUNDS) >= 4


@pytest.mark.parametrize("bad, match", [
    ("a green circle on grass", "unknown colour"),
    ("a red hexagon on grass", "unknown shape"),
    ("a red circle on mars", "unknown background"),
    ("red circles everywhere", "not a toy-world caption"),
])
def test_bad_captions(bad, match):
    with pytest.raises(ValueError, match=match):
        tw.clip(bad)


def test_bad_clip_arguments():
    with pytest.raises(ValueError, match="motion"):
        tw.clip("a red circle on grass", motion="teleport")
    with pytest.raises(ValueError, match="frames"):
        tw.clip("a red circle on grass", frames=0)
    with pytest.raises(ValueError, match="multiple of 8"):
        tw.clip("a red circle on grass", size=60)
    c = tw.clip("a red circle on grass")
    with pytest.raises(ValueError, match="names 2 object"):
        c.edited("a red circle and a blue square on grass")
    with pytest.raises(ValueError, match="unknown edit field"):
        c.edited({"colour": "blue", "size": 3})
    with pytest.raises(ValueError, match="obj=1"):
        c.edited({"obj": 1, "colour": "blue"})


def test_repr_and_html():
    c = tw.clip("a red circle on grass", frames=2)
    assert "a red circle on grass" in repr(c)
    assert c._repr_html_().startswith("<div>")
