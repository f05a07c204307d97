"""Chapter 04, the ablations (paper §5.3.3–5.3.4, Figs. 6–7): APR without ARM and without the attribute loss, the
λ sweep on the validation split, each attribute left out, and what ARM learnt.

:func:`ablations` returns the chapter; the functions it calls take the runs, so that tests can feed them a
smoke build's runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...data import find_annotation_file, load_attribute_annotations
from ...data.datasets import stands_for
from ...engine.device import resolve_device
from ...engine.run_data import load_run_dataset, load_training_data
from ...evaluation.stats import Interval
from ...experiments import BookParameters
from ...experiments.cache import RunRecord, load_or_train_many
from ...experiments.configs import (REFERENCE_LAMBDA, REMOVALS, SEEDED_LAMBDAS, VALIDATION_IDS, lambda_configs,
                                    leave_one_out_configs, other_reading_configs, removed_groups, schema_of,
                                    seeded_configs, seeded_variant_configs)
from ...experiments.parameters import READING_NAMES
from .. import paper
from ..annotation_stats import attribute_correlation
from ..attribute_check import AttributeCheck, attribute_check, precondition_words, verdict_under
from ..convergence import book_convergence
from ..plots import delta_bars_figure, heatmap_figure, publish, sweep_figure
from ..report import (compare_runs, interval_words, level_intervals, paper_baseline_rows, per_seed_differences,
                      seed_metrics_table, shown, versus_same_seed)
from .chapter import Chapter

ABLATION_VARIANTS = ("apr", "apr_no_arm", "apr_no_attr_loss", "ide", "arn")   # chapter 02's runs and the ablations
LEAVE_ONE_OUT_OFF = ("This build does not train Fig. 6's models (one per attribute left out; the book parameter "
                     "`leave_one_out`, `make book LEAVE_ONE_OUT=1`). Each removal is trained once, and at the quick "
                     "scale a once-trained removal's smallest detectable change of rank-1 (the scorecard's column of "
                     "a build that trains them) exceeds every change the paper reports in Fig. 6, so no verdict on "
                     "them could be a finding; the default build spends those models on the headline comparisons "
                     "instead.")


@dataclass
class AblationRuns:
    """The chapter's runs: the seeded variants, APR and APR w/o ARM in the other reading of Eq. 6 (``other``), the
    λ sweep's and the leave-one-out's, by name; and whether the build's schedule had converged."""

    book: BookParameters
    variants: dict[str, list[RunRecord]]
    lambdas: dict[float, list[RunRecord]]
    removals: dict[str, list[RunRecord]]
    other: dict[str, list[RunRecord]]
    converged: bool

    @property
    def paired_apr(self) -> list[RunRecord]:
        """APR's runs with the ablations' training seeds, to compare seed by seed."""
        return self.variants["apr"][: self.book.ablation_runs]


def ablation_runs(book: BookParameters) -> AblationRuns:
    """Every run chapter 04 reads, trained first where the cache lacks it."""
    few = book.ablation_runs
    variants = {v: load_or_train_many(c, execution=book.execution)
                for v, c in seeded_variant_configs(book, ABLATION_VARIANTS).items()}
    lambdas = {lam: load_or_train_many(seeded_configs(c, few) if lam in SEEDED_LAMBDAS else [c],
                                       execution=book.execution)
               for lam, c in lambda_configs(book).items()}
    removals = {name: load_or_train_many(seeded_configs(c, few) if name == "none" else [c], execution=book.execution)
                for name, c in leave_one_out_configs(book).items()}
    # Every sweep point was trained with its own setting, the λ sweep on the validation split.
    if not all(r.config.lambda_id == k and r.config.validation_ids == VALIDATION_IDS[book.scale]
               for k, rs in lambdas.items() for r in rs):
        raise RuntimeError("a λ-sweep run does not have its own λ or the validation split")
    every = len(variants["apr"][0].info["attributes"])
    if not all(rs[0].config.attributes is None or len(rs[0].config.attributes) < every for rs in removals.values()):
        raise RuntimeError("a leave-one-out run trains every attribute")
    other = {v: load_or_train_many(c, execution=book.execution) for v, c in other_reading_configs(book).items()}
    return AblationRuns(book, variants, lambdas, removals, other, book_convergence(book).converged)


