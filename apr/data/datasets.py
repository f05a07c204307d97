"""Real dataset layouts -> sorted ``Record`` lists joined to attributes.

Supported layouts (``root`` may be the dataset folder or a parent holding its usual
extracted name, see :mod:`apr.data.paths`):

* **Market-1501** (``market1501``): ``bounding_box_train/``, ``query/``, ``bounding_box_test/``
  of ``PPPP_cCsS_FFFFFF_BB.jpg``; pid ``-1`` = junk, ``0000`` = distractor; cameras 1-6.
* **DukeMTMC-reID** (``dukemtmc``): same folders, ``PPPP_cC_fFFFFFFF.jpg``; cameras 1-8.
* **PETA** (``peta``): ten sub-dataset folders each with ``archive/Label.txt`` and images.
  The paper's re-ID re-split of PETA is unpublished; :func:`split_peta` makes a seeded one
  with the paper's sizes (see its docstring).
* **synthetic**: the Market-1501 layout written by ``apr synth`` (annotation file inside).
* **CUB-200-2011** (``cub200``, :mod:`apr.data.cub`): attribute recognition only; its test images are
  the gallery and it has no queries.

Files that are not images (``Thumbs.db``, ``.DS_Store``) are skipped; an image whose name
does not follow the scheme is an error that names it. Camera ids are kept as in the file
names (1-based).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .attributes import (
    DUKE_SCHEMA,
    MARKET_SCHEMA,
    PETA_SCHEMA,
    AttributeSchema,
    detect_schema,
    expand_to_images,
    load_attribute_annotations,
)
from .cub import cub_reid_data, read_cub
from .custom import read_custom
from .paths import ANNOTATION_SUBDIRS, EXTRACTED_NAMES, find_annotation_file, resolve_data_root
# The containers live in .records (CUB's reader fills them too); they are re-exported here, where readers
# and callers have always found them.
from .records import (DATASET_LABELS, DISTRACTOR_PID, JUNK_PID, SPLITS, DatasetLayoutError, Record,  # noqa: F401
                      ReidData, Split)

# Datasets with the re-ID protocol (query, gallery): the book runs on any of them.
REID_DATASETS = ("market1501", "dukemtmc", "peta", "synthetic", "synthetic_duke")
# Datasets for attribute recognition only (paper §5.4): training split and test images, no queries.
ATTRIBUTE_ONLY_DATASETS = ("cub200",)
# A dataset described by a CSV file of the user's (apr.data.custom): apr train and evaluation, not the book.
CUSTOM_DATASETS = ("custom",)
DATASETS = REID_DATASETS + ATTRIBUTE_ONLY_DATASETS + CUSTOM_DATASETS
# The real dataset each synthetic stand-in imitates: its layout and attributes, and the paper's numbers it is
# compared with.
STANDS_FOR = {"synthetic": "market1501", "synthetic_duke": "dukemtmc"}


def stands_for(dataset: str) -> str:
    """The real dataset ``dataset`` is, or imitates (``synthetic`` -> ``market1501``, ``synthetic_duke`` ->
    ``dukemtmc``)."""
    return STANDS_FOR.get(dataset, dataset)


def is_synthetic(dataset: str) -> bool:
    """Whether ``dataset`` is one of the package's generated stand-ins (no download needed)."""
    return dataset in STANDS_FOR
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


# ----------------------------------------------------------------------------- Market / Duke

MARKET_NAME = re.compile(r"^(-1|\d{4})_c(\d)s(\d+)_(\d{6})_(\d{2})$")
DUKE_NAME = re.compile(r"^(\d{4})_c(\d)_f(\d{7})$")
REID_FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


@dataclass(frozen=True)
class _Layout:
    label: str
    pattern: re.Pattern[str]
    example: str
    num_cameras: int


LAYOUTS = {
    "market1501": _Layout(DATASET_LABELS["market1501"], MARKET_NAME, "0002_c1s1_000451_03.jpg", 6),
    "dukemtmc": _Layout(DATASET_LABELS["dukemtmc"], DUKE_NAME, "0005_c2_f0046985.jpg", 8),
}


