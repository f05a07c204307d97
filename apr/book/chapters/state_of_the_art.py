"""Chapter 03, the comparison with the state of the art (paper §5.3.2, Tables 1–2), and what APR retrieves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...data.datasets import stands_for
from ...engine.device import resolve_device
from ...engine.run_data import load_training_data
from ...evaluation.metrics import pairwise_distances
from ...evaluation.retrieval import ranked_lists
from ...experiments import BookParameters
from ...experiments.cache import RunRecord, load_or_train_many
from ...experiments.configs import seeded_variant_configs
from .. import paper
from ..plots import publish, ranked_list_figure
from ..report import seed_metrics_table, shown
from .chapter import Chapter

DATASET_TABLES = {"table1": "market1501", "table2": "dukemtmc"}     # the dataset of each of the paper's tables


def reported_table(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """One of the paper's tables, each row's source saying it is reported by the paper, indexed by method."""
    table = table.copy()
    table.insert(0, "source", f"{paper.REPORTED} ({name})")
    return table.set_index("method")


def with_this_build(table: pd.DataFrame, dataset: str, runs: Mapping[str, Sequence[RunRecord]], book: BookParameters,
                    columns: list[str], **extra: str) -> tuple[pd.DataFrame, str | None]:
    """The paper's table for ``dataset``, with this build's rows below it when the build ran that dataset (a
    synthetic set stands for the dataset it imitates); else the table alone and a note saying so."""
    if stands_for(book.dataset) != dataset:
        label = paper.DATASET_LABELS[dataset]
        note = f"{label}: not run in this build ({book.dataset}); every row below is reported by the paper."
        return shown(table), note
    ours = seed_metrics_table(runs)[columns]
    backbones = [r[0].config.backbone for r in runs.values()]
    return shown(pd.concat([table, ours.assign(**extra, backbone=backbones)])), None


def best_other_method() -> pd.Series:
    """Table 1's row with the highest rank-1 among the other methods (not APR, not the baselines, no CaffeNet)."""
    others = paper.table1().query("method != 'APR' and not method.str.startswith('Baseline') "
                                  "and backbone != 'CaffeNet'")
    return others.sort_values("R-1").iloc[-1]


def ranked_lists_figure(run: RunRecord, book: BookParameters, queries: int = 5, top: int = 10
                        ) -> tuple[Any, list[list[bool]]]:
    """``queries`` test queries drawn with the book's seed and the ``top`` gallery images ``run`` ranks nearest
    under the evaluation protocol, published as a figure (with its table); returns it and, per query, whether each
    image is the query's identity."""
    features = run.features()
    query, gallery = features["query"], features["gallery"]
    dist = pairwise_distances(query["features"], gallery["features"], device=resolve_device("cpu"))
    training = load_training_data(run.config, resolve_device("cpu"), decode=False, progress=False)
    q_records, g_records = training.data.split("query"), training.data.split("gallery")
    rng = np.random.default_rng(book.seed)
    chosen = sorted(rng.choice(len(q_records), size=min(queries, len(q_records)), replace=False).tolist())
    lists = ranked_lists(dist, query["pids"], gallery["pids"], query["camids"], gallery["camids"], chosen, top=top)
    hits = [[int(gallery["pids"][g]) == int(query["pids"][q]) for g in ranked] for q, ranked in zip(chosen, lists)]
    fig = ranked_list_figure([str(q_records[q].path) for q in chosen],
                             [[str(g_records[g].path) for g in r] for r in lists],
                             hits, f"APR, {run.config.dataset}: queries and their top {top}")
    table = pd.DataFrame([{"query": Path(q_records[q].path).name, "rank": k + 1,
                           "gallery image": Path(g_records[g].path).name, "same identity": hit}
                          for q, ranked, hit_row in zip(chosen, lists, hits)
                          for k, (g, hit) in enumerate(zip(ranked, hit_row))]).set_index(["query", "rank"])
    return publish(fig, "ranked_lists_apr", table, folder=book.figures), hits


def state_of_the_art(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 03 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    runs = {v: load_or_train_many(c, execution=book.execution) for v, c in seeded_variant_configs(book).items()}
    chapter = Chapter()
    table1 = reported_table(paper.table1(), paper.DATASET_LABELS["market1501"])
    table2 = reported_table(paper.table2(), paper.DATASET_LABELS["dukemtmc"])
    for name, table, columns, extra in (("table1", table1, ["source", "R-1", "R-5", "R-10", "mAP"], {"venue": ""}),
                                        ("table2", table2, ["source", "R-1", "mAP"], {})):
        chapter.tables[name], note = with_this_build(table, DATASET_TABLES[name], runs, book, columns, **extra)
        if note:
            chapter.notes[name] = note
    best = best_other_method()
    chapter.figures["ranked_lists"], hits = ranked_lists_figure(runs["apr"][0], book)
    chapter.quotes = {"best_other_method": best["method"], "best_other_r1": f"{best['R-1']:.2f}",
                      "ranked_hits": int(sum(h[0] for h in hits)), "ranked_queries": len(hits)}
    return chapter
