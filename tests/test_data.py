"""The real-clip manifest and fetch helper — offline: no test here touches the network (downloads are served by a
local http.server in a thread, or from file:// URLs, from the teaser frames in the shared reference folder)."""

import hashlib
import http.server
import json
import re
import shutil
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fatezero_lab import data, video

FIELDS = {"name", "description", "url", "licence", "frames", "source_prompt", "targets"}
REAL_URLOPEN = urllib.request.urlopen  # captured before the autouse fixture replaces it
SHARED = next((d for d in (Path(__file__).resolve().parents[1] / "shared/reference",  # shared/ inside a checkout
                           Path(__file__).resolve().parents[2] / "shared/reference",  # beside it
                           Path("/work/shared/reference")) if d.is_dir()), Path("/work/shared/reference"))
TEASER = SHARED / "FateZero" / "data" / "teaser_car-turn"
needs_teaser = pytest.mark.skipif(not TEASER.is_dir(), reason=f"the shared teaser frames ({TEASER}) are not here")


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
    monkeypatch.setattr(data, "_SHOWN_LICENCES", set())


def frames(n=10, h=40, w=56):
    rng = np.random.default_rng(0)
    return rng.random((n, h, w, 3)).astype(np.float32)


def test_manifest_schema():
    manifest = data.load_manifest()
    assert manifest["schema"] in data.SCHEMAS
    clips = manifest["clips"]
    names = [c["name"] for c in clips]
    assert len(set(names)) == len(names) and data.list_clips() == names
    samples = [c for c in clips if "presets" not in c]  # the teaser and the DAVIS sample clips
    assert 4 <= len(samples) <= 8 and names[: len(samples)] == [c["name"] for c in samples]
    for c in clips:
        missing = FIELDS - set(c)
        assert not missing, f"{c.get('name')}: missing {missing}"
        assert c["url"].startswith("https://") and c["licence"] and c["attribution"]
        assert c["frames"] == {"start": 0, "stride": 1}  # consecutive frames: the paper's sampling_rate 1
        src = words(c["source_prompt"])
        for t in c["targets"]:
            assert t["prompt"] != c["source_prompt"]
            assert {w.lower() for w in t["blend_words"]} <= src, f"{c['name']}: {t['blend_words']} not in the source"
            assert {w.lower() for w in t["target_blend_words"]} <= words(t["prompt"])
        for f in c.get("files", []):
            assert re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) and f["bytes"] > 0
    for c in samples:
        assert 2 <= len(c["targets"]) <= 3
        assert any(t["blend_words"] for t in c["targets"])  # at least one local edit per sample clip


def test_authors_example_clips_are_pinned_and_checksummed():
    """Every clip of the authors' examples: their repository at one commit, a raw URL and SHA-256 per file, MIT; or
    (man_skate only) their release archive, with no published checksum."""
    from fatezero_lab import presets

    examples = [c for c in data.load_manifest()["clips"] if "presets" in c]
    assert {p for c in examples for p in c["presets"]} <= set(presets.names())
    for c in examples:
        assert [t["preset"] for t in c["targets"]] == c["presets"]
        assert c["licence"].startswith("MIT") and "authors" in c["attribution"]
        for name in c["presets"]:
            p = presets.load(name)
            assert p.clip == c["name"] and p.source_prompt == c["source_prompt"]
            assert p.target_prompt in [t["prompt"] for t in c["targets"]]
        if "files" in c:
            commit = c["commit"]
            assert re.fullmatch(r"[0-9a-f]{40}", commit) and c["repository"] == "https://github.com/ChenyangQiQi/FateZero"
            assert c["url"] == f"https://raw.githubusercontent.com/ChenyangQiQi/FateZero/{commit}/{c['path']}/"
            assert c["path"].startswith(("data/attribute/", "data/style/")) and len(c["files"]) >= 8
            assert "member" not in c and "sha256" not in c
        else:
            assert c["url"].startswith("https://github.com/ChenyangQiQi/FateZero/releases/download/")
            assert c["member"] and c["sha256"] is None and "first download" in c["checksum"]
    assert [c["name"] for c in examples if "files" not in c] == ["man_skate"]  # the one archive-only clip


