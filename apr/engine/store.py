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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import RETIRED_SETTINGS, APRConfig
from ..data.datasets import is_synthetic
from ..data.files import TEMPORARY_SUFFIX, host_name, remove_dead_temporaries, save_json
from ..model import APR
from .device import resolve_device
from .evaluate import FEATURES_FILE, evaluate_run
from .folder_claim import BREAK_FILE, CLAIM_FILE, Holder, claim_folder, is_stale, read_holder
from .pretrain import BACKBONE_FILE, pretrain_config
from .run_data import load_training_data, synthetic_root_of
from .runs import (CHECKPOINT_FILE, MODEL_FILE, RUN_FILE, RUNS, CorruptRunFile, load_checkpoint, load_model, load_run,
                   save_checkpoint)
from .train import fit

CACHE_ENV = "APR_CACHE_DIR"   # another cache folder (tests use a temporary one)
# 2: training seed k starts from pretraining run k; 3: small-map depthwise kernel, 1,350 test ids;
# 4: synthetic folders named by their attribute rows' source too (entries record the folder);
# 5: ARN sums its attribute losses (Eq. 2), bags drawn as objects, the quick set's 450 training identities;
# 6: one 60-epoch pretraining per data seed, shared by every training seed.
CACHE_VERSION = 6
COMPLETE_FILE = "complete.json"   # written last, atomically: an entry without it is not finished
STORE_FILES = frozenset({RUN_FILE, CHECKPOINT_FILE, MODEL_FILE, FEATURES_FILE, BACKBONE_FILE, COMPLETE_FILE})
DERIVED_SUFFIX = ".npz"           # what later analyses compute from an entry and store beside it (rebuildable)
SET_ASIDE_DIR = "set-aside"       # under the cache root: what healing found but could not rebuild


def cache_root() -> Path:
    """``$APR_CACHE_DIR`` if set, else ``runs/cache`` under the work root (the checkout, ``$APR_HOME`` or the
    current folder: :func:`apr.data.paths.work_root`)."""
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
        """The run's test metrics (rank-k, mAP, attribute accuracy ...), as ``run.json`` records them."""
        return self.info["metrics"]

    @property
    def history(self) -> list[dict[str, float]]:
        """The run's per-epoch training record (loss, accuracies, learning rate), one entry per epoch."""
        return self.info["history"]

    def features(self) -> dict[str, Any]:
        """Query and gallery embeddings, ids, cameras and attribute probabilities (``features.pt``)."""
        return load_checkpoint(self.run_dir / FEATURES_FILE)

    def model(self, device: str = "cpu") -> APR:
        """The run's trained network on ``device``, ready for inference."""
        return load_model(self.run_dir, device)[0]


@dataclass(frozen=True)
class EntryProblem:
    """Why an entry cannot be used as it is, whether its checkpoint may still be resumed, and whether what it holds
    belongs to another configuration (and is set aside, not deleted)."""

    reason: str
    checkpoint_usable: bool = True    # False: the checkpoint was trained on other data
    foreign: bool = False             # True: the files are another configuration's run


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
                            f"{config.key()})", checkpoint_usable=False, foreign=True)
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
    for name in (MODEL_FILE, FEATURES_FILE):   # read as plain data: a crafted file is refused here, not run later
        try:
            load_checkpoint(run_dir / name)
        except CorruptRunFile as exc:
            return EntryProblem(str(exc))
    if not (run_dir / COMPLETE_FILE).is_file():
        save_json(run_dir / COMPLETE_FILE, {"key": config.key()})
    return None


def _checkpoint_config(path: Path) -> dict | None:
    """The configuration a readable checkpoint was trained with; None when there is none or it cannot be read."""
    try:
        state = load_checkpoint(path)
    except (FileNotFoundError, CorruptRunFile):
        return None
    recorded = state.get("config") if isinstance(state, dict) else None
    return {k: v for k, v in recorded.items() if k not in RETIRED_SETTINGS} if isinstance(recorded, dict) else None


def _rebuildable(name: str) -> bool:
    """Whether the store wrote a file of this name and can write it again: the run's own files, files derived from
    them (``*.npz``), an interrupted write's temporary file. Anything else in an entry is somebody's and is kept."""
    return name in STORE_FILES or name.endswith(DERIVED_SUFFIX) or name.endswith(TEMPORARY_SUFFIX)


