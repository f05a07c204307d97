"""The job pool's executor for a Slurm cluster (or local subprocesses), on submitit.

:func:`apr.experiments.jobs.run_jobs` keeps the job graph in the driver (a pretraining before the models that
start from it, follow-ups after their runs) and hands each ready job to this executor, which submits it as one
submitit job: on Slurm one GPU per job by default, with ``submitit.helpers.Checkpointable`` so that a job
preempted or at its time limit is requeued and its training resumes from the last per-epoch checkpoint (the
store trains with ``resume=True``). Results come back through the shared cache, not through submitit, so the
cache folder must be on a filesystem every allocated host sees.

Chosen by the build's :class:`~apr.experiments.scheduler.Execution` (``apr book --executor local|slurm``), which
also gives each Slurm job's partition, GPUs (default 1), time limit (default 240 minutes) and how many run at once
(default 8). Job states come from sacct, or from squeue on a cluster without accounting (said once). Needs the
optional extra ``apr[slurm]``; ``make book`` without an executor never imports submitit. ``tests/test_slurm.py``
runs it on a one-node Slurm (``scripts/slurm_one_node.sh``).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .jobs import Finished, Job

class SubmititExecutor:
    """Jobs as submitit jobs, at most ``slots`` at once (default 8; see the module docstring). ``gpus``: per job
    (default 1 on Slurm, 0 locally); ``timeout_min``: a job's time limit (default 240); ``signal_delay_s``: how long
    before it Slurm signals the job so that it is requeued (submitit's default, 90 s, when None); ``partition``:
    the Slurm partition (None: the cluster's default)."""

    def __init__(self, cluster: str, folder: Path, slots: int | None = None, *, gpus: int | None = None,
                 timeout_min: int | None = None, signal_delay_s: int | None = None,
                 partition: str | None = None) -> None:
        try:
            import submitit
        except ImportError:
            raise ImportError(f"--executor {cluster} needs submitit: pip install 'apr[slurm]'") from None
        self._submitit = submitit
        self.slots = slots or 8
        self._describe = f"partition {partition or '(default)'}, {gpus if gpus is not None else 1} GPU(s) per job"
        gpus = gpus if gpus is not None else (1 if cluster == "slurm" else 0)
        executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster)
        parameters: dict[str, Any] = {"name": "apr", "timeout_min": timeout_min or 240, "gpus_per_node": gpus,
                                      "tasks_per_node": 1}
        if cluster == "slurm":
            if partition:
                parameters["slurm_partition"] = partition
            if signal_delay_s is not None:
                parameters["slurm_signal_delay_s"] = signal_delay_s
            executor._executor.job_class = _queue_watched_job_class()   # job states from squeue where sacct fails
        executor.update_parameters(**parameters)
        self._executor = executor
        # What every job checks it can see: the proof that it shares the driver's cache folder.
        self._token = Path(folder) / f"driver-{os.uname().nodename}-{os.getpid()}.token"
        self._token.parent.mkdir(parents=True, exist_ok=True)
        self._token.write_text("the folder the driver of this build reads results from\n")
        self._running: dict[Any, Job] = {}

    def job_ids(self) -> dict[str, str]:
        """The running jobs' cluster ids, by job label (for ``scontrol``, ``scancel`` and their logs)."""
        return {job.label: submitted.job_id for submitted, job in self._running.items()}

    def submit(self, job: Job) -> None:
        """Submit ``job`` as a requeueable submitit job; a refusal by the cluster is an error naming the job."""
        if len(self._running) >= self.slots:
            raise RuntimeError(f"no free slot for {job.label}: {self.slots} jobs are running")
        task = _Requeued(job.function, job.args, self._token)
        try:
            submitted = self._executor.submit(task)
        except self._submitit.core.utils.FailedSubmissionError as exc:
            raise RuntimeError(f"Slurm refused the job for {job.label} ({self._describe}): "
                               f"{str(exc).strip().splitlines()[-1]}") from None
        self._running[submitted] = job

    def wait(self) -> list[Finished]:
        """Block until a job ends; return every job that has (one that raised, or died without a result, with why)."""
        if not self._running:
            return []
        first = next(self._submitit.helpers.as_completed(list(self._running), poll_frequency=1.0))
        finished = []
        for submitted in [first] + [s for s in self._running if s is not first and s.done()]:
            job = self._running.pop(submitted)
            try:
                submitted.result()
                finished.append(Finished(job))
            except self._submitit.core.utils.FailedJobError as exc:     # the job raised, or hit its limit
                finished.append(Finished(job, _last_line(exc)))
            except self._submitit.core.utils.UncompletedJobError as exc:   # died without a result (OOM, node)
                finished.append(Finished(job, f"its job {submitted.job_id} died: {_last_line(exc)}", died=True))
        return finished

    def shutdown(self, *, kill: bool = False) -> None:
        """Forget the running jobs (cancelling them with ``kill``) and remove the driver's token."""
        if kill:
            for submitted in self._running:
                submitted.cancel(check=False)
        self._running = {}
        self._token.unlink(missing_ok=True)


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _requeued_base() -> type:
    try:
        from submitit.helpers import Checkpointable
    except ImportError:     # without the extra this class is never used; keep the module importable
        return object
    return Checkpointable


class _Requeued(_requeued_base()):
    """A job's function that submitit requeues with the same arguments when Slurm preempts it or its time runs out
    (a training then resumes from its checkpoint). It first looks for the driver's token in the cache: a job on a
    host that does not share the driver's cache folder would train into a folder nobody reads."""

    def __init__(self, function: Any, args: tuple, token: Path) -> None:
        self.function, self.args, self.token = function, args, token

    def __call__(self) -> None:
        if not self.token.is_file():
            raise RuntimeError(f"the cache folder '{self.token.parent}' is not the driver's on host "
                               f"{os.uname().nodename}: expected a folder shared by every allocated host "
                               "(set APR_CACHE_DIR to one)")
        self.function(*self.args)


# Slurm job states after which a job never runs again; squeue's other states (PENDING, RUNNING, COMPLETING,
# REQUEUED, SUSPENDED, CONFIGURING, ...) mean it is queued, running or coming back.
ENDED_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY",
                          "DEADLINE", "SPECIAL_EXIT"})