def ablation_rows(runs: AblationRuns, check: AttributeCheck, gaps: Mapping[str, float | None]
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """APR, its two ablations (APR and APR w/o ARM in both readings of Eq. 6) and IDE (this build beside the paper),
    and the quoted differences and verdicts (those of the other reading end in ``_other``)."""
    book = runs.book
    mine, theirs = READING_NAMES[book.reading], READING_NAMES[book.other_reading]
    names = ["APR", "APR (w/o ARM)", "APR (w/o attri)", "Baseline 1 (IDE)"]
    reported = paper_baseline_rows(book.dataset).reindex(names).dropna(how="all")
    shown_runs = {f"APR, {mine}": runs.variants["apr"], f"APR, {theirs}": runs.other["apr"],
                  f"APR (w/o ARM), {mine}": runs.variants["apr_no_arm"],
                  f"APR (w/o ARM), {theirs}": runs.other["apr_no_arm"],
                  "apr_no_attr_loss": runs.variants["apr_no_attr_loss"], "ide": runs.variants["ide"]}
    ours = seed_metrics_table(shown_runs)[["source", "training runs", "R-1", "mAP"]]
    table = shown(pd.concat([ours, reported[["source", "R-1", "mAP"]]]) if len(reported) else ours)
    paper_key = stands_for(book.dataset)
    quotes = {
        "paper_arm": f"{gaps['arm_r1']:+.2f} and {gaps['arm_map']:+.2f}",
        "paper_attr_r1": f"{gaps['attr_r1']:+.2f}" if gaps["attr_r1"] is not None else "no number",
        "paper_dataset": paper.DATASET_LABELS[paper_key if paper_key in paper.GAPS else "market1501"],
        "ablation_precondition": precondition_words(check, "ARM re-weights the predicted attributes and the "
                                                           "attribute loss trains them", runs.converged),
        "reading": mine, "other_reading": theirs,
    }
    for end, apr_runs, no_arm in (("", runs.variants["apr"], runs.variants["apr_no_arm"]),
                                  ("_other", runs.other["apr"], runs.other["apr_no_arm"])):
        paired = apr_runs[: book.ablation_runs]      # APR's runs with the ablations' training seeds, seed by seed
        arm_gain = compare_runs(paired, no_arm)
        attr_gain = compare_runs(paired, runs.variants["apr_no_attr_loss"])
        per_seed = {"arm": per_seed_differences(paired, no_arm, "rank1"),
                    "attr": per_seed_differences(paired, runs.variants["apr_no_attr_loss"], "rank1")}
        quotes |= {
            f"arm_verdict{end}": str(verdict_under(check, gaps["arm_r1"], arm_gain["rank1"], per_run=per_seed["arm"],
                                                   converged=runs.converged)),
            f"arm_r1{end}": interval_words(arm_gain["rank1"]),
            f"arm_map{end}": interval_words(arm_gain["mAP"]),
            f"attr_verdict{end}": (str(verdict_under(check, gaps["attr_r1"], attr_gain["rank1"],
                                                     per_run=per_seed["attr"], converged=runs.converged))
                                   if gaps["attr_r1"] is not None else "not reported by the paper for this dataset"),
            f"attr_r1{end}": interval_words(attr_gain["rank1"]),
        }
    return table, quotes


def sweep_setting(book: BookParameters) -> pd.DataFrame:
    """How the sweeps differ from the main models: the validation split, the λ values, the seeded points."""
    return pd.Series({"λ sweep: training identities held out for validation": VALIDATION_IDS[book.scale],
                      "λ values": ", ".join(f"{k:g}" for k in lambda_configs(book)),
                      "λ values trained with every seed": ", ".join(f"{k:g}" for k in SEEDED_LAMBDAS),
                      "training seeds of those, and of APR with every attribute": book.ablation_runs},
                     name="sweep setting").to_frame()


def lambda_levels(lambda_runs: Mapping[float, Sequence[RunRecord]]) -> tuple[pd.DataFrame, dict[float, dict]]:
    """Fig. 7's points: each λ's mean validation rank-1 and mAP with 95% intervals (clipped to [0, 100]), and the
    intervals themselves by λ."""
    levels = {lam: level_intervals(rs, lambda_runs[REFERENCE_LAMBDA]) for lam, rs in lambda_runs.items()}
    lam = pd.DataFrame([{"lambda": k, "runs": str(len(lambda_runs[k])),
                         **{f"{m}{suffix}": getattr(v[m], attr) for m in ("rank1", "mAP")
                            for suffix, attr in (("", "mean"), (" low", "low"), (" high", "high"))}}
                        for k, v in levels.items()]).set_index("lambda")
    lam[["rank1 low", "mAP low"]] = lam[["rank1 low", "mAP low"]].clip(lower=0)       # a percentage stays in [0, 100]
    lam[["rank1 high", "mAP high"]] = lam[["rank1 high", "mAP high"]].clip(upper=100)
    return lam, levels


def _listed(lambdas: Sequence[float]) -> str:
    """"λ = 0, 0.5 and 1" for the given λ values."""
    names = [f"{k:g}" for k in sorted(lambdas)]
    return "λ = " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])


