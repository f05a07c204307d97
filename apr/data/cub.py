"""CUB-200-2011 for attribute recognition (paper §5.4, Table 7): the standard layout, its 312 binary
attributes grouped into the paper's 28 multi-class attributes.

Layout (``root`` is the ``CUB_200_2011`` folder, or a folder holding it)::

    images/<class folder>/<name>.jpg
    images.txt                               <image id> <path under images/>
    image_class_labels.txt                   <image id> <class id 1..200>
    train_test_split.txt                     <image id> <1 train | 0 test>
    attributes/image_attribute_labels.txt    <image id> <attribute id> <is present 0|1> <certainty 1..4> [<seconds>]
    attributes.txt                           <attribute id> <group>::<value>   (312 lines)

``attributes.txt`` ships beside ``CUB_200_2011/`` in the release archive; it is also looked for inside
it and in ``attributes/``. Some lines of the released ``image_attribute_labels.txt`` carry an extra
field; only the first four are read.

From 312 flags to 28 labels (the paper says only that the 312 attributes "are divided into 28 groups
and are used as 28 multi-class attributes"; this is our rule). For each image and group:

* a value counts when the annotator marked it present with a certainty above "not visible"
  (certainty ids: 1 not visible, 2 guessing, 3 probably, 4 definitely);
* the label is the counted value of highest certainty;
* no counted value, or several at the highest certainty (a two-coloured wing marked "definitely"
  twice), leaves the group unlabelled (-1), ignored by the loss and the accuracy like the -1 of the
  person datasets, rather than an arbitrary pick. :func:`read_cub` reports how many labels each
  group has.

Classes play the part of identities (200 of them; the train/test split is the released one).
Bad input stops with one line that names the file and, where there is one, the line.
"""

from __future__ import annotations

import os

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .attributes import Attribute, AttributeGroup, AttributeSchema
from .records import DatasetLayoutError, Record, ReidData

FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "attributes/image_attribute_labels.txt")
NOT_VISIBLE = 1          # certainty id of "not visible"


@dataclass
class CubData:
    """CUB-200-2011 read for attribute recognition: records (pid = class id) and one label per group."""

    root: Path
    train: list[Record]
    test: list[Record]
    schema: AttributeSchema
    attributes: dict[str, np.ndarray] = field(default_factory=dict)   # split -> (N, 28) int8, -1 unlabelled
    labelled: dict[str, int] = field(default_factory=dict)            # group -> labelled images (both splits)


def find_cub_folder(root: str | Path) -> Path:
    """The folder holding ``images.txt`` and the other CUB files: ``root`` or ``root/CUB_200_2011``."""
    root = Path(root).expanduser()
    for folder in (root, root / "CUB_200_2011"):
        if (folder / "images.txt").is_file():
            return folder
    raise DatasetLayoutError(f"no CUB-200-2011 layout under '{root}': expected images.txt (and {', '.join(FILES[1:])}) "
                             "there or in CUB_200_2011/")


def _rows(path: Path, fields: int) -> list[tuple[int, list[str]]]:
    """(line number, the first ``fields`` fields) of every non-blank line; a short line is an error naming it."""
    if not path.is_file():
        raise DatasetLayoutError(f"'{path}' is missing (part of the CUB-200-2011 layout)")
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < fields:
                raise ValueError(f"'{path}' line {number}: expected {fields} fields, got {len(parts)}: "
                                 f"{line.strip()!r}")
            out.append((number, parts[:fields]))
    return out


