"""Tables the chapters show: measured runs next to the paper's reported numbers.

Measured rows come from cached runs (:mod:`apr.experiments.cache`); reported rows from
:mod:`apr.book.paper`, always in a column that says "reported by the paper".
"""

from __future__ import annotations

import zipfile
from typing import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import variant_spec
from ..data.datasets import is_synthetic
from ..data.files import atomic_write_bytes
from ..evaluation.metrics import pairwise_distances
from ..evaluation.retrieval import AttributePredictions, acceleration_per_query
from ..evaluation.stats import (Interval, Verdict, borrowed_paired_interval, claim_verdict, paired_seed_interval,
                                paired_verdict_agreement, run_interval, seed_query_interval, seed_summary)
from ..experiments.cache import RunRecord
from ..experiments.configs import VARIANT_NAMES
from ..experiments.distractors import GrowthOutcomes
from . import paper

PAPER_DATASET = {"synthetic": "market1501", "synthetic_duke": "dukemtmc", "market1501": "market1501",
                 "dukemtmc": "dukemtmc", "peta": "peta", "cub200": "cub200"}


def build_label(record: RunRecord) -> str:
    """"this build: <dataset>, <backbone> <HxW>, <epochs> ep" for a run."""
    c = record.config
    return f"this build ({c.dataset}, {c.backbone} {c.image_size[0]}x{c.image_size[1]}, {c.epochs} epochs)"


def paper_baseline_rows(dataset: str) -> pd.DataFrame:
    """The paper's ResNet-50 rows for IDE, ARN, APR w/o ARM and APR (Tables 1-3) on the matching dataset."""
    key = PAPER_DATASET.get(dataset)
    tables = {"market1501": paper.table1, "dukemtmc": paper.table2, "peta": paper.table3}
    if key not in tables:      # a dataset of the user's: the paper has no row for it
        return pd.DataFrame(columns=["source", "R-1", "R-5", "R-10", "mAP"], index=pd.Index([], name="method"))
    table = tables[key]()
    table = table[table["backbone"] == "Res50"]
    names = ["Baseline 1 (IDE)", "Baseline 2 (ARN)", "APR (w/o attri)", "APR (w/o ARM)", "APR"]
    table = table[table["method"].isin(names)].copy()
    table["source"] = f"{paper.REPORTED} ({key}, ResNet-50)"
    return table.set_index("method")[["source", *[c for c in ("R-1", "R-5", "R-10", "mAP") if c in table]]]


def history_frame(records: Mapping[str, RunRecord]) -> pd.DataFrame:
    """Per-epoch training history of every run, long format (variant, epoch, loss, id_acc, attr_acc, ...)."""
    frames = [pd.DataFrame(rec.history).assign(variant=VARIANT_NAMES.get(n, n)) for n, rec in records.items()]
    return pd.concat(frames, ignore_index=True)


PER_QUERY_FILE = "per_query.npz"   # beside features.pt: the outcomes below, for the features file it was made from


