"""Intervals that include training variance: differences between models over training seeds *and* test queries.

A model trained once is one draw from the distribution of models its configuration trains to:
at CPU scale two runs of one configuration differ by several rank-1 points (the floating-point
order of a machine's vector instructions is enough to send training elsewhere). An interval that
resamples only the test queries treats that draw as the model and is far too narrow for a claim
about the configuration. :func:`seed_query_interval` estimates

    D = E_seeds,queries[outcome of A] - E_seeds,queries[outcome of B]

from K_A runs of A and K_B runs of B scored on the same Q queries, with both sources of error:

* **training seeds**: the spread of each model's per-run mean over its K runs,
  ``var(mean_q a_k) / K_A + var(mean_q b_k) / K_B``;
* **test queries**: the spread over queries of the seed-averaged paired difference,
  ``var_q(mean_k a_kq - mean_k b_kq) / Q`` (queries are paired: both models answer the same ones),
  less the (run × query) noise that the per-run means above already carry (its two-way ANOVA
  estimate), which 0/1 outcomes would otherwise count twice.

**Paired seeds.** When run k of A and run k of B share their training seed (so their initialisation, batch
order and augmentation draws), :func:`paired_seed_interval`
takes the per-seed differences ``a_kq - b_kq`` as the sample: the variance the pair shares (a good or bad
draw lifts or sinks both) cancels, as in any paired design, and the interval is that of
the differences' level, over seeds and queries, with K - 1 degrees of freedom for the seed term.

A sweep (one model per λ, one per attribute left out) cannot afford K runs of every point. A model
trained once then *borrows* its training variance from a related configuration trained K times
(``reference=``): its run-to-run variance is taken to be the reference's, with K − 1 degrees of
freedom. That assumes the sweep's points vary from seed to seed as much as the reference does;
the book says so wherever it uses it, and ``tests/test_stats.py`` measures the coverage when the
assumption holds.

The interval is ``D ± t * sqrt(V)`` with the Welch–Satterthwaite degrees of freedom of the
terms, so that three to five seeds give an honestly wide interval rather than the too-narrow one a
percentile bootstrap over so few seeds gives. ``tests/test_stats.py`` measures the coverage on
simulated experiments whose true difference is known.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Interval:
    """A difference (or a level) with its 95% interval and what it rests on."""

    mean: float
    low: float
    high: float
    seeds: tuple[int, ...]      # training runs per model (K_A, K_B), or (K,) for a level
    queries: int
    borrowed: int = 0           # K of the reference whose training variance a once-trained model borrowed
    paired: bool = False        # run k of A and run k of B share training seed k (per-seed differences)

    @property
    def half_width(self) -> float:
        """Half the interval's width: the smallest effect it tells from 0."""
        return (self.high - self.low) / 2

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. ×100 for percentage points)."""
        return Interval(self.mean * factor, self.low * factor, self.high * factor, self.seeds, self.queries,
                        self.borrowed, self.paired)

    @property
    def carries_training_variance(self) -> bool:
        """True when every model's training variance is in the interval (measured, or borrowed)."""
        return min(self.seeds) >= 2 or self.borrowed >= 2


def _check_level(level: float) -> None:
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
        raise ValueError(f"level={level!r}: expected a probability between 0 and 1 (0.95, not 95)")


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return values


