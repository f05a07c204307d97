"""The claims of the paper, one row each: the paper's effect, this build's, its interval and a verdict.

Computed after the chapters have run, from the runs in the store (nothing is trained here) and the data the
chapters saved; :mod:`apr.book.scorecard` writes the rows as ``claims.csv``, the forest plot and the book page.

Rows fall in three groups (:class:`ClaimGroup`): claims about trained models, recounts of the released annotation
files (no training), and claims that need the paper's scale or data. A trained-model claim is a difference the
paper reports (its *effect*, in points); the build's 95% interval over training runs and test queries is held
against the effect and against 0 (:func:`apr.evaluation.stats.claim_verdict`; :mod:`apr.book.verdicts` says what each
verdict means). Each row also gives the smallest effect this build
could tell from 0 (its interval's half-width) and the training seeds a build would need to tell the paper's
effect from 0. A claim that rests on recognised attributes (APR against IDE, ARM, the attribute loss, λ, leaving
an attribute out, the τ filter and its speed-up, the distractors) is ``Verdict.UNTESTABLE`` when the build's models
did not learn the attributes (:mod:`apr.book.attribute_check`).

A row's ``seeds`` column gives the training runs behind it (``3/3`` = three of each model; ``1/1 paired (spread
of 6)`` = a point and its reference of the same seed, borrowing the spread of seeded pairs).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..data.attributes import SCHEMAS, load_attribute_annotations
from ..data.datasets import stands_for
from ..data.paths import find_annotation_file
from ..evaluation.stats import (
    Interval,
    Verdict,
    claim_verdict,
    effect_verdict,
    every_point_verdict,
    query_term,
    seed_query_interval,
    seeds_needed,
    verdict_agreement,
)
from ..experiments.attributes import PAPER_ATTRIBUTE_DATASETS, other_attribute_runs
from ..experiments.cache import RunRecord, stored_runs
from ..experiments.configs import (
    REFERENCE_LAMBDA,
    REMOVALS,
    SEEDED_LAMBDAS,
    lambda_configs,
    leave_one_out_configs,
    other_reading_configs,
    removed_groups,
    seeded_configs,
    seeded_variant_configs,
)
from ..experiments.distractors import FIG8_DATASETS, book_distractor_outcomes
from ..experiments.parameters import READING_NAMES, BookParameters
from . import paper
from .verdicts import agreement_of, with_doubt
from .annotation_stats import colour_cells, fig4_differences, positive_counts
from .attribute_check import AttributeCheck, attribute_check, removal_untestable
from .convergence import Convergence, book_convergence
from .report import (
    ATTRIBUTE_DATASET_NEEDS,
    FIG9_TAUS,
    acceleration_outcomes,
    attribute_accuracy_gap,
    compare_runs,
    fig8_paper_effects,
    growth_fall_gap,
    growth_gaps,
    paper_share_tau,
    per_seed_differences,
    rebuild_agreement,
    versus_same_seed,
)

FIG4_TOLERANCE = 0.01   # the cells are printed with two decimals
RESAMPLED = ("; the larger gallery is this build's resampled (features plus a little noise, the same attribute "
             "predictions: chapter 05)")


class ClaimGroup(enum.StrEnum):
    """The three kinds of evidence, in the order the scorecard shows them."""

    TRAINED = "claims about trained models"
    RECOUNT = "recounts of the released annotation files"
    SCALE = "claims that need the paper's scale or data"


@dataclass(frozen=True, kw_only=True)
class Row:
    """One claim of the paper and what this build found (the columns of ``claims.csv``)."""

    claim: str
    group: ClaimGroup
    paper: str                          # the paper's number, as text
    paper_effect: float | None = None   # the paper's effect, in the row's unit (for the forest plot)
    measured: float | None = None
    low: float | None = None
    high: float | None = None
    unit: str = "points"
    seeds: str = ""
    verdict: Verdict
    detectable: float | None = None     # the smallest effect this build tells from 0: its interval's half-width
    seeds_needed: str = ""              # training seeds per model a build needs to tell the paper's effect from 0
    agreement: float | None = None      # estimated share of rebuilds (same seeds) giving this verdict again
    note: str = ""
    chapter: str = ""
    anchor: str = ""                    # the label of the chapter's section that shows it
    attributes: bool = False            # rests on recognised attributes (untestable when they are not learned)
    removes: str = ""                   # Fig. 6: the evaluation groups the row leaves out, comma-separated


COLUMNS = list(Row.__dataclass_fields__)


def _seeds(interval: Interval) -> str:
    """"3/3 paired" (run k of each shares seed k), "3/3", or "1/3 (spread of 3)" when a once-trained model
    borrowed the reference's run-to-run spread."""
    text = "/".join(str(k) for k in interval.seeds) + (" paired" if interval.paired else "")
    return f"{text} (spread of {interval.borrowed})" if interval.borrowed else text