def lambda_words(lam: pd.DataFrame, versus: Mapping[float, Interval], queries: int) -> dict[str, str]:
    """What the prose says of the sweep, as one Markdown paragraph (``lambda_text``): the best λ, those this build
    cannot tell from it, those clearly below λ = 0.9 and those within its intervals (``versus``: each λ − λ = 0.9,
    rank-1); and λ = 0's rank-1 (``lambda0_r1``)."""
    best = lam["rank1"].idxmax()
    tied = sorted(k for k, v in versus.items() if v.low <= 0 <= v.high)
    below = sorted(k for k, v in versus.items() if v.high < 0)
    opening = (f"The highest mean rank-1 on the validation split is at λ = {best:g} ({lam.loc[best, 'rank1']:.2f}%, "
               f"{queries} validation queries)")
    if best == REFERENCE_LAMBDA:     # the reference: what cannot be told from it is what its intervals include
        words = [f"{opening}, the paper's own choice.",
                 f"Within its interval, so that this build cannot tell them from it: {_listed(tied)}." if tied else
                 "Every other λ lies clear of it.",
                 f"Clearly below it (interval under 0): {_listed(below)}." if below else ""]
    else:
        # λ values this build cannot tell from the best: their difference to λ = 0.9 overlaps the best's.
        gap = versus[best]
        near = sorted(k for k, v in versus.items() if k != best and v.high >= gap.low and v.low <= gap.high)
        near_words = (f"; this build cannot tell it from {_listed(near)} (their intervals against λ = "
                      f"{REFERENCE_LAMBDA:g} overlap)" if near else ", clear of every other λ")
        words = [f"{opening}{near_words}.",
                 f"Clearly below λ = {REFERENCE_LAMBDA:g} (interval under 0): {_listed(below)}." if below else "",
                 f"Within the intervals of λ = {REFERENCE_LAMBDA:g}: {_listed(tied)}." if tied else ""]
    return {"lambda_text": " ".join(w for w in words if w),
            "lambda0_r1": f"{lam.loc[0.0, 'rank1']:.2f}" if 0.0 in lam.index else "–"}


def seeded_differences(lambda_runs: Mapping[float, Sequence[RunRecord]], lam: float) -> np.ndarray | None:
    """λ − λ = 0.9 rank-1 per training seed, for a λ trained with every seed (None for a once-trained point)."""
    if len(lambda_runs[lam]) < 2:
        return None
    return per_seed_differences(lambda_runs[lam], lambda_runs[REFERENCE_LAMBDA], "rank1")


