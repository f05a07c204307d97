"""Build the book: train what the chapters need, execute each chapter with papermill, then jupyter-book to HTML.

First every model the chapters need is trained (or found in the store) in one pool of worker processes; then the
jupytext percent sources ``notebooks/NN_*.py`` run with the build's :class:`BookParameters`. Executed notebooks land
in ``book/_generated/`` (not committed), with the scorecard and the status page.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ..data.paths import REPO_ROOT
from ..data.processes import usable_cores, worker_pool
from ..data.files import atomic_write_bytes
from ..experiments.cache import load_or_train_many
from ..experiments.configs import book_configs
from ..experiments.distractors import book_distractor_follow_up
from ..experiments.parameters import BookParameters
from .scorecard import write_scorecard
from .status import parameter_cells, write_status_page

NOTEBOOKS = REPO_ROOT / "notebooks"
# The parameters of the nbval baselines in tests/notebooks (scripts/update_nbval_baselines.py): fewer seeds than the
# default, and fewer for the ablations than for Table 1, so that the chapters' seed-by-seed comparison of the
# ablations with APR's first runs is exercised.
NBVAL_PARAMETERS = BookParameters(scale="smoke", seeds=3, ablation_seeds=2, figures_dir="_build/nbval-figures")


def chapter_sources() -> list[Path]:
    """The chapter sources in book order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def run_chapter(source: Path, output: Path, parameters: BookParameters, scratch: Path | None = None) -> float:
    """Execute one jupytext chapter with papermill into ``output``; returns seconds taken.

    The chapter gets the build's parameters whole, as the papermill parameter ``parameters``. Its partial notebook,
    the kernel's connection file and its sockets live in one temporary folder, made inside ``scratch`` when given
    (the caller then removes whatever an interrupted chapter leaves)."""
    import jupytext
    import papermill

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # papermill writes its output cell by cell: run into a temporary folder and move the finished
    # notebook into place, so an interrupted build leaves no half-executed chapter behind.
    with tempfile.TemporaryDirectory(prefix="apr-chapter-", dir=scratch) as tmp:
        partial = Path(tmp) / output.name
        papermill.execute_notebook(notebook, str(partial), parameters={"parameters": parameters.to_dict()},
                                   cwd=str(source.parent),
                                   kernel_name="python3", progress_bar=False, log_output=False,
                                   kernel_manager_class=_ipc_kernel_manager(Path(tmp)))
        atomic_write_bytes(output, lambda h: h.write(partial.read_bytes()))
    return time.perf_counter() - start


def run_chapters(chapters: list[Path], generated: Path, parameters: BookParameters) -> list[dict]:
    """Execute ``chapters`` into ``generated``, as many at a time as there are cores (each kernel uses one), and
    tidy each for readers; returns each chapter's seconds, in book order.

    The later chapters start first: they take longest (the acceleration chapter most), so the short ones fill the
    other cores meanwhile.
    """
    from concurrent.futures import as_completed

    seconds: dict[Path, float] = {}
    pool = worker_pool(max(1, min(usable_cores(), len(chapters))))
    # The chapters' temporary files, removed here whatever ends the build: an interrupted chapter's worker is
    # killed with it and cleans up nothing itself. SIGTERM is made an exit so that this cleanup runs for it too.
    scratch = Path(tempfile.mkdtemp(prefix="apr-book-"))
    previous = _exit_on_sigterm()
    try:
        jobs = {pool.submit(run_chapter, source, generated / f"{source.stem}.ipynb", parameters, scratch): source
                for source in reversed(chapters)}
        for job in as_completed(jobs):
            source = jobs[job]
            seconds[source] = job.result()
            tidy_for_readers(generated / f"{source.stem}.ipynb")
            print(f"[book] {source.stem} done in {seconds[source]:.1f} s ({len(seconds)}/{len(chapters)} chapters)",
                  flush=True)
    except BaseException as exc:
        if not isinstance(exc, Exception):     # interrupted: the running chapters are not waited for
            for worker in multiprocessing.active_children():
                worker.kill()
        raise
    finally:   # after a failed chapter, start no other (the running ones finish: their kernels stop with them)
        pool.shutdown(cancel_futures=True)
        shutil.rmtree(scratch, ignore_errors=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return [{"chapter": source.stem, "seconds": round(seconds[source], 1)} for source in chapters]


NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"


def tidy_for_readers(path: Path) -> None:
    """Make an executed chapter read as results first: drop the parameters cells (the status page lists the
    parameters) and the nbval markers, and fold every other code cell behind a "show code" toggle
    (myst-nb's ``hide-input``). The nbval baselines are made from the untouched notebooks."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("papermill", None)        # it names the build machine's temporary files
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not any(t.startswith(("remove-", "hide-")) for t in tags):
            tags.append("hide-input")
        cell.source = "\n".join(line for line in cell.source.splitlines() if line.strip() != NBVAL_MARKER)
    atomic_write_bytes(path, lambda h: h.write(nbformat.writes(notebook).encode()))


def _exit_on_sigterm():
    """Make SIGTERM raise SystemExit in this (main) thread; the handler it replaced, or None off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)


