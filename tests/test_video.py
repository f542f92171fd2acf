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


# ------------------------------------------------------------------------------------- reading only what is kept
def _index_video(path, n=30, fps=12, w=96, h=64):
    """An mp4 whose frame i is flat grey 8 * (i % 32) + 4 (so a decoded frame says which one it is, modulo 32)."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, quality=10, macro_block_size=16,
                                      ffmpeg_log_level="error")
    gen.send(None)
    for i in range(n):
        gen.send(np.full((h, w, 3), 8 * (i % 32) + 4, np.uint8).tobytes())
    gen.close()
    return path


def _ids(frames):
    """Which frame each decoded frame is (inverse of _index_video's grey levels)."""
    return [int(v) for v in np.round((np.asarray(frames).mean(axis=(1, 2, 3)) * 255 - 4) / 8)]


@pytest.fixture(scope="module")
def index_mp4(tmp_path_factory):
    return _index_video(tmp_path_factory.mktemp("vid") / "index.mp4")


def test_read_video_selects_frames_and_keeps_fps(index_mp4):
    every = video.read(index_mp4)
    assert isinstance(every, video.Frames) and every.shape == (30, 64, 96, 3) and every.dtype == np.float32
    assert _ids(every) == list(range(30)) and every.fps == 12 and every.source_fps == 12
    assert video.fps(index_mp4) == 12
    picked = video.read(index_mp4, n_frames=5, start=3, stride=4)
    assert _ids(picked) == [3, 7, 11, 15, 19] and picked.fps == 3 and picked.source_fps == 12
    assert _ids(video.read(index_mp4, n_frames=4)) == [0, 1, 2, 3]
    assert _ids(video.read(index_mp4, start=27)) == [27, 28, 29]
    spread = video.read(index_mp4, n_frames=4, stride=None)
    assert _ids(spread) == [0, 10, 19, 29]


def test_read_video_too_short_says_how_many(index_mp4):
    with pytest.raises(ValueError, match=r"gave 5 of the n_frames=10 .*start=25.*about 30 frames"):
        video.read(index_mp4, n_frames=10, start=25)
    with pytest.raises(ValueError, match="gave 0 of"):
        video.read(index_mp4, n_frames=1, start=40)


def test_read_decodes_only_the_kept_frames(tmp_path):
    """A 300-frame clip read for 2 frames allocates about 2 frames, not 300 (tracemalloc sees numpy and bytes)."""
    import tracemalloc

    path = _index_video(tmp_path / "long.mp4", n=300, w=160, h=96)
    one_frame = 96 * 160 * 3 * 4  # float32 bytes
    tracemalloc.start()
    try:
        out = video.read(path, n_frames=2, start=100, stride=50)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _ids(out) == [100 % 32, 150 % 32]
    assert peak < 12 * one_frame, f"peak {peak} B for 2 frames; the whole clip is {300 * one_frame} B"


def test_bad_selection_is_refused_before_reading(tmp_path):
    missing = tmp_path / "not_there.mp4"  # the argument errors come first: the file is never looked at
    for kwargs, msg in [({"n_frames": 0}, "n_frames must be a positive int"),
                        ({"n_frames": True}, "n_frames must be a positive int"),
                        ({"start": -1}, "start must be a frame index"),
                        ({"stride": 0}, "stride must be a positive int"),
                        ({"stride": 1.5}, "stride must be a positive int"),
                        ({"stride": None}, "n_frames must be given")]:
        with pytest.raises(ValueError, match=msg):
            video.read(missing, **kwargs)
    with pytest.raises(ValueError, match="fit must be one of"):
        video.prepare(missing, fit="squash")
    with pytest.raises(ValueError, match="multiples of 64"):
        video.prepare(missing, size=(500, 512), multiple_of=64)
    with pytest.raises(ValueError, match="size must be an int"):
        video.prepare(missing, size="512")
    with pytest.raises(TypeError, match="path must be"):
        video.read(3)


def test_folder_reads_only_kept_files_in_natural_order(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    from PIL import Image

    for i in (1, 2, 10, 11):
        Image.fromarray((clip[i % 6] * 255).round().astype(np.uint8)).save(folder / f"f{i}.png")
    (folder / "f3.png").write_bytes(b"a broken frame that is never selected")
    out = video.read(folder, n_frames=2, start=0, stride=3)  # f1 f2 f3 f10 f11: f1 and f10, never the broken f3
    np.testing.assert_allclose(out, np.round(clip[[1, 4]] * 255) / 255, atol=1e-6)
    assert out.fps is None and video.fps(folder) is None
    with pytest.raises(ValueError, match="could not read image"):
        video.read(folder, n_frames=2, start=1)
    assert [p.name for p in video.frame_files(folder)] == ["f1.png", "f2.png", "f3.png", "f10.png", "f11.png"]


def test_gif_selection_and_fps(tmp_path, clip):
    path = video.write(tmp_path / "c.gif", clip, fps=5)
    assert video.fps(path) == pytest.approx(5)
    out = video.read(path, n_frames=3, start=1, stride=2)
    assert out.shape == (3, 32, 32, 3) and out.fps == pytest.approx(2.5)
    assert np.abs(out - clip[[1, 3, 5]]).mean() < 0.05


def test_write_uses_the_frames_fps_and_is_atomic(tmp_path, index_mp4):
    src = video.prepare(index_mp4, n_frames=6, size=(64, 96), stride=2)
    assert src.fps == 6
    out = video.write(tmp_path / "out.mp4", src)
    assert video.fps(out) == 6 and len(video.read(out)) == 6
    assert video.fps(video.write(tmp_path / "plain.mp4", np.asarray(src))) == video.DEFAULT_FPS
    assert video.fps(video.write(tmp_path / "forced.mp4", src, fps=24)) == 24
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    with pytest.raises(ValueError, match="fps must be a positive number"):
        video.write(tmp_path / "bad.mp4", src, fps=0)
    with pytest.raises(ValueError, match="unsupported output type"):
        video.write(tmp_path / "x.txt", src)
    assert not (tmp_path / "bad.mp4").exists() and not (tmp_path / "x.txt").exists()


def test_frames_array_behaviour(index_mp4):
    import pickle

    f = video.read(index_mp4, n_frames=4, stride=3)
    assert f[:2].fps == 4 and f.copy().fps == 4 and f.astype(np.float64).fps == 4
    assert type(f * 2) is np.ndarray and type(f.mean()) is np.float32 and type(np.asarray(f)) is np.ndarray
    back = pickle.loads(pickle.dumps(f))
    assert isinstance(back, video.Frames) and back.fps == 4 and back.source_fps == 12
    np.testing.assert_array_equal(back, f)
    sampled = video.sample_frames(f, 2, stride=2)  # a Frames input: the rate follows the stride
    assert sampled.fps == 2


# ---------------------------------------------------------------------------------------- consecutive by default
def test_prepare_takes_consecutive_frames_by_default():
    clip = np.broadcast_to((np.arange(20, dtype=np.float32) / 20)[:, None, None, None], (20, 16, 24, 3))
    level = lambda x: [int(v) for v in np.round(np.asarray(x)[:, 0, 0, 0] * 20)]
    assert level(video.prepare(clip, n_frames=4, size=16)) == [0, 1, 2, 3]
    assert level(video.prepare(clip, n_frames=3, size=16, start=5, stride=3)) == [5, 8, 11]
    assert level(video.prepare(clip, n_frames=3, size=16, stride=None)) == [0, 10, 19]
    assert level(video.sample_frames(clip, 3)) == [0, 1, 2]
    with pytest.raises(ValueError, match="need 22 frames; the clip has 20"):
        video.prepare(clip, n_frames=6, size=16, start=1, stride=4)
    u8 = (clip * 255).round().astype(np.uint8)  # uint8 input is scaled to [0, 1]
    np.testing.assert_allclose(video.prepare(u8, n_frames=2, size=16), video.prepare(clip, n_frames=2, size=16),
                               atol=1 / 255)


# ------------------------------------------------------------------------------------------ crop / pad / resize
def _two_tone(h=40, w=80):
    """One frame: left half 0.2, right half 0.8 (so crops, pads and stretches are told apart)."""
    f = np.full((1, h, w, 3), 0.2, np.float32)
    f[:, :, w // 2:] = 0.8
    return f


def test_fit_modes():
    frame = _two_tone()  # (1, 40, 80, 3): aspect 2:1
    crop = video.prepare(frame, n_frames=1, size=(32, 32), fit="crop")  # the centre square: half dark, half light
    assert crop.shape == (1, 32, 32, 3)
    assert crop[0, 0, 0, 0] == pytest.approx(0.2) and crop[0, 0, -1, 0] == pytest.approx(0.8)
    pad = video.prepare(frame, n_frames=1, size=(32, 32), fit="pad", pad_value=1.0)  # 16 rows of content, centred
    assert pad.shape == (1, 32, 32, 3)
    assert np.all(pad[0, :8] == 1.0) and np.all(pad[0, -8:] == 1.0)
    assert pad[0, 16, 0, 0] == pytest.approx(0.2) and pad[0, 16, -1, 0] == pytest.approx(0.8)
    stretch = video.prepare(frame, n_frames=1, size=(64, 32), fit="resize")  # every row is the whole width
    assert stretch.shape == (1, 64, 32, 3)
    assert stretch[0, :, 0, 0] == pytest.approx(0.2) and stretch[0, :, -1, 0] == pytest.approx(0.8)
    wide = video.prepare(frame, n_frames=1, size=(48, 96))  # non-square output
    assert wide.shape == (1, 48, 96, 3)
    with pytest.raises(ValueError, match="pad_value"):
        video.prepare(frame, n_frames=1, fit="pad", pad_value=2)


def test_fit_size_and_source_aspect():
    assert video.fit_size(1920, 1080, short_side=512, multiple_of=64) == (896, 512)  # portrait phone video
    assert video.fit_size(1080, 1920, short_side=512, multiple_of=8) == (512, 912)
    assert video.fit_size(480, 854, short_side=512, multiple_of=64) == (512, 896)  # DAVIS 480p
    assert video.fit_size(100, 100, short_side=64, multiple_of=64) == (64, 64)
    frame = np.zeros((1, 90, 160, 3), np.float32)
    assert video.prepare(frame, n_frames=1, size=None, short_side=64, multiple_of=32).shape == (1, 64, 128, 3)
    with pytest.raises(ValueError, match="short_side must be a positive multiple of multiple_of=64"):
        video.prepare(frame, n_frames=1, size=None, short_side=100, multiple_of=64)
    with pytest.raises(ValueError, match="multiple_of must be a positive int"):
        video.prepare(frame, n_frames=1, multiple_of=0)