def _as_runs(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"{name}: expected (runs, queries) with at least 2 queries, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return values


def _run_terms(runs: np.ndarray) -> tuple[float, float]:
    """(variance of one run's mean over queries across runs, (run x query) residual variance) of K >= 2 runs."""
    k, queries = runs.shape
    residual = runs - runs.mean(1, keepdims=True) - runs.mean(0, keepdims=True) + runs.mean()
    return float(runs.mean(1).var(ddof=1)), float((residual**2).sum() / ((k - 1) * (queries - 1)))


def seed_query_interval(a: np.ndarray, b: np.ndarray | None = None, level: float = 0.95, *,
                        reference: np.ndarray | None = None, dof: float | None = None) -> Interval:
    """95% interval for mean(A) - mean(B) over training seeds and test queries (see the module docstring).

    Parameters
    ----------
    a, b
        Per-query outcomes, shape (runs, queries): row k is training run k scored on every test
        query (rank-1 hit 0/1, average precision ...). The queries must be the same, in the same
        order, for both. ``b=None`` gives the interval of A's own level.
    reference
        Outcomes (K >= 2 runs, same queries) of a related configuration: a model of ``a`` or ``b``
        trained once takes its training variance from these runs (``Interval.borrowed`` = K).
    dof
        Degrees of freedom of the t quantile, instead of the Welch–Satterthwaite ones.

    With one run of a model and no reference, its training variance cannot be estimated; the interval
    then holds the query term only for that model, and ``seeds`` says so (a caller must not present it
    as more).
    """
    _check_level(level)
    a = _as_runs(a, "a")
    models = [a]
    if b is not None:
        models.append(_as_runs(b, "b"))
    if any(m.shape[1] != a.shape[1] for m in models):
        raise ValueError(f"a and b were scored on different numbers of queries ({a.shape[1]} and "
                         f"{models[-1].shape[1]})")
    borrowed = None
    if reference is not None:
        reference = _as_runs(reference, "reference")
        if reference.shape[0] < 2 or reference.shape[1] != a.shape[1]:
            raise ValueError(f"reference: expected at least 2 runs on the same {a.shape[1]} queries, got shape "
                             f"{reference.shape}")
        borrowed = _run_terms(reference)
    per_query = a.mean(0) - (models[1].mean(0) if b is not None else 0.0)
    queries = per_query.size
    query_variance = raw_query_variance = per_query.var(ddof=1)
    # (variance of the estimate, its degrees of freedom) per source of training variance: a model's
    # own runs, or the reference's. Terms estimated from the same runs (a model that is also the
    # reference) are one term, not two independent ones, for the degrees of freedom.
    sources: dict[int, float] = {}             # source -> summed variance of the estimate
    runs_of = {i: m.shape[0] for i, m in enumerate(models)}
    lent = 0
    for index, runs in enumerate(models):
        k = runs.shape[0]
        if k >= 2:
            (run_variance, residual_variance), source = _run_terms(runs), index
        elif borrowed is not None:
            (run_variance, residual_variance), lent = borrowed, reference.shape[0]
            same = [i for i, m in enumerate(models) if m.shape == reference.shape and np.array_equal(m, reference)]
            source = same[0] if same else len(models)
            runs_of[source] = lent
        else:
            continue
        sources[source] = sources.get(source, 0.0) + run_variance / k
        # Each run's mean already carries that run's (run x query) noise / Q, which the query
        # term holds too: take it out of the query term (two-way ANOVA residual variance), or
        # 0/1 outcomes, where that noise dominates, count it twice.
        query_variance -= residual_variance / k
    terms = [(v, runs_of[source] - 1) for source, v in sources.items()]
    # An estimate at or below 0 (tiny or degenerate samples): keep the unadjusted, conservative one.
    terms.append(((query_variance if query_variance > 0 else raw_query_variance) / queries, queries - 1))
    variance = sum(v for v, _ in terms)
    mean = float(per_query.mean())
    seeds = tuple(m.shape[0] for m in models)
    if variance == 0:
        return Interval(mean, mean, mean, seeds, queries, lent)
    if dof is None:
        dof = variance**2 / sum(v**2 / d for v, d in terms if v > 0)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(variance))
    return Interval(mean, mean - half, mean + half, seeds, queries, lent)


def paired_seed_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> Interval:
    """95% interval for mean(A) - mean(B) when row k of ``a`` and row k of ``b`` (runs, queries) were trained
    with the same training seed: the interval of the per-seed differences' level (see the module docstring)."""
    _check_level(level)
    a, b = _as_runs(a, "a"), _as_runs(b, "b")
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"paired runs: expected a and b of one shape with at least 2 runs, got {a.shape} and "
                         f"{b.shape}")
    # t with K - 1 degrees of freedom: the seed term dominates, and the Welch–Satterthwaite count, pulled up
    # by the query term's Q - 1, covered 0.927 with 3 seeds on the simulation of tests/test_stats.py.
    level_of_differences = seed_query_interval(a - b, level=level, dof=a.shape[0] - 1)
    return replace(level_of_differences, seeds=(a.shape[0], b.shape[0]), paired=True)


