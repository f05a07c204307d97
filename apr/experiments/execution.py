"""Where a build's missing models train: :class:`Execution`, the settings ``apr book --executor ...`` gives, carried
by :class:`apr.experiments.BookParameters` to every call that trains (never through the environment). Imports
nothing heavy: the CLI's parser builds its defaults from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXECUTORS = ("pool", "local", "slurm")   # this machine's processes, submitit's local subprocesses, Slurm jobs
SLURM_ONLY = ("partition", "gpus_per_job", "timeout_min", "slurm_jobs")


def is_whole(value: Any, least: int = 0) -> bool:
    """Whether ``value`` is an int (not a bool) of at least ``least``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class Execution:
    """Where a build's missing models train. ``executor``: ``pool`` (this machine's processes), ``local``
    (submitit's local subprocesses, to try a cluster setup) or ``slurm``; ``jobs_per_gpu``: models at once on each
    GPU of this machine; the rest set each Slurm job: its ``partition`` (None: the cluster's default), GPUs
    (``gpus_per_job``; None: 1 on Slurm, 0 locally), time limit in minutes (a job at its limit is requeued and
    resumes) and how many run at once (``slurm_jobs``)."""

    executor: str = "pool"
    jobs_per_gpu: int = 1
    partition: str | None = None
    gpus_per_job: int | None = None
    timeout_min: int | None = None
    slurm_jobs: int | None = None

    def __post_init__(self) -> None:
        bad = []
        if self.executor not in EXECUTORS:
            bad.append(f"executor={self.executor!r}: expected one of {', '.join(EXECUTORS)}")
        if not is_whole(self.jobs_per_gpu, 1):
            bad.append(f"jobs_per_gpu={self.jobs_per_gpu!r}: expected a positive integer (jobs at once on each GPU)")
        for name, least in (("gpus_per_job", 0), ("timeout_min", 1), ("slurm_jobs", 1)):
            value = getattr(self, name)
            if value is not None and not is_whole(value, least):
                bad.append(f"{name}={value!r}: expected an integer >= {least}, or None")
        if self.partition is not None and not (isinstance(self.partition, str) and self.partition.strip()):
            bad.append(f"partition={self.partition!r}: expected a Slurm partition's name, or None")
        given = [name for name in SLURM_ONLY if getattr(self, name) is not None]
        if given and self.executor != "slurm":
            bad.append(f"{', '.join(given)} set Slurm jobs: expected executor='slurm' with them")
        if bad:
            raise ValueError("execution setting " + "; ".join(bad))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Execution:
        """The settings from a dict (a chapter's parameters); an unknown name is an error."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values or {}) - set(names))
        if unknown:
            raise ValueError(f"unknown execution setting(s) {', '.join(unknown)}; expected {', '.join(names)}")
        return cls(**dict(values or {}))
