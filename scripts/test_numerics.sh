#!/usr/bin/env bash
# Rerun the tests marked `numerics` (float results that depend on the CPU's kernels) under each kernel set this
# machine can stand in for: its own, AVX2 (a CPU without AVX-512 or AMX) and the plain default kernels. A tolerance
# that holds under all three holds on AVX2, AVX-512 and AVX-512-BF16/AMX machines alike. Run it before a change to
# numerics lands; extra arguments go to pytest (e.g. tests/test_gpu.py).
#   bash scripts/test_numerics.sh [PYTEST ARGS]      (or: make test-numerics)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
run() {   # NAME, then VAR=value pairs
    local name=$1
    shift
    echo "== $name kernels: ${*:-as the machine has them}"
    env "$@" "$PY" -c 'import torch; print("torch cpu capability:", torch.backends.cpu.get_cpu_capability())'
    env "$@" "$PY" -m pytest -m numerics -q -p no:cacheprovider "${ARGS[@]}"
}
ARGS=("$@")
status=0
run native || status=1
run avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
    "NPY_DISABLE_CPU_FEATURES=X86_V4 AVX512_ICL AVX512_SPR" || status=1
run default ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2 \
    "NPY_DISABLE_CPU_FEATURES=X86_V3 X86_V4 AVX512_ICL AVX512_SPR" || status=1
if [ $status -eq 0 ]; then echo "numerics tests passed under every kernel set"
else echo "numerics tests failed under some kernel set (above)"; fi
exit $status