def lambda_sweep(runs: AblationRuns, check: AttributeCheck, chapter: Chapter) -> None:
    """Fig. 7 (published), its data, each λ against λ = 0.9 with verdicts, and the sweep's quoted values."""
    book = runs.book
    lam, levels = lambda_levels(runs.lambdas)
    reported = pd.DataFrame({"rank1": paper.FIG7_RANK1, "mAP": paper.FIG7_MAP},
                            index=pd.Index(paper.FIG7_LAMBDA, name="lambda"))
    fig = sweep_figure(lam, reported, "λ", "Fig. 7: rank-1 and mAP against λ (validation split)")
    data = lam.join(reported.add_suffix(f" ({paper.REPORTED})"), how="outer")
    chapter.figures["fig7"] = publish(fig, "fig7_lambda_sweep", data, folder=book.figures)
    chapter.tables["fig7"] = shown(data.rename(columns=lambda c: c.replace("rank1", "rank-1 (%)")
                                               .replace("mAP", "mAP (%)").replace("runs", "training runs"))
                                   .rename_axis("λ"))
    seeded_pairs = [(runs.lambdas[REFERENCE_LAMBDA], runs.lambdas[k]) for k in SEEDED_LAMBDAS if k != REFERENCE_LAMBDA]
    versus = {k: v["rank1"] for k, v in versus_same_seed(runs.lambdas, REFERENCE_LAMBDA, seeded_pairs).items()}
    paper_r1 = dict(zip(paper.FIG7_LAMBDA, paper.FIG7_RANK1))
    comparison = pd.DataFrame([{"λ": k, f"rank-1 − rank-1 at λ = {REFERENCE_LAMBDA:g}": v.mean, "95% low": v.low,
                                "95% high": v.high, f"{paper.REPORTED}": paper_r1[k] - paper_r1[REFERENCE_LAMBDA],
                                "verdict": verdict_under(check, paper_r1[k] - paper_r1[REFERENCE_LAMBDA], v,
                                                         per_run=seeded_differences(runs.lambdas, k),
                                                         converged=runs.converged)}
                               for k, v in versus.items()]).set_index("λ")
    chapter.tables["lambda_versus"] = shown(comparison)
    words = lambda_words(lam, versus, levels[REFERENCE_LAMBDA]["rank1"].queries)
    chapter.blocks["lambda_text"] = words.pop("lambda_text")
    chapter.quotes |= words


def leave_one_out(runs: AblationRuns, check: AttributeCheck, chapter: Chapter) -> None:
    """Fig. 6 (published) and its data with verdicts, or the note shown for a dataset without attributes."""
    book = runs.book
    if not runs.removals:
        chapter.notes["fig6"] = (f"Fig. 6 is defined for Market-1501 and DukeMTMC-reID attributes; {book.dataset} "
                                 "has none to leave out." if not REMOVALS.get(stands_for(book.dataset)) else
                                 LEAVE_ONE_OUT_OFF)
        chapter.blocks["loo_text"] = "No removal was trained in this build (above)."
        return
    pairs = [(runs.paired_apr, runs.variants["apr_no_arm"]), (runs.paired_apr, runs.variants["apr_no_attr_loss"])]
    changes = {name: v["rank1"] for name, v in versus_same_seed(runs.removals, "none", pairs).items()}
    fig6 = paper.fig6(stands_for(book.dataset))
    deltas = pd.DataFrame({"this build": {k: v.mean for k, v in changes.items()},
                           "95% low": {k: v.low for k, v in changes.items()},
                           "95% high": {k: v.high for k, v in changes.items()},
                           f"{paper.REPORTED} ({paper.DATASET_LABELS[stands_for(book.dataset)]})": pd.Series(fig6)})
    groups = removed_groups(book)     # a group not even ARN learns here cannot change rank-1 when left out
    deltas["verdict"] = [str(verdict_under(check, fig6[k], v, removed=groups[k], converged=runs.converged))
                         if k in fig6 else "–"
                         for k, v in changes.items()]
    deltas.index.name = "attribute left out"
    full_r1 = 100 * runs.removals["none"][0].metrics["rank1"]
    fig = delta_bars_figure(deltas, f"Fig. 6: change of rank-1 without one attribute (APR with all, training seed 0: "
                                    f"{full_r1:.2f}%)")
    chapter.figures["fig6"] = publish(fig, "fig6_leave_one_out", deltas, folder=book.figures)
    chapter.tables["fig6"] = shown(deltas)
    counts = deltas["verdict"].value_counts()
    chapter.blocks["loo_text"] = (
        f"Leaving out *{deltas['this build'].idxmin()}* has the lowest mean change here "
        f"({deltas['this build'].min():+.2f} points). Of {len(deltas)} removals, {int((deltas['95% high'] < 0).sum())} "
        f"lower rank-1 with an interval below 0 and {int((deltas['95% low'] > 0).sum())} raise it with an interval "
        f"above 0; verdicts: {', '.join(f'{n} {v}' for v, n in counts.items())}. A removal cannot be tested here when "
        "not even ARN learns what it leaves out (the check in chapter 02): leaving out a group no model can recognise "
        "cannot move rank-1.")


