#!/usr/bin/env bash
# The GPU checks, as run on a lent device machine (docs/gpu_sd.md): 1. the CUDA tests; 2. every notebook's `sd` path
# with the tiny SD stand-in in fp16 on CUDA (nbmake, FATEZERO_LAB_MODE=sd, FATEZERO_LAB_SD_STANDIN=1, the teaser clip
# from the shared reference folder); 3. benchmarks/gpu_sd.py at the paper's setting (8 frames, 512², 50 steps) on a
# full-size random-weight SD v1 architecture, each store mode's process capped at 15 GiB of GPU memory (a T4).
# Needs python3 with torch (CUDA); the wheels in .whl/ (diffusers, transformers, and for step 2 nbmake and the
# Jupyter stack) are installed to /tmp/site first if present (the device machine has torch but not diffusers).
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
echo "== 2. notebooks, sd mode, tiny stand-in in fp16 on CUDA"
if $PY -c "import nbmake, ipykernel" 2> /dev/null; then
  cache=$(mktemp -d)
  for d in shared/reference ../shared/reference; do  # the authors' teaser frames, as scripts/test.sh finds them
    ref=$d/FateZero/data/teaser_car-turn
    if [ -d "$ref" ]; then mkdir -p "$cache/car-turn" && cp "$ref"/*.png "$cache/car-turn/"; break; fi
  done
  FATEZERO_LAB_MODE=sd FATEZERO_LAB_SD_STANDIN=1 FATEZERO_LAB_CACHE=$cache FATEZERO_LAB_OUT=$cache/out FZ_FAST=1 \
    timeout "${NB_S:-300}" $PY -m pytest notebooks/*.ipynb --nbmake --nbmake-timeout=120 -p no:cacheprovider -q -ra \
    2>&1 | tee "$LOG/notebooks_sd.log"
  notebooks=${PIPESTATUS[0]}
else
  echo "skipped: nbmake/ipykernel not importable (carry their wheels in .whl/)" | tee "$LOG/notebooks_sd.log"
  notebooks=0
fi
echo "== 3. benchmarks/gpu_sd.py (GPU memory capped at ${CAP_GIB:-15} GiB per process)"
timeout "${BENCH_S:-330}" $PY benchmarks/gpu_sd.py --gpu-cap-gib "${CAP_GIB:-15}" ${BENCH_ARGS:-} 2>&1 | grep -v "should be kept in float32\|Writing model shards" | tee "$LOG/gpu_sd.log"
bench=${PIPESTATUS[0]}
echo "tests: exit $tests; notebooks: exit $notebooks; benchmark: exit $bench"
[ "$tests" -eq 0 ] && [ "$notebooks" -eq 0 ] && [ "$bench" -eq 0 ]
