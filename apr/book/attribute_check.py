"""Did this build learn the attributes? The precondition of every claim that rests on recognised attributes.

APR's mechanism works on its attribute predictions: ARM re-weights them, the ID classifier reads them, the τ
filter trusts the confident ones. A build whose models predict each attribute's most common value has nothing for
that mechanism to work with, and its APR-versus-IDE rows say nothing about APR. So every build measures, per
evaluation group of the paper's Table 4/5, the accuracy of ARN and APR on the test images next to the *majority
rate* (the accuracy of always predicting the group's most common value, :func:`apr.evaluation.metrics.
majority_accuracy`), and compares each *lift* (accuracy − majority rate) with the paper's: the paper's ARN
accuracy minus the majority rate of the released annotation file's test identities.

A group is *required* when the paper's lift is at least :data:`REQUIRED_LIFT` points (the paper's models learn it;
age, sleeve length, handbag and hat stay near their majority rate in the paper too). The build has learned the
attributes when APR's lift averaged over the required groups is above :data:`LEARNED_MARGIN` points with its 95%
interval over training runs (:data:`Verdict` rows that rest on them are otherwise ``Verdict.UNTESTABLE``). The average,
not every group alone: APR's mechanism reads the attribute vector as a whole, and a build whose APR lifts one group
by a point on one machine and by none on another (the default stand-in's backpack) would flip every verdict with it.
A group is *learnable* here when ARN's lift is above the margin: leaving out a group that not even ARN learns
cannot change rank-1, so those rows of Fig. 6 are untestable (:func:`removal_untestable`). ARN's lift measures
how learnable the build's data make each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.attributes import load_attribute_annotations
from ..data.datasets import stands_for
from ..data.paths import find_annotation_file
from ..engine.device import resolve_device
from ..engine.run_data import load_training_data
from ..evaluation.metrics import majority_accuracy
from ..evaluation.stats import Interval, Verdict, claim_verdict, mean_interval
from ..experiments.cache import RunRecord
from . import paper
from .verdicts import agreement_of, with_doubt

REQUIRED_LIFT = 5.0        # points: a group the paper's ARN lifts this far above its majority rate must be learned
LEARNED_MARGIN = 1.0       # points: a lift whose interval stays below this is not called learned (one wrong in 100)


@dataclass(frozen=True)
class AttributeCheck:
    """Per evaluation group (rows): this build's ARN and APR accuracy, the majority rate, their lifts, the paper's
    lift and whether the group is required, learned by APR and learnable (ARN); ``overall``: APR's lift averaged
    over the required groups, with its interval; ``learned``: whether the precondition holds."""

    table: pd.DataFrame
    overall: Interval
    learned: bool
    reason: str                     # why not, in one sentence ("" when learned)
    reference: str                  # where the paper's majority rates come from

    @property
    def required(self) -> list[str]:
        """The evaluation groups the paper's models learn (its lift at least 5 points): the check averages over them."""
        return [g for g, r in self.table["required"].items() if r]


