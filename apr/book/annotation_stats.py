"""Statistics of identity-level attribute annotations: the data of the paper's Figs. 3 and 4.

Everything works on the tables of :func:`apr.data.load_attribute_annotations` (one row per
identity, values 0/1/.., -1 unlabelled), so the released files and the synthetic set's
``market_attribute.mat`` go through the same code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.attributes import NO_YES, UNLABELLED, AttributeSchema
from . import paper

# How one value of a two-valued attribute reads on its own ("long hair", not "hair=long").
_VALUE_NAMES = {"hair": "{} hair", "down": "{} lower-body", "top": "{} coat", "shoes": "{} shoes"}
# Yes/no attributes: the name of "yes".
_YES_NAMES = {"backpack": "backpack", "handbag": "handbag", "bag": "other bag", "hat": "hat", "boots": "boots"}

# The attributes of Fig. 4 (a) and (b), in the paper's order.
FIG4_ATTRIBUTES = {
    "market1501": ("male", "female", "long hair", "teenager", "backpack", "other bag", "dress", "long lower-body",
                   "short sleeve", "red upper-body", "black lower-body"),
    "dukemtmc": ("male", "female", "hat", "backpack", "other bag", "boots", "long coat", "bright shoes",
                 "red upper-body", "black lower-body"),
}


def attribute_indicators(frame: pd.DataFrame, schema: AttributeSchema) -> pd.DataFrame:
    """One 0/1 column per readable attribute value, NaN where the attribute is unlabelled.

    A yes/no attribute gives one column (its "yes"); any other attribute gives one column
    per value ("male" and "female", the four ages); a colour flag gives "<colour> upper-body"
    or "<colour> lower-body".
    """
    columns: dict[str, pd.Series] = {}
    for attr in schema.attributes:
        values = frame[attr.name]
        labelled = values != UNLABELLED
        if attr.classes == NO_YES:
            name = _YES_NAMES.get(attr.name, attr.label)   # colour flags: "black upper-body"
            columns[name] = (values == 1).astype(float).where(labelled)
            continue
        template = _VALUE_NAMES.get(attr.name, "{}")
        for k, cls in enumerate(attr.classes):
            columns[template.format(cls)] = (values == k).astype(float).where(labelled)
    return pd.DataFrame(columns, index=frame.index)


def colour_columns(schema: AttributeSchema, part: str) -> list[str]:
    """Indicator names of the upper (``part="up"``) or lower (``"down"``) colours."""
    group = schema.group("C.up" if part == "up" else "C.low")
    return [schema.attribute(m).label for m in group.members]


def positive_counts(frame: pd.DataFrame, schema: AttributeSchema) -> pd.Series:
    """Fig. 3 bars: identities with each non-colour value (age as its classes, bags apart)."""
    ind = attribute_indicators(frame, schema)
    colours = set(colour_columns(schema, "up")) | set(colour_columns(schema, "down"))
    return ind[[c for c in ind.columns if c not in colours]].sum().astype(int).rename("identities")


def colour_counts(frame: pd.DataFrame, schema: AttributeSchema, part: str) -> pd.Series:
    """Fig. 3 pies: identities marked with each colour, plus those marked with none or several."""
    ind = attribute_indicators(frame, schema)[colour_columns(schema, part)]
    marked = ind.sum(axis=1)
    single = ind[marked == 1].sum().astype(int)
    single.index = [c.split()[0] for c in single.index]
    extra = pd.Series({"none marked": int((marked == 0).sum()), "several marked": int((marked > 1).sum())})
    return pd.concat([single, extra]).rename("identities")


def conditional_cooccurrence(indicators: pd.DataFrame,
                             names: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Fig. 4: cell (row r, column c) = P(c | r), over identities labelled for both.

    Not symmetric, as in the paper. A row whose value no identity has is NaN.
    """
    ind = indicators if names is None else indicators[list(names)]
    values = ind.to_numpy(dtype=float)
    known = ~np.isnan(values)
    yes = np.where(known, values, 0.0)
    both = yes.T @ yes                         # identities with r and c
    row_known_for_c = yes.T @ known            # identities with r whose c is labelled
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = both / row_known_for_c
    return pd.DataFrame(matrix, index=ind.columns, columns=ind.columns)


def split_differences(tables: dict[str, pd.DataFrame], schema: AttributeSchema) -> pd.DataFrame:
    """Share of identities with each value in train and test, and the difference (points)."""
    rates = {split: attribute_indicators(frame, schema).mean() * 100 for split, frame in tables.items()}
    out = pd.DataFrame({f"{split} %": r for split, r in rates.items()})
    if {"train %", "test %"} <= set(out.columns):
        out["test − train"] = out["test %"] - out["train %"]
    return out.round(2)


def quirk_summary(tables: dict[str, pd.DataFrame], schema: AttributeSchema) -> pd.DataFrame:
    """How many identities per split break the one-colour rule or have unlabelled values."""
    from ..data.attributes import annotation_quirks

    rows = {}
    for split, frame in tables.items():
        quirks = annotation_quirks(frame, schema)
        rows[split] = quirks["what"].value_counts() if len(quirks) else pd.Series(dtype=int)
    out = pd.DataFrame(rows).fillna(0).astype(int)
    out.index.name = "what"
    out.loc["identities in the split"] = [len(tables[s]) for s in out.columns]
    return out


def attribute_correlation(frame: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation between the raw attribute columns over identities (unlabelled -> missing)."""
    return frame.where(frame != UNLABELLED).astype(float).corr()


def fig4_differences(train: pd.DataFrame, schema: AttributeSchema, dataset: str) -> pd.DataFrame:
    """Fig. 4 recomputed from the released identities minus the matrix the paper printed (``apr.book.paper``):
    P(column | row) over the paper's attributes, in the paper's order. The last two rows and columns are the
    colour cells (red upper-body, black lower-body)."""
    printed = {"market1501": paper.FIG4_MARKET, "dukemtmc": paper.FIG4_DUKE}[dataset]
    recomputed = conditional_cooccurrence(attribute_indicators(train, schema), FIG4_ATTRIBUTES[dataset])
    return recomputed - pd.DataFrame(np.array(printed), index=recomputed.index, columns=recomputed.columns)


def colour_cells(matrix: pd.DataFrame) -> np.ndarray:
    """Mask of a Fig. 4 matrix's colour cells (rows and columns of its last two attributes)."""
    mask = np.zeros(matrix.shape, dtype=bool)
    mask[:, -2:] = mask[-2:, :] = True
    return mask
