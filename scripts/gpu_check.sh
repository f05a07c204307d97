#!/usr/bin/env bash
# The one command a lent GPU runs, writing everything to one folder:
#   1. the environment (the project's .venv, else `make env`), and what the device is;
#   2. tests/test_gpu.py (CPU and CUDA variants; the CUDA ones are marked gpu);
#   3. benchmarks/bench_gpu.py at Market size;
#   4. an APR dry run of the paper's recipe on the Market-size synthetic set (ResNet-50 at 256x128 from random
#      weights, EPOCHS epochs, default 60), with its extraction, evaluation and the tau sweep of Fig. 9.
# Each step's seconds go to OUT/times.txt; a failing step is recorded and the next one still runs.
#
#   scripts/gpu_check.sh [--tiny] [OUT]     (OUT: gpu_check/ by default)
#
# --tiny checks the script itself on a CPU: the smoke preset, 2 epochs, the benchmark's tiny size.
set -uo pipefail
cd "$(dirname "$0")/.."
tiny=0
if [ "${1:-}" = "--tiny" ]; then tiny=1; shift; fi
out=${1:-gpu_check}
mkdir -p "$out"
: > "$out/times.txt"
status=0

step() {   # step NAME COMMAND...: run it, its output to OUT/NAME.txt, its time and exit status to OUT/times.txt
    local name=$1; shift
    local start=$SECONDS
    echo "[gpu_check] $name ..."
    "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    echo "$name $((SECONDS - start)) s, exit $rc" | tee -a "$out/times.txt"
    [ $rc -eq 0 ] || status=1
}

if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else step install make env; PY=.venv/bin/python; fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
if [ $tiny -eq 1 ]; then
    device=cpu; scale=smoke; size=tiny; epochs=${EPOCHS:-2}; bench_extra=(--no-compile --models 1,2)
    synth=(--set "synthetic_scale=smoke")
else
    device=cuda; scale=paper; size=market; epochs=${EPOCHS:-60}; bench_extra=()
    synth=(--set "synthetic_scale=paper" "pretrained=none")
fi
step device "$PY" -c "import torch, platform; print(torch.__version__, platform.python_version());
print('cuda', torch.cuda.is_available(), torch.cuda.device_count(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
step tests "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_gpu.py
step bench "$PY" benchmarks/bench_gpu.py --size "$size" --device "$device" --json "$out/bench.json" "${bench_extra[@]}"
step train "$PY" -m apr train --scale "$scale" --dataset synthetic --variant apr --device "$device" \
    --epochs "$epochs" --quiet --out "$out/apr_run" "${synth[@]}"
step tau_sweep "$PY" scripts/tau_sweep.py "$out/apr_run" --device "$device" --out "$out/tau_sweep.csv"
echo "[gpu_check] outputs in $out/ (times.txt: each step's seconds and exit status)"
exit $status
