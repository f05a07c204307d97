"""Chapter 02, APR against its baselines (paper §5.3.1–5.3.2, Tables 1–7): re-ID accuracy next to the paper, the
two test features, attribute accuracy, whether this build learned the attributes, what the attributes could add,
attribute recognition on every dataset, and the training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...config import APRConfig
from ...data.datasets import stands_for
from ...data.files import atomic_write_bytes
from ...engine.device import resolve_device
from ...engine.run_data import load_training_data
from ...evaluation.stats import Interval, Verdict, run_interval, seed_summary
from ...experiments import BookParameters
from ...experiments.attributes import attribute_recognition_runs
from ...experiments.cache import RunRecord, load_or_train_many
from ...experiments.configs import seeded_variant_configs
from .. import paper, verdicts
from ..attribute_check import AttributeCheck, attribute_check, check_table, verdict_under
from ..plots import publish, training_curves_figure
from ..report import (attribute_distance_share, attribute_headroom, attribute_recognition_table, compare_runs,
                      history_frame, interval_words, mean_sd, one_header_row, paper_baseline_rows, per_seed_differences,
                      seed_attribute_table, seed_metrics_table, shown, test_feature_table)
from .chapter import Chapter

REASON_FILE = "headline_reason.md"   # beside the figures: the scorecard's top shows it

Runs = Mapping[str, Sequence[RunRecord]]
CONVERGED_GAIN = 1.0   # points of training ID accuracy over a schedule's last third below which it has stopped climbing


def training_settings(book: BookParameters) -> pd.DataFrame:
    """The main models' settings and the number of training seeds of each."""
    base = book.main_config()
    return pd.Series({
        "dataset": base.dataset, "backbone": base.backbone, "pretrained backbone": base.pretrained,
        "input (H x W)": f"{base.image_size[0]} x {base.image_size[1]}", "epochs": base.epochs,
        "batch": base.batch_size, "lr": base.lr, "lr x 0.1 from epoch": base.decay_epoch + 1, "dropout": base.dropout,
        "lambda": base.lambda_id, "Eq. 6's attribute term": base.attribute_loss_reduction, "data seed": base.seed,
        "training seeds of IDE, ARN and APR": book.seeds,
        "training seeds of APR's two ablations": book.ablation_runs}).rename_axis("setting").to_frame("value")


def check_runs(runs: Runs, book: BookParameters) -> None:
    """The build's key results, checked on every build: each model's seeds, metrics in order and in [0, 1],
    attribute accuracy where the model has attributes, one history row per epoch."""
    for name, records in runs.items():
        k = book.runs_for(name)
        if len(records) != k or [r.config.train_seed for r in records] != list(range(k)):
            raise RuntimeError(f"{name}: expected training seeds 0..{k - 1}")
        for rec in records:
            m = rec.metrics
            if not (0 <= m["rank1"] <= m["rank5"] <= m["rank10"] <= 1 and 0 <= m["mAP"] <= 1):
                raise RuntimeError(f"{name}: metrics out of order or range: {m}")
            if ("attribute_accuracy" in m) != (name != "ide"):
                raise RuntimeError(f"{name}: attribute accuracy {'missing' if name != 'ide' else 'present'}")
            if len(rec.history) != rec.config.epochs:
                raise RuntimeError(f"{name}: {len(rec.history)} history rows for {rec.config.epochs} epochs")