def set_aside(run_dir: Path, names: list[str]) -> Path:
    """Move ``names`` out of the entry into a new folder under the cache's ``set-aside/``; return that folder."""
    target = run_dir.parent / SET_ASIDE_DIR / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    target.mkdir(parents=True)
    for name in names:
        os.replace(run_dir / name, target / name)
    return target


def heal_entry(config: APRConfig, run_dir: Path, problem: EntryProblem) -> None:
    """Make a broken entry trainable, saying so in one line. A checkpoint of ``config`` on this data is kept and
    resumed; the store's other files go; another configuration's run, and any file the store did not write, are
    moved to the cache's ``set-aside/`` folder, never deleted. Links are removed, never followed."""
    checkpoint = run_dir / CHECKPOINT_FILE
    recorded = _checkpoint_config(checkpoint)
    keep = problem.checkpoint_usable and recorded == config.to_dict()
    foreign = problem.foreign or (recorded is not None and recorded != config.to_dict())
    aside: list[str] = []
    for item in sorted(run_dir.iterdir()):
        if item.name in (CLAIM_FILE, BREAK_FILE) or (keep and item.name == CHECKPOINT_FILE):
            continue
        if item.is_symlink():
            item.unlink()                 # a link is removed, never what it points to
        elif foreign or not _rebuildable(item.name) or item.is_dir():
            aside.append(item.name)
        else:
            item.unlink()
    moved = f"; moved {', '.join(aside)} to '{set_aside(run_dir, aside)}'" if aside else ""
    action = "resuming it from its checkpoint" if keep else "training it again"
    print(f"warning: cache entry '{run_dir}' is broken ({problem.reason}){moved}; {action}", file=sys.stderr,
          flush=True)


def _resumable(config: APRConfig, run_dir: Path) -> bool:
    """Whether the entry holds nothing but (maybe) a checkpoint of ``config``: a run to start or resume as it is."""
    names = {p.name for p in run_dir.iterdir()} - {CLAIM_FILE, BREAK_FILE}
    if not names <= {CHECKPOINT_FILE}:
        return False
    return not names or _checkpoint_config(run_dir / CHECKPOINT_FILE) == config.to_dict()


def _claimed_elsewhere(run_dir: Path) -> bool:
    holder = read_holder(run_dir)
    return holder is not None and not is_stale(holder) and (holder.host, holder.pid) != (host_name(), os.getpid())


def usable(config: APRConfig, run_dir: Path) -> bool:
    """True when the entry is complete; a broken one is healed (and False returned) so that it is trained again.
    An entry another live process is writing is left alone (False): its training claims it and waits."""
    if run_dir.is_symlink():
        # The store never reaches outside itself: drop the link (not what it points to) and train anew.
        print(f"warning: cache entry '{run_dir}' is a link to '{os.readlink(run_dir)}'; the link is removed and the "
              "entry trained in the cache itself", file=sys.stderr, flush=True)
        run_dir.unlink()
        return False
    if not run_dir.is_dir():
        return False
    if _claimed_elsewhere(run_dir):
        return False
    remove_dead_temporaries(run_dir)
    if _resumable(config, run_dir):
        return False                      # nothing yet, or an interrupted run's own checkpoint: nothing to heal
    problem = entry_problem(config, run_dir)
    if problem is None:
        return True
    heal_entry(config, run_dir, problem)
    return False


def _say_waiting(run_dir: Path) -> Callable[[Holder], None]:
    return lambda holder: print(f"waiting for cache entry '{run_dir}': {holder.describe()} is training it",
                                file=sys.stderr, flush=True)


def train_entry(config: APRConfig, run_dir: Path, threads: int | None = None, progress: bool = False) -> Path:
    """Train (resuming a half-finished run) and evaluate ``config`` into its entry, and mark it complete."""
    if threads:
        torch.set_num_threads(threads)
    device = resolve_device(config.device)
    backbone = initial_backbone(config)
    # Another book (or node sharing the cache) may be training this entry: wait for it, then use what it made.
    with claim_folder(run_dir, wait=True, on_wait=_say_waiting(run_dir)):
        if usable(config, run_dir):   # finished meanwhile by the process this one waited for
            return run_dir
        training = load_training_data(config, device, decode=config.data_path == "decoded", progress=False)
        if not (run_dir / RUN_FILE).is_file():
            fit(config, run_dir, resume=True, progress=progress, training=training, backbone_weights=backbone)
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
