"""A real-browser check: JupyterLab on loopback, notebooks run in headless Chromium, a widget slider moved.

How to run (Debian/Ubuntu; playwright's own browser download is not needed — Debian's chromium is used):

    apt-get install -y chromium chromium-driver           # /usr/bin/chromium
    .venv/bin/pip install -e ".[notebook]" playwright      # JupyterLab + the playwright client library
    .venv/bin/python scripts/browser_check.py              # screenshots into docs/
    .venv/bin/python scripts/browser_check.py --out /tmp/shots --chromium /path/to/chrome

or as the opt-in test: ``FZ_BROWSER=1 .venv/bin/python -m pytest tests/test_browser.py``.

What it does: copies notebooks 00_quickstart and 05_blending_mask to a temporary folder (so nothing in the repo gets
autosaved with outputs), starts JupyterLab on 127.0.0.1 with a random token and ``FZ_FAST=1``, opens each notebook
in headless Chromium driven by playwright, runs all cells from the Run menu and waits until every code cell has run
without an error output. In notebook 05 it then focuses the ``threshold`` slider handle of the ``interact`` widget,
presses the Right arrow key, waits for the kernel, and asserts that the image in the widget's output area changed.
Screenshots (resized and palette-quantised to stay small): ``browser_00_quickstart.png``,
``browser_05_slider_before.png``, ``browser_05_slider_after.png``. Exit code 0 and "BROWSER CHECK: PASS" on success.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
NOTEBOOKS = ("00_quickstart", "05_blending_mask")
MAX_PNG_BYTES = 300_000


def log(msg: str) -> None:
    print(f"[browser_check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium(explicit: str | None) -> str:
    for c in [explicit, os.environ.get("FZ_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
              shutil.which("chromium"), shutil.which("google-chrome")]:
        if c and Path(c).exists():
            return c
    raise FileNotFoundError("no Chromium found: apt-get install -y chromium (or pass --chromium PATH)")


def write_lab_settings(settings: Path, config: Path) -> None:
    """Isolated JupyterLab settings: every cell in the DOM (no windowing), no news/update toasts."""
    def put(path: Path, obj) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj))

    put(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
    put(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False})
    put(config / "labconfig" / "page_config.json",
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1 serving ``root``, with a token; stopped (process group) on exit."""

    def __init__(self, root: Path, home: Path, env_extra: dict[str, str]):
        self.port, self.token, self.root = free_port(), secrets.token_hex(16), root
        settings, config = home / "lab-settings", home / "jupyter-config"
        write_lab_settings(settings, config)
        env = dict(os.environ, **env_extra, JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(config),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        env.pop("MPLBACKEND", None)  # the kernel must use its inline backend so figures reach the page
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.open_browser=False", "--LabApp.news_url=", "--ServerApp.port_retries=0"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI machines often run as root
            cmd.append("--allow-root")
        self.log_path = home / "jupyterlab.log"
        self.proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=open(self.log_path, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            import signal

            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# -------------------------------------------------------------------------------------------------- page helpers
PROMPTS_JS = """() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
    .map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '')"""
ERRORS_JS = """() => Array.from(document.querySelectorAll(  // error outputs render as stderr text with a traceback
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], '
    + '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.textContent).filter(t => /Traceback|Error:/.test(t) && !/Warning/.test(t.slice(0, 200)))
    .map(t => t.slice(0, 2000))"""
KERNEL_IDLE_JS = """() => {  // JupyterLab 4: the notebook toolbar's execution indicator carries the kernel status
    const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
    return !!el && el.getAttribute('data-status') === 'idle';
}"""


def open_notebook(page, lab: JupyterLab, name: str, timeout_s: float) -> None:
    log(f"opening {name}.ipynb")
    page.goto(lab.url(f"{name}.ipynb"), wait_until="domcontentloaded", timeout=timeout_s * 1000)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    # the kernel is ready when the toolbar's kernel name shows and the status is idle
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=500)
    # collapse the file browser so screenshots show the notebook (clicking the open side-bar tab closes it)
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if tab.count():
        tab.first.click()
    page.wait_for_timeout(1500)


def run_all(page, name: str, timeout_s: float) -> list[str]:
    """Run > Run All Cells, then wait until no prompt shows [*] and every code cell has a number; no error outputs."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    t0 = time.time()
    page.wait_for_timeout(2000)
    while True:
        prompts = page.evaluate(PROMPTS_JS)
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise AssertionError(f"{name}: a cell raised in the browser:\n{errors[0]}")
        running = [p for p in prompts if "*" in p]
        done = [p for p in prompts if any(ch.isdigit() for ch in p)]
        if not running and len(done) == len(prompts) and page.evaluate(KERNEL_IDLE_JS):
            log(f"{name}: all {len(prompts)} code cells ran in {time.time() - t0:.0f}s")
            return prompts
        if time.time() - t0 > timeout_s:
            raise TimeoutError(f"{name}: cells still not done after {timeout_s:.0f}s; prompts: {prompts}")
        page.wait_for_timeout(1000)


def save_small_png(png: bytes, path: Path, max_width: int = 1100) -> Path:
    """Resize to at most ``max_width`` and quantise to a palette so the PNG stays under ~300 KB."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    if im.width > max_width:
        im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    for colours in (256, 128, 64):
        im.quantize(colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size <= MAX_PNG_BYTES:
            break
    return path


def widget_image(page) -> str:
    """The src of the image inside the (first) interact widget's output area."""
    return page.evaluate("""() => {
        const w = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact');
        const img = w && w.querySelector('.widget-output img, .jp-OutputArea img');
        return img ? img.getAttribute('src') : '';
    }""")


def check_quickstart(page, lab, out: Path, timeout_s: float) -> dict:
    open_notebook(page, lab, "00_quickstart", timeout_s)
    run_all(page, "00_quickstart", timeout_s)
    imgs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img")
    n_img = imgs.count()
    assert n_img >= 1, "00_quickstart: no figure was rendered in the browser"
    figures = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedImage img")  # matplotlib figures
    assert figures.count() >= 1, "00_quickstart: no matplotlib figure was rendered in the browser"
    # the first figure (source / edit / ground truth) near the top of the view, code cell above it
    figures.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.evaluate("""() => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
                                     || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
                             if (p) p.scrollTop -= 160; }""")
    page.wait_for_timeout(500)
    shot = save_small_png(page.screenshot(), out / "browser_00_quickstart.png")
    log(f"00_quickstart: {n_img} images rendered; screenshot {shot} ({shot.stat().st_size // 1000} KB)")
    return {"images": n_img, "screenshot": str(shot)}


def check_slider(page, lab, out: Path, timeout_s: float, presses: int = 2) -> dict:
    open_notebook(page, lab, "05_blending_mask", timeout_s)
    run_all(page, "05_blending_mask", timeout_s)
    interact = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact").first
    interact.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("""() => {
        const w = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact');
        return w && w.querySelector('.widget-output img, .jp-OutputArea img');
    }""", timeout=timeout_s * 1000, polling=500)
    interact.scroll_into_view_if_needed()
    labels = interact.locator(".widget-slider .widget-label, .widget-hslider .widget-label")
    slider_names = [labels.nth(i).inner_text().strip() for i in range(labels.count())]
    readout = interact.locator(".widget-readout").first
    value_before = readout.inner_text().strip() if readout.count() else ""
    before_src = widget_image(page)
    shot_before = save_small_png(interact.screenshot(), out / "browser_05_slider_before.png")
    log(f"05_blending_mask: sliders {slider_names}; threshold readout {value_before!r}; image {len(before_src)} chars")

    handle = interact.locator(".widget-slider .noUi-handle, .widget-hslider .ui-slider-handle").first
    handle.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
    t0 = time.time()
    while True:  # wait for the kernel to redraw the output area
        after_src = widget_image(page)
        if after_src and after_src != before_src and page.evaluate(KERNEL_IDLE_JS):
            break
        if time.time() - t0 > timeout_s:
            raise AssertionError("05_blending_mask: moving the threshold slider did not change the widget's output")
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)  # let a possible second redraw (one per key press) land
    after_src = widget_image(page)
    value_after = readout.inner_text().strip() if readout.count() else ""
    assert value_after != value_before, f"the slider readout did not move ({value_before!r})"
    assert after_src != before_src, "the widget's image did not change"
    shot_after = save_small_png(interact.screenshot(), out / "browser_05_slider_after.png")
    log(f"05_blending_mask: threshold {value_before} -> {value_after}; output image changed; screenshots "
        f"{shot_before.name} ({shot_before.stat().st_size // 1000} KB), {shot_after.name} "
        f"({shot_after.stat().st_size // 1000} KB)")
    return {"sliders": slider_names, "threshold": [value_before, value_after],
            "screenshots": [str(shot_before), str(shot_after)]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "docs"), help="folder for the screenshots (default: docs/)")
    ap.add_argument("--chromium", default=None, help="Chromium executable (default: /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed for one notebook's cells")
    ap.add_argument("--headed", action="store_true", help="show the browser window (needs a display)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    chromium = find_chromium(args.chromium)
    from playwright.sync_api import sync_playwright

    t_start = time.time()
    home = Path(tempfile.mkdtemp(prefix="fz-browser-"))
    root = home / "notebooks"
    root.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", root / f"{name}.ipynb")
    lab = JupyterLab(root, home, {"FZ_FAST": "1", "HF_HUB_OFFLINE": "1"})
    result = {}
    try:
        lab.wait_ready()
        log(f"JupyterLab ready on {lab.base} (root {root}); chromium {chromium}")
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(home / "chromium-profile"), executable_path=chromium, headless=not args.headed,
                args=CHROMIUM_FLAGS + (["--headless"] if not args.headed else []),
                viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            try:
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                page.set_default_timeout(60_000)
                result["quickstart"] = check_quickstart(page, lab, out, args.timeout)
                result["slider"] = check_slider(page, lab, out, args.timeout)
            except Exception:
                try:
                    save_small_png(page.screenshot(), out / "browser_failure.png")
                    log(f"failure screenshot: {out / 'browser_failure.png'}")
                except Exception:
                    pass
                raise
            finally:
                ctx.close()
    finally:
        lab.stop()
        shutil.rmtree(home, ignore_errors=True)
    result["seconds"] = round(time.time() - t_start, 1)
    log(f"BROWSER CHECK: PASS in {result['seconds']}s")
    return result


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a clear one-line verdict for scripts, after the traceback
        import traceback

        traceback.print_exc()
        print(f"BROWSER CHECK: FAIL: {type(e).__name__}: {str(e)[:500]}", flush=True)
        sys.exit(1)