def per_query(record: RunRecord) -> pd.DataFrame:
    """Per-query rank-1 hit and official AP of a run (from its saved features).

    Computed once per features file and kept in the run folder: the chapters and the scorecard compare
    each run with many others (Fig. 6 alone asks for ~360 per-query tables of ~40 runs), and one table
    of ~2,000 queries against ~11,000 gallery images takes about a second."""
    from ..evaluation.metrics import evaluate_per_query

    info = (record.run_dir / "features.pt").stat()
    stamp = np.array([info.st_mtime_ns, info.st_size], dtype=np.int64)
    saved = record.run_dir / PER_QUERY_FILE
    try:
        with np.load(saved) as cached:
            if np.array_equal(cached["stamp"], stamp):
                return pd.DataFrame({k: cached[k] for k in cached.files if k not in ("stamp", "index")},
                                    index=pd.Index(cached["index"], name="query"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass                                                     # absent, stale or damaged: compute it again
    feats = record.features()
    q, g = feats["query"], feats["gallery"]
    dist = pairwise_distances(q["features"], g["features"], device="cpu")
    frame = evaluate_per_query(dist, q["pids"], g["pids"], q["camids"], g["camids"])
    frame = frame.assign(rank1=(frame["first_match_rank"] == 0).astype(float))
    columns = {k: frame[k].to_numpy() for k in frame.columns}
    atomic_write_bytes(saved, lambda handle: np.savez(handle, stamp=stamp, index=frame.index.to_numpy(), **columns))
    return frame


def per_query_runs(runs: Sequence[RunRecord], column: str = "rank1") -> np.ndarray:
    """(runs, queries) per-query outcomes of one configuration's training runs: ``rank1`` hits or ``AP_official``."""
    frames = [per_query(r) for r in runs]
    if any(not f.index.equals(frames[0].index) for f in frames):
        raise ValueError("the runs were not evaluated on the same queries")
    return np.stack([f[column].to_numpy(dtype=np.float64) for f in frames])


METRIC_COLUMNS = (("rank1", "rank1"), ("mAP", "AP_official"))   # (metric, per-query column)


def compare_runs(a: Sequence[RunRecord], b: Sequence[RunRecord],
                 reference: Sequence[RunRecord] | None = None) -> dict[str, Interval]:
    """``a - b`` in rank-1 and mAP (points) with the 95% interval over training seeds and test queries.

    Runs of ``a`` and ``b`` with the same training seeds, in the same order, are compared seed by seed
    (:func:`apr.evaluation.stats.paired_seed_interval`); a model trained once borrows the training variance of
    ``reference`` (see :mod:`apr.evaluation.stats`)."""
    out = {}
    for name, column in METRIC_COLUMNS:
        x, y = per_query_runs(a, column), per_query_runs(b, column)
        if reference is None and same_seeds(a, b):
            out[name] = paired_seed_interval(x, y).scaled(100)
        else:
            out[name] = seed_query_interval(x, y, reference=_reference(reference, column)).scaled(100)
    return out


def rebuild_agreement(a: Sequence[RunRecord], b: Sequence[RunRecord], paper_effect: float) -> dict[str, float]:
    """Per metric of :func:`compare_runs`, the estimated share of rebuilds with the same number of seeds (e.g. on a
    machine with other numerics) whose interval gives this build's verdict on ``paper_effect`` (points) again
    (:func:`apr.evaluation.stats.paired_verdict_agreement`); empty unless ``a`` and ``b`` are paired runs of two or
    more seeds."""
    if len(a) < 2 or not same_seeds(a, b):
        return {}
    return {name: paired_verdict_agreement(100 * per_query_runs(a, column), 100 * per_query_runs(b, column),
                                           paper_effect) for name, column in METRIC_COLUMNS}


def per_seed_differences(a: Sequence[RunRecord], b: Sequence[RunRecord], column: str) -> np.ndarray:
    """Per training seed, the difference of the mean per-query outcome ``column`` of paired runs (points)."""
    return 100 * (per_query_runs(a, column) - per_query_runs(b, column)).mean(1)


def same_seeds(a: Sequence[RunRecord], b: Sequence[RunRecord]) -> bool:
    """Whether run k of ``a`` and run k of ``b`` share their training seed, for every k (two runs or more)."""
    return len(a) == len(b) >= 2 and all(x.config.train_seed == y.config.train_seed for x, y in zip(a, b))


def _reference(runs: Sequence[RunRecord] | None, column: str) -> np.ndarray | None:
    """Per-query outcomes of a reference to borrow training variance from (it needs two runs or more)."""
    return per_query_runs(runs, column) if runs is not None and len(runs) >= 2 else None


def level_intervals(runs: Sequence[RunRecord], reference: Sequence[RunRecord] | None = None) -> dict[str, Interval]:
    """Rank-1 and mAP (%) of a configuration with the 95% interval over its training runs and the queries
    (a configuration trained once borrows the training variance of ``reference``)."""
    return {name: seed_query_interval(per_query_runs(runs, column), reference=_reference(reference, column)).scaled(100)
            for name, column in METRIC_COLUMNS}


def versus_same_seed(points: Mapping[Hashable, Sequence[RunRecord]], reference: Hashable,
                     spread: Sequence[tuple[Sequence[RunRecord], Sequence[RunRecord]]]
                     ) -> dict[Hashable, dict[str, Interval]]:
    """Each once-trained sweep point minus the ``reference`` run of the same training seed (rank-1 and mAP,
    points), the seed-to-seed spread of that difference borrowed from the seeded model pairs ``spread``
    (:func:`apr.evaluation.stats.borrowed_paired_interval`; Fig. 6). Without two seeded runs to borrow from,
    the interval holds the queries only (:func:`compare_runs`)."""
    pairs = [(x, y) for x, y in spread if same_seeds(x, y)]
    out = {}
    for key, runs in points.items():
        if key == reference:
            continue
        base = [r for r in points[reference] if r.config.train_seed == runs[0].config.train_seed][:1]
        if len(runs) != 1 or not base or not pairs:
            out[key] = compare_runs(runs, points[reference])
            continue
        out[key] = {name: borrowed_paired_interval(per_query_runs(runs, column), per_query_runs(base, column),
                                                   [per_query_runs(x, column) - per_query_runs(y, column)
                                                    for x, y in pairs]).scaled(100)
                    for name, column in METRIC_COLUMNS}
    return out


# Fig. 9's τ values: the paper's eleven and 1 (no filtering, the reference of every change).
FIG9_TAUS = (*paper.FIG9_TAU, 1.0)


def paper_share_tau(outcomes: Mapping[float, Mapping[str, np.ndarray]]) -> float:
    """The τ of ``outcomes`` (:func:`acceleration_outcomes`) whose share of the gallery kept, over runs and queries,
    is nearest the paper's at τ = 0.7 (8.67%): the share a τ keeps follows the model's confidence, so Fig. 9's cost is
    compared with the paper's at the same share of the gallery as well as at the same τ. Chosen on the share alone,
    never on the accuracy."""
    target = paper.FIG9_GALLERY_PCT[paper.FIG9_TAU.index(0.7)]
    return min((t for t in outcomes if t < 1.0), key=lambda t: abs(float(outcomes[t]["gallery_used"].mean()) - target))


def acceleration_outcomes(runs: Sequence[RunRecord], taus: Sequence[float]) -> dict[float, dict[str, np.ndarray]]:
    """Per τ, (training runs, queries) arrays of the gallery used, rank-1 hits and APs (%), for Fig. 9's
    intervals (:func:`apr.evaluation.retrieval.acceleration_per_query` on each run's saved features)."""
    out: dict[float, dict[str, list[np.ndarray]]] = {tau: {"gallery_used": [], "rank1": [], "AP": []} for tau in taus}
    for run in runs:
        features = run.features()
        query, gallery = features["query"], features["gallery"]
        q_pred, g_pred = (AttributePredictions.from_probs(query["attr_probs"]),
                          AttributePredictions.from_probs(gallery["attr_probs"]))
        dist = pairwise_distances(query["features"], gallery["features"], device="cpu")
        for tau in taus:
            frame = acceleration_per_query(dist, q_pred, g_pred, query["pids"], gallery["pids"], query["camids"],
                                           gallery["camids"], tau)
            for column, values in out[tau].items():
                values.append(100 * frame[column].to_numpy(dtype=np.float64))
    return {tau: {column: np.stack(values) for column, values in columns.items()} for tau, columns in out.items()}


def mean_sd(values: Sequence[float], digits: int = 2) -> str:
    """"68.20 ± 2.03" over training runs ("68.20" alone for one run)."""
    mean, sd, k = seed_summary(values)
    return f"{mean:.{digits}f}" if k < 2 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def seed_metrics_table(runs: Mapping[str, Sequence[RunRecord]]) -> pd.DataFrame:
    """Each model's rank-1/5/10, mAP (official and step AP) and mean attribute accuracy (%) as mean ± SD over its
    training runs, with the number of runs and the mean training time."""
    rows = []
    for name, records in runs.items():
        row = {"method": VARIANT_NAMES.get(name, name), "source": build_label(records[0]),
               "training runs": str(len(records))}
        for column, metric in (("R-1", "rank1"), ("R-5", "rank5"), ("R-10", "rank10"), ("mAP", "mAP"),
                               ("mAP (step AP)", "mAP_step")):
            row[column] = mean_sd([100 * r.metrics[metric] for r in records])
        accuracy = [r.metrics["attribute_accuracy"]["mean"] for r in records if "attribute_accuracy" in r.metrics]
        # APR w/o attri keeps attribute heads but never trains them: their accuracy means nothing.
        trained = accuracy and variant_spec(records[0].config.variant).attribute_loss
        row["attr. acc."] = mean_sd([100 * a for a in accuracy]) if trained else "–"
        field = [r.metrics["attribute_metrics"]["mA"] for r in records if "attribute_metrics" in r.metrics]
        row["attr. mA"] = mean_sd([100 * a for a in field]) if trained and field else "–"
        row["training time (s)"] = f"{np.mean([r.info['timings']['train_s'] for r in records]):.0f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


MA_ROW = "mA (label-based, every class binary)"


def seed_attribute_table(runs: Mapping[str, Sequence[RunRecord]], dataset: str) -> pd.DataFrame:
    """Accuracy (%) per evaluation group (rows, their mean first, then the field's label-based mA) of the models
    that predict every attribute: this build's as mean ± SD over training runs, then the paper's Table 4/5, one
    column per model."""
    columns = {}
    for name, records in runs.items():
        accuracy = [r.metrics["attribute_accuracy"] for r in records if r.metrics.get("attribute_accuracy")]
        if accuracy:
            column = {("Avg" if k == "mean" else k): mean_sd([100 * a[k] for a in accuracy], 1) for k in accuracy[0]}
            field = [r.metrics["attribute_metrics"]["mA"] for r in records if "attribute_metrics" in r.metrics]
            if field:           # the field's label-based mA (runs evaluated before it was added have none)
                column[MA_ROW] = mean_sd([100 * a for a in field], 1)
            columns[f"{VARIANT_NAMES.get(name, name)}, this build ({len(accuracy)} runs)"] = column
    out = pd.DataFrame(columns)
    key = PAPER_DATASET.get(dataset)
    if key in ("market1501", "dukemtmc"):       # the paper gives per-group accuracy for these two only
        reported = paper.attribute_table(key).T.map(lambda v: f"{v:.1f}")
        reported.columns = [f"{c}, {paper.REPORTED}" for c in reported.columns]
        out = out.join(reported, how="left") if len(out) else reported
    first = ["Avg"] + ([MA_ROW] if MA_ROW in out.index else [])
    out = out.reindex(first + [g for g in out.index if g not in first])   # the table's order, its means first
    out.index.name = "group"
    return out


def interval_words(interval: Interval) -> str:
    """"+1.23 points (95% interval −0.50 to +2.90; 3 and 3 training runs, paired by seed, 650 queries)"."""
    runs = " and ".join(str(k) for k in interval.seeds)
    borrowed = f", the once-trained model's run-to-run spread taken from {interval.borrowed} runs"
    how = ", paired by training seed" if interval.paired else borrowed if interval.borrowed else ""
    return (f"{interval.mean:+.2f} points (95% interval {interval.low:+.2f} to {interval.high:+.2f}; "
            f"{runs} training runs{how}, {interval.queries} queries)")


def shown(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """``table`` for display: float columns as text with ``digits`` decimals, "–" in missing cells.

    Text, not ``fillna("–")`` on the numbers: pandas 3 warns (and will refuse) when a string
    fills a float column, and a notebook would show that warning in the book.
    """
    out = table.astype(object).where(table.notna(), "–")
    for column in table.columns:
        if pd.api.types.is_float_dtype(table[column]):
            out[column] = [("–" if pd.isna(v) else f"{v:.{digits}f}") for v in table[column]]
    return one_header_row(out)


def one_header_row(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` shown with one header row: pandas draws a named index's name in a second header row, under the
    column names, so the index's name moves to the corner cell (``columns.name``); of a multi-level index, the levels
    after the first become columns."""
    if table.index.nlevels > 1:
        table = table.reset_index(level=list(range(1, table.index.nlevels)))
    if table.index.name is not None and table.columns.nlevels == 1:
        table = table.rename_axis(index=None, columns=table.index.name)
    return table



GROWTH_METRICS = (("rank1", "rank1"), ("mAP", "AP"))   # (metric, per-query outcome of apr.experiments.distractors)


def _difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> Interval:
    """a − b over (runs, queries) outcomes: paired by seed when both have the same two or more runs (run k of
    each shares training seed k, as every seeded model of the book does), else over seeds and queries."""
    if a.shape[0] == b.shape[0] >= 2:
        return paired_seed_interval(a, b, level)
    return seed_query_interval(a, b, level)


def growth_levels(outcomes: GrowthOutcomes) -> pd.DataFrame:
    """Fig. 8's points: per model and gallery size, rank-1 and mAP (%) over the training runs and queries
    (mean, 95% interval, SD over the runs, number of runs)."""
    rows = []
    for model, values in outcomes.values.items():
        for p, size in enumerate(outcomes.sizes):
            row: dict = {"model": VARIANT_NAMES.get(model, model), "gallery": size, "runs": values["rank1"].shape[0]}
            for metric, column in GROWTH_METRICS:
                runs = values[column][:, p, :]
                level = seed_query_interval(runs)
                row |= {metric: level.mean, f"{metric} low": level.low, f"{metric} high": level.high,
                        f"{metric} SD": seed_summary(runs.mean(1))[1]}
            rows.append(row)
    return pd.DataFrame(rows)


def growth_gaps(outcomes: GrowthOutcomes, a: str = "apr", b: str = "ide", *,
                simultaneous: bool = True) -> dict[str, list[Interval]]:
    """``a − b`` (points) at each gallery size, in rank-1 and mAP, paired by training seed.

    ``simultaneous``: the intervals hold together with 95% confidence (Bonferroni: each at 1 − 0.05 / sizes),
    as a claim about every size at once needs; else each is a 95% interval on its own."""
    sizes = len(outcomes.sizes)
    level = 1 - 0.05 / sizes if simultaneous else 0.95
    return {metric: [_difference(outcomes.values[a][column][:, p, :], outcomes.values[b][column][:, p, :], level)
                     for p in range(sizes)] for metric, column in GROWTH_METRICS}


def growth_fall_gap(outcomes: GrowthOutcomes, a: str = "apr", b: str = "ide", metric: str = "rank1") -> Interval:
    """How much more ``a`` falls than ``b`` from the smallest gallery to the largest: (a_largest − a_smallest) −
    (b_largest − b_smallest), points, per query and paired by seed. Negative: ``a`` falls faster."""
    column = dict(GROWTH_METRICS)[metric]
    fall = {m: outcomes.values[m][column][:, -1, :] - outcomes.values[m][column][:, 0, :] for m in (a, b)}
    return _difference(fall[a], fall[b])


# What a build of each attribute dataset needs, for the rows it did not run. A dataset whose images are under the
# data root is trained by the attribute-recognition section of any build (apr.experiments.attributes).
ATTRIBUTE_DATASET_NEEDS = {
    "market1501": "Market-1501's images under the data root; run: `make book DATA_ROOT=<folder>` (or the whole book on "
                  "it: `make book DATASET=market1501 DATA_ROOT=<folder>`)",
    "dukemtmc": "DukeMTMC-reID's images under the data root; run: `make book DATA_ROOT=<folder>` (or the whole book on "
                "it: `make book DATASET=dukemtmc DATA_ROOT=<folder>`)",
    "peta": "PETA's ten sub-dataset folders under the data root; run: `make book DATA_ROOT=<folder>` (its re-ID, "
            "Table 3: `make book DATASET=peta DATA_ROOT=<folder>`)",
    "cub200": "CUB_200_2011 under the data root; run: `make book DATA_ROOT=<folder>`",
}


def attribute_accuracy_gap(arn: Sequence[RunRecord], apr: Sequence[RunRecord]
                           ) -> tuple[list[float], list[float], Interval | None]:
    """Mean attribute accuracy (%) of each ARN and APR run, and APR − ARN with its 95% interval over the runs
    (paired by seed when both have as many); None with fewer than two runs of either."""
    accuracy = [[100 * r.metrics["attribute_accuracy"]["mean"] for r in runs] for runs in (arn, apr)]
    gap = (run_interval(accuracy[1], accuracy[0], paired=len(arn) == len(apr)) if min(len(arn), len(apr)) >= 2
           else None)
    return accuracy[0], accuracy[1], gap


def attribute_recognition_table(measured: Mapping[str, Mapping[str, Sequence[RunRecord]]]) -> pd.DataFrame:
    """Tables 4–7 side by side: per dataset of the paper, its mean attribute accuracy of ARN and APR ("(paper)":
    reported by the paper) and, for each dataset this build ran (``measured``: dataset run -> {"arn": runs,
    "apr": runs}, e.g. from :func:`apr.experiments.attributes.attribute_recognition_runs`), this build's (mean ± SD over
    training runs), APR − ARN with its 95% interval over the runs (paired by seed) and the verdict; every other
    dataset says "not run here" and what it needs. A synthetic stand-in fills the row of the dataset it imitates,
    and the "ran on" column says so. Beside the paper's accuracy, the field's label-based mA of each model
    (:mod:`apr.evaluation.par_metrics`): the paper reports none, so it has no verdict."""
    ran = {PAPER_DATASET[name]: (name, runs) for name, runs in measured.items() if name in PAPER_DATASET}
    rows = []
    for key, (table, paper_arn, paper_apr) in paper.ATTRIBUTE_MEANS.items():
        row = {"dataset": paper.DATASET_LABELS[key], "table": table, "ARN (paper)": f"{paper_arn:.2f}",
               "APR (paper)": f"{paper_apr:.2f}", "APR − ARN (paper)": f"{paper_apr - paper_arn:+.2f}"}
        if key in ran:
            name, runs = ran[key]
            arn, apr, gap = attribute_accuracy_gap(runs["arn"], runs["apr"])
            row |= {"ran on": "synthetic stand-in" if is_synthetic(name) else "the real images",
                    "ARN (this build)": mean_sd(arn), "APR (this build)": mean_sd(apr)}
            for variant in ("arn", "apr"):      # the field's mA beside the paper's accuracy (none in older runs)
                field = [100 * r.metrics["attribute_metrics"]["mA"] for r in runs[variant]
                         if "attribute_metrics" in r.metrics]
                row[f"{variant.upper()} mA (this build)"] = mean_sd(field) if field else "–"
            if gap is not None:
                row |= {"APR − ARN (this build, 95% interval)": f"{gap.mean:+.2f} ({gap.low:+.2f} to {gap.high:+.2f})",
                        "verdict": claim_verdict(paper_apr - paper_arn, gap)}
            else:
                row |= {"APR − ARN (this build, 95% interval)": "one run of each: no interval",
                        "verdict": Verdict.CANNOT_TELL}
        else:
            row |= {"verdict": "not run here", "needs": ATTRIBUTE_DATASET_NEEDS[key]}
        rows.append(row)
    table = pd.DataFrame(rows)
    last = ("verdict", "needs")
    order = [c for c in table.columns if c not in last] + [c for c in last if c in table]
    return table[order].set_index(["dataset", "table"]).fillna("–")


# ----------------------------------------------------------------------------- what the attributes could add

def _one_hot_scores(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """ã of true labels (N, m): the score a perfect prediction would have; an unlabelled value (−1, junk and
    distractors) sits in the middle, 0.5, and tells nothing."""
    import torch

    from ..model import scores_from_probs

    probs = []
    for j, c in enumerate(classes):
        column = labels[:, j]
        hot = np.zeros((len(column), c), dtype=np.float32)
        known = column >= 0
        hot[np.flatnonzero(known), column[known]] = 1
        hot[~known] = 1 / c if c > 2 else 0.5
        probs.append(torch.from_numpy(hot))
    scores = scores_from_probs(probs).numpy()
    return np.where(labels >= 0, scores, 0.5)


def _predicted_scores(attr_probs: Sequence) -> np.ndarray:
    from ..model import scores_from_probs

    return scores_from_probs([p.float() for p in attr_probs]).numpy()


def _unit(features) -> np.ndarray:
    f = np.asarray(features, dtype=np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def _with_attributes(features, scores: np.ndarray, weight: float) -> np.ndarray:
    """[f / |f|, sqrt(weight / m) * ã]: squared distances add ``weight`` times the attributes' mean squared
    difference to the unit features' squared distance (at most 4)."""
    return np.hstack([_unit(features), np.sqrt(weight / scores.shape[1]) * scores.astype(np.float32)])


def _rank1_map(query: np.ndarray, gallery: np.ndarray, q: dict, g: dict) -> tuple[float, float]:
    from ..evaluation.metrics import evaluate_ranking

    dist = pairwise_distances(query, gallery, device="cpu")
    cmc, mean_ap = evaluate_ranking(dist, q["pids"], g["pids"], q["camids"], g["camids"], max_rank=1)
    return 100 * float(cmc[0]), 100 * float(mean_ap)


def attribute_headroom(ide: Sequence[RunRecord], apr: Sequence[RunRecord], arn: Sequence[RunRecord],
                       true_labels: tuple[np.ndarray, np.ndarray], classes: Sequence[int],
                       weights: Sequence[float] = (0.3, 1.0)) -> pd.DataFrame:
    """What attributes could add to IDE's retrieval in this build: rank-1 and mAP (%, mean ± SD over training runs,
    IDE's run k with APR's and ARN's run k) of IDE's unit pool5 features alone, with the *true* attributes of every
    image (the oracle), and with APR's or ARN's *predicted* attributes, each at ``weights`` (the share of the
    attributes' mean squared difference next to the unit features' squared distance). ``true_labels``: (query,
    gallery) labels, −1 unlabelled."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for k, ide_run in enumerate(ide):
        base = ide_run.features()
        q, g = base["query"], base["gallery"]
        rows.setdefault("IDE alone (unit pool5)",
                        []).append(_rank1_map(_unit(q["features"]), _unit(g["features"]), q, g))
        sources = {"true attributes (oracle)": tuple(_one_hot_scores(t, classes) for t in true_labels)}
        for name, runs in (("APR's predicted attributes", apr), ("ARN's predicted attributes", arn)):
            if k < len(runs):
                feats = runs[k].features()
                sources[name] = (_predicted_scores(feats["query"]["attr_probs"]),
                                 _predicted_scores(feats["gallery"]["attr_probs"]))
        for name, (qa, ga) in sources.items():
            for w in weights:
                rows.setdefault(f"IDE + {name}, weight {w:g}", []).append(
                    _rank1_map(_with_attributes(q["features"], qa, w), _with_attributes(g["features"], ga, w), q, g))
    table = pd.DataFrame([{"retrieval": name, "training runs": len(values),
                           "R-1": mean_sd([v[0] for v in values]), "mAP": mean_sd([v[1] for v in values])}
                          for name, values in rows.items()])
    return table.set_index("retrieval")


def attribute_distance_share(runs: Sequence[RunRecord], attributes: int) -> list[float]:
    """Per run, the share (%) of the mean squared query–gallery distance of APR's test feature that its last
    ``attributes`` dimensions (the re-weighted attributes) carry."""
    shares = []
    for run in runs:
        feats = run.features()
        q, g = (np.asarray(feats[s]["features"], dtype=np.float64) for s in ("query", "gallery"))

        def mean_squared(a: np.ndarray, b: np.ndarray) -> float:   # mean over all pairs of |a_i - b_j|^2
            return float((a**2).sum(1).mean() + (b**2).sum(1).mean() - 2 * a.mean(0) @ b.mean(0))

        whole = mean_squared(q, g)
        part = mean_squared(q[:, -attributes:], g[:, -attributes:])
        shares.append(100 * part / whole if whole > 0 else float("nan"))
    return shares


def test_feature_table(runs: Sequence[RunRecord]) -> tuple[pd.DataFrame, dict[str, Interval]]:
    """APR's retrieval with the paper's test feature ([embedding, re-weighted attributes]) and with pool5: rank-1
    and mAP (%, mean ± SD over its training runs), and pool5 − concat with its interval over the runs (paired)."""
    per_run = {"concat": [], "pool5": []}
    for run in runs:
        feats = run.features()
        q, g = feats["query"], feats["gallery"]
        per_run["concat"].append(_rank1_map(q["features"], g["features"], q, g))
        if "pool5" not in q:
            raise ValueError(f"'{run.run_dir}' has no pool5 features: evaluate it again (python -m apr extract)")
        per_run["pool5"].append(_rank1_map(q["pool5"], g["pool5"], q, g))
    names = {"concat": "APR, [embedding, re-weighted attributes] (the paper's test feature)", "pool5": "APR, pool5"}
    table = pd.DataFrame([{"test feature": names[k], "R-1": mean_sd([v[0] for v in values]),
                           "mAP": mean_sd([v[1] for v in values])} for k, values in per_run.items()])
    gaps = {}
    if len(runs) >= 2:
        for m, name in ((0, "rank1"), (1, "mAP")):
            gaps[name] = run_interval([v[m] for v in per_run["pool5"]], [v[m] for v in per_run["concat"]], paired=True)
    return table.set_index("test feature"), gaps


def fig8_paper_effects(outcomes: GrowthOutcomes) -> list[float]:
    """The paper's APR − Baseline 1 rank-1 gap (Fig. 8, reported by the paper) at each of this build's gallery
    sizes: the gap at the paper's size nearest in multiples of its test gallery."""
    reported = [a - b for a, b in zip(paper.FIG8["APR"]["rank1"], paper.FIG8["Baseline 1"]["rank1"])]
    multiples = np.array(paper.FIG8_GALLERY) / paper.FIG8_GALLERY[0]
    return [reported[int(np.argmin(np.abs(multiples - size / outcomes.sizes[0])))] for size in outcomes.sizes]
