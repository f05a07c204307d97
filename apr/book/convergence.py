"""Have this build's models stopped climbing? The precondition of every claim about trained models.

A difference between two models that are still learning says as much about the schedule as about the method. So
every build trains IDE and APR (its reading of Eq. 6) on the validation split (training identities held out,
:data:`apr.experiments.configs.VALIDATION_IDS`; the test split is never looked at) for a third, two thirds and all
of its schedule, each schedule with its own learning-rate step at its last third
(:func:`apr.experiments.configs.convergence_configs`). The criterion, stated before any APR − IDE was looked at:
the schedule has *converged* when its last third adds less than :data:`CONVERGED_GAIN` point of validation mAP to
IDE and to APR (the full schedule − the two-thirds one, mean over the training seeds, paired by seed). Validation
rank-1 is shown beside it but not judged: on the default build's few validation queries it sits above 90% and one
seed's rank-1 moves by more than a point from the next's, more than the criterion could tell. When the schedule
has not converged every claim about trained models is ``Verdict.UNTESTABLE`` in the build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..evaluation.stats import seed_summary
from ..experiments.cache import RunRecord, load_or_train_many, stored_runs
from ..experiments.configs import VARIANT_NAMES, convergence_configs
from ..experiments.parameters import BookParameters

CONVERGED_GAIN = 1.0   # points of validation mAP the schedule's last third may add
METRICS = {"rank1": "rank-1", "mAP": "mAP"}
JUDGED = "mAP"         # the metric the criterion holds; rank-1 is shown


@dataclass(frozen=True)
class Convergence:
    """Validation rank-1 and mAP per model and schedule (``table``: one row per model and epochs, mean and SD over
    the training seeds), what the last third of the schedule added to each model and metric (``gains``, points),
    and whether every model's mAP gain is below :data:`CONVERGED_GAIN` (``converged``)."""

    table: pd.DataFrame
    gains: dict[str, dict[str, float]]
    epochs: int
    converged: bool

    @property
    def climb(self) -> str:
        """What the last third of the schedule added on the validation split, against the criterion."""
        return (f"on the validation split the last third of the {self.epochs}-epoch schedule "
                f"{'added' if self.converged else 'still added'} {gain_words(self.gains)} (the criterion: under "
                f"{CONVERGED_GAIN:g} point of {METRICS[JUDGED]} to each)")

    @property
    def reason(self) -> str:
        """Why the claims about trained models are untestable, in one sentence ("" when the schedule converged)."""
        if self.converged:
            return ""
        return f"the models had not stopped climbing: {self.climb}, so the claims about trained models are untestable"


def gain_words(gains: Mapping[str, Mapping[str, float]]) -> str:
    """"+0.4 rank-1 and +0.8 mAP to IDE, +0.2 rank-1 and +1.3 mAP to APR"."""
    return ", ".join(" and ".join(f"{gain:+.1f} {METRICS[m]}" for m, gain in by_metric.items()) + f" to {model}"
                     for model, by_metric in gains.items())


def _metric(records: Sequence[RunRecord], metric: str) -> np.ndarray:
    return np.array([100 * r.metrics[metric] for r in records], dtype=np.float64)


def convergence_check(runs: Mapping[tuple[str, int], Sequence[RunRecord]]) -> Convergence:
    """The check on the validation runs of :func:`apr.experiments.configs.convergence_configs`, keyed by (variant,
    epochs) in order: a model's longest schedule is the build's, the one before it its first two thirds."""
    rows = []
    for (variant, epochs), records in runs.items():
        row = {"model": VARIANT_NAMES[variant].split(" (")[0], "epochs": epochs, "training runs": len(records)}
        for metric, name in METRICS.items():
            mean, sd, _ = seed_summary(_metric(records, metric))
            row |= {f"validation {name} (%)": mean, f"{name} SD": sd}
        rows.append(row)
    table = pd.DataFrame(rows)      # in the order of ``runs``: model by model, shortest schedule first
    gains: dict[str, dict[str, float]] = {}
    full = max(e for _, e in runs)
    for variant in dict.fromkeys(v for v, _ in runs):
        schedules = sorted(e for v, e in runs if v == variant)
        if len(schedules) < 2:
            continue
        last, before = runs[(variant, schedules[-1])], runs[(variant, schedules[-2])]
        k = min(len(last), len(before))          # paired by training seed: run i of each has seed i
        gains[VARIANT_NAMES[variant].split(" (")[0]] = {
            metric: float(np.mean(_metric(last[:k], metric) - _metric(before[:k], metric))) for metric in METRICS}
    converged = bool(gains) and all(by_metric[JUDGED] < CONVERGED_GAIN for by_metric in gains.values())
    return Convergence(table, gains, full, converged)


def convergence_words(check: Convergence) -> str:
    """The answer to "have the models stopped climbing?", with the gains it rests on."""
    if check.converged:
        return (f"yes: the last third of the {check.epochs}-epoch schedule added {gain_words(check.gains)} on the "
                f"validation split, under {CONVERGED_GAIN:g} point of {METRICS[JUDGED]} to each")
    return f"no: {check.reason}"


def book_convergence(parameters: BookParameters, *, train: bool = True) -> Convergence:
    """The check of the build with ``parameters``: its validation runs trained where missing (``train``), else
    read from the store (the scorecard, after the chapters)."""
    configs = convergence_configs(parameters)
    if train:
        return convergence_check({k: load_or_train_many(c, execution=parameters.execution, progress=False)
                                  for k, c in configs.items()})
    return convergence_check({k: stored_runs(c) for k, c in configs.items()})
