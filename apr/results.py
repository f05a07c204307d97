"""The results cache: train each configuration once, reuse it everywhere.

Chapters and scripts ask for results by configuration (``load_or_train``); a run lives in
``runs/cache/<config.key()>/``, so a changed setting trains a new model and leaves the
others in place. ``CACHE_VERSION`` enters every key: bump it when a code change alters
what a configuration trains to, and every cached run is retrained.

``$APR_CACHE_DIR`` moves the cache elsewhere. On a CPU, several missing runs train side by side in worker processes (one torch thread
each, never more threads than cores), in one pool that also generates the synthetic sets they read and runs
the work that waits for them (:class:`FollowUp`), each job as soon as what it needs is there; on a GPU they
train one after another.
"""

from __future__ import annotations

import concurrent.futures as futures
import os
import signal
import sys
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from .config import APRConfig
from .data.datasets import is_synthetic, stands_for
from .data.processes import usable_cores, worker_pool
from .data.synthetic import ensure_synthetic, synthetic_config
from .data.training import load_run_dataset, load_training_data, synthetic_root_of
from .device import resolve_device
from .evaluate import evaluate_run
from .model import APR, imagenet_state_dict, load_model
from .pretrain import pretrain_config
from .runs import (RUNS, CorruptRunFile, load_checkpoint, load_run, remove_dead_temporaries, save_checkpoint,
                   save_json)
from .train import fit

CACHE_ENV = "APR_CACHE_DIR"   # another cache folder (tests use a temporary one)
CACHE_VERSION = 4   # 2: training seed k starts from pretraining run k; 3: small-map depthwise kernel, 1,350 test ids;
                    # 4: synthetic folders named by their attribute rows' source too (entries record the folder)


def cache_root() -> Path:
    """``$APR_CACHE_DIR`` if set, else ``runs/cache`` in the repository."""
    return Path(os.environ.get(CACHE_ENV) or RUNS / "cache")


@dataclass
class RunRecord:
    """One trained and evaluated configuration in the cache."""

    config: APRConfig
    run_dir: Path
    info: dict[str, Any] = field(repr=False)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.info["metrics"]

    @property
    def history(self) -> list[dict[str, float]]:
        return self.info["history"]

    def features(self) -> dict[str, Any]:
        """Query and gallery embeddings, ids, cameras and attribute probabilities (``features.pt``)."""
        return torch.load(self.run_dir / "features.pt", weights_only=False)

    def model(self, device: str = "cpu") -> APR:
        return load_model(self.run_dir, device)[0]


def run_dir_for(config: APRConfig, cache: str | Path | None = None) -> Path:
    """The cache folder of ``config``: its key plus a readable prefix."""
    return (Path(cache) if cache else cache_root()) / f"{config.variant}-{cache_key(config)}"


def cache_key(config: APRConfig) -> str:
    import hashlib

    return hashlib.sha256(f"v{CACHE_VERSION}-{config.key()}".encode()).hexdigest()[:12]


COMPLETE = "complete.json"   # written last, atomically: an entry without it is not finished
OTHER_DATA = "it was trained on the synthetic set"   # an entry of data other than this configuration's: start anew


def entry_problem(config: APRConfig, run_dir: Path) -> str | None:
    """Why the cache entry ``run_dir`` of ``config`` cannot be used as it is; None when it is complete.

    Complete means: the completion marker, a ``run.json`` that parses, was written for
    ``config`` and holds metrics, a ``model.pt`` that loads, and ``features.pt``. An entry from
    before the marker existed that passes every other check gets its marker now.
    """
    if not run_dir.exists():
        return "missing"
    try:
        info = load_run(run_dir)
    except FileNotFoundError:
        return "no run.json"
    except CorruptRunFile as exc:
        return str(exc)
    if info.get("key") != config.key():
        return f"run.json was written for another configuration (key {info.get('key')}, expected {config.key()})"
    if "metrics" not in info:
        return "run.json holds no metrics (evaluation did not finish)"
    if is_synthetic(config.dataset):
        trained_on, reads = Path(info.get("dataset_root", "")).name, synthetic_root_of(config).name
        if trained_on != reads:
            return f"{OTHER_DATA} '{trained_on}'; this configuration reads '{reads}'"
    for name in ("model.pt", "features.pt"):
        if not (run_dir / name).is_file():
            return f"{name} is missing"
    try:
        load_checkpoint(run_dir / "model.pt")
    except CorruptRunFile as exc:
        return str(exc)
    if not (run_dir / COMPLETE).is_file():
        save_json(run_dir / COMPLETE, {"key": config.key()})
    return None


def heal_entry(run_dir: Path, problem: str) -> None:
    """Make a broken entry resumable: drop its results (kept: a checkpoint that loads, unless it was trained on
    other data), say so in one line."""
    checkpoint = run_dir / "checkpoint.pt"
    if problem.startswith(OTHER_DATA):
        checkpoint.unlink(missing_ok=True)
    try:
        load_checkpoint(checkpoint)
        action = "resuming it from its checkpoint"
    except FileNotFoundError:
        action = "training it again"
    except CorruptRunFile:
        checkpoint.unlink()
        action = "training it again (its checkpoint is unreadable too)"
    for name in (COMPLETE, "run.json", "model.pt", "features.pt", "backbone.pt", "per_query.npz"):
        (run_dir / name).unlink(missing_ok=True)
    for outcomes in run_dir.glob("distractors-*.npz"):   # Fig. 8's outcomes of the dropped model
        outcomes.unlink()
    print(f"warning: cache entry '{run_dir}' is broken ({problem}); {action}", file=sys.stderr, flush=True)


