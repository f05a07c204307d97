"""The scheduler: where and how the missing runs train. :class:`~apr.experiments.execution.Execution` holds the
settings (this machine's processes, submitit's local subprocesses or Slurm jobs; jobs per GPU; the Slurm job's
partition, GPUs and time limit), :func:`train_missing` the policy: on a CPU several models side by side, one torch
thread each, never more threads than cores; on CUDA one process per GPU (``jobs_per_gpu`` when several fit); a
pretraining nothing could run beside trained here with every core; on a cluster every job submitted.
:func:`plan_jobs` turns the work into jobs for the pool (:mod:`apr.experiments.jobs`): the synthetic sets,
pretrainings, follow-ups and models, each waiting for what it reads.

The settings are passed as arguments from the CLI (``apr book --executor ...``) through
:class:`apr.experiments.BookParameters` to every call that trains, never through the environment.
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
from ..engine.run_data import synthetic_root_of, synthetic_set_of
from ..data.files import remove_dead_temporaries
from ..engine.store import cache_root, pretrained_backbone, run_dir_for, train_entry, usable
from .execution import Execution
from .jobs import Job, ProcessExecutor, device_slots, run_jobs

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


def plan_jobs(missing: Sequence[tuple[Path, APRConfig]], pending: Sequence[tuple[Path, APRConfig]],
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


def train_missing(missing: Sequence[tuple[Path, APRConfig]], follow_ups: Sequence[FollowUp] = (), *,
                  cache: Path | None = None, workers: int | None = None, execution: Execution = Execution(),
                  progress: bool = True) -> None:
    """Train the ``missing`` (run folder, configuration) pairs, the pretrainings they start from first, and run
    ``follow_ups``, where ``execution`` says.

    ``workers``: processes training side by side on a CPU (default: the number of cores, at most the number of
    jobs); each gets ``cores // workers`` torch threads. On CUDA, one process per visible GPU (``jobs_per_gpu`` per
    GPU when several fit), each training on its own GPU. Each job starts as soon as what it needs is there: a
    pretraining (one per data seed and length) once its population is generated, beside the generation of the set
    the models are fine-tuned on, and a model once its set and its pretraining are. ``follow_ups`` run in the pool
    once their runs are stored (here, after the training, when there is no pool).
    """
    pretrainings = {run_dir_for(p): p for p in dict.fromkeys(pretrain_config(c) for _, c in missing
                                                             if c.pretrained == "synthetic")}
    pending = [(d, p) for d, p in pretrainings.items() if not usable(p, d)]
    cores = usable_cores()
    jobs_wanted = len(missing) + len(pending) + len(follow_ups)
    devices = None
    if _uses_cuda([c for _, c in missing]):   # one job per GPU (K with jobs_per_gpu), each on its own device
        devices = device_slots(torch.cuda.device_count(), execution.jobs_per_gpu)[:max(1, jobs_wanted)]
        workers = len(devices)
    else:
        workers = max(1, min(workers or cores, jobs_wanted, cores))
    if execution.executor == "pool" and pending and (workers == 1 or len(pending) == 1):
        _pretrain_here(pending)   # nothing could run beside it: give it every core
        pending = []
    if execution.executor != "pool" and (missing or pending or follow_ups):   # submitit: every job to the cluster
        from .submitit_executor import SubmititExecutor   # only here: the default build never imports submitit

        jobs = plan_jobs(missing, pending, follow_ups, cache, threads=max(1, cores // workers))
        executor = SubmititExecutor(execution.executor, (cache or cache_root()) / "submitit", execution.slurm_jobs,
                                    gpus=execution.gpus_per_job, timeout_min=execution.timeout_min,
                                    partition=execution.partition)
        run_jobs(jobs, executor, progress=progress, desc=f"training models ({execution.executor})")
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
        jobs = plan_jobs(missing, pending, follow_ups, cache, threads=max(1, cores // workers))
        try:
            run_jobs(jobs, ProcessExecutor(workers, devices), progress=progress, desc="training models")
        except BaseException:
            for d, _ in [*pending, *missing]:
                remove_dead_temporaries(d)
            raise
