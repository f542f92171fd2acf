#!/usr/bin/env bash
# The GPU checks, as run on a lent device machine (docs/gpu_sd.md): the CUDA tests, then benchmarks/gpu_sd.py at the
# paper's setting. Needs python3 with torch (CUDA); diffusers/transformers wheels in .whl/ are installed to
# /tmp/site first if present (the device machine has torch but not diffusers).
#
#   bash scripts/gpu_check.sh [LOGDIR]        # LOGDIR defaults to runs/gpu_check
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-runs/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$LOG"
if compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 FZ_GPU=1 MPLBACKEND=Agg
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/nvidia-smi.txt"
$PY -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
echo "== 1. CUDA tests"
timeout "${TEST_S:-180}" $PY -m pytest tests/test_gpu.py -ra -p no:cacheprovider -q 2>&1 | tee "$LOG/pytest.log"
tests=${PIPESTATUS[0]}
echo "== 2. benchmarks/gpu_sd.py"
timeout "${BENCH_S:-330}" $PY benchmarks/gpu_sd.py ${BENCH_ARGS:-} 2>&1 | grep -v "should be kept in float32\|Writing model shards" | tee "$LOG/gpu_sd.log"
bench=${PIPESTATUS[0]}
echo "tests: exit $tests; benchmark: exit $bench"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
