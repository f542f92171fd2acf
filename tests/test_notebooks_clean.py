"""Notebook rules: committed without outputs, a title with a Colab badge, a Colab-only install cell tagged
skip-execution, thin cells, and at least one widget from notebook 02 on."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_rules(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    for c in cells:
        if c["cell_type"] == "code":
            assert c.get("outputs", []) == [] and c.get("execution_count") is None, "commit notebooks without outputs"
            assert len("".join(c["source"]).splitlines()) <= 25, "code cells stay short"
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "colab.research.google.com" in first and "What you will learn" in first
    install = cells[1]
    assert "google.colab" in "".join(install["source"]) and "skip-execution" in install["metadata"].get("tags", [])
    if path.name[:2] >= "02":
        assert any("widgets." in "".join(c["source"]) for c in cells if c["cell_type"] == "code")