def test_every_preset_has_the_papers_result_gif():
    from fatezero_lab import presets

    results = data.load_manifest()["results"]
    assert data.list_results() == [r["preset"] for r in results] and sorted(data.list_results()) == sorted(presets.names())
    for r in results:
        assert r["url"] == f"https://raw.githubusercontent.com/ChenyangQiQi/FateZero/{r['commit']}/{r['path']}"
        assert r["path"].startswith("docs/gif_results/") and r["path"].endswith(".gif")
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"]) and r["bytes"] > 0 and r["licence"].startswith("MIT")
    assert data.result_info("jeep_watercolor_10_steps")["path"] == data.result_info("jeep_watercolor")["path"]
    assert "10-step" in data.result_info("jeep_watercolor_10_steps")["note"]
    with pytest.raises(KeyError, match="no published result"):
        data.result_info("jeep_cubism")


def test_teaser_entry_is_the_papers_clip():
    """car-turn = the 8 frames of the authors' repository at 9b6cb7b, with the reference README's checksums."""
    info = data.clip_info("car-turn")
    commit = "9b6cb7b4dea2b2154df71ad7be0f61a66ca46d88"
    assert info["commit"] == commit and info["path"] == "data/teaser_car-turn"
    assert info["url"] == f"https://raw.githubusercontent.com/ChenyangQiQi/FateZero/{commit}/data/teaser_car-turn/"
    assert [f["name"] for f in info["files"]] == [f"{i:05d}.png" for i in range(8)]
    assert info["licence"].startswith("MIT") and "DAVIS" in info["attribution"]
    assert info["source_prompt"] == "a silver jeep driving down a curvy road in the countryside"
    assert "watercolor painting of a silver jeep driving down a curvy road in the countryside" in \
        [t["prompt"] for t in info["targets"]]
    assert "member" not in info and "car-turn-davis" in data.list_clips()  # the DAVIS sequence keeps its entry
    readme = SHARED / "README.md"
    if readme.exists():  # the checksums are the ones the reference folder documents
        table = {m[0]: (m[1], int(m[2])) for m in
                 re.findall(r"\| (0000\d\.png) \| ([0-9a-f]{64}) \| (\d+) \|", readme.read_text())}
        assert {f["name"]: (f["sha256"], f["bytes"]) for f in info["files"]} == table


def test_clip_info_and_unknown_name():
    info = data.clip_info("blackswan")
    assert "swan" in info["source_prompt"]
    info["source_prompt"] = "changed"  # a copy: the manifest is not mutated
    assert data.clip_info("blackswan")["source_prompt"] != "changed"
    with pytest.raises(KeyError, match="valid names: car-turn, blackswan, car-turn-davis") as e:
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


def test_fetch_takes_consecutive_frames_with_start_and_stride(tmp_path, capsys):
    """Frame i has value i/100: the default is frames 0..n-1 (sampling_rate 1); start/stride pick others."""
    clip = np.ones((30, 8, 8, 3), np.float32) * (np.arange(30) / 100)[:, None, None, None]
    video.write(tmp_path / "bear", clip)
    got = lambda out: list(np.round(np.asarray(out)[:, 0, 0, 0] * 100).astype(int))
    assert got(data.fetch("bear", cache_dir=tmp_path, size=8)) == list(range(8))
    assert got(data.fetch("bear", cache_dir=tmp_path, n_frames=4, size=8, start=3, stride=5)) == [3, 8, 13, 18]
    with pytest.raises(ValueError, match=r"clip 'bear': 8 frames from start=20 with stride=2 need 35 frames; .*30"):
        data.fetch("bear", cache_dir=tmp_path, size=8, start=20, stride=2)
    printed = capsys.readouterr().out
    assert printed.count("licence: CC BY 4.0") == 1 and "DAVIS" in printed  # shown once per session


