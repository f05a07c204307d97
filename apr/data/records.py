"""The containers every reader fills: one image (:class:`Record`), a loaded dataset (:class:`ReidData`), and
the error a missing or misshapen dataset folder raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .attributes import AttributeSchema

Split = Literal["train", "query", "gallery"]
SPLITS: tuple[Split, ...] = ("train", "query", "gallery")
JUNK_PID = -1
DISTRACTOR_PID = 0
# The datasets' names as the paper writes them, by the key the package uses.
DATASET_LABELS = {"market1501": "Market-1501", "dukemtmc": "DukeMTMC-reID", "peta": "PETA", "cub200": "CUB-200-2011"}


@dataclass(frozen=True, order=True)
class Record:
    """One image: its path, person id, camera id (as in the file name) and split."""

    path: str
    pid: int
    camid: int
    split: Split


@dataclass
class ReidData:
    """A loaded dataset: records per split and, when annotated, image-level attributes.

    ``attributes[split]`` is an int8 array of shape (N, A) aligned with the split's records
    (-1 = unlabelled, e.g. junk and Market distractors); ``identity_attributes`` holds the
    identity tables as read from the annotation file.
    """

    name: str
    root: Path
    train: list[Record]
    query: list[Record]
    gallery: list[Record]
    schema: AttributeSchema | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    identity_attributes: dict[str, pd.DataFrame] = field(default_factory=dict)
    annotation_file: Path | None = None

    def split(self, name: Split) -> list[Record]:
        """The records of split ``name`` (train, query or gallery); another name is an error."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    def summary(self) -> dict[str, dict[str, int]]:
        """Images, identities and cameras per split, counted as torchreid does.

        Junk (pid -1) is left out; distractors (pid 0) are kept and 0 counts as an identity.
        """
        out = {}
        for name in SPLITS:
            kept = [r for r in self.split(name) if r.pid != JUNK_PID]
            out[name] = {
                "images": len(kept),
                "ids": len({r.pid for r in kept}),
                "cameras": len({r.camid for r in kept}),
            }
        return out


class DatasetLayoutError(FileNotFoundError):
    """A dataset folder is missing or laid out differently from what was expected."""
