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
from ...engine.pretrain import PRETRAIN_EPOCHS
from ...experiments.configs import other_reading_configs, seeded_variant_configs
from ...experiments.parameters import READING_NAMES
from .. import paper, verdicts
from ..attribute_check import AttributeCheck, attribute_check, check_table, verdict_under
from ..convergence import CONVERGED_GAIN, Convergence, book_convergence, convergence_words, gain_words
from ..plots import publish, training_curves_figure
from ..report import (attribute_distance_share, attribute_headroom, attribute_recognition_table, compare_runs,
                      history_frame, interval_words, mean_sd, one_header_row, paper_baseline_rows, per_seed_differences,
                      seed_attribute_table, seed_metrics_table, shown, test_feature_table)
from .chapter import Chapter

REASON_FILE = "headline_reason.md"   # beside the figures: the scorecard's top shows it

Runs = Mapping[str, Sequence[RunRecord]]
CONVERGENCE_FILE = "convergence.csv"   # beside the figures: the convergence check's table


def training_settings(book: BookParameters) -> pd.DataFrame:
    """The main models' settings and the number of training seeds of each."""
    base = book.main_config()
    return pd.Series({
        "dataset": base.dataset, "backbone": base.backbone, "pretrained backbone": base.pretrained,
        "input (H x W)": f"{base.image_size[0]} x {base.image_size[1]}", "epochs": base.epochs,
        "batch": base.batch_size, "lr": base.lr, "lr x 0.1 from epoch": base.decay_epoch + 1, "dropout": base.dropout,
        "lambda": base.lambda_id,
        "Eq. 6's attribute term": f"{base.attribute_loss_reduction} ({READING_NAMES[book.reading]}); APR and APR w/o "
                                  f"ARM also in {book.other_reading} ({READING_NAMES[book.other_reading]})",
        "synthetic pretraining (IDE on other people, one for every training seed)":
            f"{PRETRAIN_EPOCHS[base.synthetic_scale]} epochs" if base.pretrained == "synthetic" else "none",
        "data seed": base.seed,
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


def headline_quotes(runs: Runs, check: AttributeCheck, gaps: Mapping[str, float | None], book: BookParameters,
                    converged: bool = True) -> dict[str, str]:
    """APR against IDE and ARN: mean rank-1s, the paired intervals and the verdicts the prose quotes (``runs``: APR
    in one reading of Eq. 6, with IDE and ARN)."""
    apr_vs_ide, apr_vs_arn = compare_runs(runs["apr"], runs["ide"]), compare_runs(runs["apr"], runs["arn"])
    mean_r1 = {v: seed_summary([100 * r.metrics["rank1"] for r in runs[v]])[0] for v in ("apr", "ide", "arn")}
    paper_key = stands_for(book.dataset)

    def verdict(gap: str, interval: Interval, other: str, metric: str, attributes: bool = True) -> str:
        return str(verdict_under(check, gaps[gap], interval, rests_on_attributes=attributes, converged=converged,
                                 per_run=per_seed_differences(runs["apr"], runs[other], metric)))

    return {"apr_r1": f"{mean_r1['apr']:.2f}", "ide_r1": f"{mean_r1['ide']:.2f}", "arn_r1": f"{mean_r1['arn']:.2f}",
            "n_seeds": str(book.seeds),
            "apr_vs_ide_r1": interval_words(apr_vs_ide["rank1"]),
            "apr_vs_ide_map": interval_words(apr_vs_ide["mAP"]),
            "apr_vs_ide_verdict": verdict("ide_r1", apr_vs_ide["rank1"], "ide", "rank1"),
            "apr_vs_ide_map_verdict": verdict("ide_map", apr_vs_ide["mAP"], "ide", "AP_official"),
            "apr_vs_arn_r1": interval_words(apr_vs_arn["rank1"]),
            "apr_vs_arn_verdict": verdict("arn_r1", apr_vs_arn["rank1"], "arn", "rank1", attributes=False),
            "gap_ide": f"{gaps['ide_r1']:+.2f}", "gap_ide_map": f"{gaps['ide_map']:+.2f}",
            "gap_arn": f"{gaps['arn_r1']:+.2f}",
            "paper_dataset": paper.DATASET_LABELS[paper_key if paper_key in paper.GAPS else "market1501"]}


def feature_gap_words(feature_gaps: Mapping[str, Interval]) -> str:
    """pool5 − [embedding, attributes] rank-1 in words, or why it was not estimated."""
    if not feature_gaps:
        return "not estimated (one training run)"
    gap = feature_gaps["rank1"]
    return f"{gap.mean:+.2f} points rank-1 (95% interval {gap.low:+.2f} to {gap.high:+.2f})"


def attribute_quotes(runs: Runs, check: AttributeCheck, gaps: Mapping[str, float | None], book: BookParameters,
                     converged: bool = True) -> dict[str, str]:
    """Mean attribute accuracy of ARN and APR, APR − ARN paired by seed with its verdict, and the paper's."""
    accuracy = {v: [100 * r.metrics["attribute_accuracy"]["mean"] for r in runs[v]] for v in ("apr", "arn")}
    quotes = {"arn_attr": f"{seed_summary(accuracy['arn'])[0]:.1f}",
              "apr_attr": f"{seed_summary(accuracy['apr'])[0]:.1f}"}
    gap = attribute_gap(runs)
    if gap is not None:
        quotes["attr_gap"] = (f"{gap.mean:+.2f} points (95% interval over training runs, paired by seed, "
                              f"{gap.low:+.2f} to {gap.high:+.2f})")
        quotes["attr_verdict"] = str(verdict_under(check, gaps["attr_acc"], gap, rests_on_attributes=False,
                                                   per_run=np.subtract(accuracy["apr"], accuracy["arn"]),
                                                   converged=converged))
    else:
        quotes["attr_gap"] = "not estimated (one training run of each)"
        quotes["attr_verdict"] = str(Verdict.CANNOT_TELL)
    paper_key = stands_for(book.dataset)
    _, paper_arn, paper_apr = paper.ATTRIBUTE_MEANS.get(paper_key, paper.ATTRIBUTE_MEANS["market1501"])
    quotes["paper_attr"] = f"{paper_arn:.1f}% and {paper_apr:.1f}%"
    return quotes


def attribute_gap(runs: Runs) -> Interval | None:
    """APR − ARN mean attribute accuracy (points), paired by seed; None with one run of each."""
    accuracy = {v: [100 * r.metrics["attribute_accuracy"]["mean"] for r in runs[v]] for v in ("apr", "arn")}
    k = min(len(accuracy["apr"]), len(accuracy["arn"]))
    return run_interval(accuracy["apr"][:k], accuracy["arn"][:k], paired=True) if k >= 2 else None


def default_reading_words(gaps: Mapping[str, Interval | None], book: BookParameters, paper_gap: float) -> str:
    """Which reading of Eq. 6 the criterion picks in this build (the one whose APR − ARN mean attribute accuracy
    comes nearest the paper's, ``paper_gap``, as its Table 4 has them), and whether that is the build's default."""
    known = {r: g for r, g in gaps.items() if g is not None}
    if len(known) < 2:
        return "not decided (one training run of each model)"
    nearest = min(known, key=lambda r: abs(known[r].mean - paper_gap))
    words = "; ".join(f"{READING_NAMES[r]}: {g.mean:+.1f} points (95% interval {g.low:+.1f} to {g.high:+.1f})"
                      for r, g in known.items())
    agrees = ("the build's default, as chosen" if nearest == book.reading else
              f"not the build's default ({READING_NAMES[book.reading]}): this build's data would choose the other")
    return (f"APR − ARN mean attribute accuracy, {words}. Nearest the paper's {paper_gap:+.1f}: "
            f"{READING_NAMES[nearest]}, {agrees}")


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


def headline_reason(verdicts_by_reading: Mapping[str, tuple[str, str]], attribute_gaps: Mapping[str, Interval | None],
                    shares: Mapping[str, float], ide_alone: str, oracle: str, convergence: Convergence,
                    config: APRConfig, attributes: int,
                    paper_table: tuple[str, float, float] = paper.ATTRIBUTE_MEANS["market1501"]) -> str:
    """Why APR does or does not beat IDE in this build, as one paragraph of Markdown: whether the schedule had
    converged, the verdicts under both readings of Eq. 6 (``verdicts_by_reading``: reading -> (rank-1 verdict, mAP
    verdict), the build's reading first), how well APR's attribute heads learn beside ARN's under each, the headroom
    the true attributes would give and the share of APR's test distance its attributes carry (``shares``, per
    reading). ``paper_table``: the paper's table of attribute accuracy for the build's dataset, with its ARN and APR
    means."""
    m, lam = attributes, config.lambda_id
    reading = next(iter(verdicts_by_reading))
    rank1, mean_ap = verdicts_by_reading[reading]
    words = [f"**Why the verdict on \"APR beats IDE\" is *{rank1}* (rank-1) and *{mean_ap}* (mAP) in this build.**"]
    if convergence.converged:
        words.append(f"The models had stopped climbing: on the validation split, the last third of the "
                     f"{convergence.epochs}-epoch schedule added {gain_words(convergence.gains)}, under "
                     f"{CONVERGED_GAIN:g} point of mAP to each, so a difference is the method's and not the "
                     "schedule's.")
    else:
        words.append(f"The models had not stopped climbing: on the validation split, the last third of the "
                     f"{convergence.epochs}-epoch schedule still added {gain_words(convergence.gains)}; a difference "
                     "between two models that are still climbing says as much about the schedule as about the method.")
    weight = {"mean": f"(1 − λ)/m = 1/{round(m / (1 - lam))}" if lam < 1 else "0", "sum": f"1 − λ = {1 - lam:.1f}"}
    others = [f"{READING_NAMES[r]}: *{v[0]}* and *{v[1]}*" for r, v in verdicts_by_reading.items() if r != reading]
    if others:
        words.append(f"Eq. 6 can be read two ways ([errata](../errata.md), item 15); this build trains APR in both, "
                     f"and its headline uses {READING_NAMES[reading]} (the reading whose attributes come nearest "
                     f"ARN's, as the paper's {paper_table[0]} has them). The other reading's verdicts: "
                     + "; ".join(others) + ".")
    gaps = [f"{g.mean:+.1f} points ({g.low:+.1f} to {g.high:+.1f}) with {READING_NAMES[r]}, where each attribute "
            f"weighs {weight[r]} of APR's loss" for r, g in attribute_gaps.items() if g is not None]
    if gaps:
        words.append(f"APR's attribute heads against ARN's (mean accuracy, 95% interval; ARN weighs each attribute "
                     f"1): {'; '.join(gaps)}. The paper's {paper_table[0]} has them "
                     f"{abs(paper_table[2] - paper_table[1]):.1f} "
                     f"{'above' if paper_table[2] >= paper_table[1] else 'below'}.")
    share = shares[reading]
    words.append(f"The attributes could help retrieval: appended at weight 1, the true ones lift IDE's rank-1 from "
                 f"{ide_alone}% to {oracle}%. "
                 + (f"But APR's re-weighted attributes carry only {share:.2f}% of its test distance, so it ranks the "
                    "gallery by its embedding, which is trained like IDE's." if share < 1 else
                    f"APR's re-weighted attributes carry {share:.1f}% of its test distance."))
    return " ".join(words)


def convergence_table(check: Convergence) -> pd.DataFrame:
    """The convergence check's table for the page: validation rank-1 and mAP as mean ± SD per model and schedule."""
    table = check.table
    out = pd.DataFrame({
        "model": table["model"], "epochs": table["epochs"], "training runs": table["training runs"],
        **{f"validation {name} (%)": [f"{m:.2f}" if pd.isna(sd) else f"{m:.2f} ± {sd:.2f}"
                                      for m, sd in zip(table[f"validation {name} (%)"], table[f"{name} SD"])]
           for name in ("rank-1", "mAP")}})
    return out.set_index(["model", "epochs"])


def recognition_needs(recognition: pd.DataFrame) -> str | None:
    """A list of the datasets the build did not run, each with what a build of it needs (None: it ran them all)."""
    if "needs" not in recognition:
        return None
    return "\n".join(f"- {name} ({table}): not run here; needs {needs}."
                     for (name, table), needs in recognition["needs"].items() if needs != "–")


def reid_runs(runs: Runs, other: Runs, book: BookParameters) -> dict[str, Sequence[RunRecord]]:
    """The re-ID table's models in order: APR and APR w/o ARM once per reading of Eq. 6, the build's first."""
    mine, theirs = READING_NAMES[book.reading], READING_NAMES[book.other_reading]
    return {"ide": runs["ide"], "arn": runs["arn"], f"APR, {mine}": runs["apr"], f"APR, {theirs}": other["apr"],
            f"APR (w/o ARM), {mine}": runs["apr_no_arm"], f"APR (w/o ARM), {theirs}": other["apr_no_arm"],
            "apr_no_attr_loss": runs["apr_no_attr_loss"]}


def baselines(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 02 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    runs = {v: load_or_train_many(c, execution=book.execution) for v, c in seeded_variant_configs(book).items()}
    other = {v: load_or_train_many(c, execution=book.execution) for v, c in other_reading_configs(book).items()}
    check_runs(runs, book)
    check_runs(other, book)
    convergence = book_convergence(book)
    gaps = paper.GAPS.get(stands_for(book.dataset), paper.GAPS["market1501"])
    check = attribute_check(runs["arn"], runs["apr"], book.data_root)
    chapter = Chapter()
    chapter.tables["settings"] = one_header_row(training_settings(book))
    chapter.tables["convergence"] = convergence_table(convergence)
    atomic_write_bytes(book.figures / CONVERGENCE_FILE,
                       lambda h: h.write(convergence.table.to_csv(index=False).encode()))
    chapter.quotes["convergence_verdict"] = convergence_words(convergence)
    chapter.tables["reid"] = shown(pd.concat([seed_metrics_table(reid_runs(runs, other, book)),
                                              paper_baseline_rows(book.dataset)]))
    by_reading = {book.reading: runs, book.other_reading: {**runs, **other}}
    chapter.quotes = headline_quotes(runs, check, gaps, book, convergence.converged) | chapter.quotes
    chapter.quotes |= {f"{k}_other": v for k, v in headline_quotes(by_reading[book.other_reading], check, gaps, book,
                                                                   convergence.converged).items()
                       if k.startswith("apr")}
    chapter.quotes |= {"reading": READING_NAMES[book.reading], "other_reading": READING_NAMES[book.other_reading]}
    chapter.blocks["verdict_glossary"] = verdicts.glossary()      # Markdown: the verdicts in italics
    features_table, feature_gaps = test_feature_table(runs["apr"])
    chapter.tables["features"] = shown(features_table)
    chapter.quotes["pool5_minus_concat"] = feature_gap_words(feature_gaps)
    chapter.tables["attributes"] = shown(seed_attribute_table(
        {"arn": runs["arn"], f"APR, {READING_NAMES[book.reading]}": runs["apr"],
         f"APR, {READING_NAMES[book.other_reading]}": other["apr"]}, book.dataset))
    chapter.quotes |= attribute_quotes(runs, check, gaps, book, convergence.converged)
    chapter.quotes |= {f"{k}_other": v for k, v in attribute_quotes(by_reading[book.other_reading], check, gaps, book,
                                                                    convergence.converged).items()
                       if k in ("apr_attr", "attr_gap", "attr_verdict")}
    attribute_gaps = {r: attribute_gap(rs) for r, rs in by_reading.items()}
    chapter.quotes["default_reading"] = default_reading_words(attribute_gaps, book, gaps["attr_acc"])
    chapter.tables["check"] = shown(check_table(check))
    # Per group: ARN, APR, the majority rate, the lifts with their intervals and the paper's lift, as a file.
    atomic_write_bytes(book.figures / "attribute_check.csv",
                       lambda h: h.write(check.table.rename_axis("group").to_csv().encode()))
    chapter.quotes |= {"check_verdict": check_words(check), "check_reference": check.reference}
    table, quotes = headroom(runs, book)
    chapter.tables["headroom"] = shown(table)
    share, attributes = quotes.pop("share"), quotes.pop("attributes")
    chapter.quotes |= quotes
    shares = {book.reading: share,
              book.other_reading: float(np.mean(attribute_distance_share(other["apr"], attributes)))}
    verdicts_by_reading = {r: (chapter.quotes[f"apr_vs_ide_verdict{end}"],
                               chapter.quotes[f"apr_vs_ide_map_verdict{end}"])
                           for r, end in ((book.reading, ""), (book.other_reading, "_other"))}
    reason = headline_reason(verdicts_by_reading, attribute_gaps, shares, quotes["ide_alone_r1"], quotes["oracle_r1"],
                             convergence, book.main_config(), attributes,
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
