"""Re-execute every chapter at the smoke scale into ``tests/notebooks/`` (the nbval baselines).

Run after changing a chapter; ``tests/test_book.py`` fails while a baseline's code differs
from its chapter's source. Outputs are kept only for the cells marked ``# NBVAL_CHECK_OUTPUT``
(the ones nbval compares in ``--nbval-lax`` mode), so the baselines stay small.

    .venv/bin/python scripts/update_nbval_baselines.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat

from apr.book.build import NBVAL_PARAMETERS, chapter_sources, run_chapter
from apr.data.paths import REPO_ROOT

BASELINES = REPO_ROOT / "tests" / "notebooks"


def strip_unchecked(path: Path) -> None:
    """Drop outputs nbval does not compare, and volatile metadata."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and "NBVAL_CHECK_OUTPUT" not in cell.source:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)      # progress-bar state of models trained while the chapter ran
    nbformat.write(nb, path)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    BASELINES.mkdir(parents=True, exist_ok=True)
    # The smoke models (~0.4 GB) live in a cache of their own, removed at the end, unless one is given.
    with tempfile.TemporaryDirectory(prefix="apr-nbval-cache-") as scratch:
        os.environ.setdefault("APR_CACHE_DIR", scratch)
        for source in chapter_sources():
            out = BASELINES / f"{source.stem}.ipynb"
            seconds = run_chapter(source, out, NBVAL_PARAMETERS)
            strip_unchecked(out)
            print(f"{out.relative_to(REPO_ROOT)}: {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
