"""Worker processes that never outlive the process that started them.

Every process pool of the package (training runs, generating synthetic sets, rendering distractors) is made by
:func:`worker_pool`: a fresh interpreter per worker (``spawn``: a fork after torch has started threads can
hang), each ending when its parent dies, however it dies, so that a killed build leaves nothing running.
"""

from __future__ import annotations

import concurrent.futures as futures
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this process when the book's process dies, however it dies (kill -9 too),
    and leave Ctrl-C to the parent, which then kills the workers (``apr.experiments.jobs.ProcessExecutor.shutdown``).

    On Linux the kernel sends SIGKILL on the parent's death (``PR_SET_PDEATHSIG``); elsewhere a
    daemon thread notices that the parent is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle: it stops every worker
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGKILL)      # 1 = PR_SET_PDEATHSIG
    else:
        def watch() -> None:
            while os.getppid() == parent:
                threading.Event().wait(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:             # the parent died before the line above took effect
        os._exit(1)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the platform says, else every core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_pool(workers: int) -> futures.ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one."""
    return futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=die_with_parent, initargs=(os.getpid(),))
