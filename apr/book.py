"""Build the book: execute each chapter with papermill, then jupyter-book to HTML.

First every model the chapters need is trained (or found in the results cache) in one pool
of worker processes; then the jupytext percent sources ``notebooks/NN_*.py`` run in name
order with the same parameters (dataset, data root, scale, device, seed). Executed
notebooks land in ``book/_generated/`` (not committed), with ``status.md`` / ``status.json``:
each chapter's parameters, versions, device and run time.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from .data.datasets import is_synthetic, stands_for
from .data.paths import FIGURES, REPO_ROOT
from .runs import atomic_write_bytes, save_json

NOTEBOOKS = REPO_ROOT / "notebooks"
GENERATED = REPO_ROOT / "book" / "_generated"
SCALES = ("smoke", "quick", "paper")
# The parameters of the nbval baselines in tests/notebooks (scripts/update_nbval_baselines.py) and of the smoke
# book the tests build: fewer seeds than the default, and fewer for the ablations than for Table 1, so that the
# chapters' seed-by-seed comparison of the ablations with APR's first runs is exercised.
SMOKE_SEEDS = {"seeds": 3, "ablation_seeds": 2}
NBVAL_PARAMETERS = {"scale": "smoke", "figures_dir": "_build/nbval-figures", **SMOKE_SEEDS}


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
    # papermill writes its output cell by cell: run into a temporary folder and move the finished
    # notebook into place, so an interrupted build leaves no half-executed chapter behind.
    with tempfile.TemporaryDirectory(prefix="apr-chapter-") as tmp:
        partial = Path(tmp) / output.name
        declared = declared_parameters(notebook)   # a chapter gets only the parameters it declares
        papermill.execute_notebook(notebook, str(partial), parameters={k: v for k, v in parameters.items() if k in declared},
                                   cwd=str(source.parent),
                                   kernel_name="python3", progress_bar=False, log_output=False,
                                   kernel_manager_class=_ipc_kernel_manager())
        atomic_write_bytes(output, lambda h: h.write(partial.read_bytes()))
    return time.perf_counter() - start


def run_chapters(chapters: list[Path], generated: Path, parameters: dict) -> list[dict]:
    """Execute ``chapters`` into ``generated``, as many at a time as there are cores (each kernel uses one), and
    tidy each for readers; returns each chapter's seconds, in book order.

    The later chapters start first: they take longest (measured in a warm build, one at a time: chapter 05
    101 s, each other 16 to 21 s), so the short ones fill the other cores meanwhile.
    """
    from concurrent.futures import as_completed

    from .data.processes import usable_cores, worker_pool

    seconds: dict[Path, float] = {}
    pool = worker_pool(max(1, min(usable_cores(), len(chapters))))
    try:
        jobs = {pool.submit(run_chapter, source, generated / f"{source.stem}.ipynb", parameters): source
                for source in reversed(chapters)}
        for job in as_completed(jobs):
            source = jobs[job]
            seconds[source] = job.result()
            tidy_for_readers(generated / f"{source.stem}.ipynb")
            print(f"[book] {source.stem} done in {seconds[source]:.1f} s ({len(seconds)}/{len(chapters)} chapters)",
                  flush=True)
    finally:   # after a failed chapter, start no other (the running ones finish: their kernels stop with them)
        pool.shutdown(cancel_futures=True)
    return [{"chapter": source.stem, "seconds": round(seconds[source], 1)} for source in chapters]


def declared_parameters(notebook) -> set[str]:
    """The names a chapter's ``parameters`` cell assigns."""
    names: set[str] = set()
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            names.update(m.group(1) for m in re.finditer(r"^(\w+)\s*=", cell.source, flags=re.MULTILINE))
    return names


NBVAL_MARKER = "# NBVAL_CHECK_OUTPUT"