def test_fetch_bad_arguments_fail_before_any_work(tmp_path):
    for kwargs, msg in [({"n_frames": 0}, "n_frames must be a positive int"), ({"start": -2}, "start must be"),
                        ({"stride": 0}, "stride must be a positive int"), ({"size": 30}, "multiples of 8"),
                        ({"fit": "zoom"}, "fit must be one of")]:
        with pytest.raises(ValueError, match=msg):
            data.fetch("car-turn", cache_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # nothing was downloaded or created


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
             "frames": {"start": 0, "stride": 2}, "targets": []}
    if member:
        entry["member"] = member
    path = tmp_path / "clips.json"
    path.write_text(json.dumps({"schema": 2, "clips": [entry]}))
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


def test_truncated_download_keeps_only_a_part_file(tmp_path, monkeypatch):
    src = video.write(tmp_path / "clip.gif", frames(6, 16, 16))
    payload = Path(src).read_bytes()
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda req, timeout=None: _FakeResponse(payload[:100], claimed=len(payload)))
    _local_manifest(tmp_path, monkeypatch, "https://example.invalid/clip.gif")
    cache = tmp_path / "cache"
    with pytest.raises(data.ClipDownloadError, match="stopped after 100 of"):
        data.fetch("local", cache_dir=cache, n_frames=2, size=8)
    assert not (cache / "_downloads" / "clip.gif").exists() and not (cache / "local").exists()
    assert (cache / "_downloads" / "clip.gif.part").stat().st_size == 100  # kept for the next call to continue
    # the next call asks for the rest; this server ignores the Range (no 206), so the file starts again
    seen = []

    def full(req, timeout=None):
        seen.append(req.get_header("Range"))
        return _FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", full)
    assert data.fetch("local", cache_dir=cache, n_frames=2, size=8).shape == (2, 8, 8, 3)
    assert seen == ["bytes=100-"]
    assert (cache / "local" / "clip.gif").read_bytes() == payload and not list(cache.rglob("*.part"))


def test_missing_manifest_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MANIFEST_ENV, str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="package data"):
        data.list_clips()


