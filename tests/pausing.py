"""A test's pause point inside a trainer's process, so that a test can kill, preempt or requeue a training at a known
step on any machine, fast or slow, instead of guessing with sleeps.

With ``$APR_TEST_PAUSE_AT`` = ``EPOCH:STEP:FILE`` (1-based epoch, 0-based step), the trainer writes FILE (its process
id) at that step of that epoch and then waits for a signal to end it. The hook is :data:`apr.engine.train.STEP_HOOKS`;
a process started with :func:`environment` installs it at start-up through ``tests/pause/sitecustomize.py`` (the
trainer's workers too), and :func:`install` installs it in the process at hand.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

PAUSE_ENV = "APR_TEST_PAUSE_AT"
TESTS = Path(__file__).resolve().parent


def pause_hook(value: str) -> Callable[[int, int], None]:
    """The step hook for ``EPOCH:STEP:FILE``; one clear error when the value is not that."""
    try:
        at_epoch, at_step, file = value.split(":", 2)
        at = (int(at_epoch) - 1, int(at_step))
    except ValueError:
        raise ValueError(f"${PAUSE_ENV}={value!r}: expected EPOCH:STEP:FILE") from None

    def hook(epoch: int, step: int) -> None:
        if (epoch, step) == at:
            Path(file).write_text(f"{os.getpid()}\n")
            while True:
                signal.pause()

    return hook


def install(value: str) -> None:
    """Pause this process's trainings where ``value`` (``EPOCH:STEP:FILE``) says."""
    from apr.engine.train import STEP_HOOKS

    STEP_HOOKS.append(pause_hook(value))


def environment(value: str) -> dict[str, str]:
    """Variables for a process whose trainings (its own and its workers') pause where ``value`` says."""
    path = [str(TESTS / "pause"), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]
    return {PAUSE_ENV: value, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
