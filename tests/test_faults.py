"""Faults: a killed or interrupted build leaves no process and no half-written file behind, a broken
cache entry heals, a diverging run stops, and every bad input gets one line naming what is wrong.

Everything runs at the smoke scale in temporary folders. Nothing waits for an amount of time: the
tests wait for files the trainer writes at a known step (``tests/pausing.py``) or for processes to end.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from apr.config import from_params
from apr.data.attributes import MARKET_SCHEMA, load_attribute_annotations
from apr.data.datasets import DatasetLayoutError, load_dataset
from apr.data.download import RemoteFile, fetch
from apr.engine.store import COMPLETE_FILE as COMPLETE
from apr.experiments.cache import load_or_train, run_dir_for
from apr.data.files import remove_dead_temporaries
from apr.engine.runs import load_run
from apr.engine.train import TrainingDiverged, fit

from . import pausing
from .conftest import PausePoint, write_jpeg

ENV = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
SMOKE = {"device": "cpu", "epochs": 2}

# Trains four smoke models, two at a time, in the results cache's worker pool (what `make book` does).
POOL_DRIVER = textwrap.dedent("""
    import signal, sys
    # As in a terminal: Ctrl-C raises KeyboardInterrupt (a shell starts background jobs, CI's among
    # them, with SIGINT ignored, and the test must not depend on how it was started).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from apr.config import from_params
    from apr.experiments.cache import load_or_train_many
    configs = [from_params("smoke", device="cpu", epochs=2, variant=v) for v in ("ide", "apr", "arn", "apr_no_arm")]
    load_or_train_many(configs, cache=sys.argv[1], workers=2, progress=False)
""")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until_gone(pids: list[int], limit_s: float) -> list[int]:
    """Block until each of ``pids`` has exited (a pidfd turns readable then), giving up after ``limit_s``
    in all, the issue's bound; returns those still alive."""
    deadline = time.monotonic() + limit_s
    for pid in pids:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue                            # already gone
        try:
            select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(fd)
    return [p for p in pids if alive(p)]


def start_pool(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path, PausePoint]:
    """The pool driver, its two workers paused in their first epoch; returns (process, cache, log, pause point)
    once a worker has paused (close the pause point when done). Its output goes to a file: a pipe would also wait for
    any worker that outlived it."""
    cache, paused, log = tmp_path / "cache", PausePoint(tmp_path / "paused"), tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", POOL_DRIVER, str(cache)],
                                env=ENV | pausing.environment(f"1:1:{paused.path}"), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    paused.wait(proc, log.read_text)
    return proc, cache, log, paused


@pytest.fixture
def paused_pool(tmp_path):
    """(driver, cache, log, workers): the pool driver with a worker paused mid-epoch. Afterwards the driver
    and every worker still alive are killed, whatever the test asserted (nothing outlives a failing test)."""
    proc, cache, log, paused = start_pool(tmp_path)
    workers = children(proc.pid)
    yield proc, cache, log, workers
    for pid in workers:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    paused.close()


needs_two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the pool needs 2 cores for 2 workers")


@pytest.mark.slow
@needs_two_cores
def test_kill_9_of_the_parent_ends_its_workers(paused_pool):
    proc, cache, _, workers = paused_pool
    assert len(workers) >= 2, workers           # two training workers (and multiprocessing's resource tracker)
    proc.kill()
    proc.wait()
    assert wait_until_gone(workers, 10) == [], "workers survived their parent's kill -9"
    assert not list(cache.rglob("*.tmp"))


# Any pool of the package (generating synthetic sets, rendering distractors, training) through apr.data.processes.
BLOCKED_WORKER = textwrap.dedent("""
    import os, sys
    from apr.data.processes import worker_pool

    def block(folder):
        with open(os.path.join(folder, "ready"), "w") as fifo:   # tells the test this worker runs
            fifo.write(str(os.getpid()))
        open(os.path.join(folder, "never")).read()               # a FIFO nobody writes to: blocks for good

    if __name__ == "__main__":
        with worker_pool(1) as pool:
            pool.submit(block, sys.argv[1]).result()
""")


