"""The book's cached runs: ``load_or_train_many(configs)`` trains what the store lacks, then returns every run.

Chapters and scripts ask for runs by configuration; each lives in its entry of the store of trained runs
(:mod:`apr.engine.store`), so a changed setting trains a new model and leaves the others in place. Missing runs
are trained where the build's :class:`~apr.experiments.execution.Execution` says (:mod:`apr.experiments.scheduler`),
with the work that waits for them (:class:`FollowUp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config import APRConfig
from ..data.datasets import is_synthetic
from ..engine.run_data import load_run_dataset
from ..engine.store import RunRecord, load_record, run_dir_for, usable
from ..model import imagenet_state_dict
from .execution import Execution
from .scheduler import FollowUp, train_missing

__all__ = ["Execution", "FollowUp", "RunRecord", "load_or_train", "load_or_train_many", "preflight_checks",
           "stored_runs"]


def preflight_checks(configs: Sequence[APRConfig]) -> None:
    """Before any work: read the layout and annotations of every real dataset ``configs`` use and fetch
    the ImageNet weights they start from, so that a wrong data root or missing weights fail at once with
    their own message, not after the synthetic pretraining or the decoding of the training images."""
    checked: set[tuple] = set()
    for c in configs:
        if not is_synthetic(c.dataset) and (c.dataset, c.data_root, c.seed) not in checked:
            checked.add((c.dataset, c.data_root, c.seed))
            load_run_dataset(c, progress=False)
    for backbone in dict.fromkeys(c.backbone for c in configs if c.pretrained == "imagenet"):
        imagenet_state_dict(backbone)


def stored_runs(configs: Sequence[APRConfig], *, cache: Path | None = None) -> list[RunRecord]:
    """The stored runs of ``configs``, in order, training none: a missing one is an error that names it."""
    records = []
    for config in configs:
        run_dir = run_dir_for(config, cache)
        if not usable(config, run_dir):
            raise FileNotFoundError(f"no complete run of {config.variant} (train seed {config.train_seed}) in "
                                    f"'{run_dir}': build the book (or load_or_train_many) first")
        records.append(load_record(config, run_dir))
    return records


def load_or_train(config: APRConfig, *, cache: Path | None = None, progress: bool = True) -> RunRecord:
    """The stored run of ``config``, trained and evaluated first if it is missing."""
    return load_or_train_many([config], cache=cache, progress=progress)[0]


def load_or_train_many(configs: Sequence[APRConfig], *, cache: Path | None = None, workers: int | None = None,
                       progress: bool = True, follow_ups: Sequence[FollowUp] = (),
                       execution: Execution = Execution()) -> list[RunRecord]:
    """Stored runs of ``configs`` (in order); the missing ones are trained first, where ``execution`` says
    (:func:`apr.experiments.scheduler.train_missing`: ``workers`` processes on a CPU, one per GPU, or cluster jobs).
    ``follow_ups`` run once their runs are stored."""
    dirs = [run_dir_for(c, cache) for c in configs]
    missing = list({d: c for c, d in zip(configs, dirs) if not usable(c, d)}.items())
    preflight_checks([c for _, c in missing])
    if missing or follow_ups:
        train_missing(missing, follow_ups, cache=cache, workers=workers, execution=execution, progress=progress)
    return [load_record(c, d) for c, d in zip(configs, dirs)]
