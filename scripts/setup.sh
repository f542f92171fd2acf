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