def test_every_pool_worker_dies_with_its_parent(tmp_path):
    ready = PausePoint(tmp_path / "ready")
    os.mkfifo(tmp_path / "never")
    driver = tmp_path / "driver.py"
    driver.write_text(BLOCKED_WORKER)
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(driver), str(tmp_path)], env=ENV, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    workers: list[int] = []
    try:
        ready.wait(proc, log.read_text)
        workers = children(proc.pid)
        assert workers, "the driver has no worker"
        proc.kill()
        proc.wait()
        assert wait_until_gone(workers, 10) == [], "a worker survived its parent's kill -9"
    finally:
        for pid in workers:                     # nothing outlives a failing test
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        ready.close()


@pytest.mark.slow
@needs_two_cores
def test_ctrl_c_stops_the_pool_at_once(paused_pool):
    proc, cache, log, workers = paused_pool
    os.killpg(proc.pid, signal.SIGINT)          # what Ctrl-C in a terminal does: the whole foreground group
    assert proc.wait(timeout=60) != 0 and "KeyboardInterrupt" in log.read_text()
    assert wait_until_gone(workers, 10) == []
    assert not list(cache.rglob("*.tmp")) and not list(cache.rglob(COMPLETE))


@pytest.fixture(scope="module")
def cached_run(tmp_path_factory) -> tuple[Path, dict]:
    """One finished smoke entry in its own cache, and its metrics."""
    cache = tmp_path_factory.mktemp("cache")
    record = load_or_train(from_params("smoke", **SMOKE), cache=cache, progress=False)
    return cache, record.metrics


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate run.json", "delete model.pt", "truncate model.pt",
                                    "unfinished, checkpoint truncated", "delete features.pt"])
def test_a_broken_cache_entry_heals_with_identical_metrics(cached_run, damage, tmp_path, capsys):
    source, metrics = cached_run
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    config = from_params("smoke", **SMOKE)
    entry = run_dir_for(config, cache)
    if damage == "truncate run.json":
        (entry / "run.json").write_text((entry / "run.json").read_text()[:200])
    elif damage == "delete model.pt":
        (entry / "model.pt").unlink()
    elif damage == "truncate model.pt":
        (entry / "model.pt").write_bytes((entry / "model.pt").read_bytes()[:1000])
    elif damage == "unfinished, checkpoint truncated":
        for name in ("run.json", "model.pt", "features.pt", COMPLETE):
            (entry / name).unlink()
        (entry / "checkpoint.pt").write_bytes((entry / "checkpoint.pt").read_bytes()[:1000])
    elif damage == "delete features.pt":
        (entry / "features.pt").unlink()
    (entry / f".checkpoint.pt.{2**22 + 7}.abcd1234.tmp").write_bytes(b"left by a killed writer")
    healed = load_or_train(config, cache=cache, progress=False)
    warning = capsys.readouterr().err
    if damage != "unfinished, checkpoint truncated":     # a never-finished entry is simply trained
        assert f"warning: cache entry '{entry}' is broken" in warning and len(warning.strip().splitlines()) == 1
    assert healed.metrics["rank1"] == metrics["rank1"] and healed.metrics["mAP"] == metrics["mAP"]
    assert (entry / COMPLETE).is_file() and not list(entry.glob("*.tmp"))
    assert load_or_train(config, cache=cache, progress=False).metrics == healed.metrics   # and now it is reused