def _usable(config: APRConfig, run_dir: Path) -> bool:
    """True when the entry is complete; a broken one is healed (and False returned) so that it is trained again."""
    remove_dead_temporaries(run_dir)
    problem = entry_problem(config, run_dir)
    if problem is None:
        return True
    if problem != "missing":
        heal_entry(run_dir, problem)
    return False


def _synthetic_set(config: APRConfig) -> tuple:
    """The arguments of :func:`_ensure_quietly` that generate the synthetic set ``config`` reads."""
    layout = stands_for(config.dataset)
    return (synthetic_config(config.synthetic_scale, config.seed, layout, config.synthetic_test_ids), layout,
            config.data_root)


def _ensure_quietly(job: tuple) -> Path:
    config, layout, root = job
    return ensure_synthetic(config=config, layout=layout, data_root=root, progress=False)


@dataclass(frozen=True)
class FollowUp:
    """Work for the training pool once the runs of ``needs`` are in the cache: ``function(*args)``, run in a worker
    process beside the training still going on (so ``function`` is a module-level function and its arguments
    pickle). The book computes Fig. 8's distractor outcomes this way. Its result is not returned: a follow-up caches
    what it computes."""

    function: Callable[..., Any]
    args: tuple = ()
    needs: tuple[APRConfig, ...] = ()
    label: str = "follow-up"


@dataclass
class _Job:
    """One piece of work for the pool: ``function(*args)`` once the jobs keyed ``after`` are done."""

    key: Hashable                                  # what later jobs wait for: a run's folder, or ("data", folder)
    function: Callable[..., Any]
    args: tuple
    after: set[Hashable]
    label: str
    prepare: Callable[[], Any] | None = None       # run here just before the job is handed to a worker


def _run_jobs(jobs: Sequence[_Job], workers: int, bar: tqdm) -> None:
    """Run ``jobs`` in a pool of ``workers`` processes, each job once every job it waits for is done.

    A worker gets one job at a time, the first ready one in ``jobs``' order, so that order is the priority (the
    pool's own queue would hand out jobs in the order they were submitted, however urgent the later ones).
    """
    keys = {job.key for job in jobs}
    done: set[Hashable] = set()
    waiting = list(jobs)
    running: dict[futures.Future, _Job] = {}
    pool = worker_pool(workers)
    try:
        while waiting or running:
            ready = [job for job in waiting if not (job.after & keys) - done]
            for job in ready[: workers - len(running)]:
                waiting.remove(job)
                if job.prepare is not None:
                    job.prepare()
                running[pool.submit(job.function, *job.args)] = job
            if not running:   # cannot happen: no job waits, directly or not, for itself
                raise RuntimeError(f"{len(waiting)} jobs wait for work that never runs: {waiting[0].label}")
            finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                try:
                    future.result()
                except Exception as exc:
                    raise RuntimeError(f"{job.label} failed: {exc}") from exc
                done.add(job.key)
                bar.set_postfix_str(job.label)
                bar.update()
    except BaseException:   # a failed job, Ctrl-C, ...: stop every worker now, not after its model
        stop_pool(pool)
        raise
    pool.shutdown()


def pretrained_backbone(config: APRConfig, *, progress: bool = False) -> Path:
    """Path of the backbone weights ``pretrained="synthetic"`` means for ``config``: the
    backbone of its pretraining run (:func:`apr.pretrain.pretrain_config`), trained and cached on first use."""
    record = load_or_train(pretrain_config(config), progress=progress)
    path = record.run_dir / "backbone.pt"
    try:
        load_checkpoint(path)
    except (FileNotFoundError, CorruptRunFile):   # derived from model.pt: write it (again)
        save_checkpoint(path, record.model().backbone.state_dict())
    return path


def initial_backbone(config: APRConfig) -> Path | None:
    """The weights ``fit`` starts ``config``'s backbone from, when the results layer provides them."""
    return pretrained_backbone(config) if config.pretrained == "synthetic" else None


def _train_and_evaluate(config: APRConfig, run_dir: Path, threads: int | None, progress: bool) -> Path:
    """Worker: train (resuming a half-finished run) and evaluate one configuration."""
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(config.device)
    training = load_training_data(config, device, decode=config.data_path == "decoded", progress=False)
    if not (run_dir / "run.json").is_file():
        fit(config, run_dir, resume=True, progress=progress, training=training, backbone_weights=initial_backbone(config))
    evaluate_run(run_dir, device=str(device), progress=False, training=training)
    save_json(run_dir / COMPLETE, {"key": config.key()})
    return run_dir


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


