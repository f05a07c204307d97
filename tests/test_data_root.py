"""One data root, honoured everywhere: the given root finds the images as well as the annotations,
a wrong one fails before any pretraining, and ``make book DATA_ROOT=...`` passes it through whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from apr.cli import main
from apr.config import from_params
from apr.data import load_dataset, paths
from apr.data.datasets import DatasetLayoutError
from apr.data.synthetic import generate_synthetic
from apr.data.paths import REPO_ROOT
from apr.experiments.cache import load_or_train_many
from apr.engine.runs import load_run

from .conftest import TINY

ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="module")
def two_roots(tmp_path_factory) -> tuple[Path, Path]:
    """Two valid Market-1501 data roots that differ in their identities: A (6 train ids) and B (4)."""
    base = tmp_path_factory.mktemp("roots")
    generate_synthetic(base / "A" / "Market-1501-v15.09.15", replace(TINY, seed=1), progress=False)
    generate_synthetic(base / "B" / "Market-1501-v15.09.15", replace(TINY, num_train_ids=4, num_test_ids=3, seed=2),
                       progress=False)
    return base / "A", base / "B"


def test_load_dataset_reads_the_images_of_the_given_root(two_roots, monkeypatch):
    a, b = two_roots
    monkeypatch.setenv(paths.ENV_VAR, str(a))
    data = load_dataset("market1501", data_root=b)
    assert data.root == b / "Market-1501-v15.09.15"
    assert len({r.pid for r in data.train}) == 4
    assert data.annotation_file == b / "Market-1501-v15.09.15" / "market_attribute.mat"
    assert load_dataset("market1501").root == a / "Market-1501-v15.09.15"    # the variable when none is given


def test_info_counts_the_given_root(two_roots, monkeypatch, capsys):
    a, b = two_roots
    monkeypatch.setenv(paths.ENV_VAR, str(a))
    assert main(["info", "--dataset", "market1501", "--data-root", str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["ids"] == 4


def test_train_uses_the_given_root_not_the_environment(two_roots, tmp_path):
    a, b = two_roots
    proc = subprocess.run([sys.executable, "-m", "apr", "train", "--scale", "smoke", "--dataset", "market1501",
                           "--data-root", str(b), "--device", "cpu", "--quiet", "--no-eval", "--out",
                           str(tmp_path / "run"),
                           "--set", "epochs=1", "batch_size=4"],
                          env=ENV | {paths.ENV_VAR: str(a)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    info = load_run(tmp_path / "run")
    assert info["config"]["data_root"] == str(b)
    assert info["dataset_root"] == str(b / "Market-1501-v15.09.15")
    assert info["num_ids"] == 4


def test_a_wrong_real_data_root_fails_before_pretraining(tmp_path):
    empty, cache = tmp_path / "empty", tmp_path / "cache"
    empty.mkdir()
    config = from_params("quick", dataset="market1501", data_root=str(empty))   # quick: synthetic pretraining first
    with pytest.raises(DatasetLayoutError, match="no Market-1501 layout under"):
        load_or_train_many([config], cache=cache, progress=False)
    assert not cache.exists() or not any(cache.iterdir()), "something was trained before the data root was checked"
    proc = subprocess.run([sys.executable, "-m", "apr", "train", "--scale", "quick", "--dataset", "market1501",
                           "--data-root", str(empty), "--out", str(tmp_path / "run")],
                          env=ENV | {"APR_CACHE_DIR": str(cache)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and proc.stderr.startswith("error: no Market-1501 layout under")
    assert not cache.exists() or not any(cache.iterdir())


def test_make_passes_a_data_root_with_spaces_whole(tmp_path):
    # PY is replaced by a script that prints the arguments make hands to `python -m apr book`;
    # -o env skips the environment setup.
    show = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    root = tmp_path / "my data"
    proc = subprocess.run(["make", "-s", "-o", "env", "book", f"PY={show}", f"DATA_ROOT={root}", "DATASET=market1501"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout.strip().splitlines()[-1])
    assert argv[argv.index("--data-root") + 1] == str(root)
