"""Attribute schemas and the released identity-level annotation files.

The authors released Market-1501 and DukeMTMC-reID attributes as MATLAB structs
(``market_attribute.mat``, ``duke_attribute.mat``): one struct per split (``train``,
``test``), one ``(1, n)`` field per attribute coded 1/2 (``age`` 1..4, 0 = unlabelled), and
``image_index``, the 4-digit person ids. Field order differs between the two splits, so
fields are always read by name.

Coding used throughout ``apr`` (``value = file value - 1``):

* binary attributes: 0 = first class, 1 = second class (e.g. gender 0 male / 1 female,
  hat 0 no / 1 yes);
* Market ``age``: 0 young, 1 teenager, 2 adult, 3 old;
* -1: unlabelled (the file holds 0; only Duke ``top`` for two training ids).

Quirks of the real files, handled explicitly (see :func:`annotation_quirks`):

* the README says exactly one upper and one lower colour is "yes" per identity, but some
  identities have none (Market: upper 78/751 train and 69/750 test) and some Duke test
  identities have two or three lower colours. The per-colour flags are kept as they are
  (they are the 27/23 binary attributes the network learns); for a colour *group* label
  (:func:`group_targets`) an identity with none or several colours gets -1, and the
  official accuracy rule (a predicted colour is right iff its flag is "yes") handles
  several colours without a single label;
* Duke ``top`` = 0 for two training identities becomes -1 (ignored by losses and metrics).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

NO_YES = ("no", "yes")
UNLABELLED = -1


@dataclass(frozen=True)
class Attribute:
    """One annotated attribute: its file key, a human label and its class names.

    ``classes[v]`` names the value ``v`` (file value - 1).
    """

    name: str
    label: str
    classes: tuple[str, ...] = NO_YES

    @property
    def num_classes(self) -> int:
        """How many values the attribute takes."""
        return len(self.classes)


@dataclass(frozen=True)
class AttributeGroup:
    """One column of the paper's accuracy tables (Tables 4-5).

    A plain group has one member attribute; a colour group lists its colour flags in the
    index order of the official evaluation script (a prediction is an index into it).
    """

    name: str
    label: str
    members: tuple[str, ...]

    @property
    def is_colour(self) -> bool:
        """Whether the group is a colour choice among several yes/no attributes (one right answer each)."""
        return len(self.members) > 1


@dataclass(frozen=True)
class AttributeSchema:
    """The attributes of one dataset, in a fixed canonical order, and its evaluation groups."""

    dataset: str
    mat_key: str
    attributes: tuple[Attribute, ...]
    groups: tuple[AttributeGroup, ...]

    @property
    def names(self) -> list[str]:
        """The attributes' names, in the schema's (model output) order."""
        return [a.name for a in self.attributes]

    def attribute(self, name: str) -> Attribute:
        """The attribute called ``name``; a name the schema lacks is an error naming it."""
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(f"unknown attribute {name!r} for {self.dataset}; known: {', '.join(self.names)}")

    def group(self, name: str) -> AttributeGroup:
        """The evaluation group called ``name``; a name the schema lacks is an error naming it."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"unknown group {name!r} for {self.dataset}; known: {', '.join(g.name for g in self.groups)}")


def _colours(prefix: str, colours: tuple[str, ...], part: str) -> tuple[Attribute, ...]:
    return tuple(Attribute(f"{prefix}{c}", f"{c} {part}") for c in colours)


# Index orders of the official Market-1501 evaluation script (evaluate_market_attribute.m):
# a colour prediction k means the k-th colour of these tuples.
MARKET_UP_COLOURS = ("black", "white", "red", "purple", "gray", "blue", "green", "yellow")
MARKET_DOWN_COLOURS = ("black", "white", "pink", "gray", "blue", "green", "brown", "yellow", "purple")
DUKE_UP_COLOURS = ("black", "white", "red", "purple", "gray", "blue", "green", "brown")
DUKE_DOWN_COLOURS = ("black", "white", "red", "gray", "blue", "green", "brown")