@pytest.mark.slow
def test_an_entry_of_another_synthetic_set_is_trained_anew(cached_run, tmp_path, capsys):
    """An entry whose run.json names another synthetic folder (e.g. the same settings made from the prior where
    the real annotations were missing) is not this configuration's model: trained again, never resumed."""
    source, metrics = cached_run
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    config = from_params("smoke", **SMOKE)
    entry = run_dir_for(config, cache)
    info = json.loads((entry / "run.json").read_text())
    info["dataset_root"] = str(Path(info["dataset_root"]).with_name("24x24-seed0-0badf00d"))
    (entry / "run.json").write_text(json.dumps(info))
    again = load_or_train(config, cache=cache, progress=False)
    warning = capsys.readouterr().err
    assert "it was trained on the synthetic set '24x24-seed0-0badf00d'" in warning
    assert warning.strip().endswith("training it again")
    assert again.metrics["rank1"] == metrics["rank1"] and again.metrics["mAP"] == metrics["mAP"]
    assert load_run(entry)["dataset_root"] != info["dataset_root"]


def test_remove_dead_temporaries_spares_a_live_writer(tmp_path):
    live = tmp_path / f".model.pt.{os.getpid()}.x1y2z3.tmp"
    dead = tmp_path / f".model.pt.{2**22 + 11}.x1y2z3.tmp"
    old = tmp_path / ".model.pt.x1y2z3.tmp"               # written before the pid was in the name
    for path in (live, dead, old):
        path.write_bytes(b"")
    assert sorted(remove_dead_temporaries(tmp_path)) == sorted([dead, old])
    assert live.exists()


def test_a_diverging_run_stops_and_saves_no_model(tmp_path):
    with pytest.raises(TrainingDiverged,
                       match=r"training diverged: loss (nan|inf) at epoch 1, step \d+ \(learning rate 1e\+12\)"):
        fit(from_params("smoke", device="cpu", epochs=1, lr=1e12), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "model.pt").exists() and not (tmp_path / "run" / "run.json").exists()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apr", *args], env=env or ENV, capture_output=True, text=True,
                          timeout=600)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize(("setting", "expected"), [
    ("epochs=abc", "setting epochs='abc': expected an integer"),
    ("seed=-1", "seed=-1: must be a non-negative integer"),
    ("lr=inf", "lr=inf: must be a finite number > 0"),
    ("lr=nan", "lr=nan: must be a finite number > 0"),
    ("attributes=gender,gender", "attributes=gender,gender: an attribute is listed twice"),
    ("lr_decay_epoch=-5", "lr_decay_epoch=-5: must be in 0..epochs"),
    ("image_size=big", "setting image_size='big': expected HxW"),
])
def test_bad_settings_are_named(setting, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace("+", r"\+").replace(".", r"\.")):
        from_params("smoke", **dict([setting.split("=", 1)]))


def test_bad_cli_settings_are_one_line(tmp_path):
    assert "setting epochs='abc'" in one_line(run_cli("train", "--scale", "smoke", "--set", "epochs=abc"))
    assert "device='tpu': expected auto, cpu, cuda or cuda:N" in one_line(
        run_cli("train", "--scale", "smoke", "--device", "tpu", "--out", str(tmp_path / "x")))


def write_mat(path: Path, values: dict[str, np.ndarray], pids: list[str]) -> None:
    """A market_attribute.mat whose train and test splits hold ``values`` (any dtype) for ``pids``."""
    def struct() -> dict:
        out = {name: values.get(name, np.ones(len(pids), np.uint8))[None, :] for name in MARKET_SCHEMA.names}
        cells = np.empty((1, len(pids)), dtype=object)
        cells[0, :] = pids
        return out | {"image_index": cells}

    scipy.io.savemat(str(path), {"market_attribute": {"train": struct(), "test": struct()}})


@pytest.mark.parametrize(("value", "shown"), [(65537, "65537"), (1.5, "1.5"), (np.nan, "NaN")])
def test_mat_values_are_checked_as_numbers(tmp_path, value, shown):
    path = tmp_path / "market_attribute.mat"
    write_mat(path, {"backpack": np.array([1, value], dtype=np.float64)}, ["0001", "0002"])
    with pytest.raises(ValueError,
                       match=rf"market_attribute.mat' train.backpack: values \[.*{shown}.*\] are not whole"):
        load_attribute_annotations(path)