def headline_quotes(runs: Runs, check: AttributeCheck, gaps: Mapping[str, float | None], book: BookParameters
                    ) -> dict[str, str]:
    """APR against IDE and ARN: mean rank-1s, the paired intervals and the verdicts the prose quotes."""
    apr_vs_ide, apr_vs_arn = compare_runs(runs["apr"], runs["ide"]), compare_runs(runs["apr"], runs["arn"])
    mean_r1 = {v: seed_summary([100 * r.metrics["rank1"] for r in runs[v]])[0] for v in ("apr", "ide", "arn")}
    paper_key = stands_for(book.dataset)
    return {"apr_r1": f"{mean_r1['apr']:.2f}", "ide_r1": f"{mean_r1['ide']:.2f}", "arn_r1": f"{mean_r1['arn']:.2f}",
            "n_seeds": str(book.seeds),
            "apr_vs_ide_r1": interval_words(apr_vs_ide["rank1"]),
            "apr_vs_ide_map": interval_words(apr_vs_ide["mAP"]),
            "apr_vs_ide_verdict": str(verdict_under(check, gaps["ide_r1"], apr_vs_ide["rank1"],
                                                    per_run=per_seed_differences(runs["apr"], runs["ide"], "rank1"))),
            "apr_vs_arn_r1": interval_words(apr_vs_arn["rank1"]),
            "apr_vs_arn_verdict": str(verdict_under(check, gaps["arn_r1"], apr_vs_arn["rank1"],
                                                    rests_on_attributes=False,
                                                    per_run=per_seed_differences(runs["apr"], runs["arn"], "rank1"))),
            "gap_ide": f"{gaps['ide_r1']:+.2f}", "gap_arn": f"{gaps['arn_r1']:+.2f}",
            "paper_dataset": paper.DATASET_LABELS[paper_key if paper_key in paper.GAPS else "market1501"]}


def feature_gap_words(feature_gaps: Mapping[str, Interval]) -> str:
    """pool5 − [embedding, attributes] rank-1 in words, or why it was not estimated."""
    if not feature_gaps:
        return "not estimated (one training run)"
    gap = feature_gaps["rank1"]
    return f"{gap.mean:+.2f} points rank-1 (95% interval {gap.low:+.2f} to {gap.high:+.2f})"


def attribute_quotes(runs: Runs, check: AttributeCheck, gaps: Mapping[str, float | None], book: BookParameters
                     ) -> dict[str, str]:
    """Mean attribute accuracy of ARN and APR, APR − ARN paired by seed with its verdict, and the paper's."""
    accuracy = {v: [100 * r.metrics["attribute_accuracy"]["mean"] for r in runs[v]] for v in ("apr", "arn")}
    quotes = {"arn_attr": f"{seed_summary(accuracy['arn'])[0]:.1f}",
              "apr_attr": f"{seed_summary(accuracy['apr'])[0]:.1f}"}
    if book.seeds >= 2:
        gap = run_interval(accuracy["apr"], accuracy["arn"], paired=True)
        quotes["attr_gap"] = (f"{gap.mean:+.2f} points (95% interval over training runs, paired by seed, "
                              f"{gap.low:+.2f} to {gap.high:+.2f})")
        quotes["attr_verdict"] = str(verdict_under(check, gaps["attr_acc"], gap, rests_on_attributes=False,
                                                   per_run=np.subtract(accuracy["apr"], accuracy["arn"])))
    else:
        quotes["attr_gap"] = "not estimated (one training run of each)"
        quotes["attr_verdict"] = str(Verdict.CANNOT_TELL)
    paper_key = stands_for(book.dataset)
    _, paper_arn, paper_apr = paper.ATTRIBUTE_MEANS.get(paper_key, paper.ATTRIBUTE_MEANS["market1501"])
    quotes["paper_attr"] = f"{paper_arn:.1f}% and {paper_apr:.1f}%"
    return quotes


def check_words(check: AttributeCheck) -> str:
    """The answer to "did this build learn the attributes?", with the lift it rests on or the reason."""
    if check.learned:
        return (f"yes: APR's lift averaged over the required groups is {check.overall.mean:+.1f} points (95% "
                f"interval {check.overall.low:+.1f} to {check.overall.high:+.1f}), and the claims that rest on the "
                "attributes are tested")
    return f"no: {check.reason}; the claims that rest on the attributes are untestable in this build"


