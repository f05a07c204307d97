"""Shared fixtures: the real annotation files and small generated datasets."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apr.data.paths import REPO_ROOT
from apr.data.synthetic import SynthConfig, generate_synthetic


def pytest_configure(config):
    """One results cache per test session, shared with the nbval kernels (they inherit the
    environment), so the smoke models are trained once and never land in runs/cache."""
    if "APR_CACHE_DIR" not in os.environ:
        config._apr_cache = os.environ["APR_CACHE_DIR"] = tempfile.mkdtemp(prefix="apr-test-cache-")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_unconfigure(config):
    import shutil

    cache = getattr(config, "_apr_cache", None)
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
        os.environ.pop("APR_CACHE_DIR", None)

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


class PausePoint:
    """The file the trainer writes when it reaches its pause point (``tests/pausing.py``), made a FIFO so that a test
    can block until that moment: no polling, no sleep, the same on a fast machine and a slow one.

    The read end stays open until :meth:`close`, so later writers (a second worker) never block on it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)   # opens at once; readable once a writer writes

    def wait(self, proc, describe) -> None:
        """Block until a process writes the pause file, or fail with ``describe()`` when ``proc`` ends first."""
        import select

        pidfd = os.pidfd_open(proc.pid)
        try:
            ready, _, _ = select.select([self.fd, pidfd], [], [])
        finally:
            os.close(pidfd)
        if self.fd not in ready:
            proc.wait()
            pytest.fail(f"the process ended before it paused:\n{describe()}")
        os.read(self.fd, 4096)

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture(scope="session")
def market_mat() -> Path:
    path = SHARED_DATA / "market1501" / "market_attribute.mat"
    if not path.is_file():
        pytest.skip(f"real annotation file not found at {path}")
    return path


@pytest.fixture(scope="session")
def duke_mat() -> Path:
    path = SHARED_DATA / "dukemtmc-reid" / "duke_attribute.mat"
    if not path.is_file():
        pytest.skip(f"real annotation file not found at {path}")
    return path


TINY = SynthConfig(num_train_ids=6, num_test_ids=5, max_images_per_camera=2, max_cameras=3,
                   junk_per_test_id=0.6, distractors_per_test_id=0.6, attribute_source="prior")


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory) -> Path:
    """A small synthetic Market-layout dataset (read-only: copy it before changing it)."""
    root = tmp_path_factory.mktemp("synthetic") / "Market-1501-v15.09.15"
    generate_synthetic(root, TINY, progress=False)
    return root


def declared_parameters(notebook) -> set[str]:
    """The names a chapter's ``parameters`` cell assigns."""
    import re

    names: set[str] = set()
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            names.update(m.group(1) for m in re.finditer(r"^(\w+)\s*=", cell.source, flags=re.MULTILINE))
    return names


def write_jpeg(path: Path, seed: int = 0, size: tuple[int, int] = (128, 64)) -> None:
    """A small random JPEG at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
