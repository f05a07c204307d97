"""Your own dataset: one CSV file that lists the images, read like the built-in layouts.

The file has a header row with at least ``path``, ``pid``, ``camid`` and ``split``; every other column is an
attribute (its name is the column's):

    path,pid,camid,split,gender,backpack
    train/0001_c1_000.jpg,1,1,train,0,1
    query/0002_c2_000.jpg,2,2,query,1,
    gallery/0002_c1_004.jpg,2,1,gallery,1,0

* ``path``: the image, relative to the CSV's folder (or absolute);
* ``pid``: person id, an integer; -1 marks a junk gallery image (ignored), 0 a distractor (as in Market-1501);
* ``camid``: camera id, an integer (a query's matches in its own camera are left out, as in Market-1501);
* ``split``: ``train``, ``query`` or ``gallery``;
* an attribute: the class index 0, 1, ... of the image; empty or -1 when unlabelled (not trained on, not scored).
  An attribute has as many classes as its largest index + 1 (at least two).

Train with ``python -m apr train --dataset custom --set dataset_file=my_set.csv``. A bad row is named by file, line
and field. The run cache knows the file by its content (:func:`fingerprint`), so an edited file trains anew.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path

import numpy as np

from .attributes import NO_YES, Attribute, AttributeGroup, AttributeSchema
from .records import SPLITS, DatasetLayoutError, Record, ReidData

CUSTOM = "custom"
REQUIRED_COLUMNS = ("path", "pid", "camid", "split")
MAX_CLASSES = 100


def fingerprint(path: str | Path) -> str:
    """The SHA-256 of a dataset file's bytes (what the run cache keys a custom dataset by). A book asks for the key
    of every configuration many times: the file is read again only when its size or mtime changed."""
    try:
        info = Path(path).stat()
    except OSError as exc:
        raise FileNotFoundError(f"dataset_file '{path}' cannot be read: {exc}") from None
    return _fingerprint(str(Path(path).resolve()), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise FileNotFoundError(f"dataset_file '{path}' cannot be read: {exc}") from None


def _integer(text: str, where: str, field: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise DatasetLayoutError(f"{where}, field '{field}': expected an integer, got {text!r}") from None


def read_custom(path: str | Path, *, check_images: bool = True) -> ReidData:
    """The dataset a CSV file describes (format in the module docstring); ``check_images``: every image file must
    exist (the error names the first missing one with its line)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"dataset_file '{path}' not found: expected a CSV file with columns "
                                f"{', '.join(REQUIRED_COLUMNS)} (and attribute columns)")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetLayoutError(f"'{path}' is not a UTF-8 CSV file: {exc}") from None
    if header is None:
        raise DatasetLayoutError(f"'{path}' is empty: expected a header row with {', '.join(REQUIRED_COLUMNS)}")
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing or len(set(header)) != len(header):
        raise DatasetLayoutError(f"'{path}' line 1: expected the columns {', '.join(REQUIRED_COLUMNS)} once each "
                                 f"(then attribute columns), got {', '.join(header)}")
    index = {c: header.index(c) for c in REQUIRED_COLUMNS}
    names = [h for h in header if h not in REQUIRED_COLUMNS]
    columns = [header.index(name) for name in names]
    records: dict[str, list[Record]] = {s: [] for s in SPLITS}
    labels: dict[str, list[list[int]]] = {s: [] for s in SPLITS}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue                                               # a blank line
        where = f"'{path}' line {line}"
        if len(row) != len(header):
            raise DatasetLayoutError(f"{where}: expected {len(header)} fields like the header, got {len(row)}")
        split = row[index["split"]].strip()
        if split not in SPLITS:
            raise DatasetLayoutError(f"{where}, field 'split': expected one of {', '.join(SPLITS)}, got {split!r}")
        image = Path(row[index["path"]].strip()).expanduser()
        image = image if image.is_absolute() else path.parent / image
        if check_images and not image.is_file():
            raise DatasetLayoutError(f"{where}, field 'path': image file '{image}' not found")
        pid = _integer(row[index["pid"]], where, "pid")
        if pid < -1:
            raise DatasetLayoutError(f"{where}, field 'pid': expected -1 (junk), 0 (distractor) or a person id, "
                                     f"got {pid}")
        camid = _integer(row[index["camid"]], where, "camid")
        if camid < 0:
            raise DatasetLayoutError(f"{where}, field 'camid': expected a camera id >= 0, got {camid}")
        values = []
        for name, column in zip(names, columns):
            text = row[column].strip()
            value = -1 if text == "" else _integer(text, where, name)
            if not -1 <= value < MAX_CLASSES:
                raise DatasetLayoutError(f"{where}, field '{name}': expected a class index 0..{MAX_CLASSES - 1} or "
                                         f"-1 / empty (unlabelled), got {value}")
            values.append(value)
        records[split].append(Record(str(image), pid, camid, split))
        labels[split].append(values)
    if not records["train"]:
        raise DatasetLayoutError(f"'{path}' has no training images (split 'train')")
    if not records["query"] or not records["gallery"]:
        raise DatasetLayoutError(f"'{path}' needs query and gallery images for re-ID evaluation")
    schema = None
    attributes: dict[str, np.ndarray] = {}
    if names:
        every = np.array([v for s in SPLITS for v in labels[s]], dtype=np.int64).reshape(-1, len(names))
        classes = [max(2, int(every[:, j].max()) + 1) for j in range(len(names))]
        schema = AttributeSchema(
            dataset=CUSTOM, mat_key="",
            attributes=tuple(Attribute(n, n, NO_YES if c == 2 else tuple(str(k) for k in range(c)))
                             for n, c in zip(names, classes)),
            groups=tuple(AttributeGroup(n, n, (n,)) for n in names))
        attributes = {s: np.array(labels[s], dtype=np.int8).reshape(-1, len(names)) for s in SPLITS}
    return ReidData(CUSTOM, path.parent, records["train"], records["query"], records["gallery"], schema, attributes,
                    annotation_file=path)
