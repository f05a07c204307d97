"""The job pool's executor for a Slurm cluster (or local subprocesses), on submitit.

:func:`apr.experiments.jobs.run_jobs` keeps the job graph in the driver (a pretraining before the models that
start from it, follow-ups after their runs) and hands each ready job to this executor, which submits it as one
submitit job: on Slurm one GPU per job by default, with ``submitit.helpers.Checkpointable`` so that a job
preempted or at its time limit is requeued and its training resumes from the last per-epoch checkpoint (the
store trains with ``resume=True``). Results come back through the shared cache, not through submitit, so the
cache folder must be on a filesystem every allocated host sees.

Chosen with ``$APR_EXECUTOR`` (``pool``, the default; ``local``: submitit's local subprocesses; ``slurm``), which
``apr book --executor`` sets; the Slurm settings come from ``$APR_SLURM_PARTITION``, ``$APR_SLURM_GPUS`` (per job,
default 1), ``$APR_SLURM_TIMEOUT_MIN`` (default 240) and ``$APR_SLURM_JOBS`` (jobs at once, default 8). Needs the
optional extra ``apr[slurm]``; ``make book`` without an executor never imports submitit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .jobs import EXECUTOR_ENV, Finished, Job

SLURM_SETTINGS = {"partition": "APR_SLURM_PARTITION", "gpus": "APR_SLURM_GPUS", "timeout_min": "APR_SLURM_TIMEOUT_MIN",
                  "jobs": "APR_SLURM_JOBS"}


def _positive(name: str, default: int, least: int = 1) -> int:
    text = os.environ.get(SLURM_SETTINGS[name], str(default)).strip()
    if not text.isdigit() or int(text) < least:
        raise ValueError(f"{SLURM_SETTINGS[name]}={text!r}: expected an integer >= {least}")
    return int(text)


class SubmititExecutor:
    """Jobs as submitit jobs, at most ``slots`` at once (see the module docstring)."""

    def __init__(self, cluster: str, folder: Path, slots: int | None = None, *, gpus: int | None = None) -> None:
        try:
            import submitit
        except ImportError:
            raise ImportError(f"{EXECUTOR_ENV}={cluster} needs submitit: pip install 'apr[slurm]'") from None
        self._submitit = submitit
        self.slots = slots or _positive("jobs", 8)
        gpus = gpus if gpus is not None else _positive("gpus", 1 if cluster == "slurm" else 0, least=0)
        executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster)
        parameters: dict[str, Any] = {"name": "apr", "timeout_min": _positive("timeout_min", 240),
                                      "gpus_per_node": gpus, "tasks_per_node": 1}
        if cluster == "slurm":
            partition = os.environ.get(SLURM_SETTINGS["partition"])
            if partition:
                parameters["slurm_partition"] = partition
        executor.update_parameters(**parameters)
        self._executor = executor
        # What every job checks it can see: the proof that it shares the driver's cache folder.
        self._token = Path(folder) / f"driver-{os.uname().nodename}-{os.getpid()}.token"
        self._token.parent.mkdir(parents=True, exist_ok=True)
        self._token.write_text("the folder the driver of this build reads results from\n")
        self._running: dict[Any, Job] = {}

    def submit(self, job: Job) -> None:
        if len(self._running) >= self.slots:
            raise RuntimeError(f"no free slot for {job.label}: {self.slots} jobs are running")
        task = _Requeued(job.function, job.args, self._token)
        try:
            submitted = self._executor.submit(task)
        except self._submitit.core.utils.FailedSubmissionError as exc:
            partition = os.environ.get(SLURM_SETTINGS["partition"], "(none)")
            raise RuntimeError(f"Slurm refused the job for {job.label} (partition {partition}, "
                               f"{SLURM_SETTINGS['gpus']}={os.environ.get(SLURM_SETTINGS['gpus'], '1')}): "
                               f"{str(exc).strip().splitlines()[-1]}") from None
        self._running[submitted] = job

    def wait(self) -> list[Finished]:
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
