"""Run folders: ``run.json`` (configuration, provenance, timings, history, metrics),
``checkpoint.pt`` (written atomically after every epoch) and ``model.pt`` (final weights).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
import torchvision

from .data.paths import REPO_ROOT

RUNS = REPO_ROOT / "runs"


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it into place.

    A reader (or a resumed run after ``kill -9``) sees the old file or the new one, never half.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, lambda h: h.write((json.dumps(data, indent=2, default=str) + "\n").encode()))


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write_bytes(path, lambda h: torch.save(state, h))


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
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"'{run_dir}' is not a run folder: no run.json (train one with `python -m apr train`)")
    return json.loads(path.read_text())
