"""Tables the chapters show: measured runs next to the paper's reported numbers.

Measured rows come from cached runs (:mod:`apr.results`); reported rows from
:mod:`apr.paper`, always in a column that says "reported by the paper".
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import paper
from .experiments import VARIANT_NAMES
from .results import RunRecord
from .stats import Interval, seed_query_interval, seed_summary

PAPER_DATASET = {"synthetic": "market1501", "market1501": "market1501", "dukemtmc": "dukemtmc"}


def build_label(record: RunRecord) -> str:
    """"this build: <dataset>, <backbone> <HxW>, <epochs> ep" for a run."""
    c = record.config
    return f"this build: {c.dataset}, {c.backbone} {c.image_size[0]}x{c.image_size[1]}, {c.epochs} ep"


def metrics_table(records: Mapping[str, RunRecord]) -> pd.DataFrame:
    """Rank-1/5/10 and mAP (official and step AP, %), mean attribute accuracy and training time per run."""
    rows = []
    for name, rec in records.items():
        m = rec.metrics
        acc = m.get("attribute_accuracy", {}).get("mean")
        rows.append({"method": VARIANT_NAMES.get(name, name), "source": build_label(rec),
                     "R-1": 100 * m["rank1"], "R-5": 100 * m["rank5"], "R-10": 100 * m["rank10"],
                     "mAP": 100 * m["mAP"], "mAP (step AP)": 100 * m["mAP_step"],
                     "attr. acc.": None if acc is None else 100 * acc,
                     "train s": rec.info["timings"]["train_s"]})
    return pd.DataFrame(rows).set_index("method")


def paper_baseline_rows(dataset: str) -> pd.DataFrame:
    """The paper's ResNet-50 rows for IDE, ARN, APR w/o ARM and APR (Tables 1-2) on the matching dataset."""
    key = PAPER_DATASET.get(dataset)
    if key is None:
        return pd.DataFrame()
    if key == "market1501":
        table = paper.table1()
        table = table[table["backbone"] == "Res50"]
    else:
        table = paper.table2()
    names = ["Baseline 1 (IDE)", "Baseline 2 (ARN)", "APR (w/o attri)", "APR (w/o ARM)", "APR"]
    table = table[table["method"].isin(names)].copy()
    table["source"] = f"{paper.REPORTED} ({key}, ResNet-50)"
    return table.set_index("method")[["source", *[c for c in ("R-1", "R-5", "R-10", "mAP") if c in table]]]


def attribute_accuracy_table(records: Mapping[str, RunRecord], dataset: str) -> pd.DataFrame:
    """Accuracy (%) per evaluation group for runs that predict every attribute, and the paper's Table 4/5."""
    rows = {}
    for name, rec in records.items():
        acc = rec.metrics.get("attribute_accuracy")
        if acc:
            rows[f"{VARIANT_NAMES.get(name, name)} — {build_label(rec)}"] = {("Avg" if k == "mean" else k): 100 * v
                                                                          for k, v in acc.items()}
    out = pd.DataFrame(rows).T
    key = PAPER_DATASET.get(dataset)
    if key is not None:
        reported = paper.attribute_table(key)
        reported.index = [f"{i} — {paper.REPORTED} ({key})" for i in reported.index]
        out = pd.concat([out, reported])
    return out


def history_frame(records: Mapping[str, RunRecord]) -> pd.DataFrame:
    """Per-epoch training history of every run, long format (variant, epoch, loss, id_acc, attr_acc, ...)."""
    frames = [pd.DataFrame(rec.history).assign(variant=VARIANT_NAMES.get(n, n)) for n, rec in records.items()]
    return pd.concat(frames, ignore_index=True)






def per_query(record: RunRecord) -> pd.DataFrame:
    """Per-query rank-1 hit and official AP of a run (from its saved features)."""
    from .metrics import evaluate_per_query, pairwise_distances

    feats = record.features()
    q, g = feats["query"], feats["gallery"]
    dist = pairwise_distances(q["features"], g["features"], device="cpu")
    frame = evaluate_per_query(dist, q["pids"], g["pids"], q["camids"], g["camids"])
    return frame.assign(rank1=(frame["first_match_rank"] == 0).astype(float))




def per_query_runs(runs: Sequence[RunRecord], column: str = "rank1") -> np.ndarray:
    """(runs, queries) per-query outcomes of one configuration's training runs: ``rank1`` hits or ``AP_official``."""
    frames = [per_query(r) for r in runs]
    if any(not f.index.equals(frames[0].index) for f in frames):
        raise ValueError("the runs were not evaluated on the same queries")
    return np.stack([f[column].to_numpy(dtype=np.float64) for f in frames])


def compare_runs(a: Sequence[RunRecord], b: Sequence[RunRecord]) -> dict[str, Interval]:
    """``a - b`` in rank-1 and mAP (points) with the 95% interval over training seeds and test queries."""
    return {name: seed_query_interval(per_query_runs(a, column), per_query_runs(b, column)).scaled(100)
            for name, column in (("rank1", "rank1"), ("mAP", "AP_official"))}


def seed_table(runs: Mapping[str, Sequence[RunRecord]]) -> pd.DataFrame:
    """Rank-1 and mAP (%) of each model as mean ± SD over its training runs."""
    rows = []
    for name, records in runs.items():
        r1 = seed_summary([100 * r.metrics["rank1"] for r in records])
        mean_ap = seed_summary([100 * r.metrics["mAP"] for r in records])
        rows.append({"method": VARIANT_NAMES.get(name, name), "training runs": r1[2], "R-1 mean": r1[0],
                     "R-1 SD": r1[1], "mAP mean": mean_ap[0], "mAP SD": mean_ap[1]})
    return pd.DataFrame(rows).set_index("method")


def interval_words(interval: Interval) -> str:
    """"+1.23 points (95% interval −0.50 to +2.90; 3 and 3 training runs, 217 queries)"."""
    runs = " and ".join(str(k) for k in interval.seeds)
    return (f"{interval.mean:+.2f} points (95% interval {interval.low:+.2f} to {interval.high:+.2f}; "
            f"{runs} training runs, {interval.queries} queries)")


def shown(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """``table`` for display: float columns as text with ``digits`` decimals, "–" in missing cells.

    Text, not ``fillna("–")`` on the numbers: pandas 3 warns (and will refuse) when a string
    fills a float column, and a notebook would show that warning in the book.
    """
    out = table.astype(object).where(table.notna(), "–")
    for column in table.columns:
        if pd.api.types.is_float_dtype(table[column]):
            out[column] = [("–" if pd.isna(v) else f"{v:.{digits}f}") for v in table[column]]
    return out