def test_bad_image_index_names_file_and_field(tmp_path):
    path = tmp_path / "market_attribute.mat"
    write_mat(path, {}, ["0001", "abcd"])
    with pytest.raises(ValueError, match=r"market_attribute.mat' train.image_index\[1\]: 'abcd' is not a person id"):
        load_attribute_annotations(path)


def test_run_json_is_strict_and_resume_no_eval_keeps_metrics(tiny_synthetic, tmp_path):
    data = tmp_path / "Market-1501-v15.09.15"
    shutil.copytree(tiny_synthetic, data)
    tables = load_attribute_annotations(data / "market_attribute.mat")
    from apr.data.synthetic import write_market_attribute_mat

    test = tables["test"].copy()
    test["hat"] = -1                       # no test identity labelled: its accuracy is undefined
    write_market_attribute_mat(data / "market_attribute.mat", tables["train"], test)
    args = ["train", "--scale", "smoke", "--dataset", "market1501", "--data-root", str(tmp_path), "--device", "cpu",
            "--quiet", "--out", str(tmp_path / "run"), "--set", "epochs=1", "batch_size=4"]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "hat n/a" in proc.stdout and "nan%" not in proc.stdout
    text = (tmp_path / "run" / "run.json").read_text()
    info = json.loads(text, parse_constant=lambda c: pytest.fail(f"run.json holds {c}"))
    assert info["metrics"]["attribute_accuracy"]["hat"] is None
    again = run_cli(*args, "--resume", "--no-eval")
    assert again.returncode == 0, again.stderr
    assert load_run(tmp_path / "run")["metrics"] == info["metrics"]


@pytest.mark.slow
def test_loader_path_names_a_corrupt_image(tiny_synthetic, tmp_path):
    data = tmp_path / "Market-1501-v15.09.15"
    shutil.copytree(tiny_synthetic, data)
    bad = sorted((data / "bounding_box_train").glob("*.jpg"))[0]
    bad.write_bytes(b"not a jpeg")
    line = one_line(run_cli("train", "--scale", "smoke", "--dataset", "market1501", "--data-root", str(tmp_path),
                            "--device", "cpu", "--quiet", "--no-eval", "--out", str(tmp_path / "run"),
                            "--set", "epochs=1", "batch_size=4", "data_path=loader", "loader_workers=1"))
    assert line.startswith("error: corrupt or unreadable image") and str(bad) in line


def test_a_dangling_image_link_is_named(tiny_synthetic, tmp_path):
    data = tmp_path / "Market-1501-v15.09.15"
    shutil.copytree(tiny_synthetic, data)
    link = data / "query" / "0001_c1s1_000001_01.jpg"
    link.symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(DatasetLayoutError, match=rf"'{link}' is a broken link"):
        load_dataset("market1501", data)


def test_partial_split_folders_name_only_the_missing_one(tmp_path):
    for sub in ("bounding_box_train", "query"):
        write_jpeg(tmp_path / "Market-1501-v15.09.15" / sub / "0002_c1s1_000451_03.jpg")
    with pytest.raises(DatasetLayoutError, match=r"Market-1501-v15.09.15': missing bounding_box_test/ \("):
        load_dataset("market1501", tmp_path, attributes=False)


def test_a_failed_download_leaves_no_folder(tmp_path):
    remote = RemoteFile("http://127.0.0.1:9/unreachable", "market1501/market_attribute.mat", "0" * 64)
    with pytest.raises(OSError, match="could not download"):
        fetch(remote, tmp_path / "root")
    assert not (tmp_path / "root").exists()


def test_a_truncated_checkpoint_is_named_on_resume(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ValueError, match=rf"'{run / 'checkpoint.pt'}' cannot be read \(truncated or corrupt"):
        fit(from_params("smoke", device="cpu", epochs=1), run, resume=True, progress=False)