def _integer(path: Path, number: int, text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{path}' line {number}: {what} {text!r} is not a whole number") from None


def _names_file(folder: Path) -> Path:
    for candidate in (folder / "attributes.txt", folder / "attributes" / "attributes.txt",
                      folder.parent / "attributes.txt"):
        if candidate.is_file():
            return candidate
    raise DatasetLayoutError(f"no attributes.txt for '{folder}' (looked in the folder, in attributes/ and beside it; "
                             "the release archive has it beside CUB_200_2011/)")


def cub_schema(names_file: Path) -> tuple[AttributeSchema, dict[int, tuple[int, int]]]:
    """The 28-group schema from ``attributes.txt``, and each attribute id's (group, value) position."""
    groups: dict[str, list[str]] = {}
    position: dict[int, tuple[int, int]] = {}
    for number, (key, name) in _rows(names_file, 2):
        attribute_id = _integer(names_file, number, key, "attribute id")
        group, sep, value = name.partition("::")
        if not sep or not value:
            raise ValueError(f"'{names_file}' line {number}: expected <group>::<value>, got {name!r}")
        values = groups.setdefault(group, [])
        position[attribute_id] = (list(groups).index(group), len(values))
        values.append(value)
    attributes = tuple(Attribute(g, g.removeprefix("has_").replace("_", " "), tuple(v)) for g, v in groups.items())
    schema = AttributeSchema("cub200", "", attributes, tuple(AttributeGroup(a.name, a.label, (a.name,))
                                                             for a in attributes))
    return schema, position


def read_cub(root: str | Path) -> CubData:
    """Read CUB-200-2011 (see the module docstring for the layout and the labelling rule)."""
    folder = find_cub_folder(root)
    schema, position = cub_schema(_names_file(folder))
    images_file = folder / "images.txt"
    paths: dict[int, tuple[Path, int]] = {}
    line_of: dict[str, int] = {}     # each image file once: the same bird in train and test would be a leak
    for number, (key, relative) in _rows(images_file, 2):
        path = folder / "images" / relative
        # Judged on the text, not the resolved path: a data set may be a tree of links, but not name files outside it.
        resolved = os.path.normpath(relative)
        if os.path.isabs(relative) or resolved == ".." or resolved.startswith(".." + os.sep):
            raise ValueError(f"'{images_file}' line {number}: image path '{relative}' leads outside "
                             f"'{folder / 'images'}'; expected a path under it")
        if not path.is_file():
            raise DatasetLayoutError(f"'{images_file}' line {number}: image '{path}' is listed but absent")
        if resolved in line_of:
            raise ValueError(f"'{images_file}' line {number}: image '{relative}' is already listed on line "
                             f"{line_of[resolved]}; each image may appear once")
        line_of[resolved] = number
        image_id = _integer(images_file, number, key, "image id")
        if image_id in paths:
            raise ValueError(f"'{images_file}' line {number}: image id {image_id} is already used on line "
                             f"{paths[image_id][1]}")
        paths[image_id] = (path, number)
    labels_file, split_file = folder / "image_class_labels.txt", folder / "train_test_split.txt"
    classes = {_integer(labels_file, n, k, "image id"): _integer(labels_file, n, c, "class id")
               for n, (k, c) in _rows(labels_file, 2)}
    is_train = {_integer(split_file, n, k, "image id"): _integer(split_file, n, t, "train flag") == 1
                for n, (k, t) in _rows(split_file, 2)}
    for name, table, source in (("a class", classes, labels_file), ("a split", is_train, split_file)):
        missing = sorted(set(paths) - set(table))
        if missing:
            raise ValueError(f"'{source}': image id {missing[0]} of images.txt (line {paths[missing[0]][1]}) has no "
                             f"{name.split()[1]} ({len(missing)} images without one)")
    order = sorted(paths)
    row = {image_id: i for i, image_id in enumerate(order)}
    # Best certainty seen per (image, group), and how many values reached it.
    best = np.zeros((len(order), len(schema.groups)), np.int8)
    label = np.full((len(order), len(schema.groups)), -1, np.int16)
    ties = np.zeros((len(order), len(schema.groups)), np.int16)
    flags_file = folder / "attributes" / "image_attribute_labels.txt"
    for number, (image, attribute, present, certainty) in _rows(flags_file, 4):
        image_id = _integer(flags_file, number, image, "image id")
        attribute_id = _integer(flags_file, number, attribute, "attribute id")
        if attribute_id not in position:
            raise ValueError(f"'{flags_file}' line {number}: attribute id {attribute_id} is not in attributes.txt "
                             f"(ids 1..{len(position)})")
        if image_id not in row:
            raise ValueError(f"'{flags_file}' line {number}: image id {image_id} is not in images.txt")
        level = _integer(flags_file, number, certainty, "certainty id")
        if not 1 <= level <= 4:
            raise ValueError(f"'{flags_file}' line {number}: certainty id {level} outside 1..4")
        if present != "1" or level == NOT_VISIBLE:
            continue
        i, (g, v) = row[image_id], position[attribute_id]
        if level > best[i, g]:
            best[i, g], label[i, g], ties[i, g] = level, v, 1
        elif level == best[i, g]:
            ties[i, g] += 1
    label[ties > 1] = -1
    records = {True: [], False: []}
    rows_of = {True: [], False: []}
    for image_id in order:
        path, _ = paths[image_id]
        train = is_train[image_id]
        records[train].append(Record(str(path), classes[image_id], 1, "train" if train else "gallery"))
        rows_of[train].append(row[image_id])
    attributes = {"train": label[rows_of[True]].astype(np.int8), "test": label[rows_of[False]].astype(np.int8)}
    labelled = {g.name: int((label[:, k] >= 0).sum()) for k, g in enumerate(schema.groups)}
    return CubData(folder, records[True], records[False], schema, attributes, labelled)


def cub_reid_data(data: CubData) -> ReidData:
    """CUB-200-2011 in the form every run reads: the training images as ``train``, the test images as the
    ``gallery`` whose attribute accuracy evaluation reports, and no queries (§5.4 measures attribute
    recognition only)."""
    reid = ReidData("cub200", data.root, data.train, [], data.test, data.schema)
    reid.attributes = {"train": data.attributes["train"], "query": np.zeros((0, len(data.schema.names)), np.int8),
                       "gallery": data.attributes["test"]}
    return reid