def stop_pool(pool: futures.ProcessPoolExecutor) -> None:
    """Kill the workers that are training (their checkpoints stay resumable) and cancel what has not started.

    The workers die first, with a second Ctrl-C held off until they are gone: a worker left alive
    would take the next queued run, and the interpreter's exit would wait for it.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        processes = list((pool._processes or {}).values())   # the executor has no public handle on its workers
        for process in processes:
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join()
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def load_or_train(config: APRConfig, *, cache: Path | None = None, progress: bool = True) -> RunRecord:
    """The cached run of ``config``, trained and evaluated first if it is missing."""
    return load_or_train_many([config], cache=cache, progress=progress)[0]


def _pretrain_here(pretraining: Sequence[APRConfig], progress: bool) -> None:
    """Train pretraining runs in this process with every core, one after the other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(usable_cores())
    try:
        for config in pretraining:
            load_or_train_many([config], workers=1, progress=progress)
    finally:
        torch.set_num_threads(threads)


def load_or_train_many(configs: Sequence[APRConfig], *, cache: Path | None = None, workers: int | None = None,
                       progress: bool = True, follow_ups: Sequence[FollowUp] = ()) -> list[RunRecord]:
    """Cached runs of ``configs`` (in order); the missing ones are trained first.

    ``workers``: processes training side by side on a CPU (default: the number of cores,
    at most the number of jobs); each gets ``cores // workers`` torch threads. The pool also
    generates the synthetic sets the runs need, and each job starts as soon as what it needs is
    there: a pretraining (one per training seed) once its population is generated, beside the
    generation of the set the models are fine-tuned on, and a model once its set and its
    pretraining are. ``follow_ups`` run in the pool once their runs are cached (here, after the
    training, when there is no pool).
    """
    dirs = [run_dir_for(c, cache) for c in configs]
    missing = list({d: c for c, d in zip(configs, dirs) if not _usable(c, d)}.items())
    preflight_checks([c for _, c in missing])
    pretraining = {p: run_dir_for(p) for p in dict.fromkeys(pretrain_config(c) for _, c in missing
                                                              if c.pretrained == "synthetic")}
    pending = [(d, p) for p, d in pretraining.items() if not _usable(p, d)]
    cuda = any(c.device.startswith("cuda") or (c.device == "auto" and torch.cuda.is_available()) for _, c in missing)
    cores = usable_cores()
    workers = 1 if cuda else max(1, min(workers or cores, len(missing) + len(pending) + len(follow_ups), cores))
    if pending and (workers == 1 or len(pending) == 1):
        _pretrain_here([p for _, p in pending], progress)   # nothing could run beside it: give it every core
        pending = []
    if not missing or workers == 1:   # here, one after the other (the pretraining is done: see above)
        bar = tqdm(total=len(missing) + len(follow_ups), desc="training models", unit="model",
                   disable=not progress or not missing)
        for d, c in missing:
            bar.set_postfix_str(d.name)
            _train_and_evaluate(c, d, None, progress=False)
            bar.update()
        for follow_up in follow_ups:
            bar.set_postfix_str(follow_up.label)
            follow_up.function(*follow_up.args)
            bar.update()
        bar.close()
        return [RunRecord(c, d, load_run(d)) for c, d in zip(configs, dirs)]
    runs = pending + missing
    # The synthetic set of each configuration, found once (naming it looks for the attribute file on disk).
    roots = {c: synthetic_root_of(c) for c in dict.fromkeys([c for _, c in runs] + [c for f in follow_ups for c in f.needs])
             if is_synthetic(c.dataset)}
    data = {root: _synthetic_set(c) for c, root in roots.items() if not (root / "synthetic.json").is_file()}
    pending_dirs = {d for d, _ in pending}
    threads = max(1, cores // workers)

    def data_keys(c: APRConfig) -> set[Hashable]:
        return {("data", roots[c])} if c in roots else set()

    def run_job(d: Path, c: APRConfig) -> _Job:
        pre = pretraining[pretrain_config(c)] if c.pretrained == "synthetic" else None
        # The main process writes the pretraining's backbone.pt once, not racing workers.
        prepare = (lambda: pretrained_backbone(c)) if pre is not None else None
        return _Job(d, _train_and_evaluate, (c, d, threads, False), data_keys(c) | ({pre} & pending_dirs), d.name,
                    prepare)

    jobs = [_Job(("data", root), _ensure_quietly, (arguments,), set(), f"data {root.name}")
            for root, arguments in data.items()]
    jobs += [run_job(d, c) for d, c in pending]          # pretrainings first: every model waits for one
    jobs += [_Job(("follow-up", i), f.function, f.args,
                  set().union(*({run_dir_for(c, cache)} | data_keys(c) for c in f.needs)), f.label)
             for i, f in enumerate(follow_ups)]
    jobs += [run_job(d, c) for d, c in missing]
    bar = tqdm(total=len(jobs), desc="training models", unit="job", disable=not progress)
    try:
        _run_jobs(jobs, workers, bar)
    except BaseException:
        for d, _ in runs:
            remove_dead_temporaries(d)
        raise
    finally:
        bar.close()
    return [RunRecord(c, d, load_run(d)) for c, d in zip(configs, dirs)]
