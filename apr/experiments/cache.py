"""The book's cached runs: ``load_or_train_many(configs)`` trains what the store lacks, then returns every run.

Chapters and scripts ask for runs by configuration; each lives in its entry of the store of trained runs
(:mod:`apr.engine.store`), so a changed setting trains a new model and leaves the others in place. Missing runs
are trained by the job pool (:mod:`apr.experiments.jobs`): on a CPU several side by side, one torch thread each,
never more threads than cores, in one pool that also generates the synthetic sets they read and runs the work
that waits for them (:class:`FollowUp`), each job as soon as what it needs is there; on a GPU one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..config import APRConfig
from ..data.datasets import is_synthetic, stands_for
from ..data.processes import usable_cores
from ..data.synthetic import SYNTHETIC_MANIFEST, ensure_synthetic
from ..engine.pretrain import pretrain_config
from ..engine.run_data import load_run_dataset, synthetic_root_of, synthetic_set_of
from ..engine.runs import remove_dead_temporaries
from ..engine.store import RunRecord, cache_root, load_record, pretrained_backbone, run_dir_for, train_entry, usable
from ..model import imagenet_state_dict
from .jobs import Job, ProcessExecutor, device_slots, executor_name, jobs_per_gpu, run_jobs

__all__ = ["FollowUp", "RunRecord", "load_or_train", "load_or_train_many", "preflight_checks", "stored_runs"]


@dataclass(frozen=True)
class FollowUp:
    """Work for the training pool once the runs of ``needs`` are in the store: ``function(*args)``, run in a worker
    process beside the training still going on (so ``function`` is a module-level function and its arguments
    pickle). The book computes Fig. 8's distractor outcomes this way. Its result is not returned: a follow-up caches
    what it computes."""

    function: Callable[..., Any]
    args: tuple = ()
    needs: tuple[APRConfig, ...] = ()
    label: str = "follow-up"


@dataclass(frozen=True)
class SyntheticSetKey:
    """The job that generates the synthetic set in ``folder``."""

    folder: Path


@dataclass(frozen=True)
class FollowUpKey:
    index: int


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


def _generate_synthetic_set(config: APRConfig) -> Path:
    """A job: the synthetic set ``config`` reads, generated quietly."""
    return ensure_synthetic(config=synthetic_set_of(config), layout=stands_for(config.dataset),
                            data_root=config.data_root, progress=False)


def _pretrain_here(pretraining: Sequence[tuple[Path, APRConfig]]) -> None:
    """Train pretraining runs in this process with every core, one after the other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(usable_cores())
    try:
        for run_dir, config in pretraining:
            train_entry(config, run_dir)
    finally:
        torch.set_num_threads(threads)


def _uses_cuda(configs: Sequence[APRConfig]) -> bool:
    return any(c.device.startswith("cuda") or (c.device == "auto" and torch.cuda.is_available()) for c in configs)


def _plan(missing: Sequence[tuple[Path, APRConfig]], pending: Sequence[tuple[Path, APRConfig]],
          follow_ups: Sequence[FollowUp], cache: Path | None, threads: int) -> list[Job]:
    """The jobs that train ``pending`` pretrainings and ``missing`` models, generate the synthetic sets they read
    and run ``follow_ups``, in priority order: sets, pretrainings, follow-ups, models."""
    needed = list(dict.fromkeys([c for _, c in [*pending, *missing]] + [c for f in follow_ups for c in f.needs]))
    # Naming a synthetic set looks for the attribute file on disk: once per configuration.
    folders = {c: synthetic_root_of(c) for c in needed if is_synthetic(c.dataset)}
    to_generate = {folder: c for c, folder in folders.items() if not (folder / SYNTHETIC_MANIFEST).is_file()}
    pending_dirs = {d for d, _ in pending}

    def needs_data(c: APRConfig) -> set:
        folder = folders.get(c)
        return {SyntheticSetKey(folder)} if folder in to_generate else set()

    def training_job(run_dir: Path, c: APRConfig) -> Job:
        after = needs_data(c)
        prepare = None
        if c.pretrained == "synthetic":
            after |= {run_dir_for(pretrain_config(c))} & pending_dirs
            prepare = lambda: pretrained_backbone(c)   # noqa: E731 - this process writes backbone.pt once
        return Job(run_dir, train_entry, (c, run_dir, threads, False), frozenset(after), run_dir.name, prepare,
                   done_already=lambda: usable(c, run_dir))

    jobs = [Job(SyntheticSetKey(folder), _generate_synthetic_set, (c,), label=f"data {folder.name}")
            for folder, c in to_generate.items()]
    jobs += [training_job(d, c) for d, c in pending]          # pretrainings first: every model waits for one
    jobs += [Job(FollowUpKey(i), f.function, f.args,
                 frozenset().union(*({run_dir_for(c, cache)} | needs_data(c) for c in f.needs)), f.label)
             for i, f in enumerate(follow_ups)]
    jobs += [training_job(d, c) for d, c in missing]
    return jobs