def _ipc_kernel_manager(folder: Path) -> type:
    """A kernel manager that talks to the chapter's kernel over local IPC sockets in ``folder`` instead of TCP,
    with its connection file there too.

    The kernel is local anyway; over TCP it prints a transport warning into every build's output.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            # The sockets' path prefix. jupyter_client's default ("kernel-ipc" in the working folder) picks socket
            # numbers by which files exist, so two kernels started at once there (two builds, or a build and the
            # nbval baselines) could take the same ones.
            return os.path.join(str(folder), f"k{uuid.uuid4().hex[:12]}-ipc")   # short: a socket path has 107 bytes

        @default("connection_file")
        def _default_connection_file(self) -> str:
            return os.path.join(str(folder), f"kernel-{uuid.uuid4().hex}.json")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before it asks it to shut down; when that SIGINT lands while the
            # kernel is still handling a message the kernel prints "KeyboardInterrupt caught in kernel" into the
            # build's output. A finished chapter has no cell running to interrupt, and the shutdown request goes to
            # the control channel, which a busy kernel still answers.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return IPCKernelManager


INCLUDED_FIGURES = ("gpu_estimates.md",)    # book/gpu.md's table (scripts/gpu_estimates.py)


def book_sources(root: Path) -> Path:
    """Copy the book's configuration and hand-written pages into ``root`` (to build elsewhere)."""
    (root / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for page in (REPO_ROOT / "book").glob("*.md"):
        shutil.copy2(page, root / "book" / page.name)
    shutil.copytree(REPO_ROOT / "_static", root / "_static", dirs_exist_ok=True)   # the book's CSS and JS
    shutil.copytree(REPO_ROOT / "book" / "_ext", root / "book" / "_ext", dirs_exist_ok=True)   # its Sphinx extension
    for name in INCLUDED_FIGURES:      # computed tables a hand-written page includes
        (root / "figures").mkdir(exist_ok=True)
        shutil.copy2(REPO_ROOT / "figures" / name, root / "figures" / name)
    return root


def build_book(parameters: BookParameters = BookParameters(), *, html: bool = True, chapters: list[Path] | None = None,
               root: Path | None = None) -> Path:
    """Train every model the book needs, run every chapter with ``parameters``, build the HTML.

    ``root``: build in another folder (a copy of the book's pages; tests use this) instead of
    the repository. Returns the index page.
    """
    if chapters is None and not NOTEBOOKS.is_dir():
        raise FileNotFoundError(f"the book's chapters are not part of an installed apr (no '{NOTEBOOKS}'): build the "
                                "book from a clone of apr-book with make book; the installed package trains, "
                                "extracts and evaluates")
    # Kernels and training workers inherit this: small torch ops on 2 cores are faster with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    chapters = chapter_sources() if chapters is None else chapters
    root = REPO_ROOT if root is None else book_sources(Path(root))
    generated = root / "book" / "_generated"
    started = time.perf_counter()
    configs = book_configs(parameters)
    print(f"[book] {len(configs)} models (cached ones are reused) ...", flush=True)
    # Fig. 8's distractors are rendered and embedded in the training pool once its runs exist, beside other training.
    fig8 = book_distractor_follow_up(parameters)
    records = load_or_train_many(configs, follow_ups=[fig8] if fig8 is not None else [],
                                 execution=parameters.execution)
    shown = parameter_cells(parameters)
    status = {"parameters": shown, "models": len(configs),
              "training_s": round(time.perf_counter() - started, 1)}
    status["chapters"] = run_chapters(chapters, generated, parameters)
    write_scorecard(parameters, generated)
    status["total_s"] = round(time.perf_counter() - started, 1)
    write_status_page(status, records, generated)
    if html:
        print("[book] jupyter-book build (warnings are errors) ...", flush=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        subprocess.run([str(jb), "build", str(root), "--builder", "html", "-W", "--keep-going", "-q"],
                       check=True, cwd=root)
    return root / "_build" / "html" / "index.html"