def find_dataset_folder(dataset: str, root: str | Path | None = None) -> Path:
    """Return the folder that holds ``dataset``'s split folders.

    ``root`` may be that folder or a parent holding the usual extracted name; None means
    the data root (:func:`apr.data.paths.resolve_data_root`).
    """
    base = resolve_data_root(None) if root is None else Path(root).expanduser()
    if not base.is_dir():
        raise DatasetLayoutError(f"dataset root '{base}' does not exist or is not a folder")
    if dataset == "peta":
        candidates = [base] + [base / n for n in EXTRACTED_NAMES["peta"]]
        for c in candidates:
            if c.is_dir() and any(p.is_file() for p in c.glob("*/archive/Label.txt")):
                return c
        raise DatasetLayoutError(
            f"no PETA layout under '{base}': expected sub-dataset folders with archive/Label.txt "
            f"(e.g. 3DPeS/archive/Label.txt), directly or in {list(EXTRACTED_NAMES['peta'])}"
        )
    names = EXTRACTED_NAMES.get(stands_for(dataset), ())
    candidates = [base] + [base / n for n in names]
    for c in candidates:
        if all((c / folder).is_dir() for folder in REID_FOLDERS.values()):
            return c
    # Name what is missing where the layout is partly there (the folder with the most split folders).
    best = max(candidates, key=lambda c: sum((c / folder).is_dir() for folder in REID_FOLDERS.values()))
    missing = [f"{folder}/" for folder in REID_FOLDERS.values() if not (best / folder).is_dir()]
    base = best
    label = LAYOUTS[stands_for(dataset)].label
    raise DatasetLayoutError(
        f"no {label} layout under '{base}': missing {', '.join(missing)} (expected bounding_box_train/, "
        f"bounding_box_test/, query/ there or in a sub-folder named {' or '.join(names) or 'as extracted'}; "
        f"set data_root or use dataset='synthetic')"
    )


def _image_files(folder: Path) -> list[Path]:
    """Sorted image files of a folder; other files (Thumbs.db, .DS_Store) are skipped.

    An image name whose file cannot be read (a dangling symbolic link) is an error that names it.
    """
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())
    for path in images:
        if not path.is_file():
            raise DatasetLayoutError(f"'{path}' is a broken link or not a file (it points to '{os.readlink(path)}')"
                                     if path.is_symlink() else f"'{path}' is not a regular file")
    return images


def parse_reid_name(path: Path, layout: _Layout) -> tuple[int, int]:
    """Return (pid, camid) of a Market/Duke file name, or raise naming the file."""
    match = layout.pattern.match(path.stem)
    if match is None or path.suffix.lower() != ".jpg":
        raise ValueError(f"'{path}': not a {layout.label} file name (expected e.g. {layout.example})")
    pid, camid = int(match.group(1)), int(match.group(2))
    if not 1 <= camid <= layout.num_cameras:
        raise ValueError(f"'{path}': camera {camid} outside 1..{layout.num_cameras} for {layout.label}")
    return pid, camid


def read_reid_folders(folder: Path, dataset: str) -> dict[str, list[Record]]:
    """Records of the three split folders of a Market-1501 or DukeMTMC-reID layout."""
    layout = LAYOUTS[stands_for(dataset)]
    out: dict[str, list[Record]] = {}
    for split, sub in REID_FOLDERS.items():
        records = []
        for path in _image_files(folder / sub):
            pid, camid = parse_reid_name(path, layout)
            records.append(Record(str(path), pid, camid, split))
        if not records:
            raise DatasetLayoutError(f"'{folder / sub}' holds no {layout.label} images (expected e.g. "
                                     f"{layout.example})")
        out[split] = records
    return out


def _check_ids(records: list[Record], table: pd.DataFrame, annotation: Path, part: str, skip: set[int]) -> None:
    missing = sorted({r.pid for r in records} - skip - set(table.index))
    if missing:
        shown = ", ".join(f"{p:04d}" for p in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"{len(missing)} person id(s) of {part} images have no row in '{annotation}' "
            f"({'train' if part == 'training' else 'test'} split): {shown}"
        )


def _attach_reid_attributes(data: ReidData, annotation: Path, schema: AttributeSchema) -> None:
    found = detect_schema(annotation)
    if found.dataset != schema.dataset:
        raise ValueError(
            f"'{annotation}' holds {found.dataset} attributes ({found.mat_key}) but the images are {data.name} "
            f"(expected {schema.mat_key})"
        )
    tables = load_attribute_annotations(annotation)
    skip = {JUNK_PID, DISTRACTOR_PID}
    _check_ids(data.train, tables["train"], annotation, "training", skip)
    _check_ids(data.query + data.gallery, tables["test"], annotation, "query/gallery", skip)
    data.schema, data.annotation_file, data.identity_attributes = schema, annotation, tables
    for split in SPLITS:
        table = tables["train" if split == "train" else "test"]
        data.attributes[split] = expand_to_images([r.pid for r in data.split(split)], table)


