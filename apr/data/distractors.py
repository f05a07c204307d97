"""Distractor galleries (Market-1501+500k, paper §5.3.4 and Fig. 8): the real layout and a synthetic one.

The released Market-1501+500k distractors are read as the common toolboxes read them (torchreid's
``Market1501(market1501_500k=True)``): the images of an ``images/`` folder inside the Market-1501 folder,
named like Market-1501 files (``PPPP_cCsS_FFFFFF_BB.jpg``). Whatever id a name carries, every one of them
is a distractor: it never matches a query and is never junk, so its record has pid ``0``
(:data:`apr.data.datasets.DISTRACTOR_PID`), the convention :func:`apr.evaluation.metrics.evaluate_ranking` keeps
as a negative.

:func:`ensure_synthetic_distractors` writes the same layout beside a synthetic set: pedestrians who are
in none of its splits (most of them, shot one to three times), partial crops of such people, and empty
background boxes, all through the synthetic set's own cameras. Image ``k`` depends only on the set's seed
and ``k``, so a folder grows by adding images: a later, larger request keeps every earlier image, and the
first ``n`` images are the same whichever size was generated first.

Order, and so which images a gallery of a given size adds: a synthetic folder in generation order (each
image is an independent draw); a real folder in a seeded pseudo-random order of the names (a random
subset for every size, nested: a larger size holds every image of a smaller one).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .datasets import DISTRACTOR_PID, MARKET_NAME, DatasetLayoutError, Record, _image_files
from .render import make_cameras, make_identity, render, render_background
from .attributes import load_attribute_annotations
from .paths import find_annotation_file
from .processes import worker_pool
from .synthetic import SYNTHETIC_MANIFEST, _save, read_synthetic_manifest, sample_from_prior

DISTRACTOR_FOLDER = "images"          # <Market-1501>/images/, as torchreid's market1501_500k option reads it
MARKET_500K_COUNT = 500_000           # images in the released distractor set
MANIFEST = "distractors.json"         # written by the synthetic generator only
SYNTHETIC_NAME = re.compile(r"^0000_c(\d)s1_(\d{6})_00$")
BLOCK = 500                           # images per rendering task
JPEG_QUALITY = 92                     # as the synthetic set's images
MAX_SYNTHETIC = 999_999               # the frame field of a Market name holds the image number: 6 digits

# What the synthetic distractors are, by share: "irrelevant pedestrians" are most of the real set.
SHARES = {"pedestrian": 0.7, "partial": 0.15, "background": 0.15}


def distractor_folder(dataset_folder: str | Path) -> Path:
    """Where a Market-1501 layout keeps its distractors: ``<dataset folder>/images``."""
    return Path(dataset_folder) / DISTRACTOR_FOLDER


def _order_key(seed: int):
    def key(path: Path) -> str:
        return hashlib.sha256(f"{seed}:{path.name}".encode()).hexdigest()
    return key


def read_distractors(dataset_folder: str | Path, needed: int | None = None, *, seed: int = 0) -> list[Record]:
    """The distractor records of a Market-1501 folder, in the order a growing gallery adds them.

    ``needed``: how many the caller will use (at most); a folder holding fewer is an error that names the
    folder and the count found (a missing or partly extracted download). Raises
    :class:`~apr.data.datasets.DatasetLayoutError` for a missing folder and ``ValueError`` for a name that
    is not a Market-1501 name.
    """
    folder = distractor_folder(dataset_folder)
    if not folder.is_dir():
        want = f"{needed:,}" if needed else "the"
        raise DatasetLayoutError(f"no distractor folder '{folder}' (found 0 images; expected {want} Market-1501+500k "
                                 f"distractor images there, as torchreid's market1501_500k option reads them)")
    manifest = folder / MANIFEST
    if manifest.is_file():   # a synthetic folder: generation order, and only the images its manifest vouches for
        count = int(json.loads(manifest.read_text())["count"])
        paths = sorted((p for p in _image_files(folder) if _synthetic_index(p) < count), key=_synthetic_index)
        if len(paths) != count:
            raise DatasetLayoutError(f"'{folder}' holds {len(paths):,} of the {count:,} distractor images its "
                                     f"{MANIFEST} lists; delete the folder to generate it again")
    else:
        paths = sorted(_image_files(folder), key=_order_key(seed))
    if needed is not None and len(paths) < needed:
        raise DatasetLayoutError(f"'{folder}' holds {len(paths):,} distractor images; {needed:,} are needed "
                                 f"(a partial extraction? the full Market-1501+500k set has {MARKET_500K_COUNT:,})")
    records = []
    for path in paths[:needed]:
        match = MARKET_NAME.match(path.stem)
        if match is None or path.suffix.lower() != ".jpg":
            raise ValueError(f"'{path}': not a Market-1501 file name (expected e.g. 0000_c1s1_000451_03.jpg)")
        records.append(Record(str(path), DISTRACTOR_PID, int(match.group(2)), "gallery"))
    return records


def _synthetic_index(path: Path) -> int:
    match = SYNTHETIC_NAME.match(path.stem)
    if match is None:
        raise ValueError(f"'{path}': not a synthetic distractor name (expected e.g. 0000_c1s1_000042_00.jpg)")
    return int(match.group(2))


@dataclass
class _Source:
    """What the synthetic distractors of one dataset are drawn with: its cameras, seed and attribute rows."""

    cameras: list
    seed: int
    rows: pd.DataFrame | None   # attribute rows to resample (the real file's), or None for the prior

    @classmethod
    def of(cls, dataset_folder: Path, data_root: str | Path | None) -> _Source:
        if not (dataset_folder / SYNTHETIC_MANIFEST).is_file():
            raise DatasetLayoutError(f"'{dataset_folder}' is not a synthetic dataset (no {SYNTHETIC_MANIFEST}); "
                                     "synthetic distractors join only a set made by apr synth")
        config = read_synthetic_manifest(dataset_folder)["config"]
        cameras = make_cameras(config["num_cameras"], np.random.default_rng([config["seed"], 10_000]))
        # The same source of attribute rows as the set's identities (apr.data.synthetic.sample_identity_attributes).
        path = None
        if config["attribute_source"] == "auto":
            path = find_annotation_file("market1501", data_root=data_root)
        elif config["attribute_source"] != "prior":
            path = Path(config["attribute_source"])
        rows = None
        if path is not None:
            tables = load_attribute_annotations(path)
            rows = pd.concat([tables["train"], tables["test"]], ignore_index=True)
        return cls(cameras, config["seed"], rows)


def render_distractor(source: _Source, k: int) -> tuple[np.ndarray, int]:
    """Image ``k`` of a synthetic distractor folder and its camera: a function of the set's seed and ``k`` only.

    Pedestrians come in small groups of consecutive numbers (one person, one to three shots, cameras drawn
    independently), so that, as in the real set, some distractors look alike.
    """
    rng = np.random.default_rng([source.seed, 80_000, k])
    cam = int(rng.integers(1, len(source.cameras) + 1))
    camera = source.cameras[cam - 1]
    kind = rng.choice(list(SHARES), p=list(SHARES.values()))
    if kind == "background":
        return render_background(camera, rng), cam
    person = k // 3   # three consecutive numbers share a stranger
    person_rng = np.random.default_rng([source.seed, 90_000, person])
    row = (sample_from_prior(1, person_rng).iloc[0] if source.rows is None
           else source.rows.iloc[int(person_rng.integers(len(source.rows)))])
    stranger = make_identity(0, {name: int(v) for name, v in row.items()}, person_rng)
    return render(stranger, camera, rng, partial=kind == "partial"), cam


def _render_block(source: _Source, block: range, staging: Path) -> int:
    for k in block:
        img, cam = render_distractor(source, k)
        _save(img, staging / f"0000_c{cam}s1_{k:06d}_00.jpg", JPEG_QUALITY)
    return len(block)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One generator at a time per dataset folder (two builds asking at once wait for each other)."""
    with open(folder / ".distractors.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_synthetic_distractors(dataset_folder: str | Path, count: int, *, data_root: str | Path | None = None,
                                 workers: int | None = None, progress: bool = True) -> dict:
    """Make sure ``<dataset folder>/images`` holds at least ``count`` synthetic distractors; returns its manifest.

    Missing images are rendered into a staging folder and moved in; the manifest, which alone says how
    many images the folder holds, is replaced last. An interrupted run leaves the folder as it was, plus
    at most some extra files that the next run renders again, identically. The manifest records the
    seconds each generation took. ``workers``: rendering processes (default: the CPU cores, at most 4).
    """
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    dataset_folder = Path(dataset_folder)
    if not 0 <= count <= MAX_SYNTHETIC:
        raise ValueError(f"count={count}: expected 0..{MAX_SYNTHETIC:,} synthetic distractors")
    source = _Source.of(dataset_folder, data_root)
    folder = distractor_folder(dataset_folder)
    folder.mkdir(exist_ok=True)
    manifest_path = folder / MANIFEST
    with _locked(dataset_folder):
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {
            "generator": "apr.data.distractors", "seed": source.seed, "count": 0, "generations": []}
        have = int(manifest["count"])
        if have >= count:
            return manifest
        start = time.perf_counter()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dataset_folder))
        blocks = [range(s, min(s + BLOCK, count)) for s in range(have, count, BLOCK)]
        try:
            with tqdm(total=count - have, desc="rendering distractors", unit="img", disable=not progress) as bar:
                if workers > 1 and len(blocks) > 1:
                    with worker_pool(workers) as pool:
                        for done in pool.map(_render_block, [source] * len(blocks), blocks, [staging] * len(blocks)):
                            bar.update(done)
                else:
                    for block in blocks:
                        bar.update(_render_block(source, block, staging))
            for path in staging.iterdir():
                os.replace(path, folder / path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        manifest["count"] = count
        manifest["generations"].append({"added": count - have, "seconds": round(time.perf_counter() - start, 2)})
        temporary = manifest_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(temporary, manifest_path)
        return manifest
