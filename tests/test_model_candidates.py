"""benchmarks/model_candidates.py (the table a retrained toy model is judged by): a tiny run and its bad inputs."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import model_candidates  # noqa: E402

import fatezero_lab as fz  # noqa: E402
from fatezero_lab import bench  # noqa: E402


def test_the_followed_object_is_the_one_whose_words_change():
    """The script follows ``bench.changed_object`` (None for a background edit, which keeps object 0)."""
    for i, k in ((0, 0), (10, 1), (11, 1), (12, 0), (4, None)):  # case 10: "... and a blue square" -> yellow square
        c = bench.SUITE[i]
        clip = fz.toyworld.clip(c.source, frames=2, seed=c.seed)
        assert bench.changed_object(clip, clip.edited(c.target)) == k, c


def test_tiny_run_writes_rows_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert model_candidates.main(["toy", "--cases", "0,10", "--frames", "2", "--steps", "3", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["case"], r["variant"]) for r in rows] == [(0, "FateZero"), (0, "identity"), (10, "FateZero"),
                                                         (10, "full source"), (10, "no self fusion")]
    edits = [r for r in rows if r["variant"] != "identity"]
    assert all(len(r["area"]) == len(r["true_area"]) == 2 for r in edits)
    assert all(t > 0 for r in edits for t in r["true_area"])
    ident = rows[1]
    assert 0 < ident["background_psnr"] < 90 and 0 < ident["ceiling_psnr"] < 90  # a real (imperfect) identity edit
    printed = capsys.readouterr().out
    assert "| toy | colour | 1 |" in printed and "| toy | two-object | 1 |" in printed
    assert printed.startswith("# Toy models at FateZero's defaults")


def test_identity_ceiling_of_a_perfect_identity_edit_is_exact(monkeypatch):
    """If the identity edit returned the source itself, its background would be exact and the ceiling would be the
    truth everywhere but the (unchanged) background: exact too."""
    c = bench.SUITE[0]
    clip = fz.toyworld.clip(c.source, frames=2, seed=c.seed)
    truth = clip.edited(c.target)
    monkeypatch.setattr(fz, "edit", lambda *a, **k: type("R", (), {"frames": clip.frames})())
    row = model_candidates.identity_row(None, None, clip, truth, c, {})
    assert row["background_psnr"] > 90 and row["ceiling_psnr"] > 90


@pytest.mark.parametrize("argv, message", [(["toy", "--cases", "0,x"], "comma-separated integers"),
                                           (["toy", "--cases", "13"], "outside the suite"),
                                           (["no/such/folder"], "not a toy model folder"),
                                           (["toy", "--guidance", "0.5"], "--guidance must be >= 1"),
                                           (["toy", "--unconditional", "null"], "invalid choice")])
def test_bad_arguments_are_refused_before_any_compute(argv, message, capsys):
    with pytest.raises(SystemExit):
        model_candidates.main(argv)
    assert message in capsys.readouterr().err