def _needed(per_run: np.ndarray | None, interval: Interval, effect: float) -> str:
    """The seeds a build needs to tell ``effect`` from 0, from the per-run (or per-seed) differences behind
    ``interval`` and the part of its width more seeds do not shrink."""
    if per_run is None or len(per_run) < 2 or effect == 0:
        return "–"
    per_run = np.asarray(per_run, dtype=np.float64)
    k = seeds_needed(per_run, effect, query_variance=query_term(interval, per_run))
    return str(k) if k is not None else "more than 64 (more test queries needed)"


def _difference_row(claim: str, effect: float | None, interval: Interval, *, chapter: str, anchor: str,
                    attributes: bool, per_run: np.ndarray | None = None, agreement: float | None = None,
                    note: str = "", removes: str = "") -> Row:
    measured = {"measured": interval.mean, "low": interval.low, "high": interval.high, "seeds": _seeds(interval),
                "detectable": interval.half_width}
    where = {"chapter": chapter, "anchor": anchor, "attributes": attributes, "removes": removes}
    if effect is None:
        return Row(claim=claim, group=ClaimGroup.SCALE, paper="–", **measured, verdict=Verdict.NOT_RUN,
                   note="the paper gives no number for this dataset", **where)
    if not interval.carries_training_variance:
        note = note or "one training run of a model: its training variance is unknown, the interval holds queries only"
    agreement = agreement if agreement is not None else agreement_of(interval, effect, per_run)
    verdict, leaning = with_doubt(claim_verdict(effect, interval), effect, interval.half_width, agreement)
    return Row(claim=claim, group=ClaimGroup.TRAINED, paper=f"{effect:+.2f}", paper_effect=effect, **measured,
               verdict=verdict, seeds_needed=_needed(per_run, interval, effect), agreement=agreement,
               note="; ".join(n for n in (leaning, note) if n), **where)


def _not_run(claim: str, paper_text: str, needs: str, effect: float | None = None) -> Row:
    return Row(claim=claim, group=ClaimGroup.SCALE, paper=paper_text, paper_effect=effect, verdict=Verdict.NOT_RUN,
               note=needs)


def model_claims(parameters: BookParameters) -> list[Row]:
    """Rows of Tables 1, 4-5 and the ablations of §5.3.2: from the stored runs of this build."""
    key = stands_for(parameters.dataset)
    gaps = paper.GAPS.get(key)
    if gaps is None:
        return [_not_run("APR beats IDE and ARN (rank-1)", "–", f"the paper's comparisons are on Market-1501, "
                         f"DukeMTMC-reID and PETA; this build ran {parameters.dataset}")]
    runs = {v: stored_runs(configs) for v, configs in seeded_variant_configs(parameters).items()}
    other = {v: stored_runs(configs) for v, configs in other_reading_configs(parameters).items()}
    rows = []
    for reading, apr_runs in ((parameters.reading, runs), (parameters.other_reading, runs | other)):
        rows += _reading_rows(key, gaps, apr_runs, READING_NAMES[reading])
    return rows