def borrowed_paired_interval(a: np.ndarray, b: np.ndarray, spread: list[np.ndarray], level: float = 0.95) -> Interval:
    """95% interval for mean(A) - mean(B) from one run of each, trained with the same training seed, when
    the seed-to-seed spread of their difference is borrowed from other pairs trained with several seeds.

    ``a``, ``b``: (1, queries) outcomes of the two runs. ``spread``: per-seed differences (K_i runs, same
    queries) of related model pairs, e.g. APR − APR w/o ARM seed by seed; their run-to-run variance, pooled
    with sum(K_i - 1) degrees of freedom, stands in for that of ``a - b``. Fig. 6 compares each once-trained
    removal with APR of the same seed this way: the pretraining both start from cancels, as in
    :func:`paired_seed_interval`, instead of adding its whole spread to the interval.
    """
    _check_level(level)
    a, b = _as_runs(a, "a"), _as_runs(b, "b")
    if a.shape != b.shape or a.shape[0] != 1:
        raise ValueError(f"a and b: expected one run each on the same queries, got {a.shape} and {b.shape}")
    samples = [_as_runs(x, "spread") for x in spread]
    if not samples or any(x.shape[0] < 2 or x.shape[1] != a.shape[1] for x in samples):
        raise ValueError(f"spread: expected arrays of at least 2 runs on the same {a.shape[1]} queries")
    dof = sum(x.shape[0] - 1 for x in samples)
    run_variance = sum(_run_terms(x)[0] * (x.shape[0] - 1) for x in samples) / dof
    residual_variance = sum(_run_terms(x)[1] * (x.shape[0] - 1) for x in samples) / dof
    per_query = (a - b)[0]
    queries = per_query.size
    query_variance = per_query.var(ddof=1) - residual_variance      # the one run's (run x query) noise
    if query_variance <= 0:
        query_variance = per_query.var(ddof=1)
    terms = [(run_variance, dof), (query_variance / queries, queries - 1)]
    variance = sum(v for v, _ in terms)
    mean = float(per_query.mean())
    lent = sum(x.shape[0] for x in samples)
    if variance == 0:
        return Interval(mean, mean, mean, (1, 1), queries, lent, True)
    welch = variance**2 / sum(v**2 / d for v, d in terms if v > 0)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, min(welch, dof)) * np.sqrt(variance))
    return Interval(mean, mean - half, mean + half, (1, 1), queries, lent, True)


def mean_interval(values: np.ndarray, level: float = 0.95) -> Interval:
    """95% t interval of the mean of one number per training run (e.g. a group's accuracy lift); a single run gives
    a zero-width interval at its value (no training variance known)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"mean_interval: expected finite values of one or more runs, got {values.tolist()}")
    _check_level(level)
    mean = float(values.mean())
    if values.size < 2:
        return Interval(mean, mean, mean, (1,), 0)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return Interval(mean, mean - half, mean + half, (int(values.size),), 0)


def seed_summary(values: np.ndarray) -> tuple[float, float, int]:
    """(mean, SD, K) of one quantity measured on K training runs (SD is NaN for K = 1)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float("nan"), int(values.size)


class Verdict(enum.StrEnum):
    """What a build's evidence says about one of the paper's claims.

    A trained-model claim is a difference the paper reports (its *effect*); the build's 95% interval over training
    runs and test queries is held against both that effect and 0 (:func:`claim_verdict`). A recount of a released
    file agrees with the printed number, differs from it, or shows an erratum of the paper.
    """

    AS_CLAIMED = "as large as claimed"      # the interval excludes 0 and reaches the paper's effect
    SMALLER = "smaller than claimed"        # it excludes 0, on the paper's side, and the paper's effect
    NOT_SEEN = "not seen here"              # it excludes the effect, not beyond half of it on the other side
    OPPOSITE = "opposite"                   # it lies on the other side of 0, beyond half the paper's effect
    CANNOT_TELL = "this build cannot tell"  # it includes both 0 and the paper's effect: no power
    UNTESTABLE = "untestable here"          # a precondition of the claim fails in this build (the row says which)
    NOT_RUN = "not run here"                # the build cannot measure it (the row says what it needs)
    AGREES = "agrees"                       # a recount equals the printed number
    DIFFERS = "differs"                     # a recount does not
    ERRATUM = "erratum"                     # a recount differs where the errata page lists a difference

    def __repr__(self) -> str:   # shown as the plain word in notebooks and tables
        return repr(self.value)

    __hash__ = str.__hash__       # equal to its word, so it must hash like it (Enum hashes the member's name)


# The verdicts an interval can give a trained-model claim, in the order the scorecard tallies them.
MEASURED_VERDICTS = (Verdict.AS_CLAIMED, Verdict.SMALLER, Verdict.NOT_SEEN, Verdict.OPPOSITE, Verdict.CANNOT_TELL)


def _verdict_of(low: np.ndarray, high: np.ndarray, effect: float) -> np.ndarray:
    """Index into :data:`MEASURED_VERDICTS` of intervals (low, high) against the paper's ``effect`` (vectorised)."""
    if effect < 0:                                   # mirror: the paper's effect is then positive
        low, high, effect = -high, -low, -effect
    out = np.full(np.shape(low), 4)                  # cannot tell: includes 0 and the effect
    out = np.where(high < effect, 2, out)            # includes 0, excludes the effect: not seen here
    out = np.where(high < -effect / 2, 3, out)       # beyond half the effect on the other side: opposite
    out = np.where(low > 0, np.where(high >= effect, 0, 1), out)   # excludes 0 on the paper's side
    return out


