"""The Slurm executor on a real Slurm: a one-node cluster (``scripts/slurm_one_node.sh``: slurmctld, slurmd and munge
from Debian's packages, no accounting database) started for this module and stopped after it.

On it: the smoke book's models trained as Slurm jobs by two drivers sharing one cache (each entry trained once,
the same metrics as the local pool's); a job preempted mid-training (``scontrol requeue``) and a job that reaches
its time limit are requeued and resume from their checkpoint to the uninterrupted run's weights; a job that dies
twice is named while the others finish. Skipped, with the reason, where Slurm is not installed (``make test``
installs it as root: ``scripts/setup_slurm.sh``) or the tests do not run as root.

Nothing waits for an amount of time: a job says it reached its pause point through a FIFO, Slurm's own time
limit sends the signal, and the limits below only bound how long a broken cluster may hang a test.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from apr.data.paths import REPO_ROOT
from apr.engine.runs import CHECKPOINT_FILE, MODEL_FILE, load_checkpoint
from apr.engine.store import train_entry
from apr.experiments.configs import book_configs
from apr.experiments.jobs import Job, JobFailed, run_jobs
from apr.experiments.parameters import BookParameters

from . import pausing
from .conftest import PausePoint
from .test_jobs import always_die, record_device

pytestmark = pytest.mark.slow

CLUSTER_SCRIPT = REPO_ROOT / "scripts" / "slurm_one_node.sh"
LIMIT_S = 600          # how long a broken cluster may hang one step of a test before it fails
FIT_LOG_ENV = "APR_TEST_FIT_LOG"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm for this module: ``$SLURM_CONF`` names it while the module runs."""
    pytest.importorskip("submitit", reason="the Slurm executor is the optional extra apr[slurm]")
    missing = [tool for tool in ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged")
               if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Slurm is not installed ({', '.join(missing)} missing): scripts/setup_slurm.sh installs it")
    if os.geteuid() != 0:
        pytest.skip("a one-node Slurm needs root (slurmd starts each job as its user)")
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(CLUSTER_SCRIPT), "start", str(folder)], capture_output=True, text=True,
                             timeout=120)
    if started.returncode != 0:
        pytest.fail(f"the one-node Slurm did not start:\n{started.stdout}{started.stderr}")
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    try:
        yield folder
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(folder)], timeout=120)
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before


def counted_train_entry(config, run_dir, threads=None, progress=False):
    """The store's ``train_entry``, appending the run folder's name to ``$APR_TEST_FIT_LOG`` each time it trains
    (runs in the Slurm job)."""
    import apr.engine.store as store

    real_fit = store.fit

    def fit(config, run_dir, **kwargs):
        with open(os.environ[FIT_LOG_ENV], "a") as handle:   # one short line per write: appends do not interleave
            handle.write(f"{Path(run_dir).name} {os.environ.get('SLURM_JOB_ID')}\n")
        return real_fit(config, run_dir, **kwargs)

    store.fit = fit
    return train_entry(config, Path(run_dir), threads, progress)


def train_pausing_before_epoch_2(config, run_dir: str, pause_file: str) -> None:
    """Train ``config`` into ``run_dir`` (one thread), stopping at epoch 2's first step when the run has no
    checkpoint yet; a requeued run finds epoch 1's checkpoint, does not stop, and resumes from it."""
    if not (Path(run_dir) / CHECKPOINT_FILE).exists():
        pausing.install(f"2:0:{pause_file}")
    train_entry(config, Path(run_dir), 1, False)


# Two drivers train the smoke book's models into one cache as Slurm jobs; each prints its runs' metrics.
DRIVER = textwrap.dedent("""
    import json, sys
    import apr.experiments.scheduler as scheduler
    from apr.experiments.cache import load_or_train_many
    from apr.experiments.configs import book_configs
    from apr.experiments.parameters import BookParameters
    from apr.experiments.execution import Execution
    from tests.test_slurm import counted_train_entry
    scheduler.train_entry = counted_train_entry        # the jobs log each training
    configs = book_configs(BookParameters(scale="smoke"))
    if sys.argv[1] == "reversed":
        configs = configs[::-1]
    # Rendezvous: opening a FIFO blocks until the other end is opened, so both drivers start together.
    open(sys.argv[2], "w" if sys.argv[1] == "forward" else "r").close()
    execution = Execution(executor="slurm", partition="cpu", gpus_per_job=0, timeout_min=10, slurm_jobs=2)
    records = load_or_train_many(configs, progress=False, execution=execution)
    print(json.dumps({r.run_dir.name: [r.metrics["rank1"], r.metrics["mAP"]] for r in records}))
""")


