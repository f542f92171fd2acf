"""Notebooks as code: notebooks/NN_name.py (jupytext py:percent) is paired with notebooks/NN_name.ipynb.

    python scripts/notebooks.py sync                # write each .ipynb from its .py (standard cells, no outputs)
    python scripts/notebooks.py sync --from-ipynb   # the rare reverse: write each .py from its .ipynb
    python scripts/notebooks.py check               # exit 1, naming the notebook, if a pair differs or breaks a rule

The first four cells of every notebook are standard: the header (title, Colab badge, what you will learn, time),
the Colab-only install cell (tagged skip-execution; without a GPU it says how to get one; on a failed install it
prints the end of pip's error output), the optional Colab-only Drive cell (tagged skip-execution: set USE_DRIVE to
keep the weights, clips, outputs and the tuned UNet on Google Drive across runtimes) and the setup cell, which picks
the mode and profile through fatezero_lab.lab.setup() (toy or sd; fast mode: FZ_FAST=1). Edit them here only.
The .py is always the source of sync (a file's modification time says nothing about which one was edited: a checkout
or a copy changes it); ``--from-ipynb`` takes the .ipynb instead, for an edit made in Jupyter, and says so when the
two differed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import importlib.util

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _project():
    """fatezero_lab/project.py on its own (the package's __init__ would import torch): REPO's one definition."""
    spec = importlib.util.spec_from_file_location("fatezero_lab_project", ROOT / "fatezero_lab" / "project.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PROJECT = _project()
REPO = PROJECT.REPO
MAX_LINES = 25  # code cells stay short
# Colab opens the notebook on a GPU runtime (T4) when one is free: Stable Diffusion mode (fatezero_lab/lab.py)
METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []},
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}

HEADER = """# {title}

[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name}.ipynb)

**What you will learn**

{learn}

**Two modes, one switch** (the setup cell, `fz.lab.setup()`): on a GPU (Colab: *Runtime > Change runtime type > T4 GPU*) the notebook runs Stable Diffusion v1.4 on the paper's teaser clip with the paper's prompts (`sd` mode); on a CPU it runs the shipped toy model on toy clips that have an exact ground truth (`toy` mode). Set `FATEZERO_LAB_MODE=toy` or `sd` to choose.

*Full mode with the toy model: {minutes} on a 2-core CPU (measured by `benchmarks/notebooks.py`); the test suite runs it in a fast mode (`FZ_FAST=1`: 4 frames, 10 DDIM steps), in both modes (`sd` with a tiny random-weight stand-in for the download).*"""

INSTALL = f"""# Colab only: install fatezero_lab (this cell is skipped everywhere else, and by the test suite)
import subprocess
import sys

if "google.colab" in sys.modules:
    import torch
    if not torch.cuda.is_available():
        print("No GPU in this runtime: Runtime > Change runtime type > T4 GPU > Save, then run all again "
              "(or carry on with the CPU toy model).")
    url = "{PROJECT.INSTALL_URL}"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"fatezero-lab @ {{url}}"],
                          capture_output=True, text=True)
    if done.returncode:  # say why: the end of pip's own error output
        print(done.stderr[-3000:] or done.stdout[-3000:])
        raise RuntimeError(f"pip install failed (exit {{done.returncode}}): its last lines are printed above")"""

DRIVE = """# Colab only, optional: keep the downloads (SD weights ~2.1 GB, clips) and your results (videos, the tuned UNet of
# notebook 10) on Google Drive, so that a new runtime after a disconnect starts from them. Set USE_DRIVE = True and
# run this cell before the setup cell (Drive asks for permission once). Skipped everywhere else and by the tests.
import os
import sys

USE_DRIVE = False
if USE_DRIVE and "google.colab" in sys.modules:
    from google.colab import drive

    drive.mount("/content/drive")
    root = "/content/drive/MyDrive/fatezero_lab"
    os.environ["HF_HOME"] = f"{root}/huggingface"  # model weights (read when fatezero_lab loads them)
    os.environ["FATEZERO_LAB_CACHE"] = f"{root}/clips"  # the paper's clips (fz.data)
    os.environ["FATEZERO_LAB_OUT"] = f"{root}/outputs"  # lab.save videos, tuned UNets
    print("Drive folder:", root)"""
DRIVE_MARK = DRIVE.splitlines()[0]

SETUP = """import os
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
import fatezero_lab as fz
import fatezero_lab.lab

