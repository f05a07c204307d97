"""Run folders: ``run.json`` (configuration, provenance, timings, history, metrics),
``checkpoint.pt`` (written atomically after every epoch) and ``model.pt`` (final weights).

The file names are constants here; every module that reads or writes a run folder uses them.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
import torchvision

from ..config import APRConfig, config_from_dict
from ..data.paths import REPO_ROOT
from ..model import APR

RUNS = REPO_ROOT / "runs"
TEMPORARY_SUFFIX = ".tmp"
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.pt"
MODEL_FILE = "model.pt"


class CorruptRunFile(ValueError):
    """A run folder's file exists but cannot be read (cut short by a crash, or damaged)."""


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place.

    A reader (or a resumed run after ``kill -9``) sees the old file or the new one, never half.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid is in the name, so that a later run can tell a dead writer's leftover.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_dead_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write_bytes` in ``folder`` whose writer is no longer alive
    (killed by a signal before it could clean up); returns what it deleted."""
    removed = []
    for tmp in folder.glob(f".*{TEMPORARY_SUFFIX}") if folder.is_dir() else []:
        parts = tmp.name.split(".")        # "", name..., pid, random, "tmp"
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        if pid is None or not _alive(pid):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # someone else's process
        return True
    return True


def strict_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None: JSON that strict readers accept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def save_json(path: Path, data: dict) -> None:
    """Write ``data`` as strict JSON (``null``, never ``NaN``), atomically."""
    text = json.dumps(strict_json(data), indent=2, default=str, allow_nan=False) + "\n"
    atomic_write_bytes(path, lambda h: h.write(text.encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write_bytes(path, lambda h: torch.save(state, h))


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict:
    """A checkpoint written by :func:`save_checkpoint`; one error naming the file when it cannot be read."""
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as exc:   # a cut-short or damaged file: torch raises OSError, RuntimeError, EOFError or a pickle error
        raise CorruptRunFile(f"'{path}' cannot be read (truncated or corrupt: {exc}); delete it to start again") from None


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


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder (clear error when it is not one)."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{run_dir}' is not a run folder: no run.json (train one with `python -m apr train`)")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptRunFile(f"'{path}' is not valid JSON (truncated or damaged: {exc})") from None


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[APR, APRConfig]:
    """The final model of a run folder (``model.pt``) and its configuration."""
    run_dir = Path(run_dir)
    load_run(run_dir)                     # a clear error when it is not a run folder
    state = torch.load(run_dir / MODEL_FILE, map_location=device, weights_only=False)
    config = config_from_dict(state["config"])
    model = APR(state["num_ids"], state["attribute_classes"], config.variant, config.backbone, "none",
                config.embed_dim, config.dropout)
    model.load_state_dict(state["model"])
    return model.to(device), config
