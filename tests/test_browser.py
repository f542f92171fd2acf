"""Opt-in: notebooks in JupyterLab in headless Chromium (scripts/browser_check.py). Run with FZ_BROWSER=1.

Needs Debian's chromium (apt-get install -y chromium) and `pip install playwright jupyterlab`; takes a few minutes.
Screenshots go to a temporary folder (the script alone writes docs/browser_*.png).
"""

import importlib.util
import os
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "browser_check.py"

pytestmark = pytest.mark.skipif(os.environ.get("FZ_BROWSER", "") in ("", "0"),
                                reason="browser check: set FZ_BROWSER=1 (needs chromium, playwright, jupyterlab)")


def test_notebooks_in_a_real_browser(tmp_path):
    pytest.importorskip("playwright", reason="pip install playwright")
    pytest.importorskip("jupyterlab", reason="pip install jupyterlab")
    spec = importlib.util.spec_from_file_location("browser_check", SCRIPT)
    browser_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(browser_check)
    result = browser_check.main(["--out", str(tmp_path)])
    assert result["quickstart"]["images"] >= 1
    before, after = result["slider"]["threshold"]
    assert before != after
    for name in ("browser_00_quickstart.png", "browser_05_slider_before.png", "browser_05_slider_after.png"):
        assert 0 < (tmp_path / name).stat().st_size <= 300_000