# ------------------------------------------------------------------ the paper's teaser, served by a local server
class _Server:
    """A local HTTP server in a thread serving ``root``, with Range support (206) that can be switched off, a
    one-time cut of a file after some bytes (an interrupted download), and a log of (path, Range header)."""

    def __init__(self, root: Path, ranges: bool = True):
        self.root, self.ranges, self.cut, self.log = root, ranges, {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # the http.server name
                name = self.path.rsplit("/", 1)[-1]
                server.log.append((name, self.headers.get("Range")))
                path = server.root / name
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                first = 0
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if m and server.ranges:
                    first = int(m.group(1))
                    if first >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - first))
                self.end_headers()
                cut = server.cut.pop(name, None)
                self.wfile.write(body[first:cut] if cut is not None else body[first:])
                if cut is not None:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/teaser/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _teaser_manifest(tmp_path, monkeypatch, url):
    """The packaged manifest with the teaser's URL pointed at ``url`` (checksums and everything else unchanged)."""
    manifest = json.loads(data.PACKAGED_MANIFEST.read_text())
    for c in manifest["clips"]:
        if c["name"] == "car-turn":
            c["url"] = url
    path = tmp_path / "clips.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setenv(data.MANIFEST_ENV, str(path))


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Start a server over a copy of the teaser frames, with the real urlopen and no proxy for 127.0.0.1."""
    if not TEASER.is_dir():
        pytest.skip(f"the shared teaser frames ({TEASER}) are not here")
    root = _copy_teaser(tmp_path / "served")
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)
    server = _Server(root)
    _teaser_manifest(tmp_path, monkeypatch, server.url)
    yield server
    server.close()


def _copy_teaser(dst: Path) -> Path:
    """A writable copy of the shared (read-only) teaser frames."""
    dst.mkdir(parents=True)
    for f in sorted(TEASER.iterdir()):
        shutil.copyfile(f, dst / f.name)
    return dst


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_fetch_teaser_downloads_verifies_and_caches(served, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    out = data.fetch("car-turn", cache_dir=cache, size=64)
    assert isinstance(out, video.Frames) and out.shape == (8, 64, 64, 3) and out.dtype == np.float32
    assert sorted(n for n, _ in served.log) == [f"{i:05d}.png" for i in range(8)]
    folder = cache / "car-turn"
    for f in data.clip_info("car-turn")["files"]:
        assert _sha(folder / f["name"]) == f["sha256"]
    assert "MIT" in (folder / "SOURCE.txt").read_text() and data.verify("car-turn", cache) == []
    assert not [p for p in cache.rglob("*") if p.name.endswith((".part", ".tmp"))]
    assert not (cache / "_downloads" / "car-turn").exists()
    printed = capsys.readouterr().out
    assert "licence: MIT" in printed and "ChenyangQiQi/FateZero at commit 9b6cb7b" in printed and "DAVIS" in printed
    # the cache answers the next call: no request, the same frames, the licence not repeated
    n_requests = len(served.log)
    again = data.fetch("car-turn", cache_dir=cache, size=64)
    np.testing.assert_array_equal(again, out)
    assert len(served.log) == n_requests and "licence" not in capsys.readouterr().out
    # the frames are the shared ones, consecutive from the first
    np.testing.assert_allclose(data.fetch("car-turn", cache_dir=cache, n_frames=2, size=512, start=3),
                               video.read(TEASER, n_frames=2, start=3), atol=1e-6)


def test_fetch_resumes_a_partial_download_with_a_range_request(served, tmp_path):
    cache = tmp_path / "cache"
    staging = cache / "_downloads" / "car-turn"
    staging.mkdir(parents=True)
    first = (TEASER / "00000.png").read_bytes()
    (staging / "00000.png.part").write_bytes(first[:150_000])  # an earlier, interrupted download
    served.cut["00003.png"] = 200_000  # and this one breaks off during this call
    with pytest.raises(data.ClipDownloadError, match=r"stopped after 200000 of 425496 bytes.*resume") as e:
        data.fetch("car-turn", cache_dir=cache, size=64)
    assert "What to do" in str(e.value)
    assert ("00000.png", "bytes=150000-") in served.log
    assert (staging / "00000.png").read_bytes() == first  # continued, not restarted
    assert (staging / "00003.png.part").stat().st_size == 200_000 and not (staging / "00003.png").exists()
    assert not (cache / "car-turn").exists()  # nothing under the clip's final name yet
    served.log.clear()
    assert data.fetch("car-turn", cache_dir=cache, size=64).shape == (8, 64, 64, 3)
    assert ("00003.png", "bytes=200000-") in served.log and ("00000.png", None) not in served.log
    assert data.verify("car-turn", cache) == []


def test_server_without_ranges_restarts_the_file(served, tmp_path):
    served.ranges = False
    cache = tmp_path / "cache"
    staging = cache / "_downloads" / "car-turn"
    staging.mkdir(parents=True)
    (staging / "00001.png.part").write_bytes(b"x" * 1000)  # would be wrong if appended to
    assert data.fetch("car-turn", cache_dir=cache, size=64).shape == (8, 64, 64, 3)
    assert ("00001.png", "bytes=1000-") in served.log
    assert data.verify("car-turn", cache) == []


def test_bad_resumed_part_is_fetched_again_from_the_start(served, tmp_path):
    cache = tmp_path / "cache"
    staging = cache / "_downloads" / "car-turn"
    staging.mkdir(parents=True)
    (staging / "00002.png.part").write_bytes(b"\0" * 5000)  # a wrong prefix: the resumed file fails its checksum
    assert data.fetch("car-turn", cache_dir=cache, size=64).shape == (8, 64, 64, 3)
    assert [r for n, r in served.log if n == "00002.png"] == ["bytes=5000-", None]
    assert data.verify("car-turn", cache) == []


def test_checksum_mismatch_is_refused(served, tmp_path):
    bad = served.root / "00004.png"
    raw = bytearray(bad.read_bytes())
    raw[1000] ^= 0xFF  # same size, one byte changed
    bad.write_bytes(bytes(raw))
    cache = tmp_path / "cache"
    with pytest.raises(data.ClipDownloadError) as e:
        data.fetch("car-turn", cache_dir=cache, size=64)
    msg = str(e.value)
    assert "00004.png" in msg and "checksum mismatch" in msg
    assert data.clip_info("car-turn")["files"][4]["sha256"] in msg and "What to do" in msg
    staging = cache / "_downloads" / "car-turn"
    assert not (staging / "00004.png").exists() and not (staging / "00004.png.part").exists()
    assert not (cache / "car-turn").exists()


def test_fetch_teaser_from_a_file_url(tmp_path, monkeypatch):
    if not TEASER.is_dir():
        pytest.skip(f"the shared teaser frames ({TEASER}) are not here")
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)
    _teaser_manifest(tmp_path, monkeypatch, TEASER.as_uri() + "/")
    out = data.fetch("car-turn", cache_dir=tmp_path / "cache", n_frames=3, size=(64, 96), fit="pad", quiet=True)
    assert out.shape == (3, 64, 96, 3) and data.verify("car-turn", tmp_path / "cache") == []


def test_offline_teaser_error_gives_the_manual_recipe(tmp_path):
    with pytest.raises(data.ClipDownloadError) as e:
        data.fetch("car-turn", cache_dir=tmp_path)
    msg = str(e.value)
    assert "could not download clip 'car-turn'" in msg and "URLError" in msg
    assert "git clone https://github.com/ChenyangQiQi/FateZero" in msg and "checkout 9b6cb7b" in msg
    assert f"curl -fL --create-dirs -o {tmp_path / 'car-turn' / '00007.png'} https://raw.githubusercontent.com/" in msg
    assert "fatezero_lab.video.prepare" in msg
    assert not any(tmp_path.rglob("*.part")) and not (tmp_path / "car-turn").exists()


@needs_teaser
def test_teaser_placed_by_hand_is_used_and_checked(tmp_path):
    """The recipe's result (the frames copied into <cache>/car-turn/) works offline; a wrong file is named."""
    folder = _copy_teaser(tmp_path / "car-turn")
    assert data.is_cached("car-turn", tmp_path)
    assert data.fetch("car-turn", cache_dir=tmp_path, size=32, quiet=True).shape == (8, 32, 32, 3)
    (folder / "00006.png").write_bytes((TEASER / "00005.png").read_bytes())
    with pytest.raises(data.ClipDownloadError, match=r"(?s)00006\.png: 431210 bytes, expected 428020.*Delete"):
        data.fetch("car-turn", cache_dir=tmp_path, quiet=True)
    (folder / "00006.png").unlink()
    assert not data.is_cached("car-turn", tmp_path)
    with pytest.raises(data.ClipDownloadError, match="lacks 00006.png"):
        data.fetch("car-turn", cache_dir=tmp_path, quiet=True)