def _reading_rows(key: str, gaps: dict[str, float | None], runs: dict[str, list[RunRecord]], reading: str
                  ) -> list[Row]:
    """Tables 1 and 4's rows and the ablations of §5.3.2 for one reading of Eq. 6 (``runs``: APR and its
    ablations trained in it, IDE and ARN)."""
    versus = {}
    for v in ("ide", "arn", "apr_no_arm", "apr_no_attr_loss"):
        apr = runs["apr"][:len(runs[v])]     # APR's first runs, as many as the other model has: compared seed by seed
        versus[v] = (apr, runs[v], compare_runs(apr, runs[v]))

    def row(claim: str, gap: str, other: str, metric: str, chapter: str, anchor: str, attributes: bool) -> Row:
        apr, them, intervals = versus[other]
        column = "rank1" if metric == "rank1" else "AP_official"
        effect = gaps[gap]
        agreement = rebuild_agreement(apr, them, effect).get(metric) if effect is not None else None
        return _difference_row(f"{claim} ({reading})", effect, intervals[metric], chapter=chapter, anchor=anchor,
                               attributes=attributes, per_run=per_seed_differences(apr, them, column),
                               agreement=agreement)

    rows = [
        row("APR beats IDE (Baseline 1): rank-1", "ide_r1", "ide", "rank1", "02_baselines", "baselines-reid", True),
        row("APR beats IDE (Baseline 1): mAP", "ide_map", "ide", "mAP", "02_baselines", "baselines-reid", True),
        row("APR beats ARN (Baseline 2): rank-1", "arn_r1", "arn", "rank1", "02_baselines", "baselines-reid", False),
        row("ARM helps (APR − APR w/o ARM): rank-1", "arm_r1", "apr_no_arm", "rank1", "04_ablations",
            "ablations-arm", True),
        row("ARM helps (APR − APR w/o ARM): mAP", "arm_map", "apr_no_arm", "mAP", "04_ablations", "ablations-arm",
            True),
        row("The attribute loss helps (APR − APR w/o attri): rank-1", "attr_r1", "apr_no_attr_loss", "rank1",
            "04_ablations", "ablations-arm", True),
    ]
    attribute = _attribute_row(key, runs["arn"], runs["apr"])
    rows.append(replace(attribute, claim=f"{attribute.claim} ({reading})"))
    return rows


def _attribute_claim(key: str) -> str:
    table = paper.ATTRIBUTE_MEANS[key][0]
    return f"Attribute recognition: APR above ARN, mean accuracy ({table}, {paper.DATASET_LABELS[key]})"


def _attribute_row(key: str, arn: list[RunRecord], apr: list[RunRecord]) -> Row:
    """APR − ARN mean attribute accuracy on the paper dataset ``key`` (Tables 4–7), paired by seed."""
    _, paper_arn, paper_apr = paper.ATTRIBUTE_MEANS[key]
    effect = paper_apr - paper_arn
    arn_accuracy, apr_accuracy, gap = attribute_accuracy_gap(arn, apr)
    where = {"chapter": "02_baselines", "anchor": "baselines-attributes", "attributes": False}
    if gap is not None:
        differences = np.subtract(apr_accuracy, arn_accuracy) if gap.paired else None
        agreement = verdict_agreement(differences, len(apr), effect)[0] if differences is not None else None
        return _difference_row(_attribute_claim(key), effect, gap, per_run=differences, agreement=agreement,
                               note="interval over training runs, paired by seed; the test images are fixed", **where)
    return Row(claim=_attribute_claim(key), group=ClaimGroup.TRAINED, paper=f"{effect:+.2f}", paper_effect=effect,
               measured=float(np.mean(apr_accuracy) - np.mean(arn_accuracy)), seeds="1/1",
               verdict=Verdict.CANNOT_TELL, note="one training run of each", **where)


def attribute_claims(parameters: BookParameters) -> list[Row]:
    """Tables 4–7 on the paper datasets other than the build's own (whose row :func:`model_claims` gives): measured
    where their images are under the data root (the chapter trained them), else not run with what they need."""
    own = stands_for(parameters.dataset)
    measured = other_attribute_runs(parameters, progress=False, train=False)
    rows = []
    for key in PAPER_ATTRIBUTE_DATASETS:
        if key == own:
            continue
        if key in measured:
            rows.append(_attribute_row(key, measured[key]["arn"], measured[key]["apr"]))
        else:
            _, paper_arn, paper_apr = paper.ATTRIBUTE_MEANS[key]
            rows.append(_not_run(_attribute_claim(key), f"{paper_apr - paper_arn:+.2f} ({paper_arn} → {paper_apr})",
                                 "needs " + ATTRIBUTE_DATASET_NEEDS[key].replace("`", ""), paper_apr - paper_arn))
    return rows