def load_or_train_many(configs: Sequence[APRConfig], *, cache: Path | None = None, workers: int | None = None,
                       progress: bool = True, follow_ups: Sequence[FollowUp] = ()) -> list[RunRecord]:
    """Stored runs of ``configs`` (in order); the missing ones are trained first.

    ``workers``: processes training side by side on a CPU (default: the number of cores, at most the number of
    jobs); each gets ``cores // workers`` torch threads. On CUDA, one process per visible GPU (``$APR_JOBS_PER_GPU``
    per GPU when several fit), each training on its own GPU. Each job starts as soon as what it needs is there: a
    pretraining (one per training seed) once its population is generated, beside the generation of the set the
    models are fine-tuned on, and a model once its set and its pretraining are. ``follow_ups`` run in the pool once
    their runs are stored (here, after the training, when there is no pool).
    """
    dirs = [run_dir_for(c, cache) for c in configs]
    missing = list({d: c for c, d in zip(configs, dirs) if not usable(c, d)}.items())
    preflight_checks([c for _, c in missing])
    pretrainings = {run_dir_for(p): p for p in dict.fromkeys(pretrain_config(c) for _, c in missing
                                                             if c.pretrained == "synthetic")}
    pending = [(d, p) for d, p in pretrainings.items() if not usable(p, d)]
    cores = usable_cores()
    jobs_wanted = len(missing) + len(pending) + len(follow_ups)
    devices = None
    if _uses_cuda([c for _, c in missing]):   # one job per GPU (K with $APR_JOBS_PER_GPU), each on its own device
        devices = device_slots(torch.cuda.device_count(), jobs_per_gpu())[:max(1, jobs_wanted)]
        workers = len(devices)
    else:
        workers = max(1, min(workers or cores, jobs_wanted, cores))
    executor = executor_name()
    if executor == "pool" and pending and (workers == 1 or len(pending) == 1):
        _pretrain_here(pending)   # nothing could run beside it: give it every core
        pending = []
    if executor != "pool" and (missing or pending or follow_ups):   # submitit: every job goes to the cluster
        from .submitit_executor import SubmititExecutor   # only here: the default build never imports submitit

        jobs = _plan(missing, pending, follow_ups, cache, threads=max(1, cores // workers))
        run_jobs(jobs, SubmititExecutor(executor, (cache or cache_root()) / "submitit"), progress=progress,
                 desc=f"training models ({executor})")
    elif not missing or workers == 1:   # here, one after the other (the pretraining is done: see above)
        bar = tqdm(total=len(missing) + len(follow_ups), desc="training models", unit="model",
                   disable=not progress or not missing)
        for d, c in missing:
            bar.set_postfix_str(d.name)
            train_entry(c, d)
            bar.update()
        for follow_up in follow_ups:
            bar.set_postfix_str(follow_up.label)
            follow_up.function(*follow_up.args)
            bar.update()
        bar.close()
    else:
        jobs = _plan(missing, pending, follow_ups, cache, threads=max(1, cores // workers))
        try:
            run_jobs(jobs, ProcessExecutor(workers, devices), progress=progress, desc="training models")
        except BaseException:
            for d, _ in [*pending, *missing]:
                remove_dead_temporaries(d)
            raise
    return [load_record(c, d) for c, d in zip(configs, dirs)]
