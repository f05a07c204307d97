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
attributes when APR's lift is above 0 for every required group, with its 95% interval over training runs
(:data:`Verdict` rows that rest on them are otherwise "untestable here"). ARN's lift measures how learnable the
build's data make each group; the default synthetic stand-in is calibrated so that it is at least half the
paper's (:data:`CALIBRATION_SHARE`).
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

REQUIRED_LIFT = 5.0        # points: a group the paper's ARN lifts this far above its majority rate must be learned
CALIBRATION_SHARE = 0.5    # the stand-in's ARN lift, as a share of the paper's, that the default build reaches


@dataclass(frozen=True)
class AttributeCheck:
    """Per evaluation group (rows): this build's ARN and APR accuracy, the majority rate, their lifts, the paper's
    lift and whether the group is required and learned; ``learned``: whether the precondition holds."""

    table: pd.DataFrame
    learned: bool
    reason: str                     # why not, in one sentence ("" when learned)
    reference: str                  # where the paper's majority rates come from

    @property
    def required(self) -> list[str]:
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
    table["learned"] = table["APR lift low"] > 0
    failing = [g for g in table.index if table.loc[g, "required"] and not table.loc[g, "learned"]]
    reason = ""
    if failing:
        reason = (f"the attributes are not learned in this build: APR's accuracy of {', '.join(failing)} is not above "
                  "its majority rate (95% interval over training runs)")
    return AttributeCheck(table, not failing, reason, reference)


def calibration_holds(check: AttributeCheck) -> bool:
    """Whether ARN's lift reaches :data:`CALIBRATION_SHARE` of the paper's lift for every required group and no
    group the paper lifts above its majority rate stays at it (the stand-in's calibration target)."""
    table = check.table
    required = table["required"]
    enough = (table["ARN lift"] >= CALIBRATION_SHARE * table["paper lift"])[required].all()
    moving = table["paper lift"] > 2.0
    not_stuck = (table["ARN lift low"] > 0)[moving & ~required].all()
    return bool(enough and not_stuck)


def check_table(check: AttributeCheck) -> pd.DataFrame:
    """The check as the chapters show it: one row per group, the numbers rounded, the paper's lift where known."""
    table = check.table
    out = pd.DataFrame({
        "majority rate": table["majority"].map("{:.1f}".format),
        "ARN": table["ARN"].map("{:.1f}".format),
        "ARN lift": [f"{m:+.1f} ({lo:+.1f} to {hi:+.1f})" for m, lo, hi in
                     zip(table["ARN lift"], table["ARN lift low"], table["ARN lift high"])],
        "APR": table["APR"].map("{:.1f}".format),
        "APR lift": [f"{m:+.1f} ({lo:+.1f} to {hi:+.1f})" for m, lo, hi in
                     zip(table["APR lift"], table["APR lift low"], table["APR lift high"])],
        "paper's lift": table["paper lift"].map(lambda v: "–" if pd.isna(v) else f"{v:+.1f}"),
        "required": table["required"].map({True: "yes", False: "–"}),
        "APR above its majority rate": table["learned"].map({True: "yes", False: "no"}),
    }, index=table.index)
    out.index.name = "group"
    return out


def verdict_under(check: AttributeCheck, paper_effect: float, interval: Interval, *,
                  rests_on_attributes: bool = True) -> Verdict:
    """The scorecard's verdict on a claim: *untestable here* when it rests on attributes this build did not learn,
    else :func:`apr.evaluation.stats.claim_verdict`."""
    if rests_on_attributes and not check.learned:
        return Verdict.UNTESTABLE
    return claim_verdict(paper_effect, interval)