# ------------------------------------------------------------------ an archive without a checksum; the paper's GIFs
def _served(monkeypatch, root):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)
    return _Server(root)


def _shape_zip(path, seed):
    src = video.write(path.parent / f"src{seed}", np.random.default_rng(seed).random((8, 24, 24, 3)))
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"man_skate/{f.name}")
    return path


def test_archive_without_checksum_records_one_at_first_download(tmp_path, monkeypatch, capsys):
    """man_skate's entry (the authors' shape.zip, no published checksum), served locally: the first download records
    the SHA-256 and says it; later fetches use the cache; a re-download that differs is refused."""
    root = tmp_path / "served"
    root.mkdir()
    zpath = _shape_zip(root / "shape.zip", 0)
    server = _served(monkeypatch, root)
    try:
        manifest = json.loads(data.PACKAGED_MANIFEST.read_text())
        entry = next(c for c in manifest["clips"] if c["name"] == "man_skate")
        assert entry["sha256"] is None and entry["bytes"] is None
        entry["url"] = server.url + "shape.zip"
        (tmp_path / "clips.json").write_text(json.dumps(manifest))
        monkeypatch.setenv(data.MANIFEST_ENV, str(tmp_path / "clips.json"))
        cache = tmp_path / "cache"
        out = data.fetch("man_skate", cache_dir=cache, n_frames=4, size=16)
        assert out.shape == (4, 16, 16, 3)
        text = capsys.readouterr().out
        digest = _sha(zpath)
        assert f"recorded at this first download, is {digest}" in text and "no published checksum" in text
        assert f"checksum: none published; SHA-256 {digest}" in text  # shown with the licence
        assert data.recorded_checksum(entry["url"], cache) == {"url": entry["url"], "sha256": digest,
                                                               "bytes": zpath.stat().st_size}
        n = len(server.log)
        data.fetch("man_skate", cache_dir=cache, n_frames=4, size=16)
        assert len(server.log) == n  # cached: no request
        # the archive and the clip are deleted, the record kept; the server now has another file: refused
        shutil.rmtree(cache / "man_skate")
        data.download_path(entry["url"], cache).unlink()
        _shape_zip(zpath, 1)
        with pytest.raises(data.ClipDownloadError, match="checksum mismatch|bytes, expected"):
            data.fetch("man_skate", cache_dir=cache, n_frames=4, size=16)
        assert not (cache / "man_skate").exists()
    finally:
        server.close()