def headroom(runs: Runs, book: BookParameters) -> tuple[pd.DataFrame, dict[str, Any]]:
    """IDE's rank-1 alone, with the true attributes (the oracle) and with the predicted ones, and the share of APR's
    test distance its re-weighted attributes carry."""
    training = load_training_data(book.main_config(), resolve_device("cpu"), decode=False, progress=False)
    truth = (training.split_attributes("query"), training.split_attributes("gallery"))
    table = attribute_headroom(runs["ide"], runs["apr"], runs["arn"], truth, training.attribute_classes)
    share = attribute_distance_share(runs["apr"], len(training.attribute_names))
    return table, {"attribute_share": mean_sd(share, 2),
                   "oracle_r1": table.loc["IDE + true attributes (oracle), weight 1", "R-1"],
                   "ide_alone_r1": table.loc["IDE alone (unit pool5)", "R-1"],
                   "share": float(np.mean(share)), "attributes": len(training.attribute_names)}


def last_third_gain(records: Sequence[RunRecord]) -> float:
    """How much training ID accuracy (points, mean over the runs) rose over the last third of the schedule: from the
    epoch before the learning-rate step to the last one."""
    gains = []
    for record in records:
        accuracy = [100 * row["id_acc"] for row in record.history]
        start = record.config.decay_epoch - 1            # the last epoch at the full learning rate (0-based index)
        gains.append(accuracy[-1] - accuracy[max(0, start)])
    return float(np.mean(gains))


def headline_reason(verdict: str, attribute_gap: Interval | None, share: float, ide_alone: str, oracle: str,
                    gains: Mapping[str, float], config: APRConfig, attributes: int,
                    paper_table: tuple[str, float, float] = paper.ATTRIBUTE_MEANS["market1501"]) -> str:
    """Why APR does or does not beat IDE in this build, as one paragraph of Markdown: how well APR's attribute heads
    learn beside ARN's and the reading of Eq. 6 behind it, the headroom the true attributes would give, the share of
    APR's test distance its attributes carry, and whether the schedule had stopped climbing. ``paper_table``: the
    paper's table of attribute accuracy for the build's dataset, with its ARN and APR means."""
    m, lam = attributes, config.lambda_id
    weight = (f"(1 − λ)/m = 1/{round(m / (1 - lam))}" if config.attribute_loss_reduction == "mean" and lam < 1
              else "1 − λ")
    reading = {"mean": "averages", "sum": "sums"}[config.attribute_loss_reduction]
    words = [f"**Why the verdict on \"APR beats IDE\" is *{verdict}* in this build.**"]
    if attribute_gap is not None:
        where = ("below" if attribute_gap.high < 0 else "above" if attribute_gap.low > 0 else "about level with")
        words.append(f"APR's attribute heads are {where} ARN's ({attribute_gap.mean:+.1f} points of mean accuracy, 95% "
                     f"interval {attribute_gap.low:+.1f} to {attribute_gap.high:+.1f}), where the paper's "
                     f"{paper_table[0]} has them {paper_table[2] - paper_table[1]:.1f} "
                     f"{'above' if paper_table[2] >= paper_table[1] else 'below'}: Eq. 6, as this build reads it, "
                     f"{reading} the m = {m} attribute losses, so each "
                     f"weighs {weight} of APR's loss, against 1 in ARN's ([errata](../errata.md), item 15).")
    words.append(f"The attributes could help retrieval: appended at weight 1, the true ones lift IDE's rank-1 from "
                 f"{ide_alone}% to {oracle}%. "
                 + (f"But APR's re-weighted attributes carry only {share:.2f}% of its test distance, so it ranks the "
                    "gallery by its embedding, which is trained like IDE's." if share < 1 else
                    f"APR's re-weighted attributes carry {share:.1f}% of its test distance."))
    climbing = {name: gain for name, gain in gains.items() if gain >= CONVERGED_GAIN}
    if climbing:
        words.append(f"And the models stop after {config.epochs} epochs while still learning: over the last third of "
                     "the schedule, training ID accuracy rose by "
                     + " and ".join(f"{gain:.1f} points ({name})" for name, gain in gains.items())
                     + "; a difference between two models that are still climbing says as much about the schedule as "
                       "about the method.")
    else:
        words.append(f"The schedule ({config.epochs} epochs) had stopped climbing: over its last third, training ID "
                     "accuracy rose by less than " f"{CONVERGED_GAIN:g} point for each model.")
    return " ".join(words)