def _read_reid_dataset(dataset: str, annotated_as: str, schema: AttributeSchema, root: str | Path | None,
                       attributes: bool, data_root: str | Path | None, annotation_file: str | Path | None) -> ReidData:
    """Shared reader of the Market-1501 and DukeMTMC-reID layouts and their .mat attributes."""
    # The images come from the given data root too, not only the annotations ($APR_DATA_ROOT
    # and the defaults apply only when neither root nor data_root is given).
    folder = find_dataset_folder(dataset, root if root is not None else resolve_data_root(data_root))
    splits = read_reid_folders(folder, dataset)
    data = ReidData(dataset, folder, splits["train"], splits["query"], splits["gallery"])
    if attributes:
        ann = Path(annotation_file) if annotation_file else find_annotation_file(annotated_as, folder, data_root)
        if ann is None:
            name = f"{schema.mat_key}.mat"
            raise FileNotFoundError(
                f"no {name} for '{folder}': put it beside the images, under the data root's "
                f"{ANNOTATION_SUBDIRS[annotated_as][0]}/ folder, pass annotation_file, fetch it with "
                f"`python -m apr download`, or load with attributes=False"
            )
        _attach_reid_attributes(data, ann, schema)
    return data


def read_market1501(root: str | Path | None = None, *, attributes: bool = True, data_root: str | Path | None = None,
                    annotation_file: str | Path | None = None, dataset: str = "market1501") -> ReidData:
    """Load a Market-1501 layout (also the synthetic set) and, by default, its attributes.

    The annotation file is ``annotation_file`` if given, else ``market_attribute.mat`` found
    beside the images or under the data root.
    """
    return _read_reid_dataset(dataset, "market1501", MARKET_SCHEMA, root, attributes, data_root, annotation_file)


def read_dukemtmc(root: str | Path | None = None, *, attributes: bool = True, data_root: str | Path | None = None,
                  annotation_file: str | Path | None = None, dataset: str = "dukemtmc") -> ReidData:
    """Load a DukeMTMC-reID layout (also the synthetic Duke set) and, by default, ``duke_attribute.mat``."""
    return _read_reid_dataset(dataset, "dukemtmc", DUKE_SCHEMA, root, attributes, data_root, annotation_file)


# ----------------------------------------------------------------------------------- PETA

# The paper's re-split (§5.1): 4,558 training identities (9,500 images), 423 test identities
# (423 queries, 7,177 gallery images), 4,981 identities in all.
PETA_TRAIN_IDS = 4558
PETA_TEST_IDS = 423
_DIGITS = re.compile(r"\d+")


def read_peta_labels(label_file: Path) -> dict[int, set[str]]:
    """Parse a PETA ``Label.txt``: ``<id or file name> <positive attribute> ...`` per line."""
    labels: dict[int, set[str]] = {}
    for line_no, line in enumerate(label_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        head = _DIGITS.match(tokens[0].split(".")[0])
        if head is None:
            raise ValueError(f"'{label_file}' line {line_no}: expected a person id first, got {tokens[0]!r}")
        labels[int(head.group())] = set(tokens[1:])
    return labels


def split_peta(identities: list[int], images_per_id: dict[int, int], seed: int = 0) -> tuple[set[int], set[int]]:
    """Seeded train/test identity split with the paper's sizes.

    The authors' PETA re-ID split is unpublished. This one draws, with ``seed``, 423 test
    identities among those with at least two images (one becomes the query, the rest go to
    the gallery) and 4,558 training identities from the rest. With fewer identities than the
    paper's 4,981 the two counts shrink in the same ratio. Identities left over are kept in
    the gallery as distractors, so the gallery is larger than the paper's 7,177 images.
    """
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(identities))
    total = len(ids)
    n_test = PETA_TEST_IDS if total >= PETA_TRAIN_IDS + PETA_TEST_IDS else max(1, round(total * PETA_TEST_IDS / 4981))
    n_train = PETA_TRAIN_IDS if total >= PETA_TRAIN_IDS + PETA_TEST_IDS else total - n_test
    multi = np.array([i for i in ids if images_per_id[i] >= 2])
    if len(multi) < n_test:
        raise ValueError(f"PETA split needs {n_test} identities with >= 2 images, found {len(multi)}")
    test = set(rng.choice(multi, size=n_test, replace=False).tolist())
    rest = rng.permutation(np.array([i for i in ids if i not in test]))
    train = set(rest[:n_train].tolist())
    return train, test