MARKET_SCHEMA = AttributeSchema(
    dataset="market1501",
    mat_key="market_attribute",
    attributes=(
        Attribute("gender", "gender", ("male", "female")),
        Attribute("age", "age", ("young", "teenager", "adult", "old")),
        Attribute("hair", "hair length", ("short", "long")),
        Attribute("up", "sleeve length", ("long sleeve", "short sleeve")),
        Attribute("down", "length of lower-body clothing", ("long", "short")),
        Attribute("clothes", "type of lower-body clothing", ("dress", "pants")),
        Attribute("backpack", "carrying backpack"),
        Attribute("handbag", "carrying handbag"),
        Attribute("bag", "carrying other bag"),
        Attribute("hat", "wearing hat"),
        *_colours("up", MARKET_UP_COLOURS, "upper-body"),
        *_colours("down", MARKET_DOWN_COLOURS, "lower-body"),
    ),
    groups=(
        AttributeGroup("gender", "gender", ("gender",)),
        AttributeGroup("age", "age", ("age",)),
        AttributeGroup("hair", "hair length", ("hair",)),
        AttributeGroup("L.slv", "sleeve length", ("up",)),
        AttributeGroup("L.low", "length of lower-body clothing", ("down",)),
        AttributeGroup("S.clth", "type of lower-body clothing", ("clothes",)),
        AttributeGroup("B.pack", "backpack", ("backpack",)),
        AttributeGroup("H.bag", "handbag", ("handbag",)),
        AttributeGroup("bag", "other bag", ("bag",)),
        AttributeGroup("hat", "hat", ("hat",)),
        AttributeGroup("C.up", "upper-body colour", tuple(f"up{c}" for c in MARKET_UP_COLOURS)),
        AttributeGroup("C.low", "lower-body colour", tuple(f"down{c}" for c in MARKET_DOWN_COLOURS)),
    ),
)

DUKE_SCHEMA = AttributeSchema(
    dataset="dukemtmc",
    mat_key="duke_attribute",
    attributes=(
        Attribute("gender", "gender", ("male", "female")),
        Attribute("hat", "wearing hat"),
        Attribute("boots", "wearing boots"),
        Attribute("top", "length of upper-body clothing", ("short", "long")),
        Attribute("backpack", "carrying backpack"),
        Attribute("handbag", "carrying handbag"),
        Attribute("bag", "carrying other bag"),
        Attribute("shoes", "colour of shoes", ("dark", "bright")),
        *_colours("up", DUKE_UP_COLOURS, "upper-body"),
        *_colours("down", DUKE_DOWN_COLOURS, "lower-body"),
    ),
    groups=(
        AttributeGroup("gender", "gender", ("gender",)),
        AttributeGroup("hat", "hat", ("hat",)),
        AttributeGroup("boots", "boots", ("boots",)),
        AttributeGroup("L.up", "length of upper-body clothing", ("top",)),
        AttributeGroup("B.pack", "backpack", ("backpack",)),
        AttributeGroup("H.bag", "handbag", ("handbag",)),
        AttributeGroup("bag", "other bag", ("bag",)),
        AttributeGroup("C.shoes", "colour of shoes", ("shoes",)),
        AttributeGroup("C.up", "upper-body colour", tuple(f"up{c}" for c in DUKE_UP_COLOURS)),
        AttributeGroup("C.low", "lower-body colour", tuple(f"down{c}" for c in DUKE_DOWN_COLOURS)),
    ),
)

# The 35 PETA attributes of Deng et al. 2014, in the order public attribute code uses.
PETA_ATTRIBUTES = (
    "personalLess30", "personalLess45", "personalLess60", "personalLarger60", "carryingBackpack",
    "carryingOther", "lowerBodyCasual", "upperBodyCasual", "lowerBodyFormal", "upperBodyFormal",
    "accessoryHat", "upperBodyJacket", "lowerBodyJeans", "footwearLeatherShoes", "upperBodyLogo",
    "hairLong", "personalMale", "carryingMessengerBag", "accessoryMuffler", "accessoryNothing",
    "carryingNothing", "upperBodyPlaid", "carryingPlasticBags", "footwearSandals", "footwearShoes",
    "lowerBodyShorts", "upperBodyShortSleeve", "lowerBodyShortSkirt", "footwearSneaker",
    "upperBodyThinStripes", "accessorySunglasses", "lowerBodyTrousers", "upperBodyTshirt",
    "upperBodyOther", "upperBodyVNeck",
)

PETA_SCHEMA = AttributeSchema(
    dataset="peta",
    mat_key="",
    attributes=tuple(Attribute(n, n) for n in PETA_ATTRIBUTES),
    groups=tuple(AttributeGroup(n, n, (n,)) for n in PETA_ATTRIBUTES),
)

SCHEMAS = {"market1501": MARKET_SCHEMA, "dukemtmc": DUKE_SCHEMA, "peta": PETA_SCHEMA}


# The released files hold a few hundred kilobytes; a file that is, or unpacks to, far more is not one (a
# compressed element can unpack to gigabytes from a small file).
MAX_MAT_BYTES = 16 << 20
MAX_UNPACKED_BYTES = 64 << 20
_MI_COMPRESSED = 15


