"""Write the authors' example clips and result GIFs into the clip manifest (fatezero_lab/clips.json).

    python scripts/authors_examples.py --git-dir /path/to/FateZero/.git      # a clone (or bare copy) of their repo

Reads, from a git copy of github.com/ChenyangQiQi/FateZero (no work tree needed, no network):

- the frames of every example clip the authors committed under ``data/attribute/*`` and ``data/style/*`` at commit
  ``a124cbe`` (2023-03-27; the next day's ``0f4500d`` removed them again, so they are in the history of ``main``
  but not in its newest tree): one manifest entry per folder, each file with its size and the SHA-256 of its git
  blob (what raw.githubusercontent.com serves for that commit and path);
- the result GIF of every preset under ``docs/gif_results/`` at commit ``9b6cb7b`` (the shared reference's commit).

The shape clip ``man_skate`` is not in their repository's files; it exists only in their release archive
``shape.zip``, and its entry (written here too) has no checksum: :func:`fatezero_lab.data.fetch` records one at the
first download. The mapping of GIFs to presets was made by looking at the edited half of each GIF (their file
numbering does not follow the config's prompt order) and checked against the README's captions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fatezero_lab import presets  # noqa: E402

REPO = "https://github.com/ChenyangQiQi/FateZero"
RAW = "https://raw.githubusercontent.com/ChenyangQiQi/FateZero"
DATA_COMMIT = "a124cbe882800a3737279dd7fadfc5e0216a7cb1"  # the one commit whose tree holds data/attribute, data/style
GIF_COMMIT = "9b6cb7b4dea2b2154df71ad7be0f61a66ca46d88"  # = the shared reference; docs/gif_results unchanged since
RELEASE = "https://github.com/ChenyangQiQi/FateZero/releases/download/v0.0.1/"
LICENCE = "MIT (the FateZero repository, ChenyangQiQi/FateZero, LICENSE.md: Copyright (c) 2023 Chenyang QI)"
CREDIT = ("Frames from the FateZero authors' repository (Qi et al., ICCV 2023). Their README does not say where the "
          "source videos come from{davis}. Credit the authors when you show results.")
DAVIS_NOTE = "; the folder name matches the DAVIS sequence {seq!r} (https://davischallenge.org), so credit DAVIS as well"

# manifest name -> (folder under data/, DAVIS sequence the name matches or None)
CLIPS = {
    "bear_tiger_lion_leopard": ("attribute/bear_tiger_lion_leopard", "bear"),
    "bus_gpu": ("attribute/bus_gpu", "bus"),
    "cat_tiger_leopard_grass": ("attribute/cat_tiger_leopard_grass", None),
    "duck_rubber": ("attribute/duck_rubber", None),
    "fox_wolf_snow": ("attribute/fox_wolf_snow", None),
    "gray_dog": ("attribute/gray_dog", None),
    "rabbit_strawberry": ("attribute/rabbit_strawberry", None),
    "squirrel_carrot": ("attribute/squirrel_carrot", None),
    "swan_swarov": ("attribute/swan_swarov", "blackswan"),
    "style-blackswan": ("style/blackswan", "blackswan"),  # 'blackswan' is the DAVIS entry's name already
    "rabit": ("style/rabit", None),
    "red_water_lily_opening": ("style/red_water_lily_opening", None),
    "sunflower": ("style/sunflower", None),
    "surf": ("style/surf", None),
    "train": ("style/train", None),
}
ARCHIVE_CLIPS = {  # name -> (archive, folder inside it, what their configs call it)
    "man_skate": ("shape.zip", "man_skate", "data/shape/man_skate"),
}
# preset -> the GIF under docs/gif_results/ showing the authors' result (left half: source, right half: edit)
RESULTS = {
    "jeep_watercolor": "style/2_car_watercolor_01_concat_result.gif",
    "jeep_watercolor_10_steps": "style/2_car_watercolor_01_concat_result.gif",
    "jeep_posche": "shape/17_car_posche_01_concat_result.gif",
    "jeep_posche_latent_blend": "car_posche_local_blend.gif",
    "bear_tiger": "attri/13_bear_tiger_leopard_lion_01_concat_result.gif",
    "bear_leopard": "attri/13_bear_tiger_leopard_lion_02_concat_result.gif",
    "bear_lion": "attri/13_bear_tiger_leopard_lion_03_concat_result.gif",
    "bus_gpu": "attri/10_bus_gpu_01_concat_result.gif",
    "cat_leopard": "attri/14_cat_grass_tiger_corgin_01_concat_result.gif",
    "cat_grass": "attri/14_cat_grass_tiger_corgin_02_concat_result.gif",
    "cat_tiger": "attri/14_cat_grass_tiger_corgin_03_concat_result.gif",
    "cat_shiba_inu": "attri/14_cat_grass_tiger_corgin_04_concat_result.gif",
    "dog_corgi": "attri/11_dog_robotic_corgin_01_concat_result.gif",
    "dog_robotic": "attri/11_dog_robotic_corgin_02_concat_result.gif",
    "duck_rubber": "attri/9_duck_rubber_01_concat_result.gif",
    "fox_snow": "attri/12_fox_snow_wolf_01_concat_result.gif",
    "fox_wolf": "attri/12_fox_snow_wolf_02_concat_result.gif",
    "rabbit_flower": "attri/15_rabbit_eat_01_concat_result.gif",
    "rabbit_orange": "attri/15_rabbit_eat_03_concat_result.gif",
    "rabbit_leaves": "attri/15_rabbit_eat_04_concat_result.gif",
    "squirrel_white_mouse": "attri/16_sq_eat_01_concat_result.gif",
    "squirrel_rabbit_eggplant": "attri/16_sq_eat_02_concat_result.gif",
    "squirrel_robot_mouse": "attri/16_sq_eat_03_concat_result.gif",
    "squirrel_robot": "attri/16_sq_eat_04_concat_result.gif",
    "swan_swarovski": "attri/8_swan_swa_01_concat_result.gif",
    "lily_monet": "style/6_lily_monet_01_concat_result.gif",
    "rabbit_pokemon": "style/4_rabit_pokemon_01_concat_result.gif",
    "sunflower_van_gogh": "style/3_sunflower_vangogh_01_concat_result.gif",
    "surf_ukiyo": "style/1_surf_ukiyo_01_concat_result.gif",
    "swan_cartoon": "style/7_swan_carton_01_concat_result.gif",
    "train_shinkai": "style/5_train_shikai_01_concat_result.gif",
    "swan_duck": "shape/18_swan_01_concat_result.gif",
    "swan_flamingo": "shape/18_swan_02_concat_result.gif",
    "man_batman": "shape/19_man_wonder_01_concat_result.gif",
    "man_wonder_woman": "shape/19_man_wonder_02_concat_result.gif",
    "man_spider_man": "shape/19_man_wonder_03_concat_result.gif",
}
RESULT_NOTES = {
    "jeep_watercolor_10_steps": "the authors publish no 10-step result: this is their 50-step watercolor edit",
    "surf_ukiyo": "their config edits one frame; the GIF shows 8",
}


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def blob_files(git_dir: Path, commit: str, folder: str) -> list[dict]:
    """[{name, sha256, bytes}] of the files directly in ``folder`` at ``commit``, sorted by name."""
    out = []
    for line in git(git_dir, "ls-tree", "-l", f"{commit}:{folder}").decode().splitlines():
        meta, name = line.split("\t", 1)
        mode, kind, obj, size = meta.split()
        if kind != "blob":
            continue
        content = git(git_dir, "cat-file", "blob", obj)
        if len(content) != int(size):  # a snapshot that lacks the blob's content
            raise SystemExit(f"{folder}/{name}: the git copy lacks this file's content")
        out.append({"name": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)})
    return sorted(out, key=lambda f: f["name"])


def image_facts(git_dir: Path, commit: str, folder: str, first: str) -> str:
    from PIL import Image

    im = Image.open(io.BytesIO(git(git_dir, "show", f"{commit}:data/{folder}/{first}")))
    return f"{im.size[0]}x{im.size[1]} {im.format}"


def targets_for(clip: str) -> tuple[str, list[dict], list[str]]:
    """(source prompt, the presets' targets, preset names) of the presets that edit ``clip``."""
    names = [n for n in presets.names() if presets.load(n).clip == clip]
    if not names:
        raise SystemExit(f"no preset uses clip {clip!r}")
    ps = [presets.load(n) for n in names]
    targets = [{"prompt": p.target_prompt, "kind": p.kind, "blend_words": list(p.config.blend_words),
                "target_blend_words": list(p.config.target_blend_words), "reweight": dict(p.config.reweight),
                "paper_config": f"config/{p.mirrors[0]}", "preset": p.name} for p in ps]
    return ps[0].source_prompt, targets, names


def clip_entry(git_dir: Path, name: str, folder: str, davis: str | None) -> dict:
    files = blob_files(git_dir, DATA_COMMIT, f"data/{folder}")
    source, targets, names = targets_for(name)
    facts = image_facts(git_dir, DATA_COMMIT, folder, files[0]["name"])
    return {
        "name": name,
        "description": f"the authors' example clip data/{folder}: '{source.strip(' ,')}' ({len(files)} frames, {facts})",
        "reference": f"the clip of the authors' config(s) {', '.join(sorted({t['paper_config'] for t in targets}))}",
        "url": f"{RAW}/{DATA_COMMIT}/data/{folder}/",
        "repository": REPO,
        "commit": DATA_COMMIT,
        "path": f"data/{folder}",
        "files": files,
        "licence": LICENCE,
        "attribution": CREDIT.format(davis=DAVIS_NOTE.format(seq=davis) if davis else ""),
        "homepage": REPO,
        "frames": {"start": 0, "stride": 1},
        "source_prompt": source,
        "targets": targets,
        "presets": names,
    }


def archive_entry(name: str, archive: str, member: str, theirs: str) -> dict:
    source, targets, names = targets_for(name)
    return {
        "name": name,
        "description": f"the authors' shape-editing clip {theirs}: '{source.strip(' ,')}' (from their release "
                       f"archive {archive}; not in their repository's files)",
        "reference": f"the clip of the authors' config(s) {', '.join(sorted({t['paper_config'] for t in targets}))}",
        "url": RELEASE + archive,
        "member": member,
        "repository": REPO,
        "release": "v0.0.1",
        "bytes": None,
        "sha256": None,
        "checksum": "recorded at first download (the authors publish none; the archive's size was not reachable "
                    "from where this manifest was written)",
        "licence": LICENCE + "; the release archive carries no licence file of its own",
        "attribution": CREDIT.format(davis=""),
        "homepage": REPO,
        "frames": {"start": 0, "stride": 1},
        "source_prompt": source,
        "targets": targets,
        "presets": names,
    }


def result_entries(git_dir: Path) -> list[dict]:
    out = []
    for preset, rel in RESULTS.items():
        path = f"docs/gif_results/{rel}"
        content = git(git_dir, "show", f"{GIF_COMMIT}:{path}")
        entry = {"preset": preset, "url": f"{RAW}/{GIF_COMMIT}/{path}", "repository": REPO, "commit": GIF_COMMIT,
                 "path": path, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
                 "layout": "source | edit (two halves side by side)", "licence": LICENCE}
        if preset in RESULT_NOTES:
            entry["note"] = RESULT_NOTES[preset]
        out.append(entry)
    return out


def dumps(manifest: dict) -> str:
    """The manifest as indented JSON, one line per listed file (a clip of 300 frames stays readable)."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    return re.sub(r'\{\s+"name": ("[^"]+"),\s+"sha256": ("[0-9a-f]{64}"),\s+"bytes": (\d+)\s+\}',
                  r'{"name": \1, "sha256": \2, "bytes": \3}', text) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--git-dir", required=True, type=Path, help="a git copy of github.com/ChenyangQiQi/FateZero")
    ap.add_argument("--manifest", type=Path, default=ROOT / "fatezero_lab" / "clips.json")
    args = ap.parse_args(argv)
    manifest = json.loads(args.manifest.read_text())
    new = [clip_entry(args.git_dir, n, folder, davis) for n, (folder, davis) in CLIPS.items()]
    new += [archive_entry(n, *spec) for n, spec in ARCHIVE_CLIPS.items()]
    names = {c["name"] for c in new}
    manifest["clips"] = [c for c in manifest["clips"] if c["name"] not in names] + new
    manifest["results"] = result_entries(args.git_dir)
    args.manifest.write_text(dumps(manifest))
    print(f"{args.manifest}: {len(manifest['clips'])} clips, {len(manifest['results'])} result GIFs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
