"""Golden refine mappers from the authors' prompt-to-prompt aligner, for tests/test_refine_mapper.py (issue 33).

    python benchmarks/refine_mapper_goldens.py            # project venv; runs the authors' side in .venv-reference

1. (project venv) Gathers prompt pairs: every entry of every authors' YAML under their ``config/`` (their controller
   aligns ``editing_config.source_prompt`` or ``editing_prompts[0]`` with each target; the dataset prompt too, where it
   differs), every entry of our presets, and generated pairs (a word inserted, dropped, swapped, replaced or
   repeated, two words hyphenated, a double space, punctuation added), seeded. Freezes two tokenizers as
   ``vocab.json`` + ``merges.txt`` under ``tests/data/refine_mapper/``: ``standin`` (the SD stand-in's BPE, whole
   words) and ``chars`` (its alphabet only, no merges: every word spelt out, so repeated tokens and tied alignments
   are everywhere). Writes ``pairs.json`` there (removed once the goldens are written).
2. (``--their``, run inside ``.venv-reference`` by step 1) Loads both tokenizers as the authors' stack does (a slow
   ``CLIPTokenizer``, transformers 4.25.1), computes ``seq_aligner.get_refinement_mapper([source, target], tok)`` for
   every pair whose prompts fit 77 tokens (their ``get_mapper`` cannot handle longer ones) and writes
   ``goldens.json``: the token ids, their mapper and their alphas (the first ``len(target ids)`` entries; the rest
   is ``k -> k`` with alpha 1 in their code, and the test checks that too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "refine_mapper"
AUTHORS = Path(os.environ.get("FATEZERO_REF", ROOT.parent / "shared" / "reference" / "FateZero"))
REF_PY = ROOT / ".venv-reference" / "bin" / "python"
BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"
ALPHABET = list(string.ascii_lowercase + string.digits + ".,'!?-:;()&/")  # the stand-in's fallback characters
GENERATED_PER_SOURCE = 12


def load_tokenizer(name: str):
    """One of the frozen tokenizers, built as both stacks can: ``CLIPTokenizer(vocab.json, merges.txt)``."""
    from transformers import CLIPTokenizer

    folder = OUT / name
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token=PAD, model_max_length=77)


def _prompts_of(path: Path) -> tuple[list[str], list[str]]:
    """(alignment prompts, targets) of one YAML file: the prompt their controller aligns with, and every entry."""
    import yaml

    d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    ed, ds = d.get("editing_config") or {}, d.get("dataset_config") or {}
    def text(p) -> str:  # OmegaConf's one interpolation their prompts use
        return str(p).replace("${dataset_config.prompt}", str(ds.get("prompt")))

    targets = [text(p) for p in ed.get("editing_prompts") or [] if p is not None]
    sources = [text(p) for p in (ed.get("source_prompt"), targets[0] if targets else None, ds.get("prompt")) if p]
    return list(dict.fromkeys(sources)), targets


def _variants(prompt: str, rng: random.Random, vocabulary: list[str]) -> list[str]:
    """Edited copies of ``prompt``: the kinds of change a learner's own target prompt makes."""
    words = prompt.split(" ")
    out = []
    for _ in range(GENERATED_PER_SOURCE):
        w = list(words)
        kind = rng.choice(["insert", "drop", "swap", "replace", "repeat", "hyphen", "spaces", "punct", "phrase"])
        i = rng.randrange(len(w))
        if kind == "insert":
            w.insert(i, rng.choice(vocabulary))
        elif kind == "drop" and len(w) > 1:
            del w[i]
        elif kind == "swap" and len(w) > 1:
            j = rng.randrange(len(w))
            w[i], w[j] = w[j], w[i]
        elif kind == "replace":
            w[i] = rng.choice(vocabulary)
        elif kind == "repeat":
            w.insert(i, w[i])
        elif kind == "hyphen" and i + 1 < len(w):
            w[i:i + 2] = [w[i] + "-" + w[i + 1]]
        elif kind == "spaces":
            w.insert(i, "")  # "a  b": a double space
        elif kind == "punct":
            w[i] = w[i] + rng.choice([",", ".", "!", ";"])
        elif kind == "phrase" and len(w) > 2:
            j = rng.randrange(i, len(w))
            w[j:j] = w[i:j] or [w[i]]  # a phrase of the prompt repeated
        out.append(" ".join(w))
    return out