def sweep_claims(parameters: BookParameters) -> list[Row]:
    """Figs. 7 and 6: each sweep point against its seeded reference (λ = 0.9 on the validation split; APR with
    every attribute on the test split), a once-trained point borrowing the reference's spread."""
    seeds = parameters.ablation_runs
    points = {lam: stored_runs(seeded_configs(c, seeds) if lam in SEEDED_LAMBDAS else [c])
              for lam, c in lambda_configs(parameters).items()}
    reported = dict(zip(paper.FIG7_LAMBDA, paper.FIG7_RANK1))
    rows = []
    pairs = [(points[REFERENCE_LAMBDA], points[k]) for k in SEEDED_LAMBDAS if k != REFERENCE_LAMBDA]
    for lam, interval in versus_same_seed(points, REFERENCE_LAMBDA, pairs).items():
        gap = reported[lam] - reported[REFERENCE_LAMBDA]
        per_run = per_seed_differences(points[lam], points[REFERENCE_LAMBDA], "rank1") if len(points[lam]) > 1 else None
        rows.append(_difference_row(f"λ = {lam:g} vs λ = {REFERENCE_LAMBDA:g}: rank-1 "
                                    f"{'below' if gap < 0 else 'above'} "
                                    f"(Fig. 7, validation split)", gap, interval["rank1"], chapter="04_ablations",
                                    anchor="ablations-lambda", attributes=True, per_run=per_run))
    removals = leave_one_out_configs(parameters)
    key = stands_for(parameters.dataset)
    fig6 = paper.fig6(key)
    if not removals and REMOVALS.get(key):
        rows.append(_not_run("Leaving out one attribute changes rank-1 (Fig. 6)",
                             f"{min(fig6.values()):+.2f} … {max(fig6.values()):+.2f} ({paper.DATASET_LABELS[key]})",
                             "leave_one_out=true (make book LEAVE_ONE_OUT=1): one model per attribute left out, "
                             "trained once each; at the quick scale such a model's smallest detectable change "
                             "exceeds every change the paper reports, so the default build spends them on the "
                             "headline"))
    if removals:
        points = {name: stored_runs(seeded_configs(c, seeds) if name == "none" else [c])
                  for name, c in removals.items()}
        seeded = seeded_variant_configs(parameters, ("apr", "apr_no_arm", "apr_no_attr_loss"))
        apr, no_arm, no_attr = (stored_runs(seeded[v][:seeds]) for v in ("apr", "apr_no_arm", "apr_no_attr_loss"))
        groups = removed_groups(parameters)
        for name, interval in versus_same_seed(points, "none", [(apr, no_arm), (apr, no_attr)]).items():
            direction = "lowers" if fig6[name] < 0 else "raises"
            rows.append(_difference_row(f"Leaving out {name} {direction} rank-1 (Fig. 6)", fig6[name],
                                        interval["rank1"],
                                        chapter="04_ablations", anchor="ablations-leave-one-out", attributes=True,
                                        removes=", ".join(groups[name])))
    return rows


