"""Speed held against a reference timed in the same run, so that a slowdown of a hot path cannot land unnoticed.

``benchmarks/bench_ratios.py`` times each hot path and a simple reference computation interleaved, in one process
on one thread, and reports the median ratio (reference seconds / apr seconds). A machine twice as fast, or twice as
busy, runs both at that speed, so the ratio stays where it was; what moves it is a change to apr's code, or a CPU
whose kernels favour one side. The second was measured by rerunning the script under this machine's own kernels
(AVX-512, AMX), the AVX2 ones and the default ones (``scripts/test_numerics.sh``'s settings): the evaluation ratio
rose (6.35, 7.80, 14.0: numpy's argsort in the reference loses its AVX-512 sort), the extractor's and the training
step's fell under the default kernels (7.58 to 4.81, 1.17 to 0.98), none by more than x2.2
(``benchmarks/ratio_floors.json`` keeps all three). The floors there are half of the lowest ratio over the three,
so a slower or older CPU stays above them, while a real regression does not: the evaluation guard of 8bbd4f5 (a
masked copy of every chunk) takes the evaluation ratio to 1.5, under its floor of 3.17.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FLOORS = json.loads((REPO / "benchmarks" / "ratio_floors.json").read_text())


PATHS = tuple(FLOORS["floors"])


@pytest.fixture(scope="module")
def ratios(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ratios") / "ratios.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_ratios.py"), "--json", str(out)],
                          capture_output=True, text=True, timeout=900, check=False,
                          env=os.environ | {"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    return json.loads(out.read_text())


def test_every_hot_path_has_a_recorded_floor(ratios):
    assert set(ratios) == set(PATHS) == {"evaluation", "rerank", "filtered_search", "extractor", "train_step"}
    assert all(0 < FLOORS["floors"][path] <= FLOORS["measured"][path] / 2 for path in PATHS)


@pytest.mark.parametrize("path", PATHS)
def test_hot_path_stays_above_its_floor(ratios, path):
    ratio, floor = ratios[path]["ratio"], FLOORS["floors"][path]
    assert ratio >= floor, (f"{path}: {ratio:.2f} times its reference's speed, below its floor {floor:.2f} "
                            f"(recorded at {FLOORS['measured'][path]:.2f}); apr is {ratios[path]['apr_s']:.4f} s, the "
                            f"reference {ratios[path]['reference_s']:.4f} s")
