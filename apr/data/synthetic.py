"""A synthetic dataset in the exact Market-1501 layout, with a ``market_attribute.mat``.

``generate_synthetic(out)`` writes::

    out/bounding_box_train/PPPP_cCs1_FFFFFF_BB.jpg   training identities, 2+ cameras each
    out/query/...                                    1-2 queries per test identity, extra shots
    out/bounding_box_test/...                        test identities, junk (-1), distractors (0000)
    out/market_attribute.mat                         identity-level attributes, released format
    out/synthetic.json                               parameters, attribute source, counts, time

so that it goes through the same loader as the real Market-1501. Pictures come from
:mod:`apr.data.render`. Identity attributes are whole rows drawn (with replacement) from the
real ``market_attribute.mat`` when one is found, which keeps its joint distribution and
correlations (women with long hair, dresses only on women, one colour per garment ...);
otherwise from :data:`PRIOR`, a documented approximation of the same marginals with the
main dependencies. Everything is seeded: the same seed and sizes give byte-identical files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
from PIL import Image
from tqdm.auto import tqdm

from .attributes import (DUKE_DOWN_COLOURS, DUKE_SCHEMA, DUKE_UP_COLOURS, MARKET_DOWN_COLOURS, MARKET_SCHEMA,
                         MARKET_UP_COLOURS, AttributeSchema, load_attribute_annotations)
from .paths import WORK_ROOT, find_annotation_file
from .records import DATASET_LABELS, DatasetLayoutError
from .render import Identity, make_cameras, make_duke_identity, make_identity, render, render_background

DEFAULT_ROOT = WORK_ROOT / "data" / "synthetic"
SYNTHETIC_MANIFEST = "synthetic.json"   # written last: a folder without it is not a finished set
# Bump when the drawing of the images changes: it enters the default folder's name, so old images are not reused.
# 2: bags drawn as objects (rim, flap, wider straps; a backpack's top shows over the shoulders from the front).
RENDER_VERSION = 2


@dataclass(frozen=True)
class SynthConfig:
    """Sizes and seed of a synthetic dataset (defaults: about 2,600 images)."""

    num_train_ids: int = 150
    num_test_ids: int = 150
    min_images_per_camera: int = 1
    max_images_per_camera: int = 3
    min_cameras: int = 2
    max_cameras: int = 5
    num_cameras: int = 6
    max_queries_per_id: int = 2
    junk_per_test_id: float = 0.6          # junk (-1) images in the gallery, per test identity
    distractors_per_test_id: float = 0.4   # distractor (0000) images in the gallery, per test identity
    seed: int = 0
    attribute_source: str = "auto"         # "auto": real file if found, else prior; "prior"; or a .mat path
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        checks = {
            "num_train_ids": self.num_train_ids >= 1, "num_test_ids": self.num_test_ids >= 1,
            "num_cameras": 2 <= self.num_cameras <= 8,
            "min_cameras": 2 <= self.min_cameras <= self.max_cameras <= self.num_cameras,
            "min_images_per_camera": 1 <= self.min_images_per_camera <= self.max_images_per_camera,
            "max_queries_per_id": self.max_queries_per_id >= 1,
            "junk_per_test_id": self.junk_per_test_id >= 0,
            "distractors_per_test_id": self.distractors_per_test_id >= 0,
            "jpeg_quality": 1 <= self.jpeg_quality <= 100,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"invalid synthetic size option(s) {bad}: need ids >= 1, 2 <= min_cameras <= max_cameras <= "
                "num_cameras <= 8 (6 for the Market-1501 layout), 1 <= min_images_per_camera <= "
                "max_images_per_camera, "
                f"fractions >= 0"
            )
        if self.num_train_ids + self.num_test_ids > 9999:
            raise ValueError("num_train_ids + num_test_ids must fit Market's 4-digit ids (<= 9999)")


# Dataset sizes matched to the book's scales: "smoke" for CI (seconds), "quick" for the
# default CPU book, "paper" roughly Market-1501's size (751/750 identities, ~17 images each).
# Quick tests on nine times as many identities as it trains on: the test split costs only evaluation,
# and a comparison's seed-to-seed spread is mostly which queries a run gets right, which more queries shrink.
SYNTH_PRESETS = {
    "smoke": SynthConfig(num_train_ids=24, num_test_ids=24, max_images_per_camera=2, max_cameras=4),
    "quick": SynthConfig(num_train_ids=450, num_test_ids=1350),
    "paper": SynthConfig(num_train_ids=751, num_test_ids=750, max_cameras=6, max_images_per_camera=6,
                         junk_per_test_id=5.0, distractors_per_test_id=3.5),
}


LAYOUT_NAMES = {key: DATASET_LABELS[key] for key in ("market1501", "dukemtmc")}   # the layouts it writes
# DukeMTMC-reID: 8 cameras, no junk and no 0000 images; its 408 identities seen by one camera only join the
# gallery as distractors, against 702 test identities (PAPER.md §1.2).
DUKE_GALLERY_ONLY_PER_TEST_ID = 408 / 702
DUKE_CHANGES = {"num_cameras": 8, "junk_per_test_id": 0.0, "distractors_per_test_id": 0.0}


def synthetic_config(scale: str, seed: int = 0, layout: str = "market1501", test_ids: int = 0,
                     train_ids: int = 0) -> SynthConfig:
    """The synthetic dataset size for a book scale (``smoke``, ``quick``, ``paper``) and layout; ``test_ids`` and
    ``train_ids`` > 0 replace the scale's numbers of test and training identities."""
    if scale not in SYNTH_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SYNTH_PRESETS)}")
    if layout not in LAYOUT_NAMES:
        raise ValueError(f"layout={layout!r}: expected one of {', '.join(LAYOUT_NAMES)}")
    sizes = {"num_test_ids": test_ids} if test_ids else {}
    if train_ids:
        sizes["num_train_ids"] = train_ids
    config = replace(SYNTH_PRESETS[scale], seed=seed, **sizes)
    return replace(config, **DUKE_CHANGES) if layout == "dukemtmc" else config


