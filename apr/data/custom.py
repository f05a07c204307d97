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
  Its number of classes is declared in the header as ``name:C`` (``age:4``, ``backpack:2``), and a value outside
  0..C-1 is an error; without a declaration it is inferred once from the file (its largest index + 1, at least two)
  and :func:`check_custom` says so.

Train with ``python -m apr train --dataset custom --dataset-file my_set.csv``; ``python -m apr info --dataset custom
--dataset-file my_set.csv`` checks the file first. :func:`check_custom` reads every row and every image's header
in one pass and reports every problem at once, each named by file, line and field; training refuses a file with
any. The run cache knows the file by its content (:func:`fingerprint`), so an edited file trains anew.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

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


SHOWN_PROBLEMS = 20   # an error message lists this many problems, then counts the rest


class _Invalid(ValueError):
    """One field that cannot be read; collected, not raised past the row."""


def _integer(text: str, where: str, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _Invalid(f"{where}, field '{name}': expected an integer, got {text!r}") from None


@dataclass
class CustomCheck:
    """What one pass over a custom dataset file found.

    ``errors`` stop training (each names file, line and field); ``warnings`` do not (queries without a match in
    the gallery are skipped by the evaluation); ``notes`` say what was inferred (an attribute's classes). ``data``
    is the dataset when there is no error."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: ReidData | None = None

    def report(self) -> str:
        """Errors (at most :data:`SHOWN_PROBLEMS`, then a count), warnings and notes, one per line."""
        lines = [f"error: {e}" for e in self.errors[:SHOWN_PROBLEMS]]
        if len(self.errors) > SHOWN_PROBLEMS:
            lines.append(f"error: ... and {len(self.errors) - SHOWN_PROBLEMS} more problems")
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings] + [f"note: {n}" for n in self.notes])

    def raise_if_errors(self) -> ReidData:
        """The dataset, or one DatasetLayoutError: the problem's line, or a count and a line for each."""
        if len(self.errors) == 1:
            raise DatasetLayoutError(self.errors[0])
        if self.errors:
            head = f"'{self.path}': {len(self.errors)} problem{'s' * (len(self.errors) > 1)} (nothing was trained)"
            shown = self.errors[:SHOWN_PROBLEMS] + ([f"... and {len(self.errors) - SHOWN_PROBLEMS} more"]
                                                   if len(self.errors) > SHOWN_PROBLEMS else [])
            raise DatasetLayoutError("\n  ".join([head, *shown]))
        assert self.data is not None
        return self.data


def _declared(header: list[str]) -> tuple[list[str], list[int | None], list[str]]:
    """Attribute names and declared classes from header cells ``name`` or ``name:C``; problems with them."""
    names, classes, problems = [], [], []
    for cell in header:
        name, sep, count = cell.partition(":")
        name = name.strip()
        declared = None
        if sep:
            try:
                declared = int(count)
            except ValueError:
                declared = -1
            if not 2 <= declared <= MAX_CLASSES:
                problems.append(f"line 1, column '{cell}': expected 'name:C' with 2 <= C <= {MAX_CLASSES} classes")
                declared = None
        names.append(name)
        classes.append(declared)
    return names, classes, problems


def _image_problem(image: Path, read_header: bool) -> str | None:
    """Why an image cannot be used, or None: missing, or (``read_header``) unreadable or over the pixel limit
    by its header alone (no decoding)."""
    if not image.is_file():
        return f"image file '{image}' not found"
    if not read_header:
        return None
    try:
        with Image.open(image) as img:
            pixels = img.size[0] * img.size[1]
    except Image.DecompressionBombError as exc:
        return f"image '{image}' is larger than the pixel limit ({exc})"
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return f"image '{image}' is not an image PIL can read ({exc})"
    if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
        return f"image '{image}' has {pixels:,} pixels, more than the limit {Image.MAX_IMAGE_PIXELS:,}"
    return None


def check_custom(path: str | Path, *, check_images: bool = True, read_headers: bool = True) -> CustomCheck:
    """Read a custom dataset file (format in the module docstring) and, with ``read_headers``, every image's header
    in one pass, and report every problem at once: unreadable fields, label values outside an attribute's classes,
    junk or distractor ids in train, fewer than two training identities, duplicate rows, an image under two ids,
    missing or unreadable images, attributes with no training label, no query with a match in the gallery (warned
    when only some lack one)."""
    path = Path(path).expanduser().resolve()
    check = CustomCheck(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset_file '{path}' not found: expected a CSV file with columns "
                                f"{', '.join(REQUIRED_COLUMNS)} (and attribute columns)")
    try:
        # utf-8-sig: a spreadsheet's export starts with a byte-order mark that would become part of 'path'.
        with path.open(newline="", encoding="utf-8-sig") as handle:
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
    columns = [i for i, h in enumerate(header) if h not in REQUIRED_COLUMNS]
    names, declared, problems = _declared([header[i] for i in columns])
    check.errors += [f"'{path}' {p}" for p in problems]
    records: dict[str, list[Record]] = {s: [] for s in SPLITS}
    labels: dict[str, list[list[int]]] = {s: [] for s in SPLITS}
    first_line: dict[str, tuple[int, int, str]] = {}         # image -> (line, pid, split) of its first row
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue                                               # a blank line
        where = f"'{path}' line {line}"
        if len(row) != len(header):
            check.errors.append(f"{where}: expected {len(header)} fields like the header, got {len(row)}")
            continue
        row_errors = []
        split = row[index["split"]].strip()
        if split not in SPLITS:
            row_errors.append(f"{where}, field 'split': expected one of {', '.join(SPLITS)}, got {split!r}")
        image = Path(row[index["path"]].strip()).expanduser()
        image = image if image.is_absolute() else path.parent / image
        if check_images and (problem := _image_problem(image, read_headers)):
            row_errors.append(f"{where}, field 'path': {problem}")
        pid = camid = None
        try:
            pid = _integer(row[index["pid"]], where, "pid")
            if pid < -1:
                row_errors.append(f"{where}, field 'pid': expected -1 (junk), 0 (distractor) or a person id, got {pid}")
            elif split == "train" and pid <= 0:
                row_errors.append(f"{where}, field 'pid': {pid} marks a junk or distractor image, which only the "
                                  "gallery may hold; in train it would become an identity class")
        except _Invalid as exc:
            row_errors.append(str(exc))
        try:
            camid = _integer(row[index["camid"]], where, "camid")
            if camid < 0:
                row_errors.append(f"{where}, field 'camid': expected a camera id >= 0, got {camid}")
        except _Invalid as exc:
            row_errors.append(str(exc))
        values = []
        for name, classes, column in zip(names, declared, columns):
            text = row[column].strip()
            try:
                value = -1 if text == "" else _integer(text, where, name)
            except _Invalid as exc:
                row_errors.append(str(exc))
                continue
            top = (classes or MAX_CLASSES) - 1
            if not -1 <= value <= top:
                declared_text = f" (declared '{name}:{classes}')" if classes else ""
                row_errors.append(f"{where}, field '{name}': expected a class index 0..{top}{declared_text} or -1 / "
                                  f"empty (unlabelled), got {value}")
            values.append(value)
        key = str(image.resolve())
        if key in first_line and pid is not None:
            seen_line, seen_pid, seen_split = first_line[key]
            if seen_pid != pid:
                row_errors.append(f"{where}, field 'pid': image '{image}' is listed under id {seen_pid} on line "
                                  f"{seen_line} and under id {pid} here")
            else:
                row_errors.append(f"{where}: repeats line {seen_line} (image '{image}' in split '{seen_split}')")
        elif pid is not None:
            first_line[key] = (line, pid, split)
        if row_errors:
            check.errors += row_errors
            continue
        records[split].append(Record(str(image), pid, camid, split))
        labels[split].append(values)
    _check_splits(check, records, path)
    schema, attributes = _schema(check, names, declared, labels, path)
    if not check.errors:
        check.data = ReidData(CUSTOM, path.parent, records["train"], records["query"], records["gallery"], schema,
                              attributes, annotation_file=path)
    return check


def _check_splits(check: CustomCheck, records: dict[str, list[Record]], path: Path) -> None:
    """Whole-file problems: splits that are missing, too few identities, queries without a match."""
    if not records["train"]:
        check.errors.append(f"'{path}' has no usable training images (split 'train')")
    elif (ids := len({r.pid for r in records["train"]})) < 2:
        check.errors.append(f"'{path}' has {ids} training identity: the ID classifier needs at least 2")
    if not records["query"] or not records["gallery"]:
        check.errors.append(f"'{path}' needs query and gallery images for re-ID evaluation")
        return
    cameras: dict[int, set[int]] = {}
    for r in records["gallery"]:
        if r.pid > 0:
            cameras.setdefault(r.pid, set()).add(r.camid)
    unmatched = sum(1 for q in records["query"] if not cameras.get(q.pid, set()) - {q.camid})
    if unmatched == len(records["query"]):
        check.errors.append(f"'{path}': none of the {unmatched} queries has a match in the gallery (the same id "
                            "from another camera), so nothing can be evaluated")
    elif unmatched:
        check.warnings.append(f"'{path}': {unmatched} of {len(records['query'])} queries have no match in the "
                              "gallery (the same id from another camera); the evaluation skips them")


def _schema(check: CustomCheck, names: list[str], declared: list[int | None], labels: dict[str, list[list[int]]],
            path: Path) -> tuple[AttributeSchema | None, dict[str, np.ndarray]]:
    """The attributes' schema, their classes declared or inferred (and said), and per-split label arrays."""
    if not names:
        return None, {}
    arrays = {s: np.array(labels[s], dtype=np.int8).reshape(-1, len(names)) for s in SPLITS}
    every = np.concatenate([arrays[s] for s in SPLITS])
    classes = []
    for j, (name, count) in enumerate(zip(names, declared)):
        if not (arrays["train"][:, j] >= 0).any():
            check.errors.append(f"'{path}', column '{name}': no training image has a label for it (drop the column, "
                                "or label some images)")
        if count is None:
            count = max(2, int(every[:, j].max(initial=-1)) + 1)
            check.notes.append(f"attribute '{name}': {count} classes, inferred from its values (declare them in the "
                               f"header as '{name}:{count}')")
        classes.append(count)
    schema = AttributeSchema(
        dataset=CUSTOM, mat_key="",
        attributes=tuple(Attribute(n, n, NO_YES if c == 2 else tuple(str(k) for k in range(c)))
                         for n, c in zip(names, classes)),
        groups=tuple(AttributeGroup(n, n, (n,)) for n in names))
    return schema, arrays


def read_custom(path: str | Path, *, check_images: bool = True) -> ReidData:
    """The dataset a CSV file describes (format in the module docstring), after :func:`check_custom`; one
    DatasetLayoutError listing every problem when there is any. The images' headers are not read here (each load
    of a training run or a book would pay for them again): ``apr info``, ``apr train`` and ``apr book`` read them
    once, in their check before anything trains."""
    return check_custom(path, check_images=check_images, read_headers=False).raise_if_errors()