def recognition_needs(recognition: pd.DataFrame) -> str | None:
    """A list of the datasets the build did not run, each with what a build of it needs (None: it ran them all)."""
    if "needs" not in recognition:
        return None
    return "\n".join(f"- {name} ({table}): not run here; needs {needs}."
                     for (name, table), needs in recognition["needs"].items() if needs != "–")


def baselines(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 02 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    runs = {v: load_or_train_many(c, execution=book.execution) for v, c in seeded_variant_configs(book).items()}
    check_runs(runs, book)
    gaps = paper.GAPS.get(stands_for(book.dataset), paper.GAPS["market1501"])
    check = attribute_check(runs["arn"], runs["apr"], book.data_root)
    chapter = Chapter()
    chapter.tables["settings"] = one_header_row(training_settings(book))
    chapter.tables["reid"] = shown(pd.concat([seed_metrics_table(runs), paper_baseline_rows(book.dataset)]))
    chapter.quotes = headline_quotes(runs, check, gaps, book)
    chapter.blocks["verdict_glossary"] = verdicts.glossary()      # Markdown: the verdicts in italics
    features_table, feature_gaps = test_feature_table(runs["apr"])
    chapter.tables["features"] = shown(features_table)
    chapter.quotes["pool5_minus_concat"] = feature_gap_words(feature_gaps)
    chapter.tables["attributes"] = shown(seed_attribute_table({v: runs[v] for v in ("arn", "apr")}, book.dataset))
    chapter.quotes |= attribute_quotes(runs, check, gaps, book)
    chapter.tables["check"] = shown(check_table(check))
    # Per group: ARN, APR, the majority rate, the lifts with their intervals and the paper's lift, as a file.
    atomic_write_bytes(book.figures / "attribute_check.csv",
                       lambda h: h.write(check.table.rename_axis("group").to_csv().encode()))
    chapter.quotes |= {"check_verdict": check_words(check), "check_reference": check.reference}
    table, quotes = headroom(runs, book)
    chapter.tables["headroom"] = shown(table)
    share, attributes = quotes.pop("share"), quotes.pop("attributes")
    chapter.quotes |= quotes
    accuracy = {v: [100 * r.metrics["attribute_accuracy"]["mean"] for r in runs[v]] for v in ("apr", "arn")}
    gap = run_interval(accuracy["apr"], accuracy["arn"], paired=True) if book.seeds >= 2 else None
    reason = headline_reason(chapter.quotes["apr_vs_ide_verdict"], gap, share, quotes["ide_alone_r1"],
                             quotes["oracle_r1"], {"IDE": last_third_gain(runs["ide"]),
                                                   "APR": last_third_gain(runs["apr"])},
                             book.main_config(), attributes,
                             paper.ATTRIBUTE_MEANS.get(stands_for(book.dataset), paper.ATTRIBUTE_MEANS["market1501"]))
    chapter.blocks["headline_reason"] = reason
    # The scorecard's top quotes the same paragraph (it runs after the chapters).
    atomic_write_bytes(book.figures / REASON_FILE, lambda h: h.write(reason.encode()))
    recognition = attribute_recognition_table(attribute_recognition_runs(book, runs))
    chapter.tables["recognition"] = shown(recognition.drop(columns="needs", errors="ignore"))
    needs = recognition_needs(recognition)
    if needs:
        chapter.notes["recognition_needs"] = needs
    history = history_frame({v: r[0] for v, r in runs.items()})
    chapter.figures["training_curves"] = publish(training_curves_figure(history), "training_curves",
                                                 history.set_index(["variant", "epoch"]), folder=book.figures)
    return chapter
