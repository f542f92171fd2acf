#!/usr/bin/env bash
# The GPU checks, as run on a lent device machine (docs/gpu_sd.md), in stages ($STAGES, default "tests t4"):
#   tests      the CUDA tests (at most $TEST_S = 110 s);
#   t4         scripts/t4_check.py: each sd-mode notebook's heaviest call at the t4 profile (8 frames, 25 steps, 512²)
#              on a full-size random-weight SD v1 pipeline (no hub), each in its own process under
#              torch.cuda.set_per_process_memory_fraction = 15 GiB (a T4), printing peak VRAM, peak host RSS and time
#              beside the cost model's estimate (at most 100 s build + 360 s of calls, 75 s each: $T4_S = 480 s);
#   notebooks  every notebook's `sd` path with the tiny SD stand-in in fp16 on CUDA (nbmake, FATEZERO_LAB_MODE=sd,
#              FATEZERO_LAB_SD_STANDIN=1, the teaser clip from the shared reference folder; $NB_S = 300 s);
#   bench      benchmarks/gpu_sd.py at the paper's setting (8 frames, 512², 50 steps), each store mode's process
#              capped at 15 GiB of GPU memory ($BENCH_S = 330 s).
# The default, "tests t4", ends within 10 minutes by construction (110 + 480 s of timeouts, plus the wheel install);
# STAGES="tests t4 notebooks bench" runs everything (about 21 minutes at most).
# Needs python3 with torch (CUDA); the wheels in .whl/ (diffusers, transformers, and for the notebooks stage nbmake
# and the Jupyter stack) are installed to /tmp/site first if present (the device machine has torch but not diffusers).
#
#   bash scripts/gpu_check.sh [LOGDIR]        # LOGDIR defaults to runs/gpu_check
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-runs/gpu_check}
PY=${PYTHON:-python3}
STAGES=" ${STAGES:-tests t4} "
tests=0; t4=0; notebooks=0; bench=0
mkdir -p "$LOG"
if compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 FZ_GPU=1 MPLBACKEND=Agg
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOG/nvidia-smi.txt"
$PY -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
if [[ $STAGES == *" tests "* ]]; then
echo "== CUDA tests"
timeout "${TEST_S:-110}" $PY -m pytest tests/test_gpu.py -ra -p no:cacheprovider -q 2>&1 | tee "$LOG/pytest.log"
tests=${PIPESTATUS[0]}
fi
if [[ $STAGES == *" t4 "* ]]; then
echo "== t4 profile: each sd-mode notebook's heaviest call, full-size SD v1 (random weights), GPU capped at ${CAP_GIB:-15} GiB"
timeout "${T4_S:-480}" $PY scripts/t4_check.py --gpu-cap-gib "${CAP_GIB:-15}" 2>&1 \
  | grep -v "should be kept in float32\|Writing model shards" | tee "$LOG/t4_profile.log"
t4=${PIPESTATUS[0]}
fi
if [[ $STAGES == *" notebooks "* ]]; then
echo "== notebooks, sd mode, tiny stand-in in fp16 on CUDA"
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
fi
if [[ $STAGES == *" bench "* ]]; then
echo "== benchmarks/gpu_sd.py (GPU memory capped at ${CAP_GIB:-15} GiB per process)"
timeout "${BENCH_S:-330}" $PY benchmarks/gpu_sd.py --gpu-cap-gib "${CAP_GIB:-15}" ${BENCH_ARGS:-} 2>&1 | grep -v "should be kept in float32\|Writing model shards" | tee "$LOG/gpu_sd.log"
bench=${PIPESTATUS[0]}
fi
echo "stages:$STAGES| tests: exit $tests; t4 profile: exit $t4; notebooks: exit $notebooks; benchmark: exit $bench"
[ "$tests" -eq 0 ] && [ "$t4" -eq 0 ] && [ "$notebooks" -eq 0 ] && [ "$bench" -eq 0 ]
