"""The results cache: train each configuration once, reuse it everywhere.

Chapters and scripts ask for results by configuration (``load_or_train``); a run lives in
``runs/cache/<config.key()>/``, so a changed setting trains a new model and leaves the
others in place. ``CACHE_VERSION`` enters every key: bump it when a code change alters
what a configuration trains to, and every cached run is retrained.

``$APR_CACHE_DIR`` moves the cache elsewhere. On a CPU, several missing runs train side by side in worker processes (one torch thread
each, never more threads than cores); on a GPU they train one after another.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from tqdm.auto import tqdm

from .config import APRConfig
from .pretrain import pretrain_config
from .runs import RUNS, load_run

CACHE_ENV = "APR_CACHE_DIR"   # another cache folder (tests use a temporary one)
CACHE_VERSION = 1


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

    def model(self, device: str = "cpu"):
        from .train import load_model

        return load_model(self.run_dir, device)[0]


def run_dir_for(config: APRConfig, cache: Path | None = None) -> Path:
    """The cache folder of ``config``: its key plus a readable prefix."""
    return (cache or cache_root()) / f"{config.variant}-{cache_key(config)}"


def cache_key(config: APRConfig) -> str:
    import hashlib

    return hashlib.sha256(f"v{CACHE_VERSION}-{config.key()}".encode()).hexdigest()[:12]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _complete(run_dir: Path) -> bool:
    try:
        return "metrics" in load_run(run_dir)
    except (FileNotFoundError, ValueError):
        return False


def _prepare_data(configs: Sequence[APRConfig]) -> None:
    """Generate the synthetic sets the runs need once, here, before workers read them."""
    from .data.synthetic import ensure_synthetic, synthetic_config

    for scale, seed, root in dict.fromkeys((c.synthetic_scale, c.seed, c.data_root) for c in configs
                                           if c.dataset == "synthetic"):
        ensure_synthetic(config=synthetic_config(scale, seed), data_root=root, progress=False)


def _train_and_evaluate(config: APRConfig, run_dir: Path, threads: int | None, progress: bool) -> Path:
    """Worker: train (resuming a half-finished run) and evaluate one configuration."""
    from .evaluate import evaluate_run
    from .train import fit, load_training_data, resolve_device

    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(config.device)
    training = load_training_data(config, device, decode=config.data_path == "decoded", progress=False)
    if not (run_dir / "run.json").is_file():
        fit(config, run_dir, resume=True, progress=progress, training=training)
    evaluate_run(run_dir, device=str(device), progress=False, training=training)
    return run_dir


def load_or_train(config: APRConfig, *, cache: Path | None = None, progress: bool = True) -> RunRecord:
    """The cached run of ``config``, trained and evaluated first if it is missing."""
    return load_or_train_many([config], cache=cache, progress=progress)[0]


def load_or_train_many(configs: Sequence[APRConfig], *, cache: Path | None = None, workers: int | None = None,
                       progress: bool = True) -> list[RunRecord]:
    """Cached runs of ``configs`` (in order); the missing ones are trained first.

    ``workers``: processes training side by side on a CPU (default: the number of cores,
    at most the number of missing runs); each gets ``cores // workers`` torch threads.
    """
    dirs = [run_dir_for(c, cache) for c in configs]
    missing = list({d: c for c, d in zip(configs, dirs) if not _complete(d)}.items())
    needs_pretraining = {pretrain_config(c): c for _, c in missing if c.pretrained == "synthetic"}
    if needs_pretraining:
        # The shared pretraining runs first, here with every core, so workers only read its weights.
        from .pretrain import pretrained_backbone

        threads = torch.get_num_threads()
        torch.set_num_threads(_cores())
        try:
            for c in needs_pretraining.values():
                pretrained_backbone(c, progress=progress)
        finally:
            torch.set_num_threads(threads)
    if missing:
        cuda = any(c.device.startswith("cuda") or (c.device == "auto" and torch.cuda.is_available()) for _, c in missing)
        cores = _cores()
        workers = 1 if cuda else max(1, min(workers or cores, len(missing), cores))
        bar = tqdm(total=len(missing), desc="training models", unit="model", disable=not progress)
        if workers == 1:
            for d, c in missing:
                bar.set_postfix_str(d.name)
                _train_and_evaluate(c, d, None, progress=False)
                bar.update()
        else:
            _prepare_data([c for _, c in missing])
            # spawn: a fresh interpreter per worker (fork after torch has started threads can hang)
            pool = futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            try:
                jobs = {pool.submit(_train_and_evaluate, c, d, max(1, cores // workers), False): d for d, c in missing}
                for job in futures.as_completed(jobs):
                    try:
                        job.result()
                    except Exception as exc:
                        raise RuntimeError(f"training {jobs[job].name} failed: {exc}") from exc
                    bar.set_postfix_str(jobs[job].name)
                    bar.update()
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)   # do not start the remaining runs
                raise
            pool.shutdown()
        bar.close()
    return [RunRecord(c, d, load_run(d)) for c, d in zip(configs, dirs)]
