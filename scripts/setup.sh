#!/usr/bin/env bash
# Create ./.venv and install fatezero_lab into it (editable), with the extras named in $1 (e.g. "test").
# On a machine without an NVIDIA GPU, torch is installed as the CPU build (1.4 GB instead of ~6 GB of CUDA wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPIP=".venv/bin/python -m pip"
$VPIP install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    $VPIP install --quiet "torch>=2.1"
  else
    # The CPU wheel of a pinned torch (1.4 GB instead of ~6 GB of CUDA wheels): from a local wheel folder pip is
    # configured with, else from PyTorch's CPU index (reachable on any ordinary machine).
    $VPIP install --quiet "torch==2.13.0+cpu" 2>/dev/null \
      || $VPIP install --quiet "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi
if [ -n "$EXTRAS" ]; then
  $VPIP install --quiet -e ".[$EXTRAS]"
else
  $VPIP install --quiet -e .
fi
# The browser check (scripts/browser_check.py, run by scripts/test.sh) drives Debian's chromium through the playwright
# package of the test extras (never playwright's own browser download). Installed here when missing and this user can
# (root with apt-get); otherwise tests/test_browser.py skips and says why. A failed apt-get is reported, not fatal
# here: that test then fails (chromium missing on a machine that could install it).
if [[ ",$EXTRAS," == *",test,"* ]] && [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-liberation >/dev/null; } || echo "apt-get install chromium failed: the browser check will fail" >&2
  else
    echo "chromium is not installed and cannot be here (needs root and apt-get): the browser check will be skipped" >&2
  fi
fi
