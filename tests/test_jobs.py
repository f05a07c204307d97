"""The job pool: slots bound to devices (checked with fake devices), a dead worker's job run again, failures
reported by name while independent jobs go on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from apr.engine.device import SLOT_DEVICE_ENV, resolve_device
from apr.experiments.jobs import Job, JobFailed, ProcessExecutor, device_slots, run_jobs
from apr.experiments.execution import Execution


def record_device(folder: str, name: str) -> None:
    """A job: write which device slot and which process ran it."""
    Path(folder, name).write_text(f"{os.environ.get(SLOT_DEVICE_ENV)} {os.getpid()}")


def die_once(folder: str, name: str) -> None:
    """A job whose first run is killed (as an out-of-memory kill would), and whose second run finishes."""
    marker = Path(folder, f"{name}.started")
    runs = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(runs))
    if runs == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    Path(folder, name).write_text("done")


def always_die(folder: str, name: str) -> None:
    Path(folder, f"{name}.{os.getpid()}").write_text("tried")
    os.kill(os.getpid(), signal.SIGKILL)


def test_slots_bound_to_devices_give_each_job_its_slots_device(tmp_path):
    devices = ["fake:0", "fake:0", "fake:1", "fake:1"]          # two jobs at once on each of two devices
    jobs = [Job(f"j{k}", record_device, (str(tmp_path), f"j{k}"), label=f"j{k}") for k in range(8)]
    run_jobs(jobs, ProcessExecutor(4, devices), progress=False)
    seen = [Path(tmp_path, f"j{k}").read_text().split() for k in range(8)]
    by_process: dict[str, set[str]] = {}
    for device, pid in seen:
        by_process.setdefault(pid, set()).add(device)
    assert all(len(d) == 1 for d in by_process.values())             # a worker keeps its device
    per_device = {d: sum(1 for ds in by_process.values() if d in ds) for d in ("fake:0", "fake:1")}
    assert per_device == {"fake:0": 2, "fake:1": 2}                   # K = 2 workers per device, no more
    with pytest.raises(ValueError, match="one per worker"):
        ProcessExecutor(3, devices)


def test_a_job_whose_worker_dies_runs_again_and_finishes(tmp_path):
    jobs = [Job("a", die_once, (str(tmp_path), "a"), label="a"),
            Job("b", record_device, (str(tmp_path), "b"), frozenset({"a"}), label="b")]
    run_jobs(jobs, ProcessExecutor(1, ["fake:0"]), progress=False)
    assert Path(tmp_path, "a.started").read_text() == "2" and Path(tmp_path, "a").read_text() == "done"
    assert Path(tmp_path, "b").read_text().split()[0] == "fake:0"     # the new worker took the dead one's device


def test_a_job_that_dies_twice_is_named_while_the_others_go_on(tmp_path):
    jobs = [Job("bad", always_die, (str(tmp_path), "bad"), label="model bad"),
            Job("after-bad", record_device, (str(tmp_path), "after-bad"), frozenset({"bad"}), label="after bad"),
            Job("good", record_device, (str(tmp_path), "good"), label="model good")]
    with pytest.raises(JobFailed, match=r"model bad failed: its worker process died .*1 job\(s\) waiting for it"):
        run_jobs(jobs, ProcessExecutor(2), progress=False)
    assert len(list(tmp_path.glob("bad.*"))) == 2                      # tried, and tried once more
    assert Path(tmp_path, "good").exists() and not Path(tmp_path, "after-bad").exists()


def test_a_job_whose_work_is_there_already_is_counted_done_without_running(tmp_path):
    (tmp_path / "a").write_text("made by another driver")
    jobs = [Job("a", always_die, (str(tmp_path), "a"), label="a", done_already=(tmp_path / "a").exists),
            Job("b", record_device, (str(tmp_path), "b"), frozenset({"a"}), label="b",
                done_already=(tmp_path / "b").exists)]
    run_jobs(jobs, ProcessExecutor(1), progress=False)
    assert not list(tmp_path.glob("a.*"))                              # a never ran (it would have died)
    assert Path(tmp_path, "b").read_text().split()[0] == "None"        # b, waiting for a, ran


def test_device_slots_and_the_execution_settings():
    assert device_slots(2, 2) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
    with pytest.raises(ValueError, match="at least 1"):
        device_slots(0)
    assert Execution(jobs_per_gpu=3).jobs_per_gpu == 3
    with pytest.raises(ValueError, match="jobs_per_gpu='many': expected a positive integer"):
        Execution(jobs_per_gpu="many")
    with pytest.raises(ValueError, match="executor='kubernetes': expected one of pool, local, slurm; "
                                         "partition, slurm_jobs set Slurm jobs: expected executor='slurm'"):
        Execution(executor="kubernetes", partition="gpu", slurm_jobs=4)
    with pytest.raises(ValueError, match="unknown execution setting\\(s\\) nodes"):
        Execution.from_dict({"executor": "slurm", "nodes": 2})


def test_a_slot_device_is_used_only_where_cuda_is(monkeypatch):
    import torch
    monkeypatch.setenv(SLOT_DEVICE_ENV, "cuda:1")
    expected = "cuda:1" if torch.cuda.is_available() else "cpu"
    assert str(resolve_device("auto")) == expected
    assert str(resolve_device("cpu")) == "cpu"                          # an explicit device wins


DRIVER = """
import os, sys
from pathlib import Path
import apr.engine.store as store
from apr.config import from_params
from apr.experiments.cache import load_or_train_many

