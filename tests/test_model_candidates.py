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
    assert [(r["case"], r["variant"]) for r in rows] == [(0, "FateZero"), (10, "FateZero"), (10, "full source"),
                                                         (10, "no self fusion")]
    assert all(len(r["area"]) == len(r["true_area"]) == 2 for r in rows)
    assert all(t > 0 for r in rows for t in r["true_area"])
    printed = capsys.readouterr().out
    assert "| toy | colour | 1 |" in printed and "| toy | two-object | 1 |" in printed


@pytest.mark.parametrize("argv, message", [(["toy", "--cases", "0,x"], "comma-separated integers"),
                                           (["toy", "--cases", "13"], "outside the suite"),
                                           (["no/such/folder"], "not a toy model folder")])
def test_bad_arguments_are_refused_before_any_compute(argv, message, capsys):
    with pytest.raises(SystemExit):
        model_candidates.main(argv)
    assert message in capsys.readouterr().err
