"""The store of trained runs: one folder per configuration, trained once and reused.

A run of configuration ``c`` lives in ``<cache root>/<variant>-<cache_key(c)>/`` (``$APR_CACHE_DIR``, else
``runs/cache`` in the checkout). ``CACHE_VERSION`` enters every key: bump it when a code change alters what a
configuration trains to, and every stored run is trained again. An entry is *complete* when it holds, by the
names the modules that write them give them, a ``run.json`` written for its configuration with metrics, a
``model.pt`` that loads and ``features.pt``; :func:`train_entry` trains and evaluates one entry (resuming a
half-finished one) and marks it complete last. A broken entry is healed: everything but a checkpoint of its own
configuration goes, and it is resumed or trained again. The synthetic pretraining that ``pretrained="synthetic"``
starts from (:mod:`apr.engine.pretrain`) is an entry like any other (:func:`pretrained_backbone`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import RETIRED_SETTINGS, APRConfig
from ..data.datasets import is_synthetic
from ..model import APR
from .device import resolve_device
from .evaluate import FEATURES_FILE, evaluate_run
from .pretrain import BACKBONE_FILE, pretrain_config
from .run_data import load_training_data, synthetic_root_of
from .runs import (CHECKPOINT_FILE, MODEL_FILE, RUN_FILE, RUNS, CorruptRunFile, load_checkpoint, load_model, load_run,
                   remove_dead_temporaries, save_checkpoint, save_json)
from .train import fit

CACHE_ENV = "APR_CACHE_DIR"   # another cache folder (tests use a temporary one)
# 2: training seed k starts from pretraining run k; 3: small-map depthwise kernel, 1,350 test ids;
# 4: synthetic folders named by their attribute rows' source too (entries record the folder).
CACHE_VERSION = 4
COMPLETE_FILE = "complete.json"   # written last, atomically: an entry without it is not finished


def cache_root() -> Path:
    """``$APR_CACHE_DIR`` if set, else ``runs/cache`` in the repository."""
    return Path(os.environ.get(CACHE_ENV) or RUNS / "cache")


def cache_key(config: APRConfig) -> str:
    """The configuration's key with the cache version: the name of its entry."""
    return hashlib.sha256(f"v{CACHE_VERSION}-{config.key()}".encode()).hexdigest()[:12]


def run_dir_for(config: APRConfig, cache: str | Path | None = None) -> Path:
    """The entry folder of ``config``: its key plus a readable prefix."""
    return (Path(cache) if cache else cache_root()) / f"{config.variant}-{cache_key(config)}"


@dataclass
class RunRecord:
    """One trained and evaluated configuration in the store."""

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
        return torch.load(self.run_dir / FEATURES_FILE, weights_only=False)

    def model(self, device: str = "cpu") -> APR:
        return load_model(self.run_dir, device)[0]


@dataclass(frozen=True)
class EntryProblem:
    """Why an entry cannot be used as it is, and whether its checkpoint may still be resumed."""

    reason: str
    checkpoint_usable: bool = True    # False: the checkpoint was trained on other data


def entry_problem(config: APRConfig, run_dir: Path) -> EntryProblem | None:
    """Why the entry ``run_dir`` of ``config`` cannot be used as it is; None when it is complete.

    An entry written before the completion marker existed that passes every other check gets its marker now.
    """
    try:
        info = load_run(run_dir)
    except FileNotFoundError:
        return EntryProblem(f"no {RUN_FILE}")
    except CorruptRunFile as exc:
        return EntryProblem(str(exc))
    if info.get("key") != config.key():
        return EntryProblem(f"{RUN_FILE} was written for another configuration (key {info.get('key')}, expected "
                            f"{config.key()})")
    if "metrics" not in info:
        return EntryProblem(f"{RUN_FILE} holds no metrics (evaluation did not finish)")
    if is_synthetic(config.dataset):
        trained_on, reads = Path(info.get("dataset_root", "")).name, synthetic_root_of(config).name
        if trained_on != reads:
            return EntryProblem(f"it was trained on the synthetic set '{trained_on}'; this configuration reads "
                                f"'{reads}'", checkpoint_usable=False)
    for name in (MODEL_FILE, FEATURES_FILE):
        if not (run_dir / name).is_file():
            return EntryProblem(f"{name} is missing")
    try:
        load_checkpoint(run_dir / MODEL_FILE)
    except CorruptRunFile as exc:
        return EntryProblem(str(exc))
    if not (run_dir / COMPLETE_FILE).is_file():
        save_json(run_dir / COMPLETE_FILE, {"key": config.key()})
    return None