log = Path(sys.argv[1])
real_fit = store.fit
def counted_fit(config, run_dir, **kwargs):
    with open(log, "a") as handle:            # one short line per write: appends do not interleave
        handle.write(f"{os.environ['APR_HOST']} {Path(run_dir).name}\\n")
    return real_fit(config, run_dir, **kwargs)
store.fit = counted_fit
configs = [from_params("smoke", device="cpu", epochs=1, train_seed=k) for k in (0, 1)]
if sys.argv[2] == "reversed":
    configs = configs[::-1]
# Rendezvous: opening a FIFO blocks until the other end is opened, so both hosts start together.
open(sys.argv[3], "w" if sys.argv[2] == "forward" else "r").close()
records = load_or_train_many(configs, workers=1, progress=False)
print(*sorted(f"{r.run_dir.name}={r.metrics['rank1']:.6f}" for r in records))
"""


@pytest.mark.slow
def test_two_hosts_sharing_a_cache_train_each_entry_once(tmp_path):
    import subprocess
    import sys
    driver, log, cache = tmp_path / "driver.py", tmp_path / "trained.log", tmp_path / "cache"
    driver.write_text(DRIVER)
    os.mkfifo(tmp_path / "start")
    env = os.environ | {"APR_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, str(driver), str(log), order, str(tmp_path / "start")],
                              env=env | {"APR_HOST": host},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for host, order in (("node-a", "forward"), ("node-b", "reversed"))]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    trained = log.read_text().split("\n")[:-1]
    entries = sorted(line.split()[1] for line in trained)
    assert len(entries) == 2 and len(set(entries)) == 2, trained        # each entry trained once, by one host
    assert outs[0].strip().splitlines()[-1] == outs[1].strip().splitlines()[-1]   # both read the same results
    assert not list(cache.rglob("*.tmp")) and not list(cache.rglob(".claim.json"))


@pytest.mark.slow
def test_submitit_local_executor_trains_through_the_same_driver(tmp_path):
    pytest.importorskip("submitit", reason="the Slurm executor is the optional extra apr[slurm]")
    from apr.config import from_params
    from apr.experiments.cache import load_or_train_many
    configs = [from_params("smoke", device="cpu", epochs=1, train_seed=k) for k in (0, 1)]
    local = load_or_train_many(configs, cache=tmp_path / "local", workers=2, progress=False,
                               execution=Execution(executor="local"))
    jobs = [d for d in (tmp_path / "local" / "submitit").iterdir() if d.name.isdigit()]
    assert len(jobs) >= 2 and all(list(d.glob("*_log.out")) for d in jobs)     # a submitit job per model, logged
    pool = load_or_train_many(configs, cache=tmp_path / "pool", workers=2, progress=False)
    assert [r.metrics["rank1"] for r in local] == [r.metrics["rank1"] for r in pool]   # the same training
    assert [r.run_dir.name for r in local] == [r.run_dir.name for r in pool]


def test_a_submitit_job_that_cannot_see_the_drivers_cache_says_so(tmp_path):
    pytest.importorskip("submitit", reason="the Slurm executor is the optional extra apr[slurm]")
    from apr.experiments.submitit_executor import _Requeued
    task = _Requeued(record_device, (str(tmp_path), "x"), tmp_path / "cache" / "submitit" / "driver.token")
    with pytest.raises(RuntimeError, match=r"cache folder '.*submitit' is not the driver's .*shared by every"):
        task()
    assert not (tmp_path / "x").exists()                               # nothing ran