def training_correlation(run: RunRecord, names: Sequence[str], book: BookParameters) -> pd.DataFrame:
    """The correlation of ``names`` over the training identities of ``run``'s dataset (over the training images'
    labels where there is no identity table, as for PETA)."""
    # The dataset's folder on this machine (run.json's "dataset_root" is where the run was trained, maybe elsewhere)
    dataset_root = load_run_dataset(run.config, progress=False).root
    path = find_annotation_file(stands_for(book.dataset), dataset_root, book.data_root)
    if path is not None:
        return attribute_correlation(load_attribute_annotations(path)["train"])[list(names)].loc[list(names)]
    labels = load_training_data(run.config, resolve_device("cpu"), decode=False, progress=False)
    return pd.DataFrame(labels.split_attributes("train").astype(float), columns=names).replace(-1, np.nan).corr()


def spearman_off_diagonal(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Spearman's correlation between the off-diagonal entries of two square tables (pairs with a missing
    entry left out)."""
    off = ~np.eye(len(a), dtype=bool)
    pairs = pd.DataFrame({"a": a.to_numpy()[off], "b": b.to_numpy()[off]}).dropna()
    return float(pairs.rank().corr().iloc[0, 1])


def arm_weights(runs: AblationRuns, chapter: Chapter) -> None:
    """ARM's learnt V beside the attributes' correlation (both published), and how far they agree."""
    book, run = runs.book, runs.variants["apr"][0]
    names = run.info["attributes"]
    schema = schema_of(book.dataset)
    label = {n: schema.attribute(n).label if schema else n for n in names}     # "sleeve length", not the file's "up"
    V = pd.DataFrame(run.model().arm.fc.weight.detach().numpy(), index=names, columns=names)
    V.index.name = "V[row, column]"
    correlation = training_correlation(run, names, book)
    correlation.index.name = "corr[row, column]"
    undefined = [label[n] for n in names if correlation[n].isna().all()]
    V, correlation = V.rename(index=label, columns=label), correlation.rename(index=label, columns=label)
    fig_v = heatmap_figure(V, "ARM weights V (this build's APR, first training run)", cmap="RdBu_r", center=0,
                           annotate=False, size=(9, 7.5))
    chapter.figures["arm_weights"] = publish(fig_v, "arm_weights", V.round(5), folder=book.figures)
    fig_c = heatmap_figure(correlation, "attribute correlation, training identities", cmap="RdBu_r", center=0,
                           annotate=False, size=(9, 7.5))
    chapter.figures["attribute_correlation"] = publish(fig_c, "attribute_correlation", correlation.round(4),
                                                       folder=book.figures)
    chapter.quotes |= {"corr_blank": ", ".join(undefined) if undefined else "none",
                       "arm_rho": f"{spearman_off_diagonal(V, correlation):.2f}"}


def ablations(parameters: BookParameters | Mapping[str, Any] | None = None) -> Chapter:
    """Chapter 04 for ``parameters`` (a :class:`BookParameters`, or the chapter's parameters by name)."""
    book = parameters if isinstance(parameters, BookParameters) else BookParameters.from_dict(dict(parameters or {}))
    runs = ablation_runs(book)
    gaps = paper.GAPS.get(stands_for(book.dataset), paper.GAPS["market1501"])
    check = attribute_check(runs.variants["arn"], runs.variants["apr"], book.data_root)   # attributes learnt?
    chapter = Chapter()
    chapter.tables["ablations"], chapter.quotes = ablation_rows(runs, check, gaps)
    chapter.tables["sweep_setting"] = sweep_setting(book)
    lambda_sweep(runs, check, chapter)
    leave_one_out(runs, check, chapter)
    arm_weights(runs, chapter)
    return chapter