def _accuracies(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """(runs, groups) accuracy in % of each run on its test images."""
    return pd.DataFrame([{k: 100 * v for k, v in r.metrics["attribute_accuracy"].items() if k != "mean"} for r in runs])


def attribute_check(arn: Sequence[RunRecord], apr: Sequence[RunRecord], data_root: str | None = None) -> AttributeCheck:
    """The attribute-learning check of a build from its ARN and APR runs (see the module docstring)."""
    config = apr[0].config
    training = load_training_data(config, resolve_device("cpu"), decode=False, progress=False)
    schema = training.data.schema
    truth = training.split_attributes("gallery")
    majority = 100 * majority_accuracy(truth, schema).drop("mean")
    key = stands_for(config.dataset)
    table = pd.DataFrame(index=majority.index)
    for name, runs in (("ARN", arn), ("APR", apr)):
        accuracy = _accuracies(runs)[majority.index]
        table[name] = accuracy.mean()
        intervals = [mean_interval(accuracy[g] - majority[g]) for g in majority.index]
        table[f"{name} lift"] = [i.mean for i in intervals]
        table[f"{name} lift low"] = [i.low for i in intervals]
        table[f"{name} lift high"] = [i.high for i in intervals]
    table["majority"] = majority
    reference = "no per-group accuracy in the paper for this dataset"
    if key in ("market1501", "dukemtmc"):
        reported = paper.attribute_table(key).loc["Baseline 2 (ARN)"].drop("Avg")
        table["paper ARN"] = reported
        path = find_annotation_file(key, data_root=data_root)
        if path is not None:
            real = load_attribute_annotations(path)["test"][schema.names].to_numpy()
            table["real majority"] = 100 * majority_accuracy(real, schema).drop("mean")
            reference = f"the majority rates of the test identities of {path.name}"
        else:
            table["real majority"] = majority
            reference = "this build's own majority rates (the released annotation file was not found)"
        table["paper lift"] = table["paper ARN"] - table["real majority"]
        table["required"] = table["paper lift"] >= REQUIRED_LIFT
    else:
        table["paper ARN"] = np.nan
        table["real majority"] = np.nan
        table["paper lift"] = np.nan
        table["required"] = True                        # no reference: every group must be above its majority rate
    table["learned"] = table["APR lift low"] > LEARNED_MARGIN
    table["learnable"] = table["ARN lift low"] > LEARNED_MARGIN
    required = list(table.index[table["required"]])
    overall = overall_lift(_accuracies(apr), majority, required)
    learned = overall.low > LEARNED_MARGIN
    reason = ""
    if not learned:
        reason = (f"the attributes are not learned in this build: APR's accuracy, averaged over the required groups "
                  f"({', '.join(required)}), is {overall.mean:+.1f} points from their majority rates (95% interval "
                  f"over training runs {overall.low:+.1f} to {overall.high:+.1f}; needed: above {LEARNED_MARGIN:+.1f})")
    return AttributeCheck(table, overall, learned, reason, reference)


def overall_lift(accuracy: pd.DataFrame, majority: pd.Series, groups: Sequence[str]) -> Interval:
    """The lift of ``accuracy`` ((runs, groups), %) over the ``majority`` rates, averaged over ``groups`` run by
    run, with its 95% interval over the runs."""
    groups = list(groups)
    if not groups:
        raise ValueError("overall_lift: expected at least one group to average over")
    return mean_interval(accuracy[groups].mean(axis=1).to_numpy() - majority[groups].mean())


def removal_untestable(check: AttributeCheck, groups: Sequence[str]) -> str:
    """Why leaving out ``groups`` (evaluation groups) cannot be tested in this build, or "" when it can: not even
    ARN learns any of them here (its lift stays below :data:`LEARNED_MARGIN`)."""
    known = [g for g in groups if g in check.table.index]
    if not known or check.table.loc[known, "learnable"].any():
        return ""
    return (f"not even ARN learns {', '.join(known)} in this build (lift not above {LEARNED_MARGIN:+.1f} points), "
            "so leaving it out cannot change rank-1")


def _lift_words(mean: float, low: float, high: float) -> str:
    """A lift and its interval in points; one that is 0 in every run says so: the model predicts the group's most
    common value for every test image, and has learned nothing of it."""
    if max(abs(mean), abs(low), abs(high)) < 0.05:
        return "0.0 (always the majority value)"
    return f"{mean:+.1f} ({low:+.1f} to {high:+.1f})"


def check_table(check: AttributeCheck) -> pd.DataFrame:
    """The check as the chapters show it: one row per group, the numbers rounded, the paper's lift where known."""
    table = check.table
    out = pd.DataFrame({
        "majority rate": table["majority"].map("{:.1f}".format),
        "ARN": table["ARN"].map("{:.1f}".format),
        "ARN lift": [_lift_words(m, lo, hi) for m, lo, hi in
                     zip(table["ARN lift"], table["ARN lift low"], table["ARN lift high"])],
        "APR": table["APR"].map("{:.1f}".format),
        "APR lift": [_lift_words(m, lo, hi) for m, lo, hi in
                     zip(table["APR lift"], table["APR lift low"], table["APR lift high"])],
        "paper's lift": table["paper lift"].map(lambda v: "–" if pd.isna(v) else f"{v:+.1f}"),
        "required": table["required"].map({True: "yes", False: "–"}),
        f"APR lift above {LEARNED_MARGIN:g}": table["learned"].map({True: "yes", False: "no"}),
        f"ARN lift above {LEARNED_MARGIN:g}": table["learnable"].map({True: "yes", False: "no"}),
    }, index=table.index)
    out.index.name = "group"
    return out


def verdict_under(check: AttributeCheck, paper_effect: float, interval: Interval, *,
                  rests_on_attributes: bool = True, removed: Sequence[str] = (),
                  per_run: np.ndarray | None = None, converged: bool = True) -> Verdict:
    """The scorecard's verdict on a claim: ``Verdict.UNTESTABLE`` when the build's schedule had not ``converged``
    (:mod:`apr.book.convergence`) or the claim rests on attributes this build did not learn (or leaves out
    ``removed`` groups no model learns here), else :func:`apr.evaluation.stats.claim_verdict`, made *this build
    cannot tell* when a rebuild would likely not repeat it (:func:`apr.book.verdicts.with_doubt`; ``per_run``: the
    per-seed differences behind ``interval``, when it has them)."""
    if not converged or rests_on_attributes and (not check.learned or removal_untestable(check, removed)):
        return Verdict.UNTESTABLE
    verdict = claim_verdict(paper_effect, interval)
    return with_doubt(verdict, paper_effect, interval.half_width, agreement_of(interval, paper_effect, per_run))[0]


def precondition_words(check: AttributeCheck, why: str, converged: bool = True) -> str:
    """Whether the claims of a section that rest on the attributes are tested here, in a clause: ``why`` they rest
    on them, what the attribute check found, and whether the schedule had ``converged``
    (:mod:`apr.book.convergence`)."""
    if check.learned and not converged:
        return (f"{why}; this build's models learned the attributes but had not stopped climbing (chapter 02), so the "
                "claims are untestable here")
    if check.learned:
        return f"{why}; this build's models learned the attributes, so the claims are tested"
    return f"{why}, and this build's models did not learn them, so the claims are untestable here"
