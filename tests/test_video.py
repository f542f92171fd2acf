import numpy as np
import pytest

from fatezero_lab import video


@pytest.fixture
def clip():
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 32, dtype=np.float32)
    frames = np.stack([np.stack(list(np.meshgrid(base, np.roll(base, i)))[::-1] + [np.full((32, 32), 0.5, np.float32)], -1)
                       for i in range(6)])
    return np.clip(frames + rng.normal(0, 0.01, frames.shape).astype(np.float32), 0, 1)


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ""])
def test_write_read_roundtrip(tmp_path, clip, suffix):
    path = video.write(tmp_path / f"clip{suffix}", clip, fps=4)
    back = video.read(path)
    assert back.shape[0] == len(clip) and back.shape[-1] == 3 and back.dtype == np.float32
    if suffix == "":  # lossless PNG frames
        np.testing.assert_allclose(back, np.round(clip * 255) / 255, atol=1e-6)
    else:  # lossy codecs (mp4 upscales tiny frames so players show them crisply)
        small = video.resize_crop(back, 32)
        assert np.abs(small - clip).mean() < 0.08


def test_sample_frames(clip):
    assert video.sample_frames(clip, 3).shape[0] == 3
    np.testing.assert_array_equal(video.sample_frames(clip, 3, start=1, stride=2), clip[[1, 3, 5]])
    with pytest.raises(ValueError, match="need 8 frames"):
        video.sample_frames(clip, 4, stride=2, start=1)
    with pytest.raises(ValueError, match="outside"):
        video.sample_frames(clip, 2, start=10)


def test_resize_crop_and_prepare(clip):
    wide = np.concatenate([clip, clip], axis=2)  # (6, 32, 64, 3)
    out = video.resize_crop(wide, 16)
    assert out.shape == (6, 16, 16, 3)
    assert video.resize_crop(wide, (24, 40)).shape == (6, 24, 40, 3)
    assert video.prepare(wide, n_frames=4, size=32).shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="multiples of 8"):
        video.resize_crop(clip, 30)


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        video.read(tmp_path / "missing.mp4")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="could not read video"):
        video.read(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no frames"):
        video.read(tmp_path / "empty")
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(ValueError, match="unsupported file type"):
        video.read(txt)


def test_strip_grid_png(tmp_path, clip):
    s = video.strip(clip, gap=2)
    assert s.shape == (32, 6 * 32 + 5 * 2, 3)
    g = video.grid([clip, clip])
    assert g.shape == (2 * 32 + 2, s.shape[1], 3)
    p = video.save_png(tmp_path / "g.png", g, scale=2)
    assert p.exists() and p.stat().st_size > 100