def check_mat_size(path: Path) -> None:
    """Refuse a ``.mat`` file larger than :data:`MAX_MAT_BYTES` or whose compressed elements unpack to more than
    :data:`MAX_UNPACKED_BYTES`, before anything is unpacked into memory."""
    size = path.stat().st_size
    if size > MAX_MAT_BYTES:
        raise ValueError(f"'{path}' holds {size:,} bytes; an attribute file holds at most {MAX_MAT_BYTES:,}")
    with open(path, "rb") as handle:
        header = handle.read(128)
        if len(header) < 128:
            raise ValueError(f"'{path}' is not a MATLAB v5 attribute file: {len(header)} bytes, shorter than its "
                             "header")
        order = "<" if header[126:128] == b"IM" else ">"
        unpacked = 0
        while tag := handle.read(8):
            if len(tag) < 8:
                break
            kind, nbytes = np.frombuffer(tag, dtype=f"{order}u4")
            if kind >> 16:                  # a small element: its data sits in the tag
                continue
            if int(kind) != _MI_COMPRESSED:
                handle.seek(int(nbytes) + (-int(nbytes) % 8), 1)
                continue
            stream, left = zlib.decompressobj(), int(nbytes)
            while left > 0:
                chunk = handle.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
                unpacked += len(stream.decompress(chunk, MAX_UNPACKED_BYTES + 1 - unpacked))
                while stream.unconsumed_tail and unpacked <= MAX_UNPACKED_BYTES:
                    unpacked += len(stream.decompress(stream.unconsumed_tail, MAX_UNPACKED_BYTES + 1 - unpacked))
                if unpacked > MAX_UNPACKED_BYTES:
                    raise ValueError(f"'{path}' unpacks to more than {MAX_UNPACKED_BYTES:,} bytes; an attribute file "
                                     "unpacks to a few hundred kilobytes")


def _read_struct(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Load a released ``.mat`` and return its top-level key and ``{split: struct}``."""
    try:
        check_mat_size(path)
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"attribute file not found: '{path}'") from None
    except MemoryError:
        raise MemoryError(f"'{path}': not enough memory to read it as an attribute file") from None
    except ValueError as exc:
        if str(exc).startswith(f"'{path}'"):
            raise
        raise ValueError(f"'{path}' is not a readable MATLAB v5 attribute file: {exc}") from exc
    except Exception as exc:  # scipy raises several types for a file that is not a .mat
        raise ValueError(f"'{path}' is not a readable MATLAB v5 attribute file: {exc}") from exc
    keys = [k for k in mat if not k.startswith("__")]
    if len(keys) != 1:
        raise ValueError(f"'{path}': expected one top-level struct (e.g. market_attribute), found {keys}")
    top = mat[keys[0]]
    names = top.dtype.names or ()
    missing = {"train", "test"} - set(names)
    if missing:
        raise ValueError(f"'{path}': struct {keys[0]!r} lacks split(s) {sorted(missing)}; expected 'train' and 'test'")
    return keys[0], {split: top[split][0, 0] for split in ("train", "test")}


def detect_schema(path: str | Path) -> AttributeSchema:
    """Return the schema (Market-1501 or DukeMTMC-reID) of a released attribute file."""
    key, _ = _read_struct(Path(path))
    return _schema_of_key(path, key)


def _schema_of_key(path: str | Path, key: str) -> AttributeSchema:
    for schema in (MARKET_SCHEMA, DUKE_SCHEMA):
        if schema.mat_key == key:
            return schema
    raise ValueError(f"'{path}': unknown top-level struct {key!r}; expected 'market_attribute' or 'duke_attribute'")


def _person_ids(path: Path, split: str, cells: np.ndarray) -> np.ndarray:
    """The ``image_index`` cells of one split as integer person ids (an error names the bad value)."""
    pids = []
    for i, cell in enumerate(np.asarray(cells).ravel()):
        text = str(np.asarray(cell).ravel()[0]) if np.asarray(cell).size else ""
        if not text.strip().isdigit():
            raise ValueError(f"'{path}' {split}.image_index[{i}]: {text!r} is not a person id (expected digits, e.g. "
                             "'0002')")
        pids.append(int(text))
    return np.array(pids, dtype=np.int64)


def load_attribute_annotations(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read ``market_attribute.mat`` or ``duke_attribute.mat`` into identity tables.

    Parameters
    ----------
    path
        The released file (or one written by ``apr synth`` in the same format).

    Returns
    -------
    dict
        ``{"train": DataFrame, "test": DataFrame}``. Index: integer person id (``pid``),
        sorted as in the file. Columns: the schema's attributes, named as in the file, in the
        schema's canonical order. Values (int8): file value - 1, so 0/1 for binary
        attributes, 0..3 for Market ``age`` and -1 where the file holds 0 (unlabelled).
    """
    path = Path(path)
    key, structs = _read_struct(path)           # read once: the file is unpacked a single time
    schema = _schema_of_key(path, key)
    tables: dict[str, pd.DataFrame] = {}
    for split, struct in structs.items():
        fields = set(struct.dtype.names)
        expected = set(schema.names) | {"image_index"}
        if fields != expected:
            raise ValueError(
                f"'{path}' split {split!r} does not match the {schema.dataset} schema: "
                f"missing {sorted(expected - fields)}, unexpected {sorted(fields - expected)}"
            )
        pids = _person_ids(path, split, struct["image_index"][0, 0])
        columns = {}
        for attr in schema.attributes:
            try:
                values = np.asarray(struct[attr.name][0, 0], dtype=np.float64).ravel()
            except (TypeError, ValueError):
                raise ValueError(f"'{path}' {split}.{attr.name}: expected numbers 0..{attr.num_classes}") from None
            if values.shape != pids.shape:
                raise ValueError(f"'{path}' {split}.{attr.name}: {values.size} values for {pids.size} identities")
            # Read as floats first: a cast to int would wrap 65537 to 1, truncate 1.5 and turn NaN into anything.
            bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values > attr.num_classes)
            if bad.any():
                shown = sorted({float(v) if not float(v).is_integer() else int(v)
                                for v in values[bad] if np.isfinite(v)})
                shown += ["NaN/inf"] if (~np.isfinite(values)).any() else []
                raise ValueError(
                    f"'{path}' {split}.{attr.name}: values {shown} are not whole numbers in "
                    f"0..{attr.num_classes} (0 = unlabelled, 1..{attr.num_classes} = {attr.classes})"
                )
            columns[attr.name] = (values.astype(np.int16) - 1).astype(np.int8)
        if len(set(pids.tolist())) != pids.size:
            raise ValueError(f"'{path}' split {split!r}: duplicate person ids in image_index")
        frame = pd.DataFrame(columns, index=pd.Index(pids, name="pid"))
        tables[split] = frame
    return tables


