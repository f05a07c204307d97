"""The GPU benchmark runs end to end on the CPU at its tiny size (its numbers there mean nothing; that it runs does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_gpu_runs_at_the_tiny_size_on_the_cpu(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu.py"), "--size", "tiny", "--device",
                           "cpu", "--no-compile", "--models", "1,2", "--json", str(out)], capture_output=True,
                          text=True,
                          env=os.environ | {"OMP_NUM_THREADS": "1"}, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())
    numbers = {k: v for k, v in rows.items() if k not in ("device", "set")}
    failed = {k: v for k, v in numbers.items() if isinstance(v, str) and v.startswith("failed")}
    assert not failed, failed
    for key in ("bf16 matmul, measured (TFLOP/s)", "train images/s, resident path, eager",
                "train images/s, loader path, eager", "train images/s, 2 model(s) at once (summed)",
                "extraction images/s (gallery)", "training step, fraction of measured bf16 matmul"):
        assert float(numbers[key]) > 0, (key, numbers.get(key))
    assert "| train s/epoch, resident path, eager" in proc.stdout


def test_gpu_check_finishes_at_its_tiny_setting_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check"
    proc = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--tiny", str(out)], capture_output=True,
                          text=True, timeout=1200, check=False, env=os.environ | {"OMP_NUM_THREADS": "1"})
    times = (out / "times.txt").read_text()
    assert proc.returncode == 0, proc.stdout + proc.stderr + times
    assert [line.split()[0] for line in times.splitlines()] == ["device", "tests", "bench", "train", "tau_sweep"]
    assert all(line.endswith("exit 0") for line in times.splitlines()), times
    assert "gallery_used" in (out / "tau_sweep.csv").read_text()
