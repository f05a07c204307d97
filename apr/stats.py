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

The interval is ``D ± t * sqrt(V)`` with the Welch–Satterthwaite degrees of freedom of the three
terms, so that three to five seeds give an honestly wide interval rather than the too-narrow one a
percentile bootstrap over so few seeds gives. ``tests/test_stats.py`` measures the coverage on
simulated experiments whose true difference is known.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def scaled(self, factor: float) -> Interval:
        """The same interval in other units (e.g. ×100 for percentage points)."""
        return Interval(self.mean * factor, self.low * factor, self.high * factor, self.seeds, self.queries)


def _as_runs(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"{name}: expected (runs, queries) with at least 2 queries, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{name}: holds NaN or infinite values")
    return values


def seed_query_interval(a: np.ndarray, b: np.ndarray | None = None, level: float = 0.95) -> Interval:
    """95% interval for mean(A) - mean(B) over training seeds and test queries (see the module docstring).

    Parameters
    ----------
    a, b
        Per-query outcomes, shape (runs, queries): row k is training run k scored on every test
        query (rank-1 hit 0/1, average precision ...). The queries must be the same, in the same
        order, for both. ``b=None`` gives the interval of A's own level.

    With one run of a model its training variance cannot be estimated; the interval then holds the
    query term only for that model, and ``seeds`` says so (a caller must not present it as more).
    """
    a = _as_runs(a, "a")
    if b is not None:
        b = _as_runs(b, "b")
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"a and b were scored on different numbers of queries ({a.shape[1]} and {b.shape[1]})")
    per_query = a.mean(0) - (b.mean(0) if b is not None else 0.0)
    queries = per_query.size
    query_variance = raw_query_variance = per_query.var(ddof=1)
    terms: list[tuple[float, float]] = []      # (variance of the estimate, its degrees of freedom)
    for runs in (a, b) if b is not None else (a,):
        k = runs.shape[0]
        if k >= 2:
            terms.append((runs.mean(1).var(ddof=1) / k, k - 1))
            # Each run's mean already carries that run's (run x query) noise / Q, which the query
            # term holds too: take it out of the query term (two-way ANOVA residual variance), or
            # 0/1 outcomes, where that noise dominates, count it twice.
            residual = runs - runs.mean(1, keepdims=True) - runs.mean(0, keepdims=True) + runs.mean()
            query_variance -= (residual**2).sum() / ((k - 1) * (queries - 1)) / k
    # An estimate at or below 0 (tiny or degenerate samples): keep the unadjusted, conservative one.
    terms.append(((query_variance if query_variance > 0 else raw_query_variance) / queries, queries - 1))
    variance = sum(v for v, _ in terms)
    mean = float(per_query.mean())
    if variance == 0:
        return Interval(mean, mean, mean, (a.shape[0],) + ((b.shape[0],) if b is not None else ()), queries)
    dof = variance**2 / sum(v**2 / d for v, d in terms if v > 0)
    half = float(scipy_stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(variance))
    seeds = (a.shape[0],) + ((b.shape[0],) if b is not None else ())
    return Interval(mean, mean - half, mean + half, seeds, queries)


def seed_summary(values: np.ndarray) -> tuple[float, float, int]:
    """(mean, SD, K) of one quantity measured on K training runs (SD is NaN for K = 1)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float("nan"), int(values.size)


VERDICTS = ("reproduces", "contradicts", "cannot tell at this precision")


def claim_verdict(paper_sign: float, interval: Interval) -> str:
    """A paper's claim of a difference with sign ``paper_sign``, against this build's interval.

    "reproduces": same sign, interval excludes 0; "contradicts": opposite sign, interval excludes 0;
    "cannot tell at this precision": the interval includes 0, or one of the models was trained only
    once (its training variance is unknown, so the interval cannot carry it).
    """
    if not interval.excludes_zero() or min(interval.seeds) < 2:
        return VERDICTS[2]
    return VERDICTS[0] if np.sign(interval.mean) == np.sign(paper_sign) else VERDICTS[1]


def run_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> Interval:
    """95% Welch interval for mean(a) - mean(b) of one number per training run (e.g. a model's mean
    attribute accuracy), when per-query outcomes are not at hand: training variance only."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError(f"run_interval needs at least 2 runs of each model, got {a.size} and {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    mean = float(a.mean() - b.mean())
    if va + vb == 0:
        return Interval(mean, mean, mean, (a.size, b.size), 0)
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(scipy_stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(va + vb))
    return Interval(mean, mean - half, mean + half, (a.size, b.size), 0)
