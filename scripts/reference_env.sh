#!/usr/bin/env bash
# Create ./.venv-reference: the authors' FateZero stack (diffusers 0.11.1 / transformers 4.25.1) on the CPU torch,
# for benchmarks/reference_side.py (driven by benchmarks/reference_parity.py). Idempotent: a second run checks the
# pins and returns. The authors' code itself is not installed: the runner imports it from its checkout
# (default /work/shared/reference/FateZero, or $FATEZERO_REF).
# torchvision is deliberately absent (the index's build needs the CUDA torch); reference_side.py stubs it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV=.venv-reference
# ftfy: in their requirements.txt; without it transformers 4.25's slow CLIPTokenizer falls back to BERT's
# BasicTokenizer, which splits runs of punctuation differently (",!" -> ",", "!"; tests/test_refine_mapper.py)
PINS=("diffusers==0.11.1" "huggingface_hub==0.25.2" "transformers==4.25.1" einops omegaconf "numpy<2"
      opencv-python-headless imageio ftfy)
TORCH_PIN="torch==2.13.0+cpu"

check() {
  "$VENV/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
want = {"diffusers": "0.11.1", "huggingface_hub": "0.25.2", "transformers": "4.25.1", "torch": "2.13.0+cpu"}
for k, v in want.items():
    assert m.version(k) == v, (k, m.version(k))
for k in ("einops", "omegaconf", "opencv-python-headless", "imageio", "ftfy"):
    m.version(k)
assert int(m.version("numpy").split(".")[0]) < 2
import diffusers, transformers, torch, einops, omegaconf, cv2, imageio, ftfy  # noqa: F401
EOF
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "reference_env: $VENV ready (diffusers 0.11.1, transformers 4.25.1, torch 2.13.0+cpu)"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# Quiet: pip's output goes to a log that is printed only when pip fails.
vpip() {
  if ! "$VENV/bin/python" -m pip install --quiet "$@" >"$LOG" 2>&1; then
    cat "$LOG" >&2
    return 1
  fi
}
# torch first, from the local wheel (find-links) or else PyTorch's CPU index, so that nothing pulls a CUDA build.
vpip "$TORCH_PIN" || vpip "$TORCH_PIN" --extra-index-url https://download.pytorch.org/whl/cpu
vpip "$TORCH_PIN" "${PINS[@]}"
if ! check; then
  echo "reference_env: $VENV failed its version/import check:" >&2
  "$VENV/bin/python" -m pip list 2>&1 | grep -iE "^(torch|diffusers|transformers|huggingface|numpy|einops|omegaconf|opencv|imageio)" >&2
  exit 1
fi
echo "reference_env: $VENV ready (diffusers 0.11.1, transformers 4.25.1, torch 2.13.0+cpu)"