def annotation_quirks(frame: pd.DataFrame, schema: AttributeSchema) -> pd.DataFrame:
    """List the identities whose labels break the README's promises.

    Returns one row per (pid, what) with ``what`` one of ``"no <group> colour"``,
    ``"<k> <group> colours"`` or ``"<attribute> unlabelled"``.
    """
    rows = []
    for group in schema.groups:
        if group.is_colour:
            count = (frame[list(group.members)] == 1).sum(axis=1)
            for pid, k in count[count != 1].items():
                rows.append((pid, f"no {group.name} colour" if k == 0 else f"{k} {group.name} colours"))
    for attr in schema.attributes:
        for pid in frame.index[frame[attr.name] == UNLABELLED]:
            rows.append((pid, f"{attr.name} unlabelled"))
    return pd.DataFrame(rows, columns=["pid", "what"])


def group_targets(frame: pd.DataFrame, schema: AttributeSchema) -> pd.DataFrame:
    """One label per evaluation group and identity.

    A plain group copies its attribute. A colour group holds the index (in the official
    order) of the one colour marked "yes", or -1 when none or several are marked.
    """
    out = {}
    for group in schema.groups:
        if not group.is_colour:
            out[group.name] = frame[group.members[0]].to_numpy()
            continue
        flags = frame[list(group.members)].to_numpy() == 1  # (N, C)
        single = flags.sum(axis=1) == 1
        out[group.name] = np.where(single, flags.argmax(axis=1), UNLABELLED).astype(np.int8)
    return pd.DataFrame(out, index=frame.index)


def expand_to_images(pids: np.ndarray | list[int], frame: pd.DataFrame) -> np.ndarray:
    """Identity-level labels -> one row per image.

    Parameters
    ----------
    pids : array of shape (N,)
        The person id of each image. Ids missing from ``frame`` (junk -1, Market
        distractors 0) get a row of -1 (unlabelled).

    Returns
    -------
    ndarray of shape (N, A), int8, columns in ``frame``'s order.
    """
    pids = np.asarray(pids, dtype=np.int64)
    table = frame.to_numpy(dtype=np.int8)
    position = pd.Index(frame.index).get_indexer(pids)  # -1 where not annotated
    out = np.full((pids.size, table.shape[1]), UNLABELLED, dtype=np.int8)
    found = position >= 0
    out[found] = table[position[found]]
    return out