@pytest.fixture(scope="module")
def slurm_smoke_runs(slurm, tmp_path_factory):
    """The smoke book's models, trained as Slurm jobs by two drivers at once into one cache: (cache folder,
    each driver's output, the fit log's lines)."""
    folder = tmp_path_factory.mktemp("slurm-book")
    driver, log, cache, start = folder / "driver.py", folder / "fits.log", folder / "cache", folder / "start"
    driver.write_text(DRIVER)
    os.mkfifo(start)
    env = os.environ | {"APR_CACHE_DIR": str(cache), FIT_LOG_ENV: str(log), "OMP_NUM_THREADS": "1",
                        "PYTHONWARNINGS": "ignore",
                        # this checkout first, for the drivers and their jobs: they import tests.test_slurm
                        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, str(driver), order, str(start)], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for order in ("forward", "reversed")]
    outputs = [p.communicate(timeout=LIMIT_S)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(outputs)
    return cache, outputs, log.read_text().splitlines()


def test_two_drivers_train_the_smoke_books_models_once_as_slurm_jobs_like_the_pool(slurm_smoke_runs):
    from apr.experiments.cache import load_or_train_many

    cache, outputs, fits = slurm_smoke_runs
    configs = book_configs(BookParameters(scale="smoke"))
    entries = [line.split()[0] for line in fits]
    assert sorted(entries) == sorted({name for _, name in _names(configs, cache)}), fits   # each entry once
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    assert results[0] == results[1]                                   # both drivers read the same runs
    pool = {r.run_dir.name: [r.metrics["rank1"], r.metrics["mAP"]]    # the session's pool-trained smoke models
            for r in load_or_train_many(configs, progress=False)}
    assert results[0] == pool
    for out in outputs:   # quiet without accounting: one line says where job states come from, no sacct warnings
        assert "sacct" not in out.replace("sacct failed", ""), out
        assert "WARNING" not in out and out.count("job states come from squeue") == 1, out
    submitted = [d for d in (cache / "submitit").iterdir() if d.name.isdigit()]
    print(f"{len(configs)} models, two drivers: {len(entries)} trainings, {len(submitted)} Slurm jobs submitted "
          "(a job whose entry the other driver is training waits for it); the same rank-1 and mAP as the pool's")


def _names(configs, cache):
    from apr.experiments.cache import run_dir_for
    return [(c, run_dir_for(c, cache).name) for c in configs]


def _wait_for_pause(pause: PausePoint, what: str, folder: Path) -> None:
    ready, _, _ = select.select([pause.fd], [], [], LIMIT_S)
    if not ready:
        logs = "\n".join(p.read_text()[-2000:] for p in sorted(folder.rglob("*_log.*")))
        pytest.fail(f"the {what} job never reached its pause point:\n{logs}")
    os.read(pause.fd, 4096)


def _restarts(job_id: str) -> int:
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Restarts=(\d+)", shown).group(1))


def test_preempted_and_timed_out_jobs_resume_from_their_checkpoint(slurm, slurm_smoke_runs, tmp_path):
    from apr.experiments.cache import run_dir_for
    from apr.experiments.submitit_executor import SubmititExecutor

    cache, _, _ = slurm_smoke_runs
    config = book_configs(BookParameters(scale="smoke"))[0]          # IDE, seed 0, two epochs
    reference = load_checkpoint(run_dir_for(config, cache) / MODEL_FILE)["model"]   # its uninterrupted run's
    name = run_dir_for(config, cache).name
    # A job Slurm preempts, and one with a one-minute limit that Slurm signals 50 s before its end.
    preempted = SubmititExecutor("slurm", tmp_path / "preempted", 1, gpus=0, timeout_min=10)
    timed_out = SubmititExecutor("slurm", tmp_path / "timed-out", 1, gpus=0, timeout_min=1, signal_delay_s=50)
    pauses = {}
    for what, executor in (("preempted", preempted), ("timed-out", timed_out)):
        pauses[what] = PausePoint(tmp_path / f"{what}.pause")
        executor.submit(Job(what, train_pausing_before_epoch_2,
                            (config, str(tmp_path / what / "cache" / name), str(pauses[what].path)), label=what))
    try:
        _wait_for_pause(pauses["preempted"], "preempted", tmp_path / "preempted")
        job_id = preempted.job_ids()["preempted"]
        subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=60)   # what preemption does
        _wait_for_pause(pauses["timed-out"], "timed-out", tmp_path / "timed-out")
        limited_id = timed_out.job_ids()["timed-out"]
        ends = preempted.wait() + timed_out.wait()                      # Slurm's signal comes at the limit
    finally:
        for pause in pauses.values():
            pause.close()
        preempted.shutdown(kill=True)
        timed_out.shutdown(kill=True)
    assert [end.error for end in ends] == [None, None], ends
    assert _restarts(job_id) == 1 and _restarts(limited_id) >= 1      # requeued by Slurm, same job ids
    log = (tmp_path / "timed-out" / limited_id / f"{limited_id}_0_log.err").read_text()
    assert "this job is timed-out" in log, log                        # submitit's handler of the limit's signal
    for what in ("preempted", "timed-out"):
        weights = load_checkpoint(tmp_path / what / "cache" / name / MODEL_FILE)["model"]
        assert weights.keys() == reference.keys()
        assert all(torch.equal(weights[k], reference[k]) for k in reference), what
    print(f"preempted job {job_id}: Restarts={_restarts(job_id)}; timed-out job {limited_id}: "
          f"Restarts={_restarts(limited_id)}, its log: "
          f"{[line.split(' - ', 1)[-1] for line in log.splitlines() if 'timed-out' in line][0]!r}; "
          "both end with the uninterrupted run's weights")


def test_a_slurm_job_that_dies_twice_is_named_while_the_others_finish(slurm, tmp_path):
    from apr.experiments.submitit_executor import SubmititExecutor

    jobs = [Job("bad", always_die, (str(tmp_path), "bad"), label="model bad"),
            Job("after-bad", record_device, (str(tmp_path), "after-bad"), frozenset({"bad"}), label="after bad"),
            Job("good", record_device, (str(tmp_path), "good"), label="model good")]
    executor = SubmititExecutor("slurm", tmp_path / "submitit", 2, gpus=0, timeout_min=10)
    with pytest.raises(JobFailed, match=r"model bad failed: its job \d+ died: .*1 job\(s\) waiting for it"):
        run_jobs(jobs, executor, progress=False)
    assert len(list(tmp_path.glob("bad.*"))) == 2                      # tried, and tried once more
    assert (tmp_path / "good").exists() and not (tmp_path / "after-bad").exists()
