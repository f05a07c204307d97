"""Chapter 01, the attribute annotations (paper §3, Figs. 3–4): the files read, each attribute's count, which
attributes go together, Fig. 4 against the printed figure, and what the files show that the paper does not say."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ...data import (DUKE_SCHEMA, MARKET_SCHEMA, ensure_synthetic, find_annotation_file, load_attribute_annotations,
                     synthetic_config)
from ...data.attributes import AttributeSchema
from ...data.paths import REPO_ROOT, resolve_data_root
from ...experiments import BookParameters
from ..annotation_stats import (FIG4_ATTRIBUTES, attribute_indicators, colour_cells, colour_counts,
                                conditional_cooccurrence, fig4_differences, positive_counts, quirk_summary,
                                split_differences)
from ..plots import attribute_distribution_figure, heatmap_figure, publish
from ..report import one_header_row, shown
from .chapter import Chapter

PAPER_DATASETS = ("market1501", "dukemtmc", "synthetic", "synthetic_duke")


@dataclass(frozen=True)
class AnnotationSource:
    """One annotation file the chapter reads: its schema, path, what it is, and its tables by split."""

    schema: AttributeSchema
    path: Path
    what: str
    tables: Mapping[str, pd.DataFrame]


def annotation_sources(book: BookParameters) -> dict[str, AnnotationSource]:
    """The released Market-1501 and DukeMTMC-reID files found under the data root, and the synthetic set's file
    in place of Market-1501's when that one is not found."""
    found = {}
    for name, schema in (("market1501", MARKET_SCHEMA), ("dukemtmc", DUKE_SCHEMA)):
        path = find_annotation_file(name, data_root=book.data_root)
        if path is not None:
            found[name] = (schema, path, "released annotation file")
    if "market1501" not in found:
        root = ensure_synthetic(config=synthetic_config(book.scale, book.seed), data_root=book.data_root,
                                progress=False)
        found["synthetic"] = (MARKET_SCHEMA, root / "market_attribute.mat", "synthetic set (no released file found)")
    return {name: AnnotationSource(schema, path, what, load_attribute_annotations(path))
            for name, (schema, path, what) in found.items()}


def readable(path: Path, data_root: str | None) -> str:
    """``path`` relative to the data root (or the checkout), never a build machine's absolute path."""
    bases = [REPO_ROOT]
    with contextlib.suppress(FileNotFoundError):     # no data root on this machine: the checkout alone
        bases.insert(0, resolve_data_root(data_root))
    for base in bases:
        try:
            return str(Path(path).resolve().relative_to(Path(base).resolve()))
        except ValueError:
            continue
    return Path(path).name


def files_read(sources: Mapping[str, AnnotationSource], data_root: str | None) -> pd.DataFrame:
    """Which file each dataset's annotations come from, and its training and test identities."""
    return pd.DataFrame([(name, readable(s.path, data_root), s.what, len(s.tables["train"]), len(s.tables["test"]))
                         for name, s in sources.items()],
                        columns=["dataset", "file (under the data root)", "source", "training identities",
                                 "test identities"]).set_index("dataset")


def distribution_figures(sources: Mapping[str, AnnotationSource], chapter: Chapter, figures: Path) -> None:
    """Fig. 3 per file (published), the counts behind it, and the quoted colours of the first file."""
    distribution = {}
    chapter.figures["fig3"] = []
    for name, source in sources.items():
        train = source.tables["train"]
        counts = positive_counts(train, source.schema)
        up, down = colour_counts(train, source.schema, "up"), colour_counts(train, source.schema, "down")
        distribution[name] = counts
        fig = attribute_distribution_figure(counts, up, down,
                                            f"{name}: attributes of the {len(train)} training identities")
        data = pd.concat([counts.rename(lambda k: f"attribute: {k}"), up.rename(lambda k: f"upper colour: {k}"),
                          down.rename(lambda k: f"lower colour: {k}")]).to_frame()
        data.index.name = "value"
        chapter.figures["fig3"].append(publish(fig, f"fig3_attribute_distribution_{name}", data, folder=figures))
        if len(distribution) == 1:
            chapter.quotes |= {"fig3_dataset": name,
                               "fig3_top_up": f"{up.drop(['none marked', 'several marked']).idxmax()}",
                               "fig3_top_down": f"{down.drop(['none marked', 'several marked']).idxmax()}",
                               "fig3_no_up": int(up["none marked"])}
    chapter.tables["fig3_counts"] = {name: one_header_row(t) for name, t in distribution.items()}


