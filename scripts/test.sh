#!/usr/bin/env bash
# Command 2 of the README (and of .ci/run): set up ./.venv with the test extras, then run the whole suite — the
# pytest tests and every notebook under notebooks/ executed by nbmake (in fast mode, FZ_FAST=1). Any failure fails
# this script, and so does a run that collects no test at all (pytest's exit code 5 is passed on, not swallowed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# The authors' pinned stack for the parity test (tests/test_reference_parity.py): built from the package index like
# the project's own venv; if it cannot be built here, that test skips and says why (a parity *failure* still fails).
bash scripts/reference_env.sh || echo "scripts/reference_env.sh failed: tests/test_reference_parity.py will skip"
export HF_HUB_OFFLINE=1 FZ_FAST=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
# Slow tests (a full-size SD v1.x UNet with random weights, ~1 min) run in CI; set FZ_SLOW=1 to run them locally.
if [ "${CI:-}" = "true" ]; then export FZ_SLOW="${FZ_SLOW:-1}"; fi
shopt -s nullglob
notebooks=(notebooks/*.ipynb)  # not the paired notebooks/*.py: tests/test_notebooks_clean.py checks the pairs match
# Two pytest processes: the tests, then the notebooks (nbmake), so that no state a test leaves in its process
# (threads, signal handlers, forked workers) reaches the notebook kernels — in one process they stalled (kernel and
# client both idle) after the tests had run. A notebook gets 300 s (fast mode needs < 40 s here). The script fails if
# either run fails, and pytest's exit code 5 (nothing collected) counts as a failure. Even alone, a notebook kernel
# here now and then stops answering (kernel and client both idle: a message lost between nbclient and ipykernel),
# so a failed notebook gets one rerun, which the summary lists; a real failure fails both tries.
set +e
.venv/bin/python -m pytest tests -p no:cacheprovider -ra "$@"
tests_rc=$?
if [ "${#notebooks[@]}" -eq 0 ]; then echo "no notebooks under notebooks/"; notebooks_rc=5; else
  .venv/bin/python -m pytest "${notebooks[@]}" --nbmake --nbmake-timeout=300 --reruns 1 -p no:cacheprovider -ra "$@"
  notebooks_rc=$?
fi
echo "tests: exit $tests_rc; notebooks: exit $notebooks_rc"
[ "$tests_rc" -ne 0 ] && exit "$tests_rc"
exit "$notebooks_rc"
