"""The seed-and-query interval: its arithmetic, and its coverage on simulated experiments with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from apr.evaluation.stats import Interval, claim_verdict, seed_query_interval, seed_summary, verdict_agreement


def simulate(rng: np.random.Generator, truth: float, seeds: int, queries: int, binary: bool) -> tuple[np.ndarray,
                                                                                                      np.ndarray]:
    """Outcomes (seeds, queries) of models A and B on the same queries.

    Each query has a difficulty shared by both models plus a model-specific part; each training run
    shifts its model's level (the training variance); each (run, query) adds noise. The expected
    difference over runs and queries is ``truth`` exactly. ``binary``: rank-1-like 0/1 hits drawn
    with those probabilities (kept inside [0.05, 0.95] by construction).
    """
    shared = rng.uniform(-0.25, 0.25, queries)
    def model(level: float) -> np.ndarray:
        own = rng.uniform(-0.08, 0.08, queries)
        runs = rng.normal(0, 0.03, (seeds, 1))
        p = level + shared + own + runs + rng.uniform(-0.05, 0.05, (seeds, queries))
        return (rng.random(p.shape) < p).astype(float) if binary else p
    return model(0.5 + truth), model(0.5)


@pytest.mark.parametrize("binary", [False, True], ids=["continuous", "rank-1 hits"])
@pytest.mark.parametrize("seeds", [3, 5])
def test_the_interval_covers_the_truth_95_percent_of_the_time(binary, seeds):
    rng = np.random.default_rng(2026)
    experiments, truth = 2000, 0.03
    hits = 0
    for _ in range(experiments):
        interval = seed_query_interval(*simulate(rng, truth, seeds, 200, binary))
        hits += interval.low <= truth <= interval.high
    coverage = hits / experiments
    print(f"coverage ({'binary' if binary else 'continuous'}, {seeds} seeds, 200 queries): {coverage:.3f}")
    # 2,000 experiments: the estimate of a 95% method has an SD of 0.005
    assert 0.93 <= coverage <= 0.97, coverage


def test_ignoring_the_seeds_undercovers():
    """The point of the method: an interval over queries alone (one run per model) misses the truth far
    more often than 5% when training runs vary."""
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(1000):
        a, b = simulate(rng, 0.03, 1, 200, binary=False)
        interval = seed_query_interval(a, b)
        hits += interval.low <= 0.03 <= interval.high
    assert hits / 1000 < 0.85


def test_known_numbers():
    a = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    b = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    interval = seed_query_interval(a, b)
    assert interval.mean == pytest.approx(0.625 - 0.25)
    assert interval.seeds == (2, 2) and interval.queries == 4
    assert interval.low < interval.mean < interval.high
    level = seed_query_interval(a)
    assert level.mean == pytest.approx(0.625) and level.seeds == (2,)
    assert seed_summary([70.0, 72.0, 74.0]) == (72.0, 2.0, 3)


def test_bad_shapes_and_values():
    with pytest.raises(ValueError, match="different numbers of queries"):
        seed_query_interval(np.zeros((2, 5)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="NaN"):
        seed_query_interval(np.array([[0.0, np.nan]]))


@pytest.mark.parametrize(("low", "high", "verdict"), [
    (0.5, 7.5, "as large as claimed"),          # excludes 0, reaches the paper's +6.88
    (7.0, 9.0, "as large as claimed"),          # beyond it
    (0.5, 3.5, "smaller than claimed"),         # excludes 0 and the paper's effect
    (-1.69, 0.82, "not seen here"),             # includes 0, excludes the paper's effect
    (-4.48, -0.55, "not seen here"),            # below 0, but not by half the paper's effect
    (-9.0, -4.0, "opposite"),                   # beyond half the paper's effect the other way
    (-3.7, 7.4, "this build cannot tell"),      # includes both
])
def test_a_verdict_holds_the_interval_against_the_papers_effect_and_zero(low, high, verdict):
    assert claim_verdict(+6.88, Interval((low + high) / 2, low, high, (3, 3), 217)) == verdict
    # the same with the sign of everything turned: the paper's effect is a fall
    assert claim_verdict(-6.88, Interval(-(low + high) / 2, -high, -low, (3, 3), 217)) == verdict


def test_a_comparison_without_training_variance_cannot_tell():
    assert claim_verdict(+6.88, Interval(2.0, 0.5, 3.5, (3, 1), 217)) == "this build cannot tell"   # one run


def test_seeds_needed_shrink_with_the_effect_and_stop_at_the_query_term():
    from apr.evaluation.stats import seeds_needed

    differences = np.array([-1.0, 0.5, 1.5, -0.5, 0.0, 1.0])     # SD about 0.9 per seed
    # 2 seeds: t(1) * sqrt(0.8 / 2) = 8.0 > 5; 3 seeds: t(2) * sqrt(0.8 / 3) = 2.2 < 5
    assert seeds_needed(differences, 5.0) == 3 and seeds_needed(differences, 1.0) > seeds_needed(differences, 2.0)
    assert seeds_needed(differences, 1.0, query_variance=1.0) is None      # t * sqrt(q) alone is wider than 1
    with pytest.raises(ValueError, match="2 or more seeds"):
        seeds_needed(differences[:1], 1.0)


def test_run_interval_is_welch():
    from apr.evaluation.stats import run_interval

    interval = run_interval([86.0, 87.0, 88.0], [85.0, 85.5, 86.0])
    assert interval.mean == pytest.approx(1.5)
    assert interval.low < 1.5 < interval.high and interval.seeds == (3, 3)
    with pytest.raises(ValueError, match="at least 2 runs"):
        run_interval([1.0], [2.0, 3.0])


@pytest.mark.parametrize("binary", [False, True], ids=["continuous", "rank-1 hits"])
def test_a_once_trained_model_borrowing_the_reference_variance_covers_95_percent(binary):
    """A sweep point (one run) against a reference trained 3 times, when both vary alike from seed to seed."""
    rng = np.random.default_rng(11)
    experiments, truth = 2000, 0.03
    hits = 0
    for _ in range(experiments):
        a, b = simulate(rng, truth, 3, 200, binary)
        interval = seed_query_interval(a[:1], b, reference=b)
        assert interval.borrowed == 3 and interval.seeds == (1, 3)
        hits += interval.low <= truth <= interval.high
    coverage = hits / experiments
    print(f"coverage, one run borrowing 3 runs' variance ({'binary' if binary else 'continuous'}): {coverage:.3f}")
    assert 0.93 <= coverage <= 0.97, coverage


def test_borrowed_variance_allows_a_verdict_and_is_checked():
    a = np.array([[1.0, 0.0, 1.0, 1.0]])
    b = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert not seed_query_interval(a, b).carries_training_variance
    assert seed_query_interval(a, b, reference=b).carries_training_variance
    assert claim_verdict(+1, Interval(2.0, 0.5, 3.5, (1, 3), 217, borrowed=3)) == "as large as claimed"
    with pytest.raises(ValueError, match="reference: expected at least 2 runs"):
        seed_query_interval(a, b, reference=a)


def simulate_shared_start(rng: np.random.Generator, truth: float, seeds: int, queries: int) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """Like :func:`simulate`, plus a per-seed effect both models share (run k of each shares training seed k)."""
    a, b = simulate(rng, truth, seeds, queries, binary=False)
    shared = rng.normal(0, 0.05, (seeds, 1))
    return a + shared, b + shared


@pytest.mark.parametrize("seeds", [3, 5])
def test_paired_seeds_cover_95_percent_and_are_narrower_when_runs_share_their_start(seeds):
    from apr.evaluation.stats import paired_seed_interval

    rng = np.random.default_rng(5)
    experiments, truth = 2000, 0.03
    hits, paired_width, unpaired_width = 0, 0.0, 0.0
    for _ in range(experiments):
        a, b = simulate_shared_start(rng, truth, seeds, 200)
        interval = paired_seed_interval(a, b)
        assert interval.paired and interval.seeds == (seeds, seeds)
        hits += interval.low <= truth <= interval.high
        paired_width += interval.half_width
        unpaired_width += seed_query_interval(a, b).half_width
    coverage = hits / experiments
    print(f"coverage, paired seeds ({seeds} seeds, shared start): {coverage:.3f}; mean half-width paired "
          f"{paired_width / experiments:.4f}, unpaired {unpaired_width / experiments:.4f}")
    assert 0.93 <= coverage <= 0.97, coverage
    assert paired_width < unpaired_width


def test_paired_seeds_need_matching_runs():
    from apr.evaluation.stats import paired_seed_interval

    with pytest.raises(ValueError, match="paired runs"):
        paired_seed_interval(np.zeros((3, 5)), np.zeros((2, 5)))


def test_a_once_trained_pair_borrowing_the_spread_of_other_pairs_covers_95_percent():
    """Fig. 6: one removal and APR of the same seed, the spread of their difference taken from two other pairs
    (APR − w/o ARM, APR − w/o attri) trained with 3 seeds each, all sharing a per-seed start."""
    from apr.evaluation.stats import borrowed_paired_interval

    rng = np.random.default_rng(8)
    experiments, truth = 2000, 0.03
    hits = 0
    for _ in range(experiments):
        a, b = simulate_shared_start(rng, truth, 1, 200)
        spread = [np.subtract(*simulate_shared_start(rng, 0.0, 3, 200)) for _ in range(2)]
        interval = borrowed_paired_interval(a, b, spread)
        assert interval.paired and interval.borrowed == 6 and interval.carries_training_variance
        hits += interval.low <= truth <= interval.high
    coverage = hits / experiments
    print(f"coverage, one pair borrowing two pairs' spread (3 seeds each): {coverage:.3f}")
    assert 0.93 <= coverage <= 0.97, coverage


def test_verdict_agreement_of_a_null_and_of_a_clear_difference():
    rng = np.random.default_rng(7)
    null = rng.normal(0, 1, 200)
    null = null - null.mean()                                        # a mean of exactly 0
    # A paper effect of 100 SDs: an interval around 0 never reaches it, and excludes 0 in 5% of builds (2.5% on the
    # paper's side: smaller than claimed; 2.5% below, not far enough to be "opposite": not seen here).
    agreement, shares = verdict_agreement(null, 4, 100.0, builds=40_000, rng=rng)
    assert abs(shares["not seen here"] - 0.975) < 0.006 and abs(shares["smaller than claimed"] - 0.025) < 0.006, shares
    assert abs(agreement - (0.975**2 + 0.025**2)) < 0.01, agreement
    clear = null + 5                          # 5 SDs above 0, twice the paper's effect: every interval reaches it
    agreement, shares = verdict_agreement(clear, 8, 2.5, rng=rng)
    assert agreement > 0.999 and shares["as large as claimed"] > 0.999
    # Exactly the paper's effect: an interval falls short of it in 2.5% of builds ("smaller than claimed").
    agreement, shares = verdict_agreement(clear, 8, 5.0, rng=rng)
    assert abs(shares["smaller than claimed"] - 0.025) < 0.006 and abs(agreement - (0.975**2 + 0.025**2)) < 0.01
    near = null + 1.2                                                # near the line with 4 seeds: a coin toss
    low, _ = verdict_agreement(near, 4, 1.2, rng=rng)
    high, shares = verdict_agreement(near, 16, 1.2, rng=rng)         # 16 seeds move it well past the line
    assert low < 0.8 < high and shares["as large as claimed"] > 0.9
    _, shares = verdict_agreement(near, 16, 1.2, query_variance=1.0, rng=rng)   # a large query term: no power
    assert shares["this build cannot tell"] > 0.9
    with pytest.raises(ValueError, match="at least 2"):
        verdict_agreement(near, 1)


def test_interval_verdict_agreement_near_and_far_from_the_line():
    from apr.evaluation.stats import interval_verdict_agreement
    far = Interval(10.0, 8.0, 12.0, (3,), 0)                     # far from 0 and from an effect of 2: one verdict
    assert interval_verdict_agreement(far, 2.0) > 0.999
    # The interval's upper end sits on the paper's effect: each rebuild falls either side of it, a coin toss twice.
    edge = Interval(0.0, -2.0, 2.0, (3,), 0)
    assert 0.4 < interval_verdict_agreement(edge, 2.0) < 0.65
    with pytest.raises(ValueError, match="finite"):
        interval_verdict_agreement(far, float("nan"))


def test_the_attribute_precondition_averages_the_required_groups():
    import pandas as pd

    from apr.book.attribute_check import LEARNED_MARGIN, AttributeCheck, overall_lift, removal_untestable
    majority = pd.Series({"gender": 56.0, "bag": 74.0, "hat": 97.0})
    # One group a little below its majority rate in some runs does not sink a build whose others are well learned.
    accuracy = pd.DataFrame({"gender": [66.0, 65.0, 67.0, 66.5], "bag": [73.6, 75.0, 74.2, 73.9],
                             "hat": [97.0] * 4})
    overall = overall_lift(accuracy, majority, ["gender", "bag"])
    assert overall.mean == pytest.approx(((66.125 - 56) + (74.175 - 74)) / 2) and overall.low > LEARNED_MARGIN
    assert overall_lift(accuracy, majority, ["hat"]).high == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least one group"):
        overall_lift(accuracy, majority, [])
    table = pd.DataFrame({"learnable": [True, True, False]}, index=["gender", "bag", "hat"])
    check = AttributeCheck(table, overall, True, "", "test")
    assert removal_untestable(check, ["hat"]).startswith("not even ARN learns hat")
    assert removal_untestable(check, ["hat", "bag"]) == ""          # the bag types together: one of them is learnt
    assert removal_untestable(check, ["unknown"]) == ""


def test_compare_scorecards_skips_the_interval_test_of_a_single_timing():
    import importlib.util
    from pathlib import Path

    import pandas as pd
    spec = importlib.util.spec_from_file_location("compare",
                                                  Path(__file__).parents[1] / "scripts" / "compare_scorecards.py")
    compare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare)
    def card(timing: float, verdict: str) -> pd.DataFrame:
        return pd.DataFrame({"claim": ["faster", "better"], "measured": [timing, 1.0], "low": [timing, 0.5],
                             "high": [timing, 1.5], "verdict": ["smaller than claimed", verdict]})
    table, agree = compare.compare(card(0.4, "as large as claimed"), card(1.8, "as large as claimed"), ("a", "b"))
    assert agree and list(table["a inside b's interval"]) == ["–", "yes"]
    _, agree = compare.compare(card(0.4, "as large as claimed"), card(0.4, "this build cannot tell"), ("a", "b"))
    assert not agree