def cooccurrence_figures(sources: Mapping[str, AnnotationSource], chapter: Chapter, figures: Path) -> None:
    """Fig. 4 per file for the paper's attributes and for all of them (published), and the quoted conditional
    probabilities of the first file."""
    correlations, paper_matrices = {}, {}
    chapter.figures["fig4"], chapter.figures["fig4_all"] = [], []
    for name, source in sources.items():
        indicators = attribute_indicators(source.tables["train"], source.schema)
        matrix = conditional_cooccurrence(indicators,
                                          FIG4_ATTRIBUTES["dukemtmc" if name == "dukemtmc" else "market1501"])
        correlations[name] = conditional_cooccurrence(indicators)
        matrix.index.name = "P(column | row)"
        correlations[name].index.name = "P(column | row)"
        fig = heatmap_figure(matrix, f"{name}: P(column | row), the paper's attributes")
        chapter.figures["fig4"].append(publish(fig, f"fig4_correlation_{name}", matrix.round(4), folder=figures))
        paper_matrices[name] = matrix
    for name, matrix in correlations.items():
        fig = heatmap_figure(matrix, f"{name}: P(column | row), all attribute values", annotate=False, size=(10.5, 9))
        chapter.figures["fig4_all"].append(publish(fig, f"fig4_correlation_all_{name}", matrix.round(4),
                                                   folder=figures))
    chapter.tables["fig4_paper"] = {name: one_header_row(m) for name, m in paper_matrices.items()}
    first = correlations[next(iter(sources))]
    chapter.quotes |= {"p_dress_female": f"{first.loc['dress', 'female']:.2f}",
                       "p_longhair_female": f"{first.loc['long hair', 'female']:.2f}",
                       "p_female_longhair": f"{first.loc['female', 'long hair']:.2f}"}


def fig4_verdict(rows: list[dict]) -> str:
    """The sentence on Fig. 4 against the printed figure, from each file's largest differences."""
    if not rows:
        return "No released annotation file was found under the data root, so this build compares nothing with the " \
               "printed Fig. 4"
    plain = max(r["largest |difference|, other cells"] for r in rows)
    coloured = max(r["largest |difference|, colour cells"] for r in rows)
    agreement = ("agree with the printed ones to the two printed decimals" if plain < 0.01
                 else "differ from the printed ones")
    return (f"Outside the colour rows and columns the recomputed matrices {agreement}"
            f" (largest difference {plain:.3f}); the colour cells "
            f"{'differ by up to ' + format(coloured, '.2f') if coloured >= 0.01 else 'agree too'}, and the colour "
            "labels of the released files were revised after the paper was written")


def printed_fig4_comparison(sources: Mapping[str, AnnotationSource], chapter: Chapter, figures: Path) -> None:
    """Fig. 4 recomputed minus printed, per released file (published), the largest differences, and the verdict."""
    rows = []
    chapter.figures["fig4_printed"] = []
    for name in (n for n in ("market1501", "dukemtmc") if n in sources):
        schema, train = sources[name].schema, sources[name].tables["train"]
        recomputed = conditional_cooccurrence(attribute_indicators(train, schema), FIG4_ATTRIBUTES[name])
        differences = fig4_differences(train, schema, name)
        differences.index.name = "recomputed − printed"
        fig = heatmap_figure(differences, f"{name}: Fig. 4 recomputed − printed", fmt="+.2f", cmap="RdBu_r", center=0)
        chapter.figures["fig4_printed"].append(publish(fig, f"fig4_recomputed_minus_printed_{name}",
                                                       differences.round(4), folder=figures))
        size, colour = differences.abs().to_numpy(), colour_cells(differences)
        worst = differences.where(colour).abs().stack().idxmax()
        rows.append({"dataset": name, "largest |difference|, other cells": size[~colour].max(),
                     "largest |difference|, colour cells": size[colour].max(),
                     "there (row → column)": f"{worst[0]} → {worst[1]}", "recomputed": recomputed.loc[worst],
                     "printed": recomputed.loc[worst] - differences.loc[worst]})
    if rows:
        chapter.tables["fig4_printed"] = shown(pd.DataFrame(rows).set_index("dataset"), 3)
    else:
        chapter.notes["fig4_printed"] = "No released annotation file under the data root: nothing to compare with " \
                                        "the printed Fig. 4."
    chapter.quotes["fig4_verdict"] = fig4_verdict(rows)


def largest_shifts(tables: Mapping[str, pd.DataFrame], schema: AttributeSchema, top: int = 6) -> pd.DataFrame:
    """The ``top`` attribute values whose share differs most between the training and test identities (%)."""
    diff = split_differences(tables, schema)
    return diff.reindex(diff["test − train"].abs().sort_values(ascending=False).index).head(top)


def attributes_chapter(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 01 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    sources = annotation_sources(book)
    chapter = Chapter()
    if book.dataset not in PAPER_DATASETS:
        own = f"`{Path(book.dataset_file).name}`" if book.dataset_file is not None else book.dataset
        chapter.notes["files"] = (f"**This chapter studies the paper's annotation files ({', '.join(sources)}), not "
                                  f"this build's dataset {own}**: the paper's figures are about them. Your dataset's "
                                  "attributes are listed in chapter 00 and scored in chapters 02-04.")
    chapter.tables["files"] = one_header_row(files_read(sources, book.data_root))
    distribution_figures(sources, chapter, book.figures)
    cooccurrence_figures(sources, chapter, book.figures)
    printed_fig4_comparison(sources, chapter, book.figures)
    chapter.tables["quirks"] = {name: one_header_row(quirk_summary(s.tables, s.schema)) for name, s in sources.items()}
    chapter.tables["shifts"] = {name: one_header_row(largest_shifts(s.tables, s.schema))
                               for name, s in sources.items()}
    return chapter
