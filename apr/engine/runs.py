"""Run folders: ``run.json`` (configuration, provenance, timings, history, metrics),
``checkpoint.pt`` (written atomically after every epoch) and ``model.pt`` (final weights).

The file names are constants here; every module that reads or writes a run folder uses them.
"""

from __future__ import annotations

import json
import pickle
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch
import torchvision

from ..config import APRConfig, config_from_dict
from ..data.files import atomic_write_bytes
from ..data.paths import REPO_ROOT, WORK_ROOT
from ..model import APR

RUNS = WORK_ROOT / "runs"          # the checkout's, $APR_HOME's or the current folder's (data.paths.work_root)
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.pt"
MODEL_FILE = "model.pt"


class CorruptRunFile(ValueError):
    """A run folder's file exists but cannot be read (cut short by a crash, damaged, or not a plain data file)."""


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` (tensors, numbers, strings, containers) to ``path`` atomically, as torch's format."""
    atomic_write_bytes(path, lambda h: torch.save(state, h))


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict:
    """A checkpoint, model or features file written by :func:`save_checkpoint`, read without running code: tensors,
    numbers, strings and containers only (``weights_only``). One error naming the file when it cannot be read."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CorruptRunFile(f"'{path}' is not a plain weights file (it asks to load Python objects or run "
                                 "code); it was not loaded") from None
        raise CorruptRunFile(f"'{path}' cannot be read (truncated or corrupt: {exc}); delete it to start "
                             "again") from None
    except Exception as exc:   # torch's reader fails on a cut-short or damaged file with OSError, RuntimeError,
        # EOFError or ValueError, and documents no list: every failure of it names the file the same way.
        raise CorruptRunFile(f"'{path}' cannot be read (truncated or corrupt: {exc}); delete it to start "
                             "again") from None
    if not isinstance(state, dict):
        raise CorruptRunFile(f"'{path}' holds a {type(state).__name__}, not the dictionary apr writes")
    return state


def git_version() -> dict[str, Any]:
    """Commit and dirty flag of the checkout the package runs from (None outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def provenance(device: torch.device) -> dict[str, Any]:
    """Code version, library versions and the device a run used."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    return {
        "code": git_version(), "python": platform.python_version(), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "device": str(device), "device_name": name,
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
    }


def dataset_fingerprint(config: APRConfig) -> str | None:
    """The content fingerprint of a run's custom dataset file, or None for the built-in datasets."""
    if config.dataset_file is None:
        return None
    from ..data.custom import fingerprint

    return fingerprint(config.dataset_file)


def changed_data(run_dir: str | Path, info: dict) -> str | None:
    """A sentence naming both fingerprints when the custom dataset file a run trained on now holds other content;
    None when it is unchanged, gone (nothing to compare) or the run is of a built-in dataset."""
    recorded = info.get("dataset_fingerprint")
    path = (info.get("config") or {}).get("dataset_file")
    if not recorded or not path or not Path(path).is_file():
        return None
    from ..data.custom import fingerprint

    now = fingerprint(path)
    if now == recorded:
        return None
    return (f"'{run_dir}' was trained on '{path}' with content {recorded}; the file now holds {now} (it was edited "
            "since)")


def attribute_names(run_dir: str | Path, info: dict, model: APR) -> list[str]:
    """The attribute names of ``run.json``, one per attribute head of ``model`` (none for an IDE run); one error
    naming the file when they disagree (a hand-edited or mixed-up run folder)."""
    if model.attr_heads is None:
        return []
    names = list(info.get("attributes") or [])
    if len(names) != len(model.attr_heads):
        raise ValueError(f"'{Path(run_dir) / RUN_FILE}' names {len(names)} attributes but the model has "
                         f"{len(model.attr_heads)} attribute heads")
    return names


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder (clear error when it is not one)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{run_dir}' is not a run folder: no run.json (train one with `python -m apr train`)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptRunFile(f"'{path}' is not valid JSON (truncated or damaged: {exc})") from None
    except RecursionError:
        raise CorruptRunFile(f"'{path}' nests too deep to be a run.json") from None
    if not isinstance(info, dict):
        raise CorruptRunFile(f"'{path}' holds a JSON {type(info).__name__}, not the object a run.json is")
    return info


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[APR, APRConfig]:
    """The final model of a run folder (``model.pt``, weights only) and its configuration (``run.json``)."""
    run_dir = Path(run_dir)
    info = load_run(run_dir)              # a clear error when it is not a run folder
    path = run_dir / MODEL_FILE
    state = load_checkpoint(path, device)
    missing = [k for k in ("model", "num_ids", "attribute_classes") if k not in state]
    if missing:
        raise CorruptRunFile(f"'{path}' lacks {', '.join(missing)}: not a model file written by apr")
    try:
        # The configuration is the run's JSON; model.pt's copy (older runs have only that one) must agree with it.
        config = config_from_dict(info["config"] if isinstance(info.get("config"), dict) else state["config"])
        stored = config_from_dict(state["config"]) if isinstance(state.get("config"), dict) else config
    except (TypeError, ValueError, KeyError) as exc:
        raise CorruptRunFile(f"'{run_dir / RUN_FILE}' holds no valid configuration: {exc}") from None
    if stored != config:
        raise CorruptRunFile(f"'{path}' and '{run_dir / RUN_FILE}' describe different configurations; the folder "
                             "mixes two runs")
    try:
        model = APR(state["num_ids"], state["attribute_classes"], config.variant, config.backbone, "none",
                    config.embed_dim, config.dropout)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise CorruptRunFile(f"'{path}' does not describe an APR model: {exc}") from None
    return model.to(device), config
