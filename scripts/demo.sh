#!/usr/bin/env bash
# Command 1 of the README: set up ./.venv, then run the main job (a toy-world clip through the FateZero steps, on
# the CPU) and print where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m fatezero_lab demo "$@"