def _gif(path, n=3, h=8):
    from PIL import Image

    imgs = []
    for i in range(n):
        a = np.zeros((h, 2 * h, 3), np.uint8)
        a[:, :h] = (255, 0, 0)  # source half: red
        a[:, h:] = (0, 0, 255) if i % 2 == 0 else (0, 255, 0)  # edit half: blue / green
        imgs.append(Image.fromarray(a))
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=100, loop=0)
    return path


def test_fetch_result_downloads_checks_and_splits_the_gif(tmp_path, monkeypatch, capsys):
    root = tmp_path / "served"
    root.mkdir()
    gif = _gif(root / "2_car_watercolor_01_concat_result.gif")
    server = _served(monkeypatch, root)
    try:
        manifest = json.loads(data.PACKAGED_MANIFEST.read_text())
        r = next(r for r in manifest["results"] if r["preset"] == "jeep_watercolor")
        r.update(url=server.url + gif.name, sha256=_sha(gif), bytes=gif.stat().st_size)
        (tmp_path / "clips.json").write_text(json.dumps(manifest))
        monkeypatch.setenv(data.MANIFEST_ENV, str(tmp_path / "clips.json"))
        cache = tmp_path / "cache"
        edit = data.fetch_result("jeep_watercolor", cache_dir=cache)
        assert edit.shape == (3, 8, 8, 3) and edit.fps == pytest.approx(10)
        np.testing.assert_allclose(edit[0, 0, 0], [0, 0, 1], atol=0.02)
        np.testing.assert_allclose(edit[1, 0, 0], [0, 1, 0], atol=0.02)
        src = data.fetch_result("jeep_watercolor", cache_dir=cache, part="source")
        np.testing.assert_allclose(src[:, 0, 0], [[1, 0, 0]] * 3, atol=0.02)
        assert data.fetch_result("jeep_watercolor", cache_dir=cache, part="both").shape == (3, 8, 16, 3)
        assert len(server.log) == 1  # downloaded once
        out = capsys.readouterr().out
        assert out.count("the paper's result for preset 'jeep_watercolor'") == 1 and "MIT" in out
        with pytest.raises(ValueError, match="part must be one of"):
            data.fetch_result("jeep_watercolor", cache_dir=cache, part="left")
        # a file that is not the listed one is refused and not kept
        r["sha256"] = "0" * 64
        (tmp_path / "clips.json").write_text(json.dumps(manifest))
        with pytest.raises(data.ClipDownloadError, match="checksum mismatch"):
            data.fetch_result("jeep_watercolor", cache_dir=tmp_path / "other")
        assert not any((tmp_path / "other").rglob("*.gif"))
    finally:
        server.close()
