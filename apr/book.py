"""Build the book: execute each chapter with papermill, then jupyter-book to HTML.

Chapters are the jupytext percent sources ``notebooks/NN_*.py``, run in name order with the
same parameters (dataset, data root, scale, device, seed). Executed notebooks land in
``book/_generated/`` (not committed); ``book/_generated/status.json`` records each chapter's
parameters, versions and run time for the status page.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .data.paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
GENERATED = REPO_ROOT / "book" / "_generated"
SCALES = ("smoke", "quick", "paper")


def chapter_sources() -> list[Path]:
    """The chapter sources in book order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def run_chapter(source: Path, output: Path, parameters: dict) -> float:
    """Execute one jupytext chapter with papermill into ``output``; returns seconds taken."""
    import jupytext
    import papermill

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(notebook, str(output), parameters=parameters, cwd=str(source.parent),
                               kernel_name="python3", progress_bar=False, log_output=False)
    return time.perf_counter() - start


def build_book(parameters: dict, *, html: bool = True, chapters: list[Path] | None = None) -> Path:
    """Run every chapter with ``parameters`` and build the HTML book; returns the index page.

    Raises ``ValueError`` for an unknown scale before anything runs.
    """
    scale = parameters.get("scale", "quick")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    # Kernels inherit this: small torch ops on 2 cores are much faster with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    chapters = chapter_sources() if chapters is None else chapters
    status = {"parameters": parameters, "python": platform.python_version(), "chapters": []}
    for i, source in enumerate(chapters, 1):
        print(f"[book] chapter {i}/{len(chapters)}: {source.stem} ...", flush=True)
        seconds = run_chapter(source, GENERATED / f"{source.stem}.ipynb", parameters)
        print(f"[book] chapter {i}/{len(chapters)}: {source.stem} done in {seconds:.1f} s", flush=True)
        status["chapters"].append({"chapter": source.stem, "seconds": round(seconds, 1)})
    (GENERATED / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    if html:
        print("[book] jupyter-book build (warnings are errors) ...", flush=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        subprocess.run([str(jb), "build", str(REPO_ROOT), "--builder", "html", "-W", "--keep-going", "-q"],
                       check=True, cwd=REPO_ROOT)
    return REPO_ROOT / "_build" / "html" / "index.html"


def check_parameters(dataset: str, data_root: str | None, scale: str, device: str, seed: int) -> None:
    """Validate a chapter's parameters; raises one ``ValueError`` naming the bad one."""
    from .data.datasets import DATASETS
    from .data.paths import resolve_data_root

    if dataset not in DATASETS:
        raise ValueError(f"parameter dataset={dataset!r}: expected one of {', '.join(DATASETS)}")
    if scale not in SCALES:
        raise ValueError(f"parameter scale={scale!r}: expected one of {', '.join(SCALES)}")
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"parameter device={device!r}: expected auto, cpu, cuda or cuda:N")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter seed={seed!r}: expected a non-negative integer")
    if dataset != "synthetic":
        try:
            resolve_data_root(data_root)
        except FileNotFoundError as exc:
            raise ValueError(f"parameter data_root={data_root!r}: {exc}") from None