def make_inputs() -> None:
    from fatezero_lab import presets
    from fatezero_lab.lab import standin_tokenizer

    OUT.mkdir(parents=True, exist_ok=True)
    # 1. the tokenizers, frozen (the stand-in's vocabulary follows the presets' words: these files do not)
    standin = OUT / "standin"
    standin.mkdir(exist_ok=True)
    tok = standin_tokenizer()
    tok.backend_tokenizer.model.save(str(standin))  # vocab.json + merges.txt
    chars = OUT / "chars"
    chars.mkdir(exist_ok=True)
    vocab = {t: i for i, t in enumerate([BOS, EOS, PAD] + ALPHABET + [c + "</w>" for c in ALPHABET])}
    (chars / "vocab.json").write_text(json.dumps(vocab))
    (chars / "merges.txt").write_text("#version: 0.2\n")
    # 2. the pairs
    pairs: dict[tuple[str, str], dict] = {}

    def add(source: str, target: str, origin: str) -> None:
        pair = pairs.setdefault((source, target), {"source": source, "target": target, "origins": []})
        pair["origins"].append(origin)

    yamls = sorted((AUTHORS / "config").rglob("*.yaml"))
    for path in yamls:
        sources, targets = _prompts_of(path)
        for s in sources:
            for t in targets:
                add(s, t, f"authors:{path.relative_to(AUTHORS)}")
    for path in presets.files():
        sources, targets = _prompts_of(path)
        for s in sources:
            for t in targets:
                add(s, t, f"preset:{path.name}")
    rng = random.Random(0)
    vocabulary = sorted({w for _, t in pairs for w in t.split() if w.isalpha()})
    for source in sorted({s for s, _ in pairs}):
        for t in _variants(source, rng, vocabulary):
            add(source, t, "generated")
    (OUT / "pairs.json").write_text(json.dumps(list(pairs.values()), indent=0))
    print(f"{len(pairs)} pairs ({len(yamls)} authors' YAML files, {len(presets.files())} presets, generated)")


def their_goldens() -> None:
    """Inside .venv-reference: the authors' mapper for every pair (their code imported from their checkout)."""
    import importlib.util

    # their module alone (its package's __init__ imports the whole pipeline, torchvision included)
    spec = importlib.util.spec_from_file_location(
        "seq_aligner", AUTHORS / "video_diffusion" / "prompt_attention" / "seq_aligner.py")
    seq_aligner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seq_aligner)

    pairs = json.loads((OUT / "pairs.json").read_text())
    goldens, skipped = {}, {}
    for name in ("standin", "chars"):
        tok = load_tokenizer(name)
        rows, skipped[name] = [], 0
        for p in pairs:
            src, tgt = tok.encode(p["source"]), tok.encode(p["target"])
            if max(len(src), len(tgt)) > 77:
                skipped[name] += 1
                continue
            mapper, alpha = seq_aligner.get_refinement_mapper([p["source"], p["target"]], tok)
            n = len(tgt)
            tail_ok = mapper[0, n:].tolist() == list(range(n, 77)) and bool((alpha[0, n:] == 1).all())
            rows.append({**p, "source_ids": src, "target_ids": tgt, "mapper": mapper[0, :n].tolist(),
                         "alpha": "".join(str(int(a)) for a in alpha[0, :n].tolist()), "tail_k_to_k": tail_ok})
        goldens[name] = rows
    (OUT / "goldens.json").write_text(json.dumps({"skipped_over_77_tokens": skipped, "goldens": goldens}))
    print(f"goldens: {', '.join(f'{k} {len(v)} pairs' for k, v in goldens.items())}; over 77 tokens: {skipped}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--their", action="store_true", help="(internal) the authors' side, inside .venv-reference")
    args = ap.parse_args()
    if args.their:
        return their_goldens()
    if not REF_PY.exists():
        raise SystemExit("the authors' environment is not built: bash scripts/reference_env.sh")
    if not (AUTHORS / "video_diffusion").is_dir():
        raise SystemExit(f"the authors' checkout is not at {AUTHORS} (set FATEZERO_REF)")
    make_inputs()
    subprocess.run([str(REF_PY), __file__, "--their"], check=True, env={**os.environ, "FATEZERO_REF": str(AUTHORS)})
    (OUT / "pairs.json").unlink()  # goldens.json carries every pair


if __name__ == "__main__":
    main()
