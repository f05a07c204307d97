"""A job pool: jobs with dependencies, run by an executor that has a number of slots.

:func:`run_jobs` is the scheduler. It hands the first ready job (in the order given: that order is the priority)
to the executor whenever a slot is free, and a job is ready once every job it waits for (``after``) is done. An
executor has one interface, ``submit(job)`` / ``wait()`` / ``shutdown()``; :class:`ProcessExecutor` runs jobs in
worker processes of this machine that die with it. A job is a module-level function and arguments that pickle,
so the same job can run in any process.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class Job:
    """``function(*args)``, once the jobs keyed ``after`` are done."""

    key: Hashable                                  # what later jobs wait for
    function: Callable[..., Any]
    args: tuple = ()
    after: frozenset = field(default_factory=frozenset)
    label: str = "job"
    prepare: Callable[[], Any] | None = None       # run in this process just before the job is handed out


class JobFailed(RuntimeError):
    """A job raised, or its process died; the message names the job."""


@dataclass(frozen=True)
class Finished:
    """A job that ended: ``error`` is None when it succeeded, else what went wrong, in one line."""

    job: Job
    error: str | None = None


class Executor(Protocol):
    """Where jobs run. ``slots`` jobs may run at once."""

    slots: int

    def submit(self, job: Job) -> None:
        """Start ``job`` in a free slot."""

    def wait(self) -> list[Finished]:
        """Block until at least one submitted job has ended; return those that have."""

    def shutdown(self, *, kill: bool = False) -> None:
        """Release the slots; ``kill`` stops running jobs at once."""


def _worker(connection: Connection, parent: int) -> None:
    """A worker process: run each job it receives, answer with None or the error's last line."""
    die_with_parent(parent)
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
    job: Job | None = None


class ProcessExecutor:
    """``workers`` spawned processes of this machine (each ends when this process dies, ``kill -9`` too), started
    on first use and reused for later jobs, so what a worker keeps in memory between jobs (decoded images) stays."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers}: expected at least 1")
        self.slots = workers
        self._context = multiprocessing.get_context("spawn")   # a fork after torch has started threads can hang
        self._idle: list[_Slot] = []
        self._busy: list[_Slot] = []

    def _start(self) -> _Slot:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_worker, args=(theirs, os.getpid()), daemon=True)
        process.start()
        theirs.close()
        return _Slot(process, ours)

    def submit(self, job: Job) -> None:
        if len(self._busy) >= self.slots:
            raise RuntimeError(f"no free slot for {job.label}: {self.slots} jobs are running")
        slot = self._idle.pop() if self._idle else self._start()
        slot.job = job
        slot.connection.send((job.function, job.args))
        self._busy.append(slot)

    def wait(self) -> list[Finished]:
        if not self._busy:
            return []
        waitables = {slot.connection: slot for slot in self._busy} | {slot.process.sentinel: slot for slot in self._busy}
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
                finished.append(Finished(job, error))
                continue
            slot.job = None
            self._busy.remove(slot)
            self._idle.append(slot)
            finished.append(Finished(job, error))
        return finished

    def shutdown(self, *, kill: bool = False) -> None:
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
                try:
                    slot.connection.send(None)
                except OSError:
                    pass
            for slot in slots:
                slot.process.join()
        for slot in slots:
            slot.connection.close()
        self._busy, self._idle = [], []


def run_jobs(jobs: Sequence[Job], executor: Executor, *, progress: bool = True, desc: str = "jobs") -> None:
    """Run ``jobs`` on ``executor``, each once every job it waits for is done; the first failure stops the others
    (their checkpoints stay resumable) and raises :class:`JobFailed` naming the job."""
    keys = {job.key for job in jobs}
    if len(keys) != len(jobs):
        raise ValueError("two jobs share a key")
    done: set[Hashable] = set()
    waiting = list(jobs)
    running = 0
    bar = tqdm(total=len(jobs), desc=desc, unit="job", disable=not progress or not jobs)
    try:
        while waiting or running:
            ready = [job for job in waiting if not (job.after & keys) - done]
            for job in ready[: executor.slots - running]:
                waiting.remove(job)
                if job.prepare is not None:
                    job.prepare()
                executor.submit(job)
                running += 1
            if not running:   # only when jobs wait, directly or not, for themselves
                raise RuntimeError(f"{len(waiting)} jobs wait for work that never runs: {waiting[0].label}")
            for end in executor.wait():
                running -= 1
                if end.error is not None:
                    raise JobFailed(f"{end.job.label} failed: {end.error}")
                done.add(end.job.key)
                bar.set_postfix_str(end.job.label)
                bar.update()
    except BaseException:   # a failed job, Ctrl-C, ...: stop every worker now, not after its model
        executor.shutdown(kill=True)
        raise
    finally:
        bar.close()
    executor.shutdown()