def acceleration_claims(parameters: BookParameters) -> list[Row]:
    """Fig. 9 over APR's training runs: the share of the gallery τ = 0.7 drops, and its rank-1 cost at the paper's
    share of the gallery and at τ = 0.7; and the measured speed-up, as a factor like the paper's (§5.3.5)."""
    runs = stored_runs(seeded_configs(parameters.main_config(), parameters.seeds))
    outcomes = acceleration_outcomes(runs, FIG9_TAUS)
    where = {"chapter": "05_acceleration", "anchor": "acceleration-tau-matched", "attributes": True}
    kept = paper.FIG9_GALLERY_PCT[paper.FIG9_TAU.index(0.7)]
    dropped = seed_query_interval(100 - outcomes[0.7]["gallery_used"])
    rows = [_difference_row("τ = 0.7 drops about nine tenths of the gallery, points (Fig. 9)", 100 - kept, dropped,
                            per_run=(100 - outcomes[0.7]["gallery_used"]).mean(1), **where,
                            note="share of the gallery the filter never compares, per query")]
    matched = paper_share_tau(outcomes)
    # The claim's words stay the same from build to build (scorecards are compared by them); the τ is in the note.
    for claim, tau in ((f"Keeping the paper's {kept:.2f}% of the gallery costs rank-1 (Fig. 9)", matched),
                       ("τ = 0.7 costs rank-1 (Fig. 9)", 0.7)):
        # Paired within each run: the same model with and without the filter, on the same queries.
        cost = outcomes[tau]["rank1"] - outcomes[1.0]["rank1"]
        share = float(outcomes[tau]["gallery_used"].mean())
        unchanged = not cost.any()
        note = (("the sweep's τ nearest the paper's share: " if tau == matched and tau != 0.7 else "")
                + f"τ = {tau:g} keeps {share:.1f}% of the gallery here; "
                + ("no query's rank-1 changes in any training run, so the interval has no width" if unchanged
                   else "rank-1 with the filter − without it, paired within each run"))
        row = _difference_row(claim, -paper.TIMING["tau_0.7_rank1_drop"], seed_query_interval(cost),
                              per_run=cost.mean(1), note=note, **where)
        rows.append(replace(row, seeds_needed="–") if unchanged else row)
    timing = parameters.figures / "acceleration_timing.csv"
    if timing.is_file():
        table = pd.read_csv(timing)
        at = table[np.isclose(table["tau"], 0.7)].sort_values("gallery")
        claimed = paper.TIMING["full_total_s"] / paper.TIMING["tau_0.7_total_s"]
        for k, point in enumerate([at.iloc[0], at.iloc[-1]][:len(at)]):
            speedup, images = float(point["speedup"]), int(point["gallery"])
            gallery = (f"on this build's gallery ({images:,} images)" if k == 0 else
                       f"on {images:,} images resampled from it")
            rows.append(Row(claim=f"Attribute filtering at τ = 0.7 searches faster, {gallery} (§5.3.5)",
                            group=ClaimGroup.TRAINED, paper=f"×{claimed:.1f} (19,732 images)", paper_effect=claimed,
                            measured=speedup, low=speedup, high=speedup, unit="×", seeds="1 timing",
                            # A factor's "no effect" is ×1: the verdict weighs speed-up − 1 against the paper's.
                            verdict=effect_verdict(claimed - 1, speedup - 1, speedup - 1),
                            note="wall time of the exhaustive ÷ the filtered top-10 search, APR's first run, this "
                                 "machine" + ("" if k == 0 else RESAMPLED),
                            chapter="05_acceleration", anchor="acceleration-speed", attributes=True))
    return rows