# Documented prior for when no real annotation file is available. Marginals approximate the
# released Market-1501 training identities; the dependencies kept are the strong ones.
PRIOR = {
    "female": 0.42,
    "long_hair_if_female": 0.80, "long_hair_if_male": 0.05,
    "age": (0.02, 0.10, 0.83, 0.05),                  # young, teenager, adult, old
    "short_sleeve": 0.72,
    "dress_if_female": 0.35, "dress_if_male": 0.0,    # clothes = 0 (dress)
    "short_lower_if_dress": 0.60, "short_lower_if_pants": 0.22,
    "hat": 0.03, "backpack": 0.25, "handbag": 0.11, "bag": 0.22,
    "up_colour": dict(zip(MARKET_UP_COLOURS, (0.29, 0.25, 0.08, 0.04, 0.14, 0.08, 0.03, 0.05))) | {"none": 0.04},
    "down_colour": dict(zip(MARKET_DOWN_COLOURS,
                            (0.45, 0.06, 0.02, 0.14, 0.20, 0.02, 0.05, 0.01, 0.01))) | {"none": 0.04},
}


def sample_from_prior(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw ``n`` identity attribute rows from :data:`PRIOR` (Market coding)."""
    p = PRIOR
    female = rng.random(n) < p["female"]
    dress = rng.random(n) < np.where(female, p["dress_if_female"], p["dress_if_male"])
    rows = {
        "gender": female.astype(int),
        "age": rng.choice(4, size=n, p=p["age"]),
        "hair": (rng.random(n) < np.where(female, p["long_hair_if_female"], p["long_hair_if_male"])).astype(int),
        "up": (rng.random(n) < p["short_sleeve"]).astype(int),
        "down": (rng.random(n) < np.where(dress, p["short_lower_if_dress"], p["short_lower_if_pants"])).astype(int),
        "clothes": (~dress).astype(int),
        "backpack": (rng.random(n) < p["backpack"]).astype(int),
        "handbag": (rng.random(n) < p["handbag"]).astype(int),
        "bag": (rng.random(n) < p["bag"]).astype(int),
        "hat": (rng.random(n) < p["hat"]).astype(int),
    }
    for prefix, key, colours in (("up", "up_colour", MARKET_UP_COLOURS), ("down", "down_colour", MARKET_DOWN_COLOURS)):
        names = list(p[key])
        pick = rng.choice(len(names), size=n, p=np.array(list(p[key].values())) / sum(p[key].values()))
        for c in colours:
            rows[f"{prefix}{c}"] = (np.array(names)[pick] == c).astype(int)
    return pd.DataFrame(rows)[MARKET_SCHEMA.names].astype(np.int8)


def sample_identity_attributes(n: int, rng: np.random.Generator, source: str = "auto",
                               data_root: str | Path | None = None) -> tuple[pd.DataFrame, str]:
    """``n`` attribute rows and a description of where they came from.

    ``source="auto"`` resamples whole rows of the real Market-1501 file when found (train
    and test identities pooled), else uses the prior.
    """
    path = None
    if source == "auto":
        path = find_annotation_file("market1501", data_root=data_root)
    elif source != "prior":
        path = Path(source)
    if path is None:
        return sample_from_prior(n, rng), "prior (apr.data.synthetic.PRIOR)"
    tables = load_attribute_annotations(path)
    pool = pd.concat([tables["train"], tables["test"]], ignore_index=True)
    rows = pool.iloc[rng.integers(len(pool), size=n)].reset_index(drop=True)
    return rows, f"rows resampled from {path.name} ({len(pool)} identities)"


# Documented prior for a synthetic DukeMTMC-reID set when no duke_attribute.mat is found: approximate
# marginals of the released file's training identities (coding of apr.data.attributes.DUKE_SCHEMA).
DUKE_PRIOR = {
    "female": 0.35, "hat": 0.12, "boots": 0.22, "long_top": 0.12, "backpack": 0.45, "handbag": 0.05, "bag": 0.15,
    "bright_shoes": 0.18,
    "up_colour": dict(zip(DUKE_UP_COLOURS, (0.55, 0.10, 0.07, 0.02, 0.08, 0.10, 0.03, 0.05))),
    "down_colour": dict(zip(DUKE_DOWN_COLOURS, (0.50, 0.08, 0.02, 0.10, 0.25, 0.02, 0.03))),
}


def sample_duke_attributes(n: int, rng: np.random.Generator, source: str = "auto",
                           data_root: str | Path | None = None) -> tuple[pd.DataFrame, str]:
    """``n`` DukeMTMC-reID attribute rows and where they came from: whole rows of the real
    ``duke_attribute.mat`` (train and test identities pooled) when found, else :data:`DUKE_PRIOR`."""
    path = find_annotation_file("dukemtmc", data_root=data_root) if source == "auto" else (
        None if source == "prior" else Path(source))
    if path is not None:
        tables = load_attribute_annotations(path)
        pool = pd.concat([tables["train"], tables["test"]], ignore_index=True)
        return pool.iloc[rng.integers(len(pool), size=n)].reset_index(drop=True), \
            f"rows resampled from {path.name} ({len(pool)} identities)"
    p = DUKE_PRIOR
    rows = {"gender": rng.random(n) < p["female"], "hat": rng.random(n) < p["hat"], "boots": rng.random(n) < p["boots"],
            "top": rng.random(n) < p["long_top"], "backpack": rng.random(n) < p["backpack"],
            "handbag": rng.random(n) < p["handbag"], "bag": rng.random(n) < p["bag"],
            "shoes": rng.random(n) < p["bright_shoes"]}
    for prefix, key, colours in (("up", "up_colour", DUKE_UP_COLOURS), ("down", "down_colour", DUKE_DOWN_COLOURS)):
        weights = np.array(list(p[key].values()))
        pick = rng.choice(len(colours), size=n, p=weights / weights.sum())
        for j, c in enumerate(colours):
            rows[f"{prefix}{c}"] = pick == j
    return pd.DataFrame(rows)[DUKE_SCHEMA.names].astype(np.int8), "prior (apr.data.synthetic.DUKE_PRIOR)"


def write_market_attribute_mat(path: Path, train: pd.DataFrame, test: pd.DataFrame,
                               schema: AttributeSchema = MARKET_SCHEMA) -> None:
    """Write identity tables (index = pid, ``schema``'s coding) as the released ``market_attribute.mat``
    (or, with :data:`~apr.data.attributes.DUKE_SCHEMA`, ``duke_attribute.mat``).

    Values are stored as in the release (value + 1, uint8, 0 = unlabelled) and the two
    splits list their fields in different orders, as the real file does.
    """
    def struct(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
        out = {n: (frame[n].to_numpy().astype(np.int16) + 1).astype(np.uint8)[None, :] for n in names}
        cells = np.empty((1, len(frame)), dtype=object)
        cells[0, :] = [f"{pid:04d}" for pid in frame.index]
        out["image_index"] = cells
        return out

    names = schema.names
    scipy.io.savemat(str(path), {schema.mat_key: {
        "train": struct(train, names), "test": struct(test, names[::-1]),
    }}, do_compression=False)
    # The v5 header's 116-byte text holds a creation time; a fixed text keeps files byte-identical.
    with open(path, "r+b") as handle:
        handle.write(b"MATLAB 5.0 MAT-file, written by apr.data.synthetic".ljust(116))


@dataclass
class _Namer:
    """Market file names: per-camera increasing frame numbers, so names never collide."""

    rng: np.random.Generator
    frames: dict[int, int] = field(default_factory=dict)

    def next_frame(self, camid: int) -> int:
        self.frames[camid] = self.frames.get(camid, 0) + int(self.rng.integers(5, 120))
        return self.frames[camid]

    def __call__(self, pid: int, camid: int) -> str:
        frame = self.next_frame(camid)
        head = "-1" if pid == -1 else f"{pid:04d}"
        return f"{head}_c{camid}s1_{frame:06d}_{int(self.rng.integers(1, 4)):02d}.jpg"


class _DukeNamer(_Namer):
    """DukeMTMC-reID names: ``PPPP_cC_fFFFFFFF.jpg``."""

    def __call__(self, pid: int, camid: int) -> str:
        return f"{pid:04d}_c{camid}_f{self.next_frame(camid):07d}.jpg"


def _save(img: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray(img).save(path, quality=quality)


def generate_synthetic(out: str | Path, config: SynthConfig = SynthConfig(), *, layout: str = "market1501",
                       data_root: str | Path | None = None, progress: bool = True) -> dict:
    """Write a synthetic dataset in the ``layout`` of Market-1501 (default) or DukeMTMC-reID to ``out``; return
    its manifest.

    The folder must be empty or absent. The manifest (also written to ``synthetic.json``)
    records the configuration, the layout, the attribute source, image counts and the generation time.
    The DukeMTMC-reID layout has Duke's names (``PPPP_cC_fFFFFFFF.jpg``), its 23 attributes in a
    ``duke_attribute.mat``, no junk and no ``0000`` images, and, like Duke's 408, identities seen by one
    camera only that join the gallery as distractors (their attributes are in the file's test split).
    """
    if layout not in LAYOUT_NAMES:
        raise ValueError(f"layout={layout!r}: expected one of {', '.join(LAYOUT_NAMES)}")
    if layout == "market1501" and config.num_cameras > 6:
        raise ValueError(f"num_cameras={config.num_cameras}: the Market-1501 layout has at most 6 cameras")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"'{out}' is not empty; choose a new folder for the synthetic dataset")
    # Drawn beside ``out`` and renamed into place when complete: a full disk or a kill leaves no half set there.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o755)
        manifest = _draw_set(staging, config, layout, data_root, progress)
        os.rename(staging, out)     # replaces an empty folder
    except OSError as exc:
        if exc.filename is None or exc.strerror is None:
            raise
        raise OSError(exc.errno, f"could not write the synthetic set to '{out}': {exc.strerror} ('{exc.filename}')") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _draw_set(out: Path, config: SynthConfig, layout: str, data_root: str | Path | None, progress: bool) -> dict:
    """Draw the set into the (empty) folder ``out``; its manifest, written last."""
    duke = layout == "dukemtmc"
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    gallery_only = int(round(DUKE_GALLERY_ONLY_PER_TEST_ID * config.num_test_ids)) if duke else 0
    total = config.num_train_ids + config.num_test_ids + gallery_only
    sample = sample_duke_attributes if duke else sample_identity_attributes
    # Resolved once, here: the rows the set takes and the tag its folder name and manifest record are one file's.
    rows_file = attribute_rows_file(config, layout, data_root)
    attrs, source = sample(total, rng, "prior" if rows_file is None else str(rows_file), data_root)
    # Sparse 4-digit ids like Market's, randomly shared between train and test.
    pids = np.sort(rng.choice(np.arange(1, min(9999, 3 * total) + 1), size=total, replace=False))
    is_test = np.zeros(total, bool)
    is_test[rng.choice(total, size=config.num_test_ids, replace=False)] = True
    is_gallery_only = np.zeros(total, bool)
    if gallery_only:
        is_gallery_only[rng.choice(np.flatnonzero(~is_test), size=gallery_only, replace=False)] = True
    attrs.index = pd.Index(pids, name="pid")
    cameras = make_cameras(config.num_cameras, np.random.default_rng([config.seed, 10_000]))
    draw = make_duke_identity if duke else make_identity
    identities = {
        int(pid): draw(int(pid), {k: int(v) for k, v in attrs.loc[pid].items()},
                       np.random.default_rng([config.seed, 20_000, int(pid)]))
        for pid in pids
    }
    folders = {name: out / name for name in ("bounding_box_train", "query", "bounding_box_test")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    namer = (_DukeNamer if duke else _Namer)(np.random.default_rng([config.seed, 30_000]))
    counts = {"train": 0, "query": 0, "gallery": 0, "junk": 0, "distractors": 0}

    def shoot(ident: Identity, cam: int, folder: str, key: int, partial: bool = False, pid: int | None = None) -> None:
        img_rng = np.random.default_rng([config.seed, 40_000, ident.pid, cam, key])
        img = render(ident, cameras[cam - 1], img_rng, partial=partial)
        _save(img, folders[folder] / namer(ident.pid if pid is None else pid, cam), config.jpeg_quality)

    bar = tqdm(pids, desc="rendering identities", unit="id", disable=not progress)
    for i, pid in enumerate(bar):
        ident = identities[int(pid)]
        id_rng = np.random.default_rng([config.seed, 50_000, int(pid)])
        if is_gallery_only[i]:   # seen by one camera only: a distractor identity of the gallery (Duke)
            cam = int(id_rng.integers(1, config.num_cameras + 1))
            for key in range(int(id_rng.integers(config.min_images_per_camera, config.max_images_per_camera + 1))):
                shoot(ident, cam, "bounding_box_test", key)
                counts["distractors"] += 1
            continue
        cams = np.sort(id_rng.choice(np.arange(1, config.num_cameras + 1),
                                     size=int(id_rng.integers(config.min_cameras, config.max_cameras + 1)),
                                     replace=False))
        key = 0
        for cam in cams:
            for _ in range(int(id_rng.integers(config.min_images_per_camera, config.max_images_per_camera + 1))):
                shoot(ident, int(cam), "bounding_box_test" if is_test[i] else "bounding_box_train", key)
                key += 1
                counts["gallery" if is_test[i] else "train"] += 1
        if is_test[i]:  # extra shots as queries, from 1-2 of the identity's cameras
            n_query = int(id_rng.integers(1, min(config.max_queries_per_id, len(cams)) + 1))
            for cam in id_rng.choice(cams, size=n_query, replace=False):
                shoot(ident, int(cam), "query", 1000 + key)
                key += 1
                counts["query"] += 1

    if duke:
        write_market_attribute_mat(out / "duke_attribute.mat", attrs[~is_test & ~is_gallery_only],
                                   attrs[is_test | is_gallery_only], DUKE_SCHEMA)
    else:
        _market_extras(out, config, identities, pids[is_test], cameras, folders, namer, counts)
        write_market_attribute_mat(out / "market_attribute.mat", attrs[~is_test], attrs[is_test])
    manifest = {
        "generator": "apr.data.synthetic", "render_version": RENDER_VERSION, "layout": LAYOUT_NAMES[layout],
        "config": asdict(config),
        "attribute_source": source, "attribute_rows": _rows_tag(rows_file), "counts": counts,
        "seconds": round(time.perf_counter() - start, 2),
    }
    (out / SYNTHETIC_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_synthetic_manifest(folder: str | Path) -> dict:
    """The ``synthetic.json`` of a finished synthetic set, checked to be a JSON object with its configuration."""
    path = Path(folder) / SYNTHETIC_MANIFEST
    if not path.is_file():
        raise DatasetLayoutError(f"'{folder}' is not a finished synthetic dataset (no {SYNTHETIC_MANIFEST}); make one "
                                 "with apr synth")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"'{path}' is not valid JSON ({str(exc)[:80]}); delete the folder to draw the set again") \
            from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ValueError(f"'{path}': expected a JSON object with a 'config' object; delete the folder to draw the set "
                         "again")
    return manifest


def _market_extras(out: Path, config: SynthConfig, identities: dict[int, Identity], test_pids: np.ndarray,
                   cameras: list, folders: dict[str, Path], namer: _Namer, counts: dict[str, int]) -> None:
    """Market-1501's gallery extras: junk (-1) and distractor (0000) images."""
    extra_rng = np.random.default_rng([config.seed, 60_000])
    for k in range(int(round(config.junk_per_test_id * config.num_test_ids))):
        # Junk: a badly cut detection of a test person (pid -1, ignored by the protocol).
        ident = identities[int(extra_rng.choice(test_pids))]
        cam = int(extra_rng.integers(1, config.num_cameras + 1))
        img = render(ident, cameras[cam - 1], np.random.default_rng([config.seed, 40_000, ident.pid, cam, 5000 + k]),
                     partial=True)
        _save(img, folders["bounding_box_test"] / namer(-1, cam), config.jpeg_quality)
        counts["junk"] += 1
    for k in range(int(round(config.distractors_per_test_id * config.num_test_ids))):
        # Distractors (0000): empty boxes, or cut-off people who are in no split.
        cam = int(extra_rng.integers(1, config.num_cameras + 1))
        d_rng = np.random.default_rng([config.seed, 70_000, k])
        if extra_rng.random() < 0.5:
            img = render_background(cameras[cam - 1], d_rng)
        else:
            stranger = make_identity(0, {k: int(v) for k, v in sample_from_prior(1, d_rng).iloc[0].items()}, d_rng)
            img = render(stranger, cameras[cam - 1], d_rng, partial=True)
        _save(img, folders["bounding_box_test"] / namer(0, cam), config.jpeg_quality)
        counts["distractors"] += 1


def attribute_rows_file(config: SynthConfig, layout: str = "market1501",
                        data_root: str | Path | None = None) -> Path | None:
    """The released annotation file whose rows the set's identities take, or None for the prior."""
    if config.attribute_source == "prior":
        return None
    if config.attribute_source != "auto":
        path = Path(config.attribute_source)
        if not path.is_file():
            raise FileNotFoundError(f"attribute_source '{path}': no such file (expected a market_attribute.mat "
                                    f"or duke_attribute.mat, 'auto' or 'prior')")
        return path
    return find_annotation_file(layout, data_root=data_root)


def _file_digest(path: Path) -> str:
    info = path.stat()
    return _cached_digest(str(path.resolve()), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=16)
def _cached_digest(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def _rows_tag(rows_file: Path | None) -> str:
    return "prior" if rows_file is None else _file_digest(rows_file)


def attribute_rows_tag(config: SynthConfig, layout: str = "market1501", data_root: str | Path | None = None) -> str:
    """What the identities' attributes come from, as it enters the folder name: "prior", or the first 12 hex digits
    of the annotation file's SHA-256 (its contents, so the same file anywhere gives the same set)."""
    return _rows_tag(attribute_rows_file(config, layout, data_root))


def _default_root(config: SynthConfig, layout: str, tag: str) -> Path:
    settings = asdict(config) | {"attribute_rows": tag}
    if RENDER_VERSION > 1:                      # version 1's folders keep their names
        settings["render_version"] = RENDER_VERSION
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    prefix = "" if layout == "market1501" else "duke-"
    return DEFAULT_ROOT / f"{prefix}{config.num_train_ids}x{config.num_test_ids}-seed{config.seed}-{digest}"


def synthetic_root(config: SynthConfig = SynthConfig(), layout: str = "market1501",
                   data_root: str | Path | None = None) -> Path:
    """The folder :func:`ensure_synthetic` uses for ``config`` by default. Its name holds a digest of the
    configuration, the layout's prefix and the attribute rows' source: with ``attribute_source="auto"`` the same
    settings give another set when the real annotations are not found (the prior), and it must not share a name."""
    return _default_root(config, layout, attribute_rows_tag(config, layout, data_root))


def ensure_synthetic(root: str | Path | None = None, config: SynthConfig = SynthConfig(), *,
                     layout: str = "market1501", data_root: str | Path | None = None, progress: bool = True) -> Path:
    """Return a synthetic dataset folder for ``config`` in ``layout``, generating it on first use
    (default folder: :func:`synthetic_root`).

    An existing folder is reused only when its ``synthetic.json`` records the same configuration, layout and
    attribute rows; otherwise the error says how to regenerate.
    """
    tag = attribute_rows_tag(config, layout, data_root)
    root = _default_root(config, layout, tag) if root is None else Path(root)
    if (root / SYNTHETIC_MANIFEST).is_file():
        recorded = read_synthetic_manifest(root)
        recorded_layout = recorded.get("layout", LAYOUT_NAMES["market1501"])   # manifests from before it was recorded
        if (recorded.get("config") == asdict(config) and recorded_layout == LAYOUT_NAMES[layout]
                and recorded.get("attribute_rows", tag) == tag and recorded.get("render_version", 1) == RENDER_VERSION):
            return root
        raise FileExistsError(f"'{root}' holds a synthetic dataset with other settings ({recorded.get('layout')}, "
                              f"{recorded.get('config')}, attribute rows from {recorded.get('attribute_source')}, "
                              f"drawing version {recorded.get('render_version', 1)}); "
                              f"delete it or pick another folder")
    # Generate beside the target and rename into place, so that a reader (or a second process
    # generating the same set) never sees a half-written folder.
    try:
        generate_synthetic(root, config, layout=layout, data_root=data_root, progress=progress)
    except OSError:
        if not (root / SYNTHETIC_MANIFEST).is_file():   # not another process's finished copy
            raise
    return root
