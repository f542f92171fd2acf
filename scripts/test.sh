#!/usr/bin/env bash
# Command 2 of the README (and of .ci/run): set up ./.venv with the test extras, then run the whole suite — the
# pytest tests and every notebook under notebooks/ executed by nbmake (in fast mode, FZ_FAST=1). Any failure fails
# this script, and so does a run that collects no test at all (pytest's exit code 5 is passed on, not swallowed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
export HF_HUB_OFFLINE=1 FZ_FAST=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
# Slow tests (a full-size SD v1.x UNet with random weights, ~1 min) run in CI; set FZ_SLOW=1 to run them locally.
if [ "${CI:-}" = "true" ]; then export FZ_SLOW="${FZ_SLOW:-1}"; fi
shopt -s nullglob
notebooks=(notebooks/*.ipynb)
# A notebook gets 300 s (fast mode needs < 40 s here), so a stalled kernel fails the run in minutes, not hours.
exec .venv/bin/python -m pytest tests "${notebooks[@]}" --nbmake --nbmake-timeout=300 -p no:cacheprovider -ra "$@"