def tidy_for_readers(path: Path) -> None:
    """Make an executed chapter read as results first: drop the parameters cells (the status page lists the
    parameters) and the nbval markers, and fold every other code cell behind a "show code" toggle
    (myst-nb's ``hide-input``). The nbval baselines are made from the untouched notebooks."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
        elif not any(t.startswith(("remove-", "hide-")) for t in tags):
            tags.append("hide-input")
        cell.source = "\n".join(line for line in cell.source.splitlines() if line.strip() != NBVAL_MARKER)
    atomic_write_bytes(path, lambda h: h.write(nbformat.writes(notebook).encode()))


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to the chapter's kernel over local IPC sockets instead of TCP.

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
            return os.path.join(tempfile.gettempdir(), f"apr-kernel-{uuid.uuid4().hex}-ipc")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before it asks it to shut down; when that SIGINT lands while the
            # kernel is still handling a message (seen with two chapters at once on 2 busy cores) the kernel prints
            # "ERROR | KeyboardInterrupt caught in kernel" into the build's output. A finished chapter has no cell
            # running to interrupt, and the shutdown request goes to the control channel, which a busy kernel
            # still answers (and after shutdown_wait_time it is terminated anyway).
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return IPCKernelManager


def default_figures_dir(parameters: dict) -> str | None:
    """``figures/`` (None) for the default build; other builds write under ``_build/figures/``."""
    from .experiments import DEFAULT_ABLATION_SEEDS, DEFAULT_SEEDS

    default = (parameters.get("dataset", "synthetic") == "synthetic" and parameters.get("scale", "quick") == "quick"
               and parameters.get("seed", 0) == 0 and parameters.get("seeds", DEFAULT_SEEDS) == DEFAULT_SEEDS
               and parameters.get("ablation_seeds") in (None, DEFAULT_ABLATION_SEEDS)
               and parameters.get("gallery_multiple") is None)
    if default:
        return None
    return f"_build/figures/{parameters.get('dataset', 'synthetic')}-{parameters.get('scale')}-seed{parameters.get('seed', 0)}"


def book_sources(root: Path) -> Path:
    """Copy the book's configuration and hand-written pages into ``root`` (to build elsewhere)."""
    import shutil

    (root / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for page in (REPO_ROOT / "book").glob("*.md"):
        shutil.copy2(page, root / "book" / page.name)
    shutil.copytree(REPO_ROOT / "_static", root / "_static", dirs_exist_ok=True)   # the book's CSS
    return root


def build_book(parameters: dict, *, html: bool = True, chapters: list[Path] | None = None,
               root: Path | None = None) -> Path:
    """Train every model the book needs, run every chapter with ``parameters``, build the HTML.

    ``root``: build in another folder (a copy of the book's pages; tests use this) instead of
    the repository. Returns the index page. Raises ``ValueError`` for a bad parameter before
    anything runs.
    """
    from .distractor_runs import book_distractor_follow_up
    from .experiments import DEFAULT_SEEDS, ablation_seed_count, book_configs
    from .results import load_or_train_many

    parameters = {"dataset": "synthetic", "data_root": None, "scale": "quick", "device": "auto", "seed": 0,
                  "seeds": DEFAULT_SEEDS, "ablation_seeds": None, "gallery_multiple": None} | parameters
    check_parameters(**{k: parameters[k] for k in ("dataset", "data_root", "scale", "device", "seed", "seeds",
                                                   "gallery_multiple", "ablation_seeds")})
    parameters.setdefault("figures_dir", default_figures_dir(parameters))
    # Kernels and training workers inherit this: small torch ops on 2 cores are faster with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    chapters = chapter_sources() if chapters is None else chapters
    root = REPO_ROOT if root is None else book_sources(Path(root))
    generated = root / "book" / "_generated"
    started = time.perf_counter()
    configs = book_configs(parameters["dataset"], parameters["scale"], parameters["seed"], parameters["device"],
                           parameters["data_root"], parameters["seeds"], parameters["ablation_seeds"])
    print(f"[book] {len(configs)} models (cached ones are reused) ...", flush=True)
    t = time.perf_counter()
    # Fig. 8's distractors are rendered and embedded in the training pool once its runs exist, beside other training.
    fig8 = book_distractor_follow_up(parameters["dataset"], parameters["scale"], parameters["seed"], parameters["device"],
                                     parameters["data_root"], ablation_seed_count(parameters["seeds"], parameters["ablation_seeds"]),
                                     parameters["gallery_multiple"])
    records = load_or_train_many(configs, follow_ups=[fig8] if fig8 is not None else [])
    status = {"parameters": parameters, "models": len(configs), "training_s": round(time.perf_counter() - t, 1),
              "chapters": []}
    status["chapters"] = run_chapters(chapters, generated, parameters)
    write_claims(parameters, generated)
    status["total_s"] = round(time.perf_counter() - started, 1)
    write_status_page(status, records, generated)
    if html:
        print("[book] jupyter-book build (warnings are errors) ...", flush=True)
        jb = Path(sys.executable).with_name("jupyter-book")
        subprocess.run([str(jb), "build", str(root), "--builder", "html", "-W", "--keep-going", "-q"],
                       check=True, cwd=root)
    return root / "_build" / "html" / "index.html"


def write_claims(parameters: dict, generated: Path = GENERATED) -> Path:
    """The claims scorecard of a finished build: ``claims.csv`` beside the figures, ``claims.md`` in the book."""
    from .claims import claims_page, scorecard

    figures = figure_folder(parameters.get("figures_dir"))
    table = scorecard(parameters, figures)
    atomic_write_bytes(figures / "claims.csv", lambda h: h.write(table.to_csv(index=False).encode()))
    path = generated / "claims.md"
    generated.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda h: h.write(claims_page(table, parameters).encode()))
    return path