def effect_verdict(paper_effect: float, low: float, high: float) -> Verdict:
    """The verdict of an interval [``low``, ``high``] of an effect against the paper's ``paper_effect`` (see
    :func:`claim_verdict`); a single measurement with no interval is ``low == high``."""
    if not (np.isfinite(paper_effect) and np.isfinite(low) and np.isfinite(high)) or low > high:
        raise ValueError(f"effect_verdict: expected finite numbers and low <= high, got {paper_effect}, {low}, {high}")
    return MEASURED_VERDICTS[int(_verdict_of(np.float64(low), np.float64(high), paper_effect))]


def claim_verdict(paper_effect: float, interval: Interval) -> Verdict:
    """The paper's claimed difference ``paper_effect`` against this build's 95% interval of it.

    *as large as claimed*: the interval excludes 0 and reaches the paper's effect (or beyond); *smaller than
    claimed*: it excludes 0 on the paper's side and excludes the paper's effect; *not seen here*: it excludes the
    effect and reaches no further than half of it the other way (it includes 0, or excludes it by less: a small
    reversal is not called one); *opposite*: it lies on the other side of 0, further than half the paper's effect;
    *this build cannot tell*: it includes both 0 and the effect, or a model was trained once and borrowed no
    training variance (the interval cannot carry it).
    """
    if not interval.carries_training_variance:
        return Verdict.CANNOT_TELL
    return effect_verdict(paper_effect, interval.low, interval.high)


def every_point_verdict(paper_effects: Sequence[float], intervals: Sequence[Interval]) -> Verdict:
    """A claim about every point of a curve (e.g. "ahead at every gallery size"): the verdict that is worst for the
    claim among the points' verdicts (opposite, then not seen here, then this build cannot tell, then smaller than
    claimed); as large as claimed only when every point is."""
    verdicts = [claim_verdict(p, i) for p, i in zip(paper_effects, intervals)]
    for worst in (Verdict.OPPOSITE, Verdict.NOT_SEEN, Verdict.CANNOT_TELL, Verdict.SMALLER):
        if worst in verdicts:
            return worst
    return Verdict.AS_CLAIMED if verdicts else Verdict.CANNOT_TELL


def seeds_needed(differences: np.ndarray, effect: float, *, query_variance: float = 0.0, level: float = 0.95,
                 most: int = 64) -> int | None:
    """The fewest paired training seeds per model whose expected interval, ``t(K - 1) * sqrt(s^2 / K + q)``, is
    narrower than the paper's effect, so that a build could tell it from 0; None when even ``most`` seeds cannot
    (the query term ``q`` alone is too wide: more test queries are needed, not more seeds)."""
    _check_level(level)
    differences = np.asarray(differences, dtype=np.float64).ravel()
    if differences.size < 2:
        raise ValueError(f"seeds_needed: expected the per-seed differences of 2 or more seeds, got {differences.size}")
    spread = differences.var(ddof=1)
    for k in range(2, most + 1):
        if scipy_stats.t.ppf(0.5 + level / 2, k - 1) * np.sqrt(spread / k + query_variance) < abs(effect):
            return k
    return None


def run_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95, *, paired: bool = False) -> Interval:
    """95% interval for mean(a) - mean(b) of one number per training run (e.g. a model's mean attribute
    accuracy), when per-query outcomes are not at hand: training variance only. Welch's interval, or with
    ``paired`` (run k of each shares training seed k) the t interval of the per-seed differences."""
    _check_level(level)
    a, b = _finite(a, "a"), _finite(b, "b")
    if a.size < 2 or b.size < 2:
        raise ValueError(f"run_interval needs at least 2 runs of each model, got {a.size} and {b.size}")
    if paired and a.size != b.size:
        raise ValueError(f"paired runs: expected as many runs of each model, got {a.size} and {b.size}")
    mean = float(a.mean() - b.mean())
    if paired:
        variance, dof = (a - b).var(ddof=1) / a.size, a.size - 1
    else:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        variance = va + vb
        dof = variance**2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if variance > 0 else 1
    if variance == 0:
        return Interval(mean, mean, mean, (a.size, b.size), 0, paired=paired)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(variance))
    return Interval(mean, mean - half, mean + half, (a.size, b.size), 0, paired=paired)


