"""Notebook rules: committed without outputs, a title with a Colab badge, a Colab-only install cell tagged
skip-execution, a setup cell that picks the mode through fatezero_lab.lab (toy / sd), Colab metadata asking for a GPU,
thin cells, at least one widget from notebook 02 on, and each .ipynb in sync with its paired notebooks/NN_name.py
(jupytext py:percent; scripts/notebooks.py checks the pairs and the standard cells)."""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def helper():
    """scripts/notebooks.py as a module (scripts/ is not a package); needs jupytext (the test extra)."""
    spec = importlib.util.spec_from_file_location("notebooks_helper", ROOT / "scripts" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    install, drive = cells[1], cells[2]
    assert "google.colab" in "".join(install["source"]) and "skip-execution" in install["metadata"].get("tags", [])
    assert "capture_output=True" in "".join(install["source"]) and "check=True" not in "".join(install["source"])
    assert "USE_DRIVE = False" in "".join(drive["source"]) and "skip-execution" in drive["metadata"].get("tags", [])
    if path.name[:2] >= "02":
        assert any("widgets." in "".join(c["source"]) for c in cells if c["cell_type"] == "code")


# Issue 31: every notebook ends with its takeaway and has a widget. The notebooks are read from disk. Each takeaway
# was written from a full toy-mode run of its notebook (benchmarks/notebooks.py, 2026-12-07 and 2026-12-08).
WIDGET = re.compile(r"\bwidgets\.(interact\w*|[A-Z]\w*)\(")  # widgets.interact(...), widgets.Dropdown(...), ...


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_its_takeaway(path):
    """The last markdown cell is the takeaway, headed "## What this shows", written from a run (more than a line,
    no placeholder left)."""
    cells = json.loads(path.read_text())["cells"]
    last = "".join([c for c in cells if c["cell_type"] == "markdown"][-1]["source"])
    assert last.startswith("## What this shows\n"), f"the last markdown cell starts {last[:40]!r}"
    assert len(last.split()) > 40, "the takeaway says what the notebook's run showed (more than a heading)"
    assert "not written yet" not in last.lower() and "(written from" not in last, "a placeholder, not a takeaway"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_a_widget(path):
    """Some code cell after the standard cells builds a widget (ipywidgets.interact or a widget class)."""
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells[3:] if c["cell_type"] == "code"]
    assert any(WIDGET.search(c) for c in code), "no cell builds a widget (widgets.interact, widgets.Dropdown, ...)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_modes(path):
    """One switch: the setup cell calls fz.lab.setup() and every later cell takes the pipeline, clip, prompts, frames
    and steps from it (no cell loads Stable Diffusion by name or fixes its own frame/step counts); Colab is asked for
    a GPU runtime, and without one the install cell says how to get it."""
    nb = json.loads(path.read_text())
    assert nb["metadata"]["accelerator"] == "GPU" and nb["metadata"]["colab"]["gpuType"] == "T4"
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    install, drive, setup, rest = code[0], code[1], code[2], "\n".join(code[3:])
    assert all(k in drive for k in ("HF_HOME", "FATEZERO_LAB_CACHE", "FATEZERO_LAB_OUT", "google.colab"))
    assert "Change runtime type" in install and "torch.cuda.is_available()" in install
    assert "lab = fz.lab.setup()" in setup and "pipe, FRAMES, STEPS, FAST = lab.pipe" in setup
    assert "stable-diffusion" not in rest.lower() and "FRAMES, STEPS =" not in rest and "FZ_FAST" not in rest
    assert "lab.example(" in rest or "lab.gallery_example(" in rest or path.name.startswith("01")


def test_notebook_pairs_in_sync():
    """Every notebooks/*.ipynb matches its .py (same cells, no outputs), standard cells match the template."""
    problems = helper().check()
    assert not problems, "run `python scripts/notebooks.py sync`:\n" + "\n".join(problems)


def test_check_catches_a_desynced_pair(tmp_path):
    """The check itself works: an edit to the .py only, or to a standard cell, is reported by notebook name."""
    nbs = helper()
    shutil.copy(ROOT / "notebooks" / "jupytext.toml", tmp_path)
    for ext in (".py", ".ipynb"):
        shutil.copy(ROOT / "notebooks" / f"00_quickstart{ext}", tmp_path)
    assert nbs.check(tmp_path) == []
    py = tmp_path / "00_quickstart.py"
    text = py.read_text()
    py.write_text(text.replace('"a blue circle on grass"', '"a green circle on grass"'))
    assert any("00_quickstart.ipynb is out of sync" in p for p in nbs.check(tmp_path))
    py.write_text(text.replace("lab = fz.lab.setup()", 'lab = fz.lab.setup("toy")'))
    assert any("00_quickstart.py: setup differs" in p for p in nbs.check(tmp_path))


def test_notebook_sources_are_plain_python():
    """The py:percent side of every pair parses as Python (no shell escapes), so linters and diffs work on it."""
    import ast
    from pathlib import Path

    for path in sorted((Path(__file__).parent.parent / "notebooks").glob("*.py")):
        ast.parse(path.read_text(), filename=str(path))