# One switch: "sd" (CUDA: SD v1.4, the paper's clip and prompts) or "toy" (CPU); FATEZERO_LAB_MODE=toy|sd overrides.
# profile="t4" (Colab's default: 8 frames, 25 steps), "paper" (50 steps) or "quick"; sd-mode calls print their cost.
lab = fz.lab.setup()  # FZ_FAST=1 (the test suite): 4 frames, 10 steps
pipe, FRAMES, STEPS, FAST = lab.pipe, lab.frames, lab.steps, lab.fast
lab"""

STANDARD = ("header", "install", "drive", "setup")


def standard(nb, name: str):
    """nb with the standard cells from the template, stable cell ids, only tags as cell metadata, no outputs."""
    head = nb.cells[0].source if nb.cells else ""
    minutes = re.search(r"toy model: (.+?) on a 2-core CPU", head)
    if not head.startswith("# ") or not minutes or len(nb.cells) < 3:
        raise ValueError(f"{name}: the first cell must be the header (# title ... toy model: N s on a 2-core CPU), "
                         "followed by the install, (Drive) and setup cells")
    body = 4 if nb.cells[2].source.startswith(DRIVE_MARK) else 3  # a notebook from before the Drive cell has 3
    learn = "\n".join(line for line in head.splitlines() if line.startswith("- "))
    header = HEADER.format(title=head.splitlines()[0][2:], repo=REPO, name=name, learn=learn, minutes=minutes[1])
    cells = [nbformat.v4.new_markdown_cell(header),
             nbformat.v4.new_code_cell(INSTALL, metadata={"tags": ["skip-execution"]}),
             nbformat.v4.new_code_cell(DRIVE, metadata={"tags": ["skip-execution"]}),
             nbformat.v4.new_code_cell(SETUP)]
    for cell in nb.cells[body:]:
        tags = {"tags": cell.metadata["tags"]} if cell.metadata.get("tags") else {}
        new = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        cells.append(new(cell.source, metadata=tags))
    # stable ids: an unchanged notebook is written byte for byte the same; the Drive cell's id is its own, so the
    # other cells keep the ids they had before it came (c00 header, c01 install, c02 setup, c03... the body)
    cells[2].id = "drive"
    for i, cell in enumerate(c for c in cells if c is not cells[2]):
        cell.id = f"c{i:02d}"
    return nbformat.v4.new_notebook(cells=cells, metadata=METADATA)


def texts(nb, folder: Path) -> tuple[str, str]:
    """The .py and .ipynb texts of a standard notebook."""
    py = jupytext.writes(nb, "py:percent", config=load_jupytext_config(str(folder)))
    return py, nbformat.writes(nb).rstrip("\n") + "\n"


def names(folder: Path) -> list[str]:
    return sorted({p.stem for p in folder.glob("*.ipynb")} | {p.stem for p in folder.glob("*.py")})


def read(path: Path):
    return jupytext.read(path, fmt="py:percent" if path.suffix == ".py" else None)  # as paired, whatever the header says


def cells(nb) -> list:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


def first_difference(a, b, a_name: str, b_name: str) -> str:
    """Where two notebooks differ, in words."""
    ca, cb = cells(a), cells(b)
    for i, (x, y) in enumerate(zip(ca, cb)):
        if x != y:
            what = STANDARD[i] if i < len(STANDARD) else f"{x[0]} cell {i}"
            if x[1] == y[1]:
                return f"{what} differs: type and tags {x[0]} {x[2]} in {a_name}, {y[0]} {y[2]} in {b_name}"
            la, lb = x[1].splitlines(), y[1].splitlines()
            j = next((k for k, (p, q) in enumerate(zip(la, lb)) if p != q), min(len(la), len(lb)))
            line = lambda ls: repr(ls[j][:70]) if j < len(ls) else "(no line)"  # noqa: E731
            return f"{what} differs at line {j + 1}: {a_name} {line(la)}, {b_name} {line(lb)}"
    if len(ca) != len(cb):
        return f"{a_name} has {len(ca)} cells, {b_name} {len(cb)}"
    return "outputs, execution counts, metadata or formatting differ"


def check(folder: Path = NOTEBOOKS) -> list[str]:
    """Problems found, one line each naming the notebook; [] when every pair is in sync and follows the rules."""
    problems = []
    for name in names(folder):
        py, ipynb = folder / f"{name}.py", folder / f"{name}.ipynb"
        if not (py.exists() and ipynb.exists()):
            problems.append(f"{name}: {py.name if ipynb.exists() else ipynb.name} is missing (run sync)")
            continue
        source = read(py)
        try:
            want = standard(source, name)
        except ValueError as e:
            problems.append(str(e))
            continue
        if cells(source) != cells(want):
            problems.append(f"{py.name}: {first_difference(source, want, '.py', 'template')} (run sync)")
        if ipynb.read_text() != texts(want, folder)[1]:
            problems.append(f"{ipynb.name} is out of sync with {py.name}: "
                            f"{first_difference(nbformat.read(ipynb, 4), want, '.ipynb', '.py')} (run sync)")
        problems += [f"{py.name}: code cell {i} has {n} lines (at most {MAX_LINES})" for i, c in enumerate(want.cells)
                     if c.cell_type == "code" and (n := len(c.source.splitlines())) > MAX_LINES]
    return problems


def sync(folder: Path = NOTEBOOKS, from_ipynb: bool = False) -> None:
    """Write every pair from its .py (``from_ipynb``: from its .ipynb), with the standard cells from the template and
    no outputs. A notebook with only the other file is written from that one."""
    for name in names(folder):
        py, ipynb = folder / f"{name}.py", folder / f"{name}.ipynb"
        first, second = (ipynb, py) if from_ipynb else (py, ipynb)
        source_path = first if first.exists() else second
        source = read(source_path)
        nb = standard(source, name)
        if py.exists() and ipynb.exists() and cells(read(py)) != cells(read(ipynb)):
            print(f"{name}: .py and .ipynb differed; took {source_path.name}")
        if cells(source)[:len(STANDARD)] != cells(nb)[:len(STANDARD)]:
            print(f"{name}: standard cells rewritten from the template")
        for path, text in zip((py, ipynb), texts(nb, folder)):
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                print("wrote", path.relative_to(folder.parent))


def main(argv: list[str]) -> int:
    if argv in (["sync"], ["sync", "--from-ipynb"]):
        try:
            sync(from_ipynb="--from-ipynb" in argv)
        except ValueError as e:  # a notebook without the standard cells: say which, write nothing more
            print(e, file=sys.stderr)
            return 1
        return 0
    if argv == ["check"]:
        problems = check()
        print("\n".join(problems) or f"notebooks in sync: {len(list(NOTEBOOKS.glob('*.ipynb')))} pairs")
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
