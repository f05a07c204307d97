"""The convergence check (apr.book.convergence): the schedules it trains, the criterion, and what a failed check does
to the verdicts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apr.book.convergence import CONVERGED_GAIN, convergence_check, convergence_words
from apr.evaluation.stats import Interval, Verdict
from apr.experiments import BookParameters
from apr.experiments.configs import convergence_configs, convergence_epochs


def runs(*pairs: tuple[float, float]) -> list[SimpleNamespace]:
    """One stand-in run per (rank-1, mAP) pair, in points."""
    return [SimpleNamespace(metrics={"rank1": r / 100, "mAP": m / 100}) for r, m in pairs]


def test_the_check_trains_a_third_two_thirds_and_all_of_the_schedule_on_the_validation_split():
    assert convergence_epochs(10) == (3, 7, 10) and convergence_epochs(30) == (10, 20, 30)
    assert convergence_epochs(2) == (1, 2) and convergence_epochs(1) == (1,)
    book = BookParameters()
    configs = convergence_configs(book)
    assert list(configs) == [("ide", 7), ("ide", 13), ("ide", 20), ("apr", 7), ("apr", 13), ("apr", 20)]
    for (variant, epochs), seeded in configs.items():
        assert [c.train_seed for c in seeded] == [0, 1]
        assert all(c.variant == variant and c.epochs == epochs and c.validation_ids > 0 for c in seeded)
        assert all(c.lr_decay_epoch is None for c in seeded)        # each schedule steps at its own last third
    # APR's whole schedule is the λ sweep's reference at the build's reading: trained once for both
    assert configs[("apr", 20)][0].attribute_loss_reduction == book.reading
    assert configs[("ide", 20)][0].attribute_loss_reduction == "mean"    # IDE has no attribute term to read
    assert len(convergence_configs(BookParameters(seeds=1))[("ide", 20)]) == 1


def test_a_schedule_converged_when_its_last_third_adds_under_a_point_to_each_model_and_metric():
    flat = {("ide", 7): runs((90, 80), (92, 81)), ("ide", 10): runs((90.5, 80.5), (92.5, 81.9)),
            ("apr", 7): runs((88, 79), (89, 80)), ("apr", 10): runs((88.2, 79.3), (88.9, 80.6))}
    check = convergence_check(flat)
    assert check.converged and check.reason == "" and check.epochs == 10
    assert check.gains["IDE"] == pytest.approx({"rank1": 0.5, "mAP": 0.7})       # paired by seed, then the mean
    assert check.gains["APR"]["mAP"] == pytest.approx(0.45)
    assert convergence_words(check).startswith("yes: the last third of the 10-epoch schedule added +0.5 rank-1")
    assert convergence_words(check).endswith("under 1 point of mAP to each")
    # rank-1 is shown, not judged: it moves by more than a point from seed to seed on few validation queries
    assert convergence_check(flat | {("ide", 10): runs((93, 80.5), (95, 81.9))}).converged
    assert list(check.table["epochs"]) == [7, 10, 7, 10] and list(check.table["model"]) == ["IDE"] * 2 + ["APR"] * 2
    assert check.table.loc[1, "validation mAP (%)"] == pytest.approx(81.2)

    climbing = dict(flat) | {("apr", 10): runs((88.2, 79.3), (89.0, 82.5))}
    check = convergence_check(climbing)
    assert not check.converged and check.gains["APR"]["mAP"] == pytest.approx(1.4) and 1.4 > CONVERGED_GAIN
    assert check.reason.startswith("the models had not stopped climbing: on the validation split the last third of "
                                   "the 10-epoch schedule still added +0.5 rank-1 and +0.7 mAP to IDE, +0.1 rank-1 "
                                   "and +1.4 mAP to APR (the criterion: under 1 point of mAP to each)")
    assert convergence_words(check) == f"no: {check.reason}"
    # the gain is a difference of means: one run of the longer schedule is compared with the first of the shorter
    assert convergence_check({("ide", 7): runs((90, 80), (95, 85)), ("ide", 10): runs((90.5, 80.5))}).converged
    assert not convergence_check({("ide", 10): runs((90, 80))}).converged      # nothing to compare: not shown


def test_an_unconverged_build_makes_every_claim_about_trained_models_untestable():
    from apr.book.attribute_check import verdict_under
    from apr.book.claims import ClaimGroup, Row, apply_attribute_check

    learned = SimpleNamespace(learned=True, reason="")
    clear = Interval(mean=5.0, low=4.0, high=6.0, seeds=(3, 3), paired=True, queries=100)
    assert verdict_under(learned, 5.0, clear) != Verdict.UNTESTABLE
    assert verdict_under(learned, 5.0, clear, converged=False) == Verdict.UNTESTABLE
    assert verdict_under(learned, 5.0, clear, rests_on_attributes=False, converged=False) == Verdict.UNTESTABLE

    climbing = convergence_check({("ide", 7): runs((80, 70)), ("ide", 10): runs((85, 75))})
    rows = [Row(claim="a", group=ClaimGroup.TRAINED, paper="+1.00", verdict=Verdict.NOT_SEEN, attributes=False,
                agreement=0.9),
            Row(claim="b", group=ClaimGroup.TRAINED, paper="–", verdict=Verdict.NOT_RUN),
            Row(claim="c", group=ClaimGroup.RECOUNT, paper="printed", verdict=Verdict.AGREES)]
    checked = apply_attribute_check(rows, learned, climbing)
    assert checked[0].verdict == Verdict.UNTESTABLE and checked[0].agreement is None
    assert checked[0].note == climbing.reason
    assert checked[1:] == rows[1:]
    assert apply_attribute_check(rows, learned, convergence_check(
        {("ide", 7): runs((80, 70)), ("ide", 10): runs((80.5, 70.5))})) == rows
