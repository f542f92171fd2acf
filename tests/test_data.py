"""The real-clip manifest and fetch helper — offline: no test here touches the network."""

import json
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fatezero_lab import data, video

FIELDS = {"name", "description", "url", "licence", "frames", "source_prompt", "targets"}


def words(prompt):
    return set(re.findall(r"[a-z]+", prompt.lower()))


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Every urlopen fails as if offline, unless a test installs its own; the default cache is a tmp folder."""
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "default_cache"))
    monkeypatch.delenv(data.MANIFEST_ENV, raising=False)


def frames(n=10, h=40, w=56):
    rng = np.random.default_rng(0)
    return rng.random((n, h, w, 3)).astype(np.float32)


def test_manifest_schema():
    manifest = data.load_manifest()
    clips = manifest["clips"]
    assert 4 <= len(clips) <= 6
    names = [c["name"] for c in clips]
    assert len(set(names)) == len(names) and data.list_clips() == names
    for c in clips:
        missing = FIELDS - set(c)
        assert not missing, f"{c.get('name')}: missing {missing}"
        assert c["url"].startswith("https://") and c["licence"]
        rng = c["frames"]
        assert 0 <= rng["start"] < rng["stop"] and rng["stride"] >= 1
        assert len(range(rng["start"], rng["stop"], rng["stride"])) >= 8  # the default n_frames
        assert 2 <= len(c["targets"]) <= 3
        src = words(c["source_prompt"])
        for t in c["targets"]:
            assert t["prompt"] != c["source_prompt"]
            assert set(t["blend_words"]) <= src, f"{c['name']}: blend words {t['blend_words']} not in the source prompt"
            assert set(t["target_blend_words"]) <= words(t["prompt"])
        assert any(t["blend_words"] for t in c["targets"])  # at least one local edit per clip


def test_clip_info_and_unknown_name():
    info = data.clip_info("blackswan")
    assert "swan" in info["source_prompt"]
    info["source_prompt"] = "changed"  # a copy: the manifest is not mutated
    assert data.clip_info("blackswan")["source_prompt"] != "changed"
    with pytest.raises(KeyError, match="valid names: blackswan, car-turn") as e:
        data.clip_info("squirel")
    assert "video.prepare" in str(e.value)


def test_fetch_from_prepopulated_frame_folder(tmp_path):
    video.write(tmp_path / "cache" / "blackswan", frames(50))  # 0000.png ... 0049.png
    out = data.fetch("blackswan", cache_dir=tmp_path / "cache", n_frames=4, size=32)
    assert out.shape == (4, 32, 32, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_fetch_from_prepopulated_mp4_via_env(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "envcache"))
    video.write(tmp_path / "envcache" / "bear" / "bear.mp4", frames(12, 64, 64))
    out = data.fetch("bear", n_frames=3, size=16)
    assert out.shape == (3, 16, 16, 3)
    assert data.is_cached("bear") and not data.is_cached("flamingo")


def test_fetch_picks_the_manifest_range(tmp_path):
    """With exactly stride-many frames the chosen frames are start, start+stride, ... (frame i has value i/100)."""
    info = data.clip_info("car-turn")
    r = info["frames"]
    clip = np.ones((r["stop"] + 5, 8, 8, 3), np.float32) * (np.arange(r["stop"] + 5) / 100)[:, None, None, None]
    video.write(tmp_path / "car-turn", clip)
    n = len(range(r["start"], r["stop"], r["stride"]))
    out = data.fetch("car-turn", cache_dir=tmp_path, n_frames=n, size=8)
    got = np.round(out[:, 0, 0, 0] * 100).astype(int)
    assert list(got) == list(range(r["start"], r["stop"], r["stride"]))


def test_offline_error_says_what_to_do(tmp_path):
    with pytest.raises(data.ClipDownloadError) as e:
        data.fetch("flamingo", cache_dir=tmp_path)
    msg = str(e.value)
    assert "URLError" in msg and "download" in msg and "by hand" in msg
    assert str(tmp_path / "_downloads" / "DAVIS-2017-trainval-480p.zip") in msg
    assert "fatezero_lab.video.prepare" in msg
    assert not any(tmp_path.rglob("*.part")) and not (tmp_path / "flamingo").exists()


def _local_manifest(tmp_path, monkeypatch, url, member=None):
    entry = {"name": "local", "description": "test", "url": url, "licence": "test", "source_prompt": "a red ball",
             "frames": {"start": 0, "stop": 6, "stride": 2}, "targets": []}
    if member:
        entry["member"] = member
    path = tmp_path / "clips.json"
    path.write_text(json.dumps({"schema": 1, "clips": [entry]}))
    monkeypatch.setenv(data.MANIFEST_ENV, str(path))


class _FakeResponse:
    """What urlopen returns, serving a local file (no network), optionally cut short."""

    def __init__(self, payload: bytes, claimed: int | None = None):
        self.payload, self.pos = payload, 0
        self.headers = {"Content-Length": str(claimed if claimed is not None else len(payload))}

    def read(self, n=-1):
        chunk = self.payload[self.pos:self.pos + (n if n > 0 else len(self.payload))]
        self.pos += len(chunk)
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fetch_downloads_and_extracts_archive_member(tmp_path, monkeypatch):
    src = video.write(tmp_path / "src", frames(8, 24, 24))
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"SET/JPEGImages/480p/local/{f.name}")
            zf.write(f, f"SET/Annotations/480p/local/{f.name}")  # another folder: must not be extracted
    payload = zpath.read_bytes()
    calls = []

    def urlopen(req, timeout=None):
        calls.append((req.full_url, timeout))
        return _FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    _local_manifest(tmp_path, monkeypatch, "https://example.invalid/set.zip", member="JPEGImages/480p/local")
    cache = tmp_path / "cache"
    out = data.fetch("local", cache_dir=cache, n_frames=3, size=16)
    assert out.shape == (3, 16, 16, 3)
    assert calls == [("https://example.invalid/set.zip", data.TIMEOUT_S)]
    assert sorted(p.name for p in (cache / "local").iterdir()) == sorted([p.name for p in src.iterdir()] + ["SOURCE.txt"])
    assert (cache / "_downloads" / "set.zip").read_bytes() == payload
    assert not [p for p in cache.rglob("*") if p.name.endswith((".part", ".tmp"))]
    # a second call uses the cache only
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used for a cached clip"))
    np.testing.assert_array_equal(data.fetch("local", cache_dir=cache, n_frames=3, size=16), out)


def test_truncated_download_is_not_kept(tmp_path, monkeypatch):
    src = video.write(tmp_path / "clip.gif", frames(6, 16, 16))
    payload = Path(src).read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda req, timeout=None: _FakeResponse(payload[:100], claimed=len(payload)))
    _local_manifest(tmp_path, monkeypatch, "https://example.invalid/clip.gif")
    cache = tmp_path / "cache"
    with pytest.raises(data.ClipDownloadError, match="stopped after 100 of"):
        data.fetch("local", cache_dir=cache, n_frames=2, size=8)
    assert not (cache / "_downloads" / "clip.gif").exists() and not (cache / "local").exists()
    assert not list(cache.rglob("*.part"))
    # the full file then works, read from a single video file in the clip folder
    monkeypatch.setattr(urllib.request, "urlopen", lambda req, timeout=None: _FakeResponse(payload))
    assert data.fetch("local", cache_dir=cache, n_frames=2, size=8).shape == (2, 8, 8, 3)
    assert (cache / "local" / "clip.gif").exists()


def test_missing_manifest_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MANIFEST_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="package data"):
        data.list_clips()