def distractor_claims(parameters: BookParameters) -> list[Row]:
    """Fig. 8's two statements (§5.3.4), over the training runs of APR and IDE, from the outcomes the acceleration
    chapter computed (cached with each run)."""
    if parameters.dataset not in FIG8_DATASETS:
        return [_not_run("APR stays ahead of IDE as distractors join the gallery (Fig. 8)", "ahead at every size",
                         "the paper's distractors (Market-1501+500k) join Market-1501: make book DATASET=market1501 "
                         "DATA_ROOT=..., or the synthetic set")]
    growth, _ = book_distractor_outcomes(parameters, progress=False, train=False)
    gaps = growth_gaps(growth)["rank1"]
    reported = [a - b for a, b in zip(paper.FIG8["APR"]["rank1"], paper.FIG8["Baseline 1"]["rank1"])]
    effects = fig8_paper_effects(growth)
    closest = min(range(len(gaps)), key=lambda p: gaps[p].mean / effects[p])
    sizes = ", ".join(f"{s:,}" for s in growth.sizes)
    fall = growth_fall_gap(growth)
    where = {"chapter": "05_acceleration", "anchor": "acceleration-distractors", "attributes": True}
    return [
        Row(claim="APR stays ahead of IDE at every gallery size, rank-1 (Fig. 8)", group=ClaimGroup.TRAINED,
            paper=f"{reported[0]:+.1f} … {reported[-1]:+.1f}", paper_effect=effects[closest],
            measured=gaps[closest].mean, low=gaps[closest].low, high=gaps[closest].high, seeds=_seeds(gaps[closest]),
            detectable=gaps[closest].half_width, verdict=every_point_verdict(effects, gaps),
            note=f"APR − IDE at the size where it is smallest against the paper's ({growth.sizes[closest]:,} images) "
                 f"of {sizes}; intervals that hold for every size at once (Bonferroni); the verdict is the worst of "
                 "the sizes'", **where),
        _difference_row("APR's rank-1 falls faster than IDE's as distractors join (Fig. 8)", paper.FIG8_RANK1_FALL_GAP,
                        fall, **where,
                        note=f"(APR at the largest − at the smallest gallery) − (the same for IDE), rank-1 points, "
                             f"paired by seed; here {growth.sizes[0]:,} to {growth.sizes[-1]:,} images "
                             f"(×{growth.sizes[-1] / growth.sizes[0]:.1f}), the paper 19,732 to 519,732 (×26.3)"),
    ]


def annotation_claims(parameters: BookParameters) -> list[Row]:
    """Figs. 3 and 4 recounted from the released attribute files (deterministic: no interval)."""
    rows: list[Row] = []
    for dataset, bars in (("market1501", paper.FIG3_MARKET), ("dukemtmc", paper.FIG3_DUKE)):
        label = paper.DATASET_LABELS[dataset]
        path = find_annotation_file(dataset, data_root=parameters.data_root)
        if path is None:
            needs = f"needs {'market' if dataset == 'market1501' else 'duke'}_attribute.mat under the data root"
            rows += [_not_run(f"Fig. 3 counts ({label})", "printed", needs),
                     _not_run(f"Fig. 4 correlations ({label})", "printed", needs)]
            continue
        schema, train = SCHEMAS[dataset], load_attribute_annotations(path)["train"]
        counts = positive_counts(train, schema)
        worst = max(abs(int(counts[name]) - value) for name, value in bars.items())
        recount = {"group": ClaimGroup.RECOUNT, "chapter": "01_attributes", "unit": "", "paper": "printed"}
        rows.append(Row(claim=f"Fig. 3 counts of positive training identities ({label})", measured=float(worst),
                        verdict=Verdict.AGREES if worst <= 1 else Verdict.DIFFERS, anchor="attributes-fig3",
                        note="largest |recounted − printed| over the bars, in identities (the figure is exact to ±1)",
                        **recount))
        differences = fig4_differences(train, schema, dataset)
        diff, colour = np.abs(differences.to_numpy()), colour_cells(differences)
        plain, coloured = float(diff[~colour].max()), float(diff[colour].max())
        rows.append(Row(claim=f"Fig. 4 correlations, non-colour cells ({label})", measured=plain,
                        verdict=Verdict.AGREES if plain <= FIG4_TOLERANCE else Verdict.DIFFERS,
                        anchor="attributes-fig4",
                        note=f"largest |recounted − printed|; agreement means within {FIG4_TOLERANCE} (2 printed "
                             "decimals)", **recount))
        rows.append(Row(claim=f"Fig. 4 correlations, colour cells ({label})", measured=coloured,
                        verdict=Verdict.AGREES if coloured <= FIG4_TOLERANCE else Verdict.ERRATUM,
                        anchor="attributes-fig4",
                        note="largest |recounted − printed|; only the colour cells differ, which points to colour "
                             "labels revised after the paper was written (errata page, item 14)", **recount))
    return rows