def _own_checkpoint(config: APRConfig, path: Path) -> bool:
    """Whether ``path`` is a readable checkpoint of ``config``."""
    try:
        state = load_checkpoint(path)
    except (FileNotFoundError, CorruptRunFile):
        return False
    recorded = state.get("config") if isinstance(state, dict) else None
    return isinstance(recorded, dict) and \
        {k: v for k, v in recorded.items() if k not in RETIRED_SETTINGS} == config.to_dict()


def heal_entry(config: APRConfig, run_dir: Path, problem: EntryProblem) -> None:
    """Make a broken entry trainable, saying so in one line: everything in it goes but a checkpoint of ``config``
    on this data, from which it is then resumed."""
    checkpoint = run_dir / CHECKPOINT_FILE
    keep = problem.checkpoint_usable and _own_checkpoint(config, checkpoint)
    for item in run_dir.iterdir():
        if keep and item.name == CHECKPOINT_FILE:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()                 # a link is removed, never what it points to
    action = "resuming it from its checkpoint" if keep else "training it again"
    print(f"warning: cache entry '{run_dir}' is broken ({problem.reason}); {action}", file=sys.stderr, flush=True)


def usable(config: APRConfig, run_dir: Path) -> bool:
    """True when the entry is complete; a broken one is healed (and False returned) so that it is trained again."""
    if run_dir.is_symlink():
        # The store never reaches outside itself: drop the link (not what it points to) and train anew.
        print(f"warning: cache entry '{run_dir}' is a link to '{os.readlink(run_dir)}'; the link is removed and the "
              "entry trained in the cache itself", file=sys.stderr, flush=True)
        run_dir.unlink()
        return False
    if not run_dir.is_dir():
        return False
    remove_dead_temporaries(run_dir)
    problem = entry_problem(config, run_dir)
    if problem is None:
        return True
    heal_entry(config, run_dir, problem)
    return False


def train_entry(config: APRConfig, run_dir: Path, threads: int | None = None, progress: bool = False) -> Path:
    """Train (resuming a half-finished run) and evaluate ``config`` into its entry, and mark it complete."""
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(config.device)
    training = load_training_data(config, device, decode=config.data_path == "decoded", progress=False)
    if not (run_dir / RUN_FILE).is_file():
        fit(config, run_dir, resume=True, progress=progress, training=training, backbone_weights=initial_backbone(config))
    evaluate_run(run_dir, device=str(device), progress=False, training=training)
    save_json(run_dir / COMPLETE_FILE, {"key": config.key(), "finished": time.time()})
    return run_dir


def load_record(config: APRConfig, run_dir: Path | None = None) -> RunRecord:
    """The complete entry of ``config`` as a :class:`RunRecord`."""
    run_dir = run_dir or run_dir_for(config)
    return RunRecord(config, run_dir, load_run(run_dir))


def pretrained_backbone(config: APRConfig, *, progress: bool = False) -> Path:
    """The backbone weights ``pretrained="synthetic"`` means for ``config``: those of its pretraining run
    (:func:`apr.engine.pretrain.pretrain_config`), trained into the store on first use."""
    pretraining = pretrain_config(config)
    run_dir = run_dir_for(pretraining)
    if not usable(pretraining, run_dir):
        train_entry(pretraining, run_dir, progress=progress)
    path = run_dir / BACKBONE_FILE
    try:
        load_checkpoint(path)
    except (FileNotFoundError, CorruptRunFile):   # derived from model.pt: write it (again)
        save_checkpoint(path, load_model(run_dir)[0].backbone.state_dict())
    return path


def initial_backbone(config: APRConfig) -> Path | None:
    """The weights ``fit`` starts ``config``'s backbone from when they come from the store (the synthetic
    pretraining), else None (``config.pretrained`` says where they come from)."""
    return pretrained_backbone(config) if config.pretrained == "synthetic" else None