def verdict_agreement(differences: np.ndarray, seeds: int, paper_effect: float = 1.0, *, query_variance: float = 0.0,
                      level: float = 0.95, builds: int = 20_000, rng: np.random.Generator | None = None
                      ) -> tuple[float, dict[str, float]]:
    """How often two independent builds of ``seeds`` paired training seeds each give one verdict
    (:func:`claim_verdict` against ``paper_effect``), and how often a build gives each verdict.

    Each build's per-seed differences are drawn from a normal with the mean and SD of ``differences`` (the per-seed
    differences at hand, e.g. pooled over builds with other numerics), and its interval is the one
    :func:`paired_seed_interval` gives: ``mean ± t(seeds - 1) * sqrt(var / seeds + query_variance)``, where
    ``query_variance`` is the query term of the difference (0 for :func:`run_interval`). The estimate plugs in the
    measured mean and SD, so it is itself uncertain; it tells which verdicts sit near the line between two, where
    a change of machine can move them, and how many seeds move them away from it.
    """
    _check_level(level)
    differences = np.asarray(differences, dtype=np.float64).ravel()
    if differences.size < 2 or seeds < 2:
        raise ValueError(f"verdict_agreement needs at least 2 measured differences and 2 seeds per build, got "
                         f"{differences.size} and {seeds}")
    if not np.isfinite(differences).all() or not np.isfinite(paper_effect):
        raise ValueError("verdict_agreement: the differences and the paper's effect must be finite numbers")
    rng = np.random.default_rng(0) if rng is None else rng
    t = scipy_stats.t.ppf(0.5 + level / 2, seeds - 1)
    center, spread = differences.mean(), differences.std(ddof=1)

    def verdicts() -> np.ndarray:
        draws = rng.normal(center, spread, (builds, seeds))
        mean = draws.mean(1)
        half = t * np.sqrt(draws.var(1, ddof=1) / seeds + query_variance)
        return _verdict_of(mean - half, mean + half, paper_effect)

    first, second = verdicts(), verdicts()
    shares = {str(name): float((first == i).mean()) for i, name in enumerate(MEASURED_VERDICTS)}
    return float((first == second).mean()), shares


def interval_verdict_agreement(interval: Interval, paper_effect: float, level: float = 0.95, *,
                               builds: int = 20_000, rng: np.random.Generator | None = None) -> float:
    """How often two rebuilds give one verdict on ``paper_effect`` when all that is known is this build's
    ``interval`` (e.g. a once-trained point that borrowed its seed spread): each rebuild's estimate is drawn from a
    normal around the measured mean with the interval's standard error, and keeps the interval's width. Cruder than
    :func:`verdict_agreement`, which also lets the width vary with the seeds drawn."""
    _check_level(level)
    if not (np.isfinite(paper_effect) and np.isfinite(interval.mean) and np.isfinite(interval.half_width)):
        raise ValueError("interval_verdict_agreement: expected a finite interval and paper effect")
    rng = np.random.default_rng(0) if rng is None else rng
    half = interval.half_width
    error = half / scipy_stats.norm.ppf(0.5 + level / 2)
    first, second = (rng.normal(interval.mean, error, builds) for _ in range(2))
    return float((_verdict_of(first - half, first + half, paper_effect)
                  == _verdict_of(second - half, second + half, paper_effect)).mean())


def paired_verdict_agreement(a: np.ndarray, b: np.ndarray, paper_effect: float, level: float = 0.95, *,
                             builds: int = 20_000) -> float:
    """:func:`verdict_agreement` of the paired comparison ``a - b`` ((runs, queries) outcomes, run k of each trained
    with training seed k), with this comparison's own per-seed differences and query term, at its number of seeds:
    the estimated share of rebuilds whose :func:`paired_seed_interval` gives the same verdict."""
    _check_level(level)
    interval = paired_seed_interval(a, b, level)
    differences = (_as_runs(a, "a") - _as_runs(b, "b")).mean(1)
    return verdict_agreement(differences, differences.size, paper_effect,
                             query_variance=query_term(interval, differences, level), level=level, builds=builds)[0]


def query_term(interval: Interval, differences: np.ndarray, level: float = 0.95) -> float:
    """The query term of a :func:`paired_seed_interval` (its variance less the seed term of the per-seed
    ``differences``): the part that more seeds do not shrink."""
    _check_level(level)
    differences = np.asarray(differences, dtype=np.float64).ravel()
    t = scipy_stats.t.ppf(0.5 + level / 2, differences.size - 1)
    return max(0.0, (interval.half_width / t) ** 2 - differences.var(ddof=1) / differences.size)
