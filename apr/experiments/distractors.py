"""Fig. 8's experiment over cached runs: each model's accuracy as distractors join its test gallery.

:func:`distractor_outcomes` embeds the distractor images once per model, a block at a time (each block
decoded once for every model), and feeds them to one :class:`apr.evaluation.gallery_growth.GrowingGallery` per run,
reading the per-query outcomes at each gallery size on the way: one pass serves every size. The outcomes
of a run are cached in its folder (``distractors-<digest>.npz``, the digest covering the distractor
images and the sizes), so a rebuild of the book embeds nothing again.
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..config import APRConfig
from ..data.datasets import Record, find_dataset_folder
from ..data.distractors import ensure_synthetic_distractors, read_distractors
from ..data.processes import usable_cores
from ..data.synthetic import ensure_synthetic, synthetic_config
from ..data.tensors import DecodedSplit
from ..engine.device import resolve_device
from ..engine.features import extract
from ..data.files import atomic_write_bytes
from ..evaluation.gallery_growth import GrowingGallery
from ..model import APR
from .cache import FollowUp, RunRecord, load_or_train_many, stored_runs
from .configs import distractor_counts, seeded_configs, variant_configs
from .parameters import BookParameters

OUTCOMES = ("rank1", "AP")
SECONDS = ("decode_s", "extract_s", "search_s")


@dataclass
class GrowthOutcomes:
    """Per-query outcomes (%) at each gallery size: ``values[model][outcome]`` has shape (runs, sizes, queries).

    ``timing`` has one row per (model, run, size): the distractors that size adds to the one before it, and
    the seconds spent decoding them (shared by the runs embedded together, so counted on the first of them),
    embedding them and searching them, as measured when the run's outcomes were computed (they are cached
    with the outcomes).
    """

    sizes: list[int]                         # gallery images at each point (the dataset's gallery + distractors)
    values: dict[str, dict[str, np.ndarray]]
    timing: pd.DataFrame


def _digest(records: Sequence[Record], counts: Sequence[int]) -> str:
    h = hashlib.sha256(repr(list(counts)).encode())
    for r in records[:max(counts)]:
        h.update(f"{Path(r.path).parent.parent.name}/{Path(r.path).name}\n".encode())
    return h.hexdigest()[:12]


def _cache_path(run: RunRecord, digest: str) -> Path:
    return run.run_dir / f"distractors-{digest}.npz"


def _load_cached(run: RunRecord, digest: str) -> dict[str, np.ndarray] | None:
    path = _cache_path(run, digest)
    if not path.is_file():
        return None
    try:
        # Opened here: np.load leaves the file open when the archive is cut short.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            if "key" not in data.files or str(data["key"]) != run.info.get("key") \
                    or set(OUTCOMES + SECONDS) - set(data.files):
                return None   # written for another model, or by an older version of this module
            return {name: np.asarray(data[name]) for name in OUTCOMES + SECONDS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # Derived from the model and the distractors alone: computed again and written over.
        warnings.warn(f"'{path}' is damaged ({exc}); computing its distractor results again", stacklevel=2)
        return None


def _save_cached(run: RunRecord, digest: str, outcomes: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(run.info.get("key", "")), **outcomes)
    atomic_write_bytes(_cache_path(run, digest), lambda h: h.write(buffer.getvalue()))


def _grow(galleries: Sequence[GrowingGallery], models: Sequence[APR], config: APRConfig, records: Sequence[Record],
          device: torch.device, block: int, progress: bool, workers: int | None = None) -> dict[str, Any]:
    """Add ``records`` to every gallery, each block decoded once and embedded by every model; the seconds spent.

    On a CPU the models run side by side in ``workers`` threads (default: one per core), each with one torch
    thread (the same sums as one model at a time with one thread, so the features do not depend on how many ran
    together).
    """
    seconds: dict[str, Any] = {"decode": 0.0, "extract": np.zeros(len(models)), "search": np.zeros(len(models))}
    workers = min(len(models), workers or usable_cores()) if device.type == "cpu" else 1

    def embed_and_add(j: int, decoded: DecodedSplit) -> None:
        t = time.perf_counter()
        feats = extract(models[j], decoded, feature=config.test_feature, batch_size=config.eval_batch_size,
                        amp=config.amp, channels_last=config.channels_last).features
        seconds["extract"][j] += time.perf_counter() - t
        t = time.perf_counter()
        galleries[j].add(feats)
        seconds["search"][j] += time.perf_counter() - t

    threads = torch.get_num_threads()
    bar = tqdm(total=len(records), desc="distractors", unit="img", disable=not progress or not records)
    try:
        if device.type == "cpu":
            torch.set_num_threads(1)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for start in range(0, len(records), block):
                t = time.perf_counter()
                decoded = DecodedSplit.decode(records[start:start + block], config.image_size, device=device,
                                              progress=False)
                seconds["decode"] += time.perf_counter() - t
                list(pool.map(lambda j: embed_and_add(j, decoded), range(len(models))))
                bar.update(len(decoded))
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return seconds


def distractor_outcomes(runs: Mapping[str, Sequence[RunRecord]], distractors: Sequence[Record], counts: Sequence[int],
                        *, device: str = "cpu", block: int = 4096, progress: bool = True,
                        workers: int | None = None) -> GrowthOutcomes:
    """Rank-1 hits and APs (%) of every run with its test gallery plus the first ``counts[i]`` distractors.

    ``runs``: training runs per model name (all of one image size and test split); ``counts``: increasing
    numbers of distractors, 0 for the dataset's own gallery; ``distractors`` in the order they join;
    ``workers``: models embedding side by side on a CPU (default: one per core).
    """
    counts = sorted(set(int(c) for c in counts))
    if counts[0] < 0 or counts[-1] > len(distractors):
        raise ValueError(f"distractor counts {counts}: expected 0..{len(distractors)} (the distractors given)")
    digest = _digest(distractors, counts)
    flat = [(name, i, run) for name, model_runs in runs.items() for i, run in enumerate(model_runs)]
    unique = {run.run_dir: run for _, _, run in flat}            # a run listed under two names is embedded once
    results: dict[Path, dict[str, np.ndarray]] = {}
    todo = []
    for run_dir, run in unique.items():
        cached = _load_cached(run, digest)
        if cached is None:
            todo.append(run)
        else:
            results[run_dir] = cached
    if todo:
        dev = resolve_device(device)
        galleries = []
        for run in todo:
            features = run.features()
            q, g = features["query"], features["gallery"]
            galleries.append(GrowingGallery(q["features"], q["pids"], q["camids"], g["features"], g["pids"],
                                            g["camids"]))
        models = [run.model(str(dev)).eval() for run in todo]
        snapshots: list[list[dict[str, Any]]] = [[] for _ in todo]
        # Segments between consecutive counts, so that each size's cost is measured on its own.
        for start, stop in zip([0] + counts[:-1], counts):
            seconds = _grow(galleries, models, todo[0].config, distractors[start:stop], dev, block, progress, workers)
            for j, gallery in enumerate(galleries):
                frame = gallery.per_query()
                snapshots[j].append({"rank1": 100 * frame["rank1"].to_numpy(),
                                     "AP": 100 * frame["AP_official"].to_numpy(),
                                     "decode_s": seconds["decode"] if j == 0 else 0.0,
                                     "extract_s": seconds["extract"][j], "search_s": seconds["search"][j]})
        for run, snapshot in zip(todo, snapshots):
            outcome = {key: np.stack([point[key] for point in snapshot]) for key in OUTCOMES + SECONDS}
            _save_cached(run, digest, outcome)
            results[run.run_dir] = outcome
    base = len(flat[0][2].features()["gallery"]["pids"])
    values = {name: {o: np.stack([results[run.run_dir][o] for run in model_runs]) for o in OUTCOMES}
              for name, model_runs in runs.items()}
    sizes = [base + c for c in counts]
    first = {}                                                    # a run's seconds go to the first name it has
    for name, i, run in flat:
        first.setdefault(run.run_dir, (name, i))
    timing = pd.DataFrame([{"model": name, "run": i, "gallery": size, "added": added,
                            **{key: float(results[run_dir][key][p]) for key in SECONDS}}
                           for run_dir, (name, i) in first.items()
                           for p, (size, added) in enumerate(zip(sizes, np.diff([0] + counts)))])
    return GrowthOutcomes(sizes, values, timing)


def distractor_set(parameters: BookParameters, counts: Sequence[int], *, progress: bool = True,
                   workers: int | None = None) -> tuple[list[Record], dict | None]:
    """The distractors Fig. 8 adds to the build's gallery, in the order they join, and (synthetic only) the
    generation manifest. A synthetic set's distractors are generated on first use, one size after the
    other, so that the manifest times each size's share; the real Market-1501 reads ``images/`` (see
    :mod:`apr.data.distractors`)."""
    dataset, data_root = parameters.dataset, parameters.data_root
    if dataset == "synthetic":
        folder = ensure_synthetic(config=synthetic_config(parameters.scale, parameters.seed), data_root=data_root,
                                  progress=progress)
        manifest = None
        for count in sorted(counts):
            manifest = ensure_synthetic_distractors(folder, count, data_root=data_root, workers=workers,
                                                    progress=progress)
    elif dataset == "market1501":
        folder, manifest = find_dataset_folder("market1501", data_root), None
    else:
        raise ValueError(f"dataset={dataset!r}: the paper's distractor set (Market-1501+500k) joins Market-1501 only; "
                         "Fig. 8 runs on market1501 or synthetic")
    return read_distractors(folder, max(counts), seed=parameters.seed), manifest


# The datasets Fig. 8 runs on: the paper's distractors join Market-1501; the synthetic set renders its own.
FIG8_DATASETS = ("synthetic", "market1501")


def book_distractor_configs(parameters: BookParameters) -> dict[str, list[APRConfig]]:
    """The runs of Fig. 8 in a book build: APR and IDE, each with the ablations' training seeds (every run embeds
    every distractor)."""
    variants = variant_configs(parameters.main_config(), ("apr", "ide"))
    return {name: seeded_configs(config, parameters.ablation_runs) for name, config in variants.items()}


def book_distractor_outcomes(parameters: BookParameters, *, progress: bool = True, workers: int | None = None,
                             train: bool = True) -> tuple[GrowthOutcomes, dict | None]:
    """Fig. 8 of a book build: APR and IDE at the gallery sizes of :func:`apr.experiments.configs.distractor_counts`;
    and the synthetic distractors' generation manifest. ``workers``: processes rendering distractors and models
    embedding them side by side (default: the cores); ``train=False``: the runs must be in the store already."""
    runs = {name: (load_or_train_many(configs, progress=progress, execution=parameters.execution) if train
                   else stored_runs(configs))
            for name, configs in book_distractor_configs(parameters).items()}
    gallery = len(runs["apr"][0].features()["gallery"]["pids"])
    counts = distractor_counts(parameters, gallery)
    records, manifest = distractor_set(parameters, counts, progress=progress, workers=workers)
    return (distractor_outcomes(runs, records, counts, device=parameters.device, progress=progress, workers=workers),
            manifest)


def book_distractor_follow_up(parameters: BookParameters) -> FollowUp | None:
    """Fig. 8 of a book build as work for the training pool (:class:`apr.experiments.cache.FollowUp`): once its runs
    are trained, one worker renders the distractors and embeds them with each run, with one torch thread, while
    the others train, and caches the outcomes that chapter 05 then reads. None where Fig. 8 does not run."""
    if parameters.dataset not in FIG8_DATASETS:
        return None
    configs = book_distractor_configs(parameters)
    return FollowUp(_cache_book_distractor_outcomes, (parameters,), tuple(c for runs in configs.values() for c in runs),
                    "Fig. 8 distractors")


def _cache_book_distractor_outcomes(parameters: BookParameters) -> None:
    """A job of the training pool: :func:`book_distractor_outcomes` in this process alone, with one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        book_distractor_outcomes(parameters, progress=False, workers=1)
    finally:
        torch.set_num_threads(threads)