def write_status_page(status: dict, records: list, generated: Path = GENERATED) -> Path:
    """``book/_generated/status.md`` (and ``status.json``): parameters, versions, device and run times."""
    import torch
    import torchvision

    device = records[0].info["provenance"] if records else {}
    versions = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
                "jupyter-book": _version("jupyter-book"), "papermill": _version("papermill"),
                "code": device.get("code", {}).get("commit")}
    # The folders the book's models read their images from (the pretraining population apart).
    roots = [rec.info.get("dataset_root") for rec in records if rec.config.dataset == status["parameters"].get("dataset")]
    status |= {"images_from": sorted({r for r in roots if r}), "versions": versions, "device": {k: device.get(k) for k in ("device", "device_name", "torch_threads")},
               "cpu_cores": os.cpu_count()}
    generated.mkdir(parents=True, exist_ok=True)
    save_json(generated / "status.json", status)
    lines = ["# Status of this build", "",
             "Written by `python -m apr book` after it ran every chapter; everything here was measured by that run.", "",
             "## Parameters", "", "| parameter | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in status["parameters"].items()]
    lines += [f"| images read from | `{_repo_relative(root)}` |" for root in status["images_from"]]
    lines += ["", "## Versions and device", "", "| what | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in versions.items()]
    lines += [f"| device | `{status['device'].get('device')}` ({status['device'].get('device_name')}) |",
              f"| CPU cores / torch threads per training process | {status['cpu_cores']} / {status['device'].get('torch_threads')} |"]
    lines += ["", "## Run time", "", f"Models trained or reused: {status['models']}, in {status['training_s']:.0f} s "
              "(0 s when all came from the cache).", "", "| chapter | seconds |", "|---|---|"]
    lines += [f"| {c['chapter']} | {c['seconds']:.1f} |" for c in status["chapters"]]
    lines += [f"| **whole build before the HTML** | **{status['total_s']:.0f}** |", "",
              "## Models", ""]
    shared = {"backbone": {c.config.backbone for c in records}, "input": {f"{c.config.image_size[0]}x{c.config.image_size[1]}"
              for c in records}, "epochs": {str(c.config.epochs) for c in records}}
    lines += ["Every model: " + ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in shared.items()) + ". *Evaluated on*: "
              "the test split, or the validation split of the λ sweep (training identities held out of its training). *run*: "
              "the cache folder is `<variant>-<run>` under the results cache.", "",
              "| run | variant | seed | λ | left out | evaluated on | rank-1 (%) | mAP (%) | training time (s) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rec in records:
        c, m = rec.config, rec.metrics
        lam = f"{c.lambda_id:g}" if c.variant in ("apr", "apr_no_arm") else "–"    # the others train one loss: no λ
        split = "validation" if c.validation_ids else "test"
        lines.append(f"| `{rec.run_dir.name.rsplit('-', 1)[-1]}` | {c.variant} | {c.train_seed} | {lam} | {_left_out(c)} | {split} | "
                     f"{100 * m['rank1']:.2f} | {100 * m['mAP']:.2f} | {rec.info['timings']['train_s']:.0f} |")
    path = generated / "status.md"
    atomic_write_bytes(path, lambda h: h.write(("\n".join(lines) + "\n").encode()))
    return path


def _left_out(config) -> str:
    """The attributes a leave-one-out run removed, by the name Fig. 6 gives them ("bag (all types)")."""
    from .experiments import REMOVALS, schema_of

    schema = schema_of(config.dataset)
    if config.attributes is None or schema is None or not config.uses_attributes:
        return "–"
    removed = tuple(n for n in schema.names if n not in config.attributes)
    names = {frozenset(v): k for k, v in REMOVALS.get(stands_for(config.dataset),
                                                   {}).items()}
    return names.get(frozenset(removed), ", ".join(removed))


def _repo_relative(path: str) -> str:
    """``path`` relative to the checkout when it lies inside it (no build machine's absolute path on a page)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def figure_folder(figures_dir: str | Path | None) -> Path:
    """Where a chapter saves figures: ``figures/`` by default; a relative path is taken from the repository root."""
    if figures_dir is None:
        return FIGURES
    path = Path(figures_dir)
    return path if path.is_absolute() else REPO_ROOT / path


def check_parameters(dataset: str, data_root: str | None, scale: str, device: str, seed: int, seeds: int = 1,
                     gallery_multiple: float | None = None, ablation_seeds: int | None = None) -> None:
    """Validate a chapter's parameters; raises one ``ValueError`` naming the bad one."""
    from .data.datasets import ATTRIBUTE_ONLY_DATASETS, REID_DATASETS
    from .data.paths import resolve_data_root

    if dataset in ATTRIBUTE_ONLY_DATASETS:
        raise ValueError(f"parameter dataset={dataset!r}: it has no re-ID protocol for the book to run on; the "
                         f"attribute-recognition section trains on it when it is under the data root (DATA_ROOT)")
    if dataset not in REID_DATASETS:
        raise ValueError(f"parameter dataset={dataset!r}: expected one of {', '.join(REID_DATASETS)}")
    if scale not in SCALES:
        raise ValueError(f"parameter scale={scale!r}: expected one of {', '.join(SCALES)}")
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"parameter device={device!r}: expected auto, cpu, cuda or cuda:N")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"parameter seed={seed!r}: expected a non-negative integer")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"parameter seeds={seeds!r}: expected a whole number of training seeds, at least 1")
    if ablation_seeds is not None and (not isinstance(ablation_seeds, int) or not 1 <= ablation_seeds <= seeds):
        raise ValueError(f"parameter ablation_seeds={ablation_seeds!r}: expected a whole number from 1 to seeds "
                         f"({seeds}), or None for the default")
    if gallery_multiple is not None and not (isinstance(gallery_multiple, (int, float)) and 1 < gallery_multiple <= 1000):
        raise ValueError(f"parameter gallery_multiple={gallery_multiple!r}: expected the largest Fig. 8 gallery as a "
                         "multiple of the test gallery, above 1 (26.34 is the paper's 500k), or None")
    if not is_synthetic(dataset):
        try:
            resolve_data_root(data_root)
        except FileNotFoundError as exc:
            raise ValueError(f"parameter data_root={data_root!r}: {exc}") from None
