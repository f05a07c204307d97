"""A job pool: jobs with dependencies, run by an executor that has a number of slots.

:func:`run_jobs` is the scheduler. It hands the first ready job (in the order given: that order is the priority)
to the executor whenever a slot is free, and a job is ready once every job it waits for (``after``) is done. An
executor has one interface, ``submit(job)`` / ``wait()`` / ``shutdown()``; :class:`ProcessExecutor` runs jobs in
worker processes of this machine that die with it, each slot bound to a device when given ``devices`` (one
job per GPU, or K: :func:`device_slots`). A job whose worker dies (an out-of-memory kill) is run once more, from
its checkpoint; a job that fails after that is reported by name at the end while the jobs that do not wait for it
go on. A job is a module-level function and arguments that pickle, so the same job can run in any process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from tqdm.auto import tqdm

from ..data.processes import die_with_parent
from ..engine.device import SLOT_DEVICE_ENV

def device_slots(gpus: int, jobs_per_gpu: int = 1) -> list[str]:
    """One slot device per job that may run at once: ``cuda:0`` ``jobs_per_gpu`` times, then ``cuda:1`` ..."""
    if gpus < 1 or jobs_per_gpu < 1:
        raise ValueError(f"gpus={gpus}, jobs_per_gpu={jobs_per_gpu}: expected at least 1 of each")
    return [f"cuda:{i}" for i in range(gpus) for _ in range(jobs_per_gpu)]


@dataclass(frozen=True)
class Job:
    """``function(*args)``, once the jobs keyed ``after`` are done."""

    key: Hashable                                  # what later jobs wait for
    function: Callable[..., Any]
    args: tuple = ()
    after: frozenset = field(default_factory=frozenset)
    label: str = "job"
    prepare: Callable[[], Any] | None = None       # run in this process just before the job is handed out
    # True when the job's work is there already (another driver sharing the cache did it): counted done, not run
    done_already: Callable[[], bool] | None = None


class JobFailed(RuntimeError):
    """A job raised, or its process died; the message names the job."""


@dataclass(frozen=True)
class Finished:
    """A job that ended: ``error`` is None when it succeeded, else what went wrong, in one line; ``died``: its
    worker process ended under it (killed, out of memory) rather than the job raising."""

    job: Job
    error: str | None = None
    died: bool = False


class Executor(Protocol):
    """Where jobs run. ``slots`` jobs may run at once."""

    slots: int

    def submit(self, job: Job) -> None:
        """Start ``job`` in a free slot."""

    def wait(self) -> list[Finished]:
        """Block until at least one submitted job has ended; return those that have."""

    def shutdown(self, *, kill: bool = False) -> None:
        """Release the slots; ``kill`` stops running jobs at once."""


def _worker(connection: Connection, parent: int, device: str | None = None) -> None:
    """A worker process: run each job it receives, answer with None or the error's last line."""
    die_with_parent(parent)
    if device is not None:
        os.environ[SLOT_DEVICE_ENV] = device
    while True:
        message = connection.recv()
        if message is None:
            return
        function, args = message
        try:
            function(*args)
            connection.send(None)
        except BaseException as exc:   # the job's own failure: the process lives on for the next job
            connection.send(str(exc) or traceback.format_exc().strip().splitlines()[-1])


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    connection: Connection
    device: str | None = None
    job: Job | None = None