def read_peta(root: str | Path | None = None, *, seed: int = 0, attributes: bool = True) -> ReidData:
    """Load PETA's ten sub-datasets with a seeded re-ID split (:func:`split_peta`).

    Identities are (sub-dataset, local id) pairs renumbered 1..N in sorted order. PETA has
    no camera labels: queries get camera 1 and every other image camera 2, so the
    same-camera rule of the Market protocol never discards a true match.
    """
    folder = find_dataset_folder("peta", root)
    per_id: dict[int, list[Path]] = {}
    labels_by_id: dict[int, set[str]] = {}
    next_id = 1
    for label_file in sorted(folder.glob("*/archive/Label.txt")):
        local_labels = read_peta_labels(label_file)
        local_to_global = {}
        for path in _image_files(label_file.parent):
            match = _DIGITS.match(path.stem)
            if match is None:
                raise ValueError(f"'{path}': PETA image names start with the person id (e.g. 0001_1.png)")
            local = int(match.group())
            if local not in local_labels:
                raise ValueError(f"'{path}': person id {local} has no line in '{label_file}'")
            if local not in local_to_global:
                local_to_global[local] = next_id
                labels_by_id[next_id] = local_labels[local]
                next_id += 1
            per_id.setdefault(local_to_global[local], []).append(path)
    if not per_id:
        raise DatasetLayoutError(f"no PETA images found under '{folder}'")
    train_ids, test_ids = split_peta(list(per_id), {i: len(p) for i, p in per_id.items()}, seed)
    train, query, gallery = [], [], []
    for pid in sorted(per_id):
        paths = sorted(per_id[pid])
        if pid in train_ids:
            train += [Record(str(p), pid, 2, "train") for p in paths]
        elif pid in test_ids:
            query.append(Record(str(paths[0]), pid, 1, "query"))
            gallery += [Record(str(p), pid, 2, "gallery") for p in paths[1:]]
        else:
            gallery += [Record(str(p), pid, 2, "gallery") for p in paths]
    data = ReidData("peta", folder, sorted(train), sorted(query), sorted(gallery))
    if attributes:
        names = PETA_SCHEMA.names
        table = pd.DataFrame(
            [[int(n in labels_by_id[pid]) for n in names] for pid in sorted(labels_by_id)],
            index=pd.Index(sorted(labels_by_id), name="pid"), columns=names, dtype=np.int8,
        )
        data.schema = PETA_SCHEMA
        data.identity_attributes = {"train": table.loc[sorted(train_ids)], "test": table.drop(index=sorted(train_ids))}
        for split in SPLITS:
            data.attributes[split] = expand_to_images([r.pid for r in data.split(split)], table)
    return data


# ------------------------------------------------------------------------------ one entry

def load_dataset(dataset: str, root: str | Path | None = None, *, attributes: bool = True,
                 data_root: str | Path | None = None, seed: int = 0) -> ReidData:
    """Load any supported dataset by name (``market1501``, ``dukemtmc``, ``peta``, ``synthetic``, ``synthetic_duke``,
    ``cub200``; ``custom`` with ``root`` its CSV file, :mod:`apr.data.custom`)."""
    if is_synthetic(dataset) and root is not None:
        from .synthetic import SYNTHETIC_MANIFEST   # written last: without it the set is unfinished or not ours

        if not (Path(root) / SYNTHETIC_MANIFEST).is_file():
            raise DatasetLayoutError(f"'{root}' is not a finished synthetic dataset (no {SYNTHETIC_MANIFEST}); draw it "
                                     "again with apr synth into an empty folder")
    if dataset in ("market1501", "synthetic"):
        return read_market1501(root, attributes=attributes, data_root=data_root, dataset=dataset)
    if dataset in ("dukemtmc", "synthetic_duke"):
        return read_dukemtmc(root, attributes=attributes, data_root=data_root, dataset=dataset)
    if dataset == "peta":
        return read_peta(root if root is not None else resolve_data_root(data_root), seed=seed, attributes=attributes)
    if dataset == "cub200":
        return cub_reid_data(read_cub(root if root is not None else resolve_data_root(data_root)))
    if dataset == "custom":
        if root is None:
            raise ValueError("dataset 'custom' needs its CSV file: load_dataset('custom', 'my_set.csv')")
        return read_custom(root)
    raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
