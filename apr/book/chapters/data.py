"""Chapter 00, the datasets and the synthetic stand-in: what the build reads, its splits, the synthetic
pedestrians and the attributes' evaluation groups."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ...data import MARKET_SCHEMA, ensure_synthetic, load_dataset, synthetic_config
from ...data.attributes import AttributeSchema
from ...data.datasets import is_synthetic, stands_for
from ...data.records import ReidData
from ...data.synthetic import SYNTHETIC_MANIFEST
from ...experiments import BookParameters
from ..plots import publish, synthetic_samples_figure, synthetic_samples_table
from ..report import one_header_row
from .chapter import Chapter


def build_dataset(book: BookParameters) -> tuple[ReidData, str]:
    """The dataset the build reads (the synthetic set made first when it is missing), and what the chapter says
    of it: where its attributes come from, or that the build reads real data."""
    if is_synthetic(book.dataset):
        layout = stands_for(book.dataset)
        root = ensure_synthetic(config=synthetic_config(book.scale, book.seed, layout), layout=layout,
                                data_root=book.data_root, progress=False)
        manifest = json.loads((root / SYNTHETIC_MANIFEST).read_text())
        data = load_dataset(book.dataset, root)
        return data, f"Attributes of the synthetic identities: {manifest['attribute_source']}."
    if book.dataset_file is not None:      # your own dataset, listed in a CSV file
        data = load_dataset(book.dataset, book.dataset_file)
        source = f"your own dataset, listed in `{Path(book.dataset_file).name}`"
    else:
        data = load_dataset(book.dataset, data_root=book.data_root, seed=book.seed)
        source = f"{book.dataset} from the data root"
    return data, (f"**This build reads {source}**, not the synthetic stand-in: the tables below count its images, "
                  "and the synthetic pedestrians further down are the default book's data, shown for reference only.")


def split_summary(data: ReidData) -> pd.DataFrame:
    """Images, identities and cameras per split (junk left out, distractors one identity)."""
    return pd.DataFrame(data.summary()).T


def evaluation_groups(schema: AttributeSchema) -> pd.DataFrame:
    """The paper's evaluation groups: a colour group is one choice among its members, any other group one
    attribute's classes."""
    return pd.DataFrame(
        [(g.name, g.label, len(g.members) if g.is_colour else schema.attribute(g.members[0]).num_classes,
          ", ".join(g.members) if g.is_colour else " / ".join(schema.attribute(g.members[0]).classes))
         for g in schema.groups],
        columns=["group", "meaning", "classes", "values"],
    ).set_index("group")


def data_chapter(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 00 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    data, says = build_dataset(book)
    summary = split_summary(data)
    chapter = Chapter(notes={"data": says})
    chapter.tables["summary"] = one_header_row(summary)
    chapter.figures["synthetic_samples"] = publish(synthetic_samples_figure(book.seed), "synthetic_samples",
                                                   synthetic_samples_table(book.seed), folder=book.figures)
    chapter.tables["groups"] = one_header_row(evaluation_groups(data.schema or MARKET_SCHEMA))
    chapter.quotes = {"n_train_images": int(summary.loc["train", "images"]),
                      "n_train_ids": int(summary.loc["train", "ids"]),
                      "n_gallery_images": int(summary.loc["gallery", "images"])}
    return chapter