class ProcessExecutor:
    """``workers`` spawned processes of this machine (each ends when this process dies, ``kill -9`` too), started
    on first use and reused for later jobs, so what a worker keeps in memory between jobs (decoded images) stays.
    With ``devices`` (one per worker, e.g. :func:`device_slots`), worker i runs its jobs on ``devices[i]``
    (``$APR_SLOT_DEVICE``), so no device holds more jobs at once than it has slots."""

    def __init__(self, workers: int, devices: Sequence[str] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers}: expected at least 1")
        if devices is not None and len(devices) != workers:
            raise ValueError(f"devices: expected one per worker ({workers}), got {len(devices)}")
        self.slots = workers
        self._context = multiprocessing.get_context("spawn")   # a fork after torch has started threads can hang
        self._free_devices: list[str | None] = list(devices) if devices is not None else [None] * workers
        self._idle: list[_Slot] = []
        self._busy: list[_Slot] = []

    def _start(self) -> _Slot:
        device = self._free_devices.pop(0)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(theirs, os.getpid(), device), daemon=True)
        process.start()
        theirs.close()
        return _Slot(process, ours, device)

    def submit(self, job: Job) -> None:
        """Start ``job`` in an idle worker (starting one if none is idle); an error when every slot is busy."""
        if len(self._busy) >= self.slots:
            raise RuntimeError(f"no free slot for {job.label}: {self.slots} jobs are running")
        slot = self._idle.pop() if self._idle else self._start()
        slot.job = job
        slot.connection.send((job.function, job.args))
        self._busy.append(slot)

    def wait(self) -> list[Finished]:
        """Block until a busy worker answers or dies; return the jobs that ended (a dead worker's marked ``died``)."""
        if not self._busy:
            return []
        waitables = ({slot.connection: slot for slot in self._busy}
                     | {slot.process.sentinel: slot for slot in self._busy})
        finished = []
        for slot in {id(waitables[r]): waitables[r] for r in wait(list(waitables))}.values():
            job = slot.job
            try:
                error = slot.connection.recv()
            except (EOFError, OSError):   # the worker died (killed, out of memory): it takes no other job
                slot.process.join()
                error = f"its worker process died (exit code {slot.process.exitcode})"
                slot.connection.close()
                self._busy.remove(slot)
                self._free_devices.append(slot.device)     # a new worker takes the dead one's device
                finished.append(Finished(job, error, died=True))
                continue
            slot.job = None
            self._busy.remove(slot)
            self._idle.append(slot)
            finished.append(Finished(job, error))
        return finished

    def shutdown(self, *, kill: bool = False) -> None:
        """Stop the workers: tell them to finish, or kill them at once with ``kill`` (Ctrl-C held off meanwhile)."""
        slots = self._busy + self._idle
        if kill:
            # Ctrl-C is held off until the workers are gone: one left alive would keep the interpreter from exiting.
            main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                for slot in slots:
                    slot.process.kill()
                for slot in slots:
                    slot.process.join()
            finally:
                if main:
                    signal.signal(signal.SIGINT, previous)
        else:
            for slot in slots:
                with contextlib.suppress(OSError):    # a worker that died already has nothing to be told
                    slot.connection.send(None)
            for slot in slots:
                slot.process.join()
        for slot in slots:
            slot.connection.close()
        self._busy, self._idle = [], []


def _waiting_on(failed: Hashable, jobs: Sequence[Job]) -> set[Hashable]:
    """The keys of the jobs that wait for ``failed``, directly or through others."""
    out: set[Hashable] = set()
    grew = True
    while grew:
        grew = False
        for job in jobs:
            if job.key not in out and job.after & (out | {failed}):
                out.add(job.key)
                grew = True
    return out


def run_jobs(jobs: Sequence[Job], executor: Executor, *, progress: bool = True, desc: str = "jobs",
             retries: int = 1) -> None:
    """Run ``jobs`` on ``executor``, each once every job it waits for is done. A job whose worker died is run again
    (``retries`` times; a training resumes from its last epoch); a job that fails is left, and the jobs that wait
    for it with it, while the others go on; at the end :class:`JobFailed` names every failed job."""
    keys = {job.key for job in jobs}
    if len(keys) != len(jobs):
        raise ValueError("two jobs share a key")
    done: set[Hashable] = set()
    waiting = list(jobs)
    running = 0
    tries: dict[Hashable, int] = {}
    failures: list[str] = []
    bar = tqdm(total=len(jobs), desc=desc, unit="job", disable=not progress or not jobs)
    try:
        while waiting or running:
            while running < executor.slots:     # the first ready jobs into the free slots
                job = next((job for job in waiting if not (job.after & keys) - done), None)
                if job is None:
                    break
                waiting.remove(job)
                if job.done_already is not None and job.done_already():   # may make later jobs ready
                    done.add(job.key)
                    bar.update()
                    continue
                if job.prepare is not None:
                    job.prepare()
                executor.submit(job)
                running += 1
            if not running:
                if failures:     # what is left waits for a failed job
                    break
                raise RuntimeError(f"{len(waiting)} jobs wait for work that never runs: {waiting[0].label}")
            for end in executor.wait():
                running -= 1
                if end.error is not None and end.died and tries.get(end.job.key, 0) < retries:
                    tries[end.job.key] = tries.get(end.job.key, 0) + 1
                    tqdm.write(f"{end.job.label}: {end.error}; running it again ({tries[end.job.key]} of {retries})")
                    waiting.insert(0, end.job)
                    continue
                if end.error is not None:
                    skipped = _waiting_on(end.job.key, jobs)
                    waiting = [job for job in waiting if job.key not in skipped]
                    failures.append(f"{end.job.label} failed: {end.error}"
                                    + (f" ({len(skipped)} job(s) waiting for it not run)" if skipped else ""))
                    tqdm.write(failures[-1])
                    continue
                done.add(end.job.key)
                bar.set_postfix_str(end.job.label)
                bar.update()
    except BaseException:   # Ctrl-C, a scheduler error: stop every worker now, not after its model
        executor.shutdown(kill=True)
        raise
    finally:
        bar.close()
    executor.shutdown()
    if failures:
        raise JobFailed("; ".join(failures))