def not_run_claims(parameters: BookParameters) -> list[Row]:
    """Claims this build cannot measure, each with what it would need."""
    dataset = parameters.dataset
    rows = []
    if stands_for(dataset) != "dukemtmc":
        rows.append(_not_run("DukeMTMC-reID re-ID (Table 2)", "APR 73.92 / 55.56",
                             "needs DukeMTMC-reID under the data root: make book DATASET=dukemtmc DATA_ROOT=... "
                             "(make book DATASET=synthetic_duke runs the same code path on a synthetic stand-in)"))
    if dataset != "market1501":
        rows.append(_not_run("Market-1501 at paper scale (Table 1)", "APR 87.04 / 66.89",
                             "needs the real Market-1501 and a GPU: make book DATASET=market1501 DATA_ROOT=... "
                             "SCALE=paper DEVICE=cuda"))
    if dataset != "peta":
        rows.append(_not_run("PETA re-ID (Table 3)", "APR 58.05 / 55.84",
                             "needs PETA under the data root: make book DATASET=peta DATA_ROOT=..."))
    return rows


def build_attribute_check(parameters: BookParameters) -> AttributeCheck:
    """The attribute-learning check of this build's ARN and APR runs."""
    runs = {v: stored_runs(c) for v, c in seeded_variant_configs(parameters, ("arn", "apr")).items()}
    return attribute_check(runs["arn"], runs["apr"], parameters.data_root)


def apply_attribute_check(rows: list[Row], check: AttributeCheck, convergence: Convergence | None = None
                          ) -> list[Row]:
    """Rows that rest on recognised attributes become ``Verdict.UNTESTABLE`` when the attributes are not learned, and a
    Fig. 6 row when it leaves out groups that not even ARN learns in this build; with ``convergence``, every row
    about trained models when the schedule had not converged."""
    def checked(row: Row) -> Row:
        if row.group != ClaimGroup.TRAINED or row.verdict == Verdict.NOT_RUN:
            return row
        reasons = [convergence.reason] if convergence is not None and convergence.reason else []
        if row.attributes:
            reasons.append(check.reason or removal_untestable(check, [g for g in row.removes.split(", ") if g]))
        reason = "; ".join(r for r in reasons if r)
        return replace(row, verdict=Verdict.UNTESTABLE, note=reason, agreement=None) if reason else row
    return [checked(r) for r in rows]


def claim_rows(parameters: BookParameters, check: AttributeCheck | None = None,
               convergence: Convergence | None = None) -> list[Row]:
    """Every claim row of a finished build with these parameters (``check`` and ``convergence``: its attribute and
    convergence checks, computed when not given)."""
    rows = (model_claims(parameters) + sweep_claims(parameters) + acceleration_claims(parameters)
            + distractor_claims(parameters) + attribute_claims(parameters) + annotation_claims(parameters)
            + not_run_claims(parameters))
    if parameters.dataset_file is not None:   # your own dataset: no effect of the paper's is about it
        return [replace(r, paper="–", paper_effect=None, verdict=Verdict.NOT_RUN, agreement=None, seeds_needed="",
                        note="the paper reports nothing on this dataset; this build's numbers are in the chapters")
                if r.group == ClaimGroup.TRAINED else r for r in rows]
    return apply_attribute_check(rows, check or build_attribute_check(parameters),
                                 convergence or book_convergence(parameters, train=False))


def claims_table(rows: list[Row]) -> pd.DataFrame:
    """The rows as the scorecard's table (the columns of ``claims.csv``)."""
    return pd.DataFrame([asdict(r) for r in rows], columns=COLUMNS)


def as_multiple(row: dict[str, Any] | pd.Series) -> tuple[float, float, float] | None:
    """The build's effect and interval as multiples of the paper's effect (1: as large as claimed, 0: none,
    negative: the other way), for the forest plot; None without a measured effect. A factor (unit "×", a speed-up)
    has no effect at ×1, so its multiple is (build − 1) ÷ (paper − 1)."""
    effect = row.get("paper_effect")
    if effect is None or pd.isna(effect) or pd.isna(row.get("measured")):
        return None
    none = 1.0 if row.get("unit") == "×" else 0.0
    if effect == none:
        return None
    values = [(row[k] - none) / (effect - none) for k in ("measured", "low", "high")]
    low, high = sorted(values[1:])
    return float(values[0]), float(low), float(high)
