"""A real-browser check: notebooks run in JupyterLab in headless Chromium, each one's first widget moved.

    python scripts/browser_check.py --all                                  # every notebooks/NN_*.ipynb
    python scripts/browser_check.py --ci                                   # the test suite's subset (CI_NOTEBOOKS)
    python scripts/browser_check.py --notebooks 00_quickstart,05_blending_mask
    python scripts/browser_check.py --all --out /tmp/shots --chromium /path/to/chrome --timeout 600
    python scripts/browser_check.py --notebooks 00_quickstart,05_blending_mask --docs   # refresh docs/browser_*.png

Needs Debian's chromium (``apt-get install -y chromium``; ``scripts/setup.sh test`` installs it when it can) and the
test extras (``pip install -e .[test]``: JupyterLab and the playwright client library). Playwright drives the
system chromium; its own browser download is never used. In the test suite: ``FZ_BROWSER=1 pytest
tests/test_browser.py`` (the CI subset; ``FZ_BROWSER=all`` for every notebook), run by ``scripts/test.sh``.

What it does, as a new user would: copies the notebooks to a temporary folder (nothing in the repository gets
autosaved with outputs), starts JupyterLab on 127.0.0.1 with a random token, ``FZ_FAST=1`` and toy mode
(``FATEZERO_LAB_MODE=toy``), and for each notebook in turn, in one headless Chromium:

1. opens it (a fresh JupyterLab workspace per notebook) and runs *Run > Run All Cells*; every code cell must get an
   execution number and no cell may show an error;
2. finds the notebook's first widget that has something to show: the first output area holding a widget view with an
   ``Output``, ``HTML`` or ``Image`` inside (an ``interact`` always has one) and a control (tqdm's progress bars are
   widgets with nothing to change: skipped). A notebook without one fails, saying so;
3. changes that widget's first control (text fields only when it has no other kind of control): a slider jumps to
   its other end (End, or Home at the maximum), a dropdown / select takes the next option, toggle and radio buttons
   the first unselected one, a checkbox flips, a number field steps up, a text field gets " x" appended;
4. waits for the kernel and asserts that what the widget shows changed (its images, its printed text, its HTML, the
   other controls' values). When nothing changed and the widget has a button (``interact_manual``'s "Run
   Interact", a "Run" button), the button is pressed once and the wait goes on;
5. shuts the notebook's kernel down.

Every notebook is checked even after one fails; the summary lists each verdict and the script exits 1 if any
failed. Screenshots (resized and palette-quantised, each ≤ 300 KB) go to ``--out`` (default: a temporary folder,
printed): ``browser_<notebook>.png`` (the page, its first figure at the top), ``browser_<notebook>_widget_before.png``
and ``_after.png``, and ``browser_<notebook>_failure.png`` on a failure. ``--docs`` also writes the README's
screenshots into docs/ (``DOCS_SHOTS``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
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
# The test suite's subset (scripts/test.sh -> tests/test_browser.py): three notebooks with a widget each, the
# cheapest to run (fast mode, 2 CPU cores; times in the README's Tests section).
CI_NOTEBOOKS = ("00_quickstart", "05_blending_mask", "04_attention_store")
# --docs: screenshots of this run copied into docs/ (the README shows the first).
DOCS_SHOTS = {"browser_00_quickstart.png": "browser_00_quickstart.png",
              "browser_05_slider_before.png": "browser_05_blending_mask_widget_before.png",
              "browser_05_slider_after.png": "browser_05_blending_mask_widget_after.png"}
MAX_PNG_BYTES = 300_000


def log(msg: str) -> None:
    print(f"[browser_check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable: ``explicit``, $FZ_CHROMIUM, Debian's /usr/bin/chromium, or one on PATH; else None."""
    for c in [explicit, os.environ.get("FZ_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
              shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")]:
        if c and Path(c).exists():
            return c
    return None


def all_notebooks() -> list[str]:
    return sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def resolve_notebooks(names: list[str]) -> list[Path]:
    """Notebook names (``05_blending_mask``, with or without ``.ipynb``) or paths to .ipynb files; checked up front."""
    paths, missing = [], []
    for name in names:
        p = Path(name)
        if p.suffix != ".ipynb" or not p.exists():
            p = REPO / "notebooks" / f"{Path(name).stem}.ipynb"
        (paths if p.exists() else missing).append(p if p.exists() else name)
    if missing:
        raise SystemExit(f"--notebooks: no such notebook {missing}; notebooks/ has {all_notebooks()}")
    return paths


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

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def url(self, notebook: str, workspace: str) -> str:
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def shutdown_kernels(self) -> None:
        """Close every session (and so its kernel): each notebook's kernel goes once its check is done."""
        for s in self.api("/api/sessions") or []:
            self.api(f"/api/sessions/{s['id']}", method="DELETE")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# -------------------------------------------------------------------------------------------------- page helpers
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
PROMPTS_JS = f"""() => Array.from(document.querySelectorAll('{PANEL} .jp-CodeCell'))
    .map(c => (c.querySelector('.jp-InputPrompt') || {{}}).textContent || '')"""
ERRORS_JS = f"""(root) => Array.from((root || document).querySelectorAll(  // tracebacks: error or stderr outputs
    '{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], '
    + '{PANEL} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
    + '.widget-output .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"], '
    + '.widget-output .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.textContent).filter(t => /Traceback|Error:/.test(t) && !/Warning/.test(t.slice(0, 200)))
    .map(t => t.slice(0, 2000))"""
KERNEL_IDLE_JS = f"""() => {{  // JupyterLab 4: the notebook toolbar's execution indicator carries the kernel status
    const el = document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator');
    return !!el && el.getAttribute('data-status') === 'idle';
}}"""
# The first output area holding a widget view that has something to show (an Output, HTML or Image inside) and a
# control (a tqdm progress bar in a notebook is a widget with HTML but nothing to change: skipped): marked
# data-fz-widget="1"; its controls in document order, each marked data-fz-control="i". Returns null when none.
FIND_WIDGET_JS = f"""() => {{
    const views = Array.from(document.querySelectorAll('{PANEL} .jp-OutputArea-output'))  // a top-level view
        .filter(o => o.querySelector(':scope > .jupyter-widgets') && !o.parentElement.closest('.jupyter-widgets'));
    const shows = '.widget-output, .widget-html, .widget-htmlmath, .widget-image';
    const area = views.find(v => v.querySelector(shows)  // and a control: tqdm's bars (HTML + progress) are skipped
        && v.querySelector('.noUi-handle, select, input, textarea, button'));
    if (!area) return {{views: views.length, controls: null}};
    area.setAttribute('data-fz-widget', '1');
    const label = el => {{
        const box = el.closest('.widget-slider, .widget-dropdown, .widget-select, .widget-toggle-buttons, '
                               + '.widget-radio, .widget-checkbox, .widget-text, .widget-textarea, .widget-inline-hbox');
        const l = box && box.querySelector('.widget-label');
        return ((l && l.textContent) || el.getAttribute('title') || el.textContent || '').trim().slice(0, 60);
    }};
    const controls = [], seen = new Set();
    for (const el of area.querySelectorAll('.noUi-handle, select, input, textarea, button')) {{
        let kind = null, group = el;
        if (el.closest('.widget-play, .widget-select-multiple, .widget-colorpicker, .widget-datepicker')) continue;
        if (el.matches('.noUi-handle')) {{ kind = 'slider'; group = el.closest('.widget-slider') || el; }}
        else if (el.matches('select')) kind = 'dropdown';
        else if (el.matches('input[type=radio]')) {{ kind = 'radio'; group = el.closest('.widget-radio-box') || el; }}
        else if (el.matches('input[type=checkbox]')) kind = 'checkbox';
        else if (el.matches('input[type=number]')) kind = 'number';
        else if (el.matches('input[type=text], input:not([type]), textarea')) kind = 'text';
        else if (el.matches('.widget-toggle-buttons button')) {{
            kind = 'toggle-buttons'; group = el.closest('.widget-toggle-buttons'); }}
        else if (el.matches('button.widget-toggle-button, button.jupyter-toggle-button')) kind = 'toggle';
        else if (el.matches('button')) kind = 'button';
        if (!kind || seen.has(group)) continue;
        seen.add(group);
        const i = controls.length;
        group.setAttribute('data-fz-control', String(i));
        controls.push({{index: i, kind: kind, label: label(el)}});
    }}
    return {{views: views.length, controls: controls}};
}}"""
# What the marked widget shows, apart from the control being changed: its images/videos, the text of its Output and
# HTML parts, the other controls' values. A hash (djb2) and a short description.
SNAPSHOT_JS = """(changed) => {
    const area = document.querySelector('[data-fz-widget="1"]');
    if (!area) return {hash: '', text: 0, images: 0};
    const parts = [];
    const media = Array.from(area.querySelectorAll('img, video, source'));
    for (const m of media) parts.push(m.getAttribute('src') || '');
    for (const o of area.querySelectorAll('.widget-output, .widget-html-content, .widget-htmlmath-content'))
        parts.push(o.innerText);
    for (const c of area.querySelectorAll('input, select, textarea'))
        if (!c.closest('[data-fz-control="' + changed + '"]')) parts.push(c.type === 'checkbox' ? c.checked : c.value);
    for (const r of area.querySelectorAll('.widget-readout'))
        if (!r.closest('[data-fz-control="' + changed + '"]')) parts.push(r.textContent);
    const s = parts.join('\\u0001');
    let h = 5381;
    for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
    return {hash: h.toString(16) + ':' + s.length, text: s.length, images: media.length};
}"""
VALUE_JS = """(el) => {  // the shown value of a control (a group element marked data-fz-control)
    const h = el.querySelector('.noUi-handle');
    if (h) { const r = el.querySelector('.widget-readout'); return (r && r.textContent.trim()) || h.getAttribute('aria-valuenow'); }
    const s = el.matches('select') ? el : el.querySelector('select');
    if (s) return s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : '';
    const active = el.querySelector('.mod-active');
    if (el.matches('.widget-toggle-buttons')) return active ? active.textContent.trim() : '';
    const radio = el.querySelector('input[type=radio]:checked');
    if (el.matches('.widget-radio-box')) return radio ? radio.value : '';
    if (el.matches('input[type=checkbox]')) return String(el.checked);
    if (el.matches('button')) return String(el.classList.contains('mod-active'));
    if (el.matches('input, textarea')) return el.value;
    return el.textContent.trim();
}"""


def open_notebook(page, lab: JupyterLab, name: str, workspace: str, timeout_s: float) -> None:
    log(f"{name}: opening")
    page.goto(lab.url(f"{name}.ipynb", workspace), wait_until="domcontentloaded", timeout=timeout_s * 1000)
    page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout_s * 1000, polling=500)  # the kernel started
    t0 = time.time()  # and the server agrees: the notebook's session has a kernel that is idle
    while not any(s.get("path", "").endswith(f"{name}.ipynb") and s.get("kernel", {}).get("execution_state") == "idle"
                  for s in lab.api("/api/sessions") or []):
        if time.time() - t0 > timeout_s:
            raise TimeoutError(f"the kernel of {name}.ipynb did not start within {timeout_s:.0f}s")
        time.sleep(0.5)
    # collapse the file browser so screenshots show the notebook (clicking the open side-bar tab closes it)
    tab = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if tab.count():
        tab.first.click()
    page.wait_for_timeout(1000)


def run_all(page, name: str, timeout_s: float) -> int:
    """Run > Run All Cells, then wait until no prompt shows [*] and every code cell has a number; no error outputs.

    If no cell has started 20 s after the click (once seen on the first notebook of a fresh server: the cells stayed
    at [ ] with the kernel idle), Run All is chosen once more, and the log says so.
    """
    def click_run_all():
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    click_run_all()
    t0, clicked_again = time.time(), False
    page.wait_for_timeout(1000)
    while True:
        prompts = page.evaluate(PROMPTS_JS)
        if not clicked_again and time.time() - t0 > 20 and all(p.strip() in ("[ ]:", "") for p in prompts):
            kernel = page.evaluate(f"""() => (document.querySelector('{PANEL} .jp-KernelName') || {{}}).textContent""")
            log(f"{name}: no cell started 20 s after Run All Cells (toolbar kernel {kernel!r}); choosing it again")
            click_run_all()
            clicked_again = True
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise AssertionError(f"a cell raised in the browser:\n{errors[0]}")
        running = [p for p in prompts if "*" in p]
        done = [p for p in prompts if any(ch.isdigit() for ch in p)]
        if not running and len(done) == len(prompts) and page.evaluate(KERNEL_IDLE_JS):
            log(f"{name}: all {len(prompts)} code cells ran in {time.time() - t0:.0f}s")
            return len(prompts)
        if time.time() - t0 > timeout_s:
            raise TimeoutError(f"cells still not done after {timeout_s:.0f}s; prompts: {prompts}")
        page.wait_for_timeout(1000)


def save_small_png(png: bytes, path: Path, max_width: int = 1100) -> Path:
    """Resize to at most ``max_width`` and quantise to a palette so the PNG stays under ~300 KB."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    if im.width > max_width:
        im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    for colours in (256, 128, 64, 32):
        im.quantize(colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size <= MAX_PNG_BYTES:
            break
    if path.stat().st_size > MAX_PNG_BYTES:  # a very tall widget: halve until it fits
        return save_small_png(png, path, max_width // 2)
    return path


def page_shot(page, path: Path) -> Path:
    """The page with the notebook's first figure near the top (the code cell above it still in view)."""
    figures = page.locator(f"{PANEL} .jp-RenderedImage img")
    if figures.count():
        figures.first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.evaluate(f"""() => {{ const p = document.querySelector('{PANEL} .jp-WindowedPanel-outer')
                                         || document.querySelector('{PANEL} .jp-Notebook');
                                 if (p) p.scrollTop -= 160; }}""")
        page.wait_for_timeout(500)
    return save_small_png(page.screenshot(), path)


def change_control(page, control, kind: str) -> None:
    """Change one control as a user would (see the module docstring, step 3)."""
    if kind == "slider":
        handle = control.locator(".noUi-handle").first
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        at_max = now is not None and top is not None and float(now) >= float(top)
        handle.focus()
        page.keyboard.press("Home" if at_max else "End")
        page.wait_for_timeout(300)
        if handle.get_attribute("aria-valuenow") == now:  # no Home/End support: step with the arrow keys
            for _ in range(3):
                page.keyboard.press("ArrowLeft" if at_max else "ArrowRight")
                page.wait_for_timeout(300)
    elif kind == "dropdown":
        select = control if control.evaluate("e => e.matches('select')") else control.locator("select").first
        n, i = select.evaluate("s => [s.options.length, s.selectedIndex]")
        if n < 2:
            raise AssertionError(f"the dropdown has {n} option(s): nothing to change to")
        select.select_option(index=(i + 1) % n)
    elif kind == "toggle-buttons":
        control.locator("button:not(.mod-active)").first.click()
    elif kind == "radio":
        control.locator("input[type=radio]:not(:checked)").first.click()
    elif kind in ("checkbox", "toggle"):
        control.click()
    elif kind == "number":
        before = control.input_value()
        control.focus()
        page.keyboard.press("ArrowUp")
        if control.input_value() == before:  # at its maximum
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
    elif kind == "text":
        control.click()
        page.keyboard.press("End")
        page.keyboard.type(" x")
        page.keyboard.press("Enter")
    else:
        raise ValueError(f"cannot change a control of kind {kind!r}")


def check_widget(page, name: str, out: Path, timeout_s: float) -> dict:
    """Steps 2-4 of the module docstring on the open notebook; returns what was moved and what changed."""
    found = page.evaluate(FIND_WIDGET_JS)
    if found["controls"] is None:
        raise AssertionError(
            f"no widget to move: {found['views']} widget view(s) in the outputs, none with an Output, HTML or Image "
            "inside (an ipywidgets interact/slider/dropdown whose output shows the result is expected in every "
            "notebook, issue 31)" if found["views"] else
            "no widget in the notebook's outputs (expected at least one ipywidgets slider/dropdown/toggle/text "
            "whose output changes, issue 31)")
    controls = found["controls"]
    movable = [c for c in controls if c["kind"] not in ("text", "button")] or [c for c in controls
                                                                              if c["kind"] == "text"]
    if not movable:
        raise AssertionError(f"the first widget has no control to change (controls: {controls})")
    chosen = movable[0]
    area = page.locator('[data-fz-widget="1"]')
    control = area.locator(f'[data-fz-control="{chosen["index"]}"]')
    area.scroll_into_view_if_needed()
    before = page.evaluate(SNAPSHOT_JS, chosen["index"])
    shot_before = save_small_png(area.screenshot(), out / f"browser_{name}_widget_before.png")
    value_before = control.evaluate(VALUE_JS)
    log(f"{name}: first widget: {[(c['kind'], c['label']) for c in controls]}; changing {chosen['kind']} "
        f"{chosen['label']!r} (now {value_before!r}); shows {before['images']} image(s), {before['text']} chars")

    change_control(page, control, chosen["kind"])
    value_after = control.evaluate(VALUE_JS)
    if value_after == value_before:
        raise AssertionError(f"the {chosen['kind']} {chosen['label']!r} did not take a new value ({value_before!r})")
    buttons = [c for c in controls if c["kind"] == "button"]
    t0, pressed, idle_since = time.time(), None, None
    while True:  # wait for the kernel to redraw what the widget shows
        page.wait_for_timeout(500)
        errors = page.evaluate(ERRORS_JS)
        if errors:
            raise AssertionError(f"changing {chosen['label']!r} to {value_after!r} raised:\n{errors[0]}")
        idle = page.evaluate(KERNEL_IDLE_JS)
        now = page.evaluate(SNAPSHOT_JS, chosen["index"])
        if idle and now["hash"] != before["hash"]:
            page.wait_for_timeout(1500)  # let a second redraw land, then require idle again
            if page.evaluate(KERNEL_IDLE_JS):
                break
        idle_since = (idle_since or time.time()) if idle else None
        if buttons and pressed is None and idle_since and time.time() - idle_since > 4:
            pressed = buttons[0]["label"]  # interact_manual and friends: the button starts the work
            log(f"{name}: nothing changed yet; pressing the widget's button {pressed!r}")
            area.locator(f'[data-fz-control="{buttons[0]["index"]}"]').click()
            idle_since = None
        if time.time() - t0 > timeout_s:
            raise AssertionError(f"changing the {chosen['kind']} {chosen['label']!r} from {value_before!r} to "
                                 f"{value_after!r}{' and pressing ' + repr(pressed) if pressed else ''} did not "
                                 f"change what the widget shows within {timeout_s:.0f}s")
    after = page.evaluate(SNAPSHOT_JS, chosen["index"])
    assert after["hash"] != before["hash"]
    seconds = round(time.time() - t0, 1)
    area.scroll_into_view_if_needed()
    shot_after = save_small_png(area.screenshot(), out / f"browser_{name}_widget_after.png")
    log(f"{name}: {chosen['label']!r} {value_before!r} -> {value_after!r}"
        f"{' (+ ' + repr(pressed) + ')' if pressed else ''}: the output changed in {seconds}s "
        f"({before['images']} -> {after['images']} image(s)); {shot_before.name}, {shot_after.name}")
    return {"control": chosen["kind"], "label": chosen["label"], "value": [value_before, value_after],
            "pressed": pressed, "images": [before["images"], after["images"]], "widget_seconds": seconds,
            "screenshots": [str(shot_before), str(shot_after)]}


def check_notebook(page, lab: JupyterLab, name: str, index: int, out: Path, timeout_s: float) -> dict:
    t0 = time.time()
    result = {"notebook": name, "passed": False}
    try:
        open_notebook(page, lab, name, f"fz{index}", timeout_s)
        result["cells"] = run_all(page, name, timeout_s)
        result["run_seconds"] = round(time.time() - t0, 1)
        result["page"] = str(page_shot(page, out / f"browser_{name}.png"))
        result.update(check_widget(page, name, out, min(timeout_s, 300)))
        result["passed"] = True
    except Exception as e:  # noqa: BLE001 -- recorded, reported, and the next notebook still runs
        result["error"] = f"{type(e).__name__}: {e}"
        log(f"{name}: FAIL: {result['error'][:1500]}")
        try:
            shot = save_small_png(page.screenshot(), out / f"browser_{name}_failure.png")
            log(f"{name}: failure screenshot {shot}")
        except Exception:  # noqa: BLE001
            pass
    finally:
        try:
            lab.shutdown_kernels()
        except OSError as e:
            log(f"could not shut the kernels down: {e}")
    result["seconds"] = round(time.time() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every notebooks/NN_*.ipynb")
    which.add_argument("--ci", action="store_true", help=f"the test suite's subset: {','.join(CI_NOTEBOOKS)} (default)")
    which.add_argument("--notebooks", default=None, help="comma-separated names (05_blending_mask) or .ipynb paths")
    ap.add_argument("--out", default=None, help="folder for the screenshots (default: a temporary folder)")
    ap.add_argument("--docs", action="store_true", help="also copy the README's screenshots into docs/")
    ap.add_argument("--chromium", default=None, help="Chromium executable (default: /usr/bin/chromium)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds allowed for one notebook's cells")
    ap.add_argument("--headed", action="store_true", help="show the browser window (needs a display)")
    args = ap.parse_args(argv)
    names = all_notebooks() if args.all else args.notebooks.split(",") if args.notebooks else list(CI_NOTEBOOKS)
    paths = resolve_notebooks([n.strip() for n in names if n.strip()])
    chromium = find_chromium(args.chromium)
    if chromium is None:
        raise FileNotFoundError("no Chromium found: apt-get install -y chromium (or pass --chromium PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise ImportError(f"{e}: pip install -e .[test] (the playwright client library)") from None
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="fz-browser-shots-"))
    out.mkdir(parents=True, exist_ok=True)

    t_start = time.time()
    home = Path(tempfile.mkdtemp(prefix="fz-browser-"))
    root = home / "notebooks"
    root.mkdir()
    for p in paths:
        shutil.copy(p, root / p.name)
    startup = home / "ipython" / "profile_default"  # the kernels' own IPython profile: no startup files of the caller
    startup.mkdir(parents=True)
    lab = JupyterLab(root, home, {"FZ_FAST": "1", "HF_HUB_OFFLINE": "1", "IPYTHONDIR": str(home / "ipython"),
                                  "FATEZERO_LAB_MODE": os.environ.get("FZ_BROWSER_MODE", "toy"),
                                  "FATEZERO_LAB_OUT": str(home / "outputs")})
    results = []
    try:
        lab.wait_ready()
        log(f"JupyterLab ready on {lab.base} (root {root}); chromium {chromium}; screenshots in {out}")
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(home / "chromium-profile"), executable_path=chromium, headless=not args.headed,
                args=CHROMIUM_FLAGS + (["--headless"] if not args.headed else []),
                viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            try:
                page = ctx.pages[0] if ctx.pages else ctx.new_page()
                page.set_default_timeout(60_000)
                for i, p in enumerate(paths):
                    results.append(check_notebook(page, lab, p.stem, i, out, args.timeout))
            finally:
                ctx.close()
    finally:
        lab.stop()
        shutil.rmtree(home, ignore_errors=True)
    seconds = round(time.time() - t_start, 1)
    if args.docs:
        for doc_name, shot in DOCS_SHOTS.items():
            if (out / shot).exists():
                shutil.copy(out / shot, REPO / "docs" / doc_name)
                log(f"docs/{doc_name} <- {shot}")
    failed = [r for r in results if not r["passed"]]
    log("summary:")
    for r in results:
        what = (f"{r['label']!r} {r['value'][0]!r} -> {r['value'][1]!r}, output changed" if r["passed"]
                else r["error"].splitlines()[0][:300])
        log(f"  {'PASS' if r['passed'] else 'FAIL'}  {r['notebook']:<40} {r['seconds']:>6.1f}s  {what}")
    verdict = "PASS" if not failed else f"FAIL ({len(failed)} of {len(results)})"
    log(f"BROWSER CHECK: {verdict}: {len(results) - len(failed)} of {len(results)} notebooks in {seconds}s")
    return {"notebooks": results, "failed": [r["notebook"] for r in failed], "seconds": seconds, "out": str(out)}


if __name__ == "__main__":
    try:
        summary = main()
    except Exception as e:  # a clear one-line verdict for scripts, after the traceback
        import traceback

        traceback.print_exc()
        print(f"BROWSER CHECK: FAIL: {type(e).__name__}: {str(e)[:500]}", flush=True)
        sys.exit(1)
    sys.exit(1 if summary["failed"] else 0)