SQUEUE_NOTICE = ("Slurm keeps no job accounting here (sacct failed: {reason}): job states come from squeue; "
                 "a job squeue no longer lists has ended")
_queue_job_class: type | None = None


def _queue_watched_job_class() -> type:
    """submitit's Slurm job with a state watcher that asks sacct, and squeue once sacct has failed.

    submitit polls sacct only; on a cluster without accounting storage every poll fails with a warning (one per
    poll, over a hundred in a smoke build), and a job that died without writing its result (killed, out of
    memory, a lost node) stays "UNKNOWN", so the driver would wait for it forever. squeue works on every
    cluster: a job it lists has its live state, and a job it no longer lists has ended, whose result file then
    says how (submitit raises ``UncompletedJobError`` when there is none, and the job pool runs it again)."""
    global _queue_job_class
    if _queue_job_class is not None:
        return _queue_job_class
    from submitit.slurm.slurm import SlurmInfoWatcher, SlurmJob

    class QueueWatcher(SlurmInfoWatcher):
        from_squeue = False

        def update(self) -> None:
            ids = sorted({x.split("_")[0] for x in self._registered - self._finished})
            if not ids:
                return
            self._num_calls += 1
            if not QueueWatcher.from_squeue:
                done = subprocess.run(self._make_command(), capture_output=True, text=True, timeout=120, check=False)
                if done.returncode == 0:
                    self._info_dict.update(self.read_info(done.stdout))
                else:   # no accounting storage ("Slurm accounting storage is disabled"): squeue from now on
                    QueueWatcher.from_squeue = True
                    reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
                    tqdm.write(SQUEUE_NOTICE.format(reason=reason))
            if QueueWatcher.from_squeue:
                self._info_dict.update(_squeue_states(ids))
            self._last_status_check = time.time()
            for job_id in self._registered - self._finished:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)

    class QueueWatchedJob(SlurmJob):
        watcher = QueueWatcher(delay_s=60)

    _queue_job_class = QueueWatchedJob
    return QueueWatchedJob


def _squeue_states(ids: list[str]) -> dict[str, dict[str, str]]:
    """submitit's job information for ``ids`` from squeue: its state for a job squeue lists, ``ENDED`` for one it
    no longer lists; nothing when squeue itself fails (a busy controller), so that the next poll asks again."""
    done = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T|%N", f"--jobs={','.join(ids)}"],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 and "Invalid job id" not in done.stderr:   # squeue's answer when none is listed
        return {}
    listed = {}
    for line in done.stdout.splitlines():
        job_id, state, nodes = (line.split("|") + ["", ""])[:3]
        state = (state.split() or ["UNKNOWN"])[0]
        # submitit counts any state it does not know as ended: say RUNNING for the live ones it lacks (SUSPENDED, ...)
        state = state if state in ENDED_STATES or state == "PENDING" else "RUNNING"
        listed[job_id.strip()] = {"JobID": job_id.strip(), "State": state, "NodeList": nodes.strip()}
    ended = {"State": "ENDED", "NodeList": ""}
    return {job_id: listed.get(job_id, {"JobID": job_id, **ended}) for job_id in ids} | listed
