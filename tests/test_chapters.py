"""The chapters' analyses (``apr.book.chapters``), called as functions: on a smoke build's runs, and their
sentence-making parts on edge cases no build happens to produce."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from apr.book.attribute_check import AttributeCheck
from apr.book.build import NBVAL_PARAMETERS
from apr.book.chapters import Chapter
from apr.book.chapters.ablations import ablations, lambda_levels, lambda_words, spearman_off_diagonal
from apr.book.chapters.acceleration import acceleration, small_gallery_words, tau_curve
from apr.book.chapters.attributes import attributes_chapter, fig4_verdict, readable
from apr.book.chapters.baselines import baselines, check_runs, check_words, feature_gap_words, recognition_needs
from apr.book.chapters.data import data_chapter, evaluation_groups
from apr.book.chapters.state_of_the_art import best_other_method, state_of_the_art, with_this_build
from apr.data.paths import REPO_ROOT
from apr.evaluation.stats import Interval
from apr.experiments import BookParameters

GLUE = re.compile(r"\{glue:text\}`([a-z0-9_]+)`")


def quoted_names(chapter_file: str) -> set[str]:
    """The glue names a chapter's prose quotes."""
    return set(GLUE.findall((REPO_ROOT / "notebooks" / chapter_file).read_text()))


def shown_names(chapter_file: str, kind: str) -> set[str]:
    """The names a chapter's cells look up as ``chapter.<kind>s["name"]`` or ``chapter.<kind>("name")``."""
    text = (REPO_ROOT / "notebooks" / chapter_file).read_text()
    return set(re.findall(rf'chapter\.{kind}(?:s\[|\()"([a-z0-9_]+)"', text))


def check_page_is_computed(chapter: Chapter, chapter_file: str) -> None:
    """Every glue name the chapter's prose quotes, every table and figure its cells show, is in ``chapter``."""
    assert isinstance(chapter, Chapter)
    assert quoted_names(chapter_file) <= set(chapter.quotes)          # no {glue:text} left without a value
    text = (REPO_ROOT / "notebooks" / chapter_file).read_text()
    assert set(re.findall(r"\{glue:md\}[ `]([a-z0-9_]+)", text)) <= set(chapter.blocks)   # directive or role
    assert shown_names(chapter_file, "table") <= set(chapter.tables)
    assert shown_names(chapter_file, "figure") <= set(chapter.figures) | set(chapter.notes)


def interval(mean: float, low: float, high: float) -> Interval:
    return Interval(mean, low, high, (3, 3), 100)


@pytest.fixture(scope="module")
def smoke_parameters(tmp_path_factory) -> BookParameters:
    """The nbval build's parameters (the smoke models the book tests train), figures in a folder of the test's."""
    return BookParameters(**(NBVAL_PARAMETERS.to_dict() | {"figures_dir": str(tmp_path_factory.mktemp("figures"))}))


@pytest.mark.slow
def test_the_ablations_chapter_computes_everything_its_page_shows_and_quotes(smoke_parameters):
    chapter = ablations(smoke_parameters.to_dict())
    check_page_is_computed(chapter, "04_ablations.py")
    for name in ("fig7_lambda_sweep", "fig6_leave_one_out", "arm_weights", "attribute_correlation"):
        assert all((smoke_parameters.figures / f"{name}.{kind}").is_file() for kind in ("png", "csv"))
    table = chapter.tables["ablations"]
    assert {"APR", "APR (w/o ARM)", "APR (w/o attri)"} <= set(table.index)
    assert chapter.tables["sweep_setting"].iloc[-1, 0] == smoke_parameters.ablation_runs
    verdicts = set(chapter.tables["lambda_versus"]["verdict"].astype(str))
    assert verdicts and all(v for v in verdicts)
    assert -1 <= float(chapter.quotes["arm_rho"]) <= 1


def test_the_data_chapter_counts_the_splits_it_quotes(smoke_parameters):
    chapter = data_chapter(smoke_parameters)
    check_page_is_computed(chapter, "00_data.py")
    summary = chapter.tables["summary"]
    assert chapter.quotes["n_train_images"] == summary.loc["train", "images"] > 0
    assert chapter.quotes["n_gallery_images"] == summary.loc["gallery", "images"] > 0
    assert chapter.notes["data"].startswith("Attributes of the synthetic identities:")


def test_evaluation_groups_count_a_colour_group_as_one_choice():
    from apr.data import MARKET_SCHEMA

    groups = evaluation_groups(MARKET_SCHEMA)
    colours = [g for g in MARKET_SCHEMA.groups if g.is_colour]
    assert colours and all(groups.loc[g.name, "classes"] == len(g.members) for g in colours)
    assert groups.loc["age", "classes"] == 4 and groups.loc["age", "values"].count(" / ") == 3


def test_the_attributes_chapter_computes_its_page_from_the_annotation_files(smoke_parameters):
    chapter = attributes_chapter(smoke_parameters)
    check_page_is_computed(chapter, "01_attributes.py")
    files = chapter.tables["files"]
    assert set(files.index) == set(chapter.tables["quirks"]) == set(chapter.tables["fig3_counts"])
    assert not any(str(path).startswith("/") for path in files["file (under the data root)"])   # no machine's path
    assert len(chapter.figures["fig3"]) == len(chapter.figures["fig4"]) == len(files)
    assert 0 <= float(chapter.quotes["p_dress_female"]) <= 1


def test_fig4_verdict_says_what_agrees_and_what_does_not():
    row = {"largest |difference|, other cells": 0.004, "largest |difference|, colour cells": 0.25}
    assert fig4_verdict([]).startswith("No released annotation file was found")
    words = fig4_verdict([row])
    assert "agree with the printed ones to the two printed decimals (largest difference 0.004)" in words
    assert "the colour cells differ by up to 0.25" in words
    words = fig4_verdict([row | {"largest |difference|, other cells": 0.05, "largest |difference|, colour cells": 0.0}])
    assert "differ from the printed ones (largest difference 0.050)" in words and "colour cells agree too" in words


def test_readable_paths_never_show_the_machine(tmp_path):
    assert readable(REPO_ROOT / "data" / "x.mat", None) == "data/x.mat"
    assert readable(tmp_path / "elsewhere" / "y.mat", str(tmp_path)) == "elsewhere/y.mat"
    assert readable(Path("/nowhere/z.mat"), str(tmp_path)) == "z.mat"


@pytest.mark.slow
def test_the_baselines_chapter_computes_its_page_and_checks_its_runs(smoke_parameters):
    chapter = baselines(smoke_parameters)
    check_page_is_computed(chapter, "02_baselines.py")
    assert chapter.quotes["n_seeds"] == str(smoke_parameters.seeds)
    assert chapter.tables["settings"].loc["training seeds of IDE, ARN and APR", "value"] == smoke_parameters.seeds
    from apr.experiments.cache import load_or_train_many
    from apr.experiments.configs import seeded_variant_configs

    runs = {v: load_or_train_many(c, progress=False) for v, c in seeded_variant_configs(smoke_parameters).items()}
    with pytest.raises(RuntimeError, match="ide: expected training seeds 0..3"):
        check_runs(runs, BookParameters(**(smoke_parameters.to_dict() | {"seeds": 4})))


def test_baselines_sentences_on_both_sides_of_their_conditions():
    overall = interval(2.5, 1.25, 3.75)
    learned = AttributeCheck(pd.DataFrame(), overall, True, "", "the released file")
    assert check_words(learned).startswith("yes: APR's lift averaged over the required groups is +2.5 points "
                                           "(95% interval +1.2 to +3.8)")
    missed = AttributeCheck(pd.DataFrame(), overall, False, "APR's lift is below 1 point", "the released file")
    assert check_words(missed) == ("no: APR's lift is below 1 point; the claims that rest on the attributes are "
                                   "untestable in this build")
    assert feature_gap_words({}) == "not estimated (one training run)"
    gap = {"rank1": interval(-1.0, -2.5, 0.5)}
    assert feature_gap_words(gap) == "-1.00 points rank-1 (95% interval -2.50 to +0.50)"
    needs = pd.DataFrame({"needs": {("PETA", "Table 6"): "images under the data root", ("CUB", "Table 7"): "–"}})
    assert recognition_needs(needs) == "- PETA (Table 6): not run here; needs images under the data root."
    assert recognition_needs(pd.DataFrame({"R-1": [1.0]})) is None


@pytest.mark.slow
def test_the_acceleration_chapter_computes_its_page(smoke_parameters):
    chapter = acceleration(smoke_parameters)
    check_page_is_computed(chapter, "05_acceleration.py")
    assert (smoke_parameters.figures / "acceleration_timing.csv").is_file()
    assert chapter.blocks["fig8_text"].startswith("This build's galleries hold")
    assert float(chapter.tables["fig9"].loc[1.0, "gallery used (%)"]) == 100
    matched = chapter.tables["tau_matched"]
    assert list(matched.index) == ["the paper's τ", "the paper's share of the gallery"]
    assert matched.loc["the paper's τ", "τ"] == "0.7" and chapter.quotes["matched_tau"] == matched.iloc[1]["τ"]


def _curve_outcomes(used_by_tau: dict[float, float]) -> dict[float, dict[str, np.ndarray]]:
    ones = np.ones((2, 10))
    return {tau: {"gallery_used": used * ones, "rank1": 50 * ones,
                  "AP": 40 * ones} for tau, used in used_by_tau.items()}


def test_tau_curve_refuses_a_share_that_shrinks_as_tau_grows():
    curve = tau_curve(_curve_outcomes({0.5: 20.0, 0.7: 40.0, 1.0: 100.0}))
    assert list(curve["gallery_used"]) == [20.0, 40.0, 100.0] and (curve["rank1_change"] == 0).all()
    with pytest.raises(RuntimeError, match="does not grow with τ to 100%"):
        tau_curve(_curve_outcomes({0.5: 50.0, 0.7: 40.0, 1.0: 100.0}))
    with pytest.raises(RuntimeError, match="does not grow with τ to 100%"):
        tau_curve(_curve_outcomes({0.5: 20.0, 1.0: 90.0}))


def test_the_paper_share_tau_is_chosen_on_the_share_alone():
    from apr.book.report import paper_share_tau

    outcomes = _curve_outcomes({0.5: 3.0, 0.55: 8.0, 0.6: 17.0, 0.7: 39.0, 1.0: 100.0})
    assert paper_share_tau(outcomes) == 0.55                # nearest the paper's 8.67% kept at τ = 0.7
    outcomes[0.55]["rank1"] = 0 * outcomes[0.55]["rank1"]   # however badly it does
    assert paper_share_tau(outcomes) == 0.55
    assert paper_share_tau(_curve_outcomes({0.9: 99.0, 1.0: 100.0})) == 0.9   # never τ = 1, the reference


def test_the_precondition_clause_follows_the_attribute_check():
    from apr.book.attribute_check import precondition_words

    learned = SimpleNamespace(learned=True)
    assert precondition_words(learned, "X").endswith("learned the attributes, so the claims are tested")
    assert precondition_words(SimpleNamespace(learned=False), "X").endswith("so the claims are untestable here")
    climbing = precondition_words(learned, "X", converged=False)          # learned, but the schedule had not converged
    assert "learned the attributes but had not stopped climbing" in climbing and climbing.endswith("untestable here")


def test_small_gallery_words_with_and_without_a_tau_that_keeps_a_tenth():
    curve = pd.DataFrame({"gallery_used": [5.0, 9.0, 40.0, 100.0], "rank1": [30.0, 35.0, 50.0, 52.0]},
                         index=pd.Index([0.1, 0.4, 0.7, 1.0], name="tau"))
    assert small_gallery_words(curve) == ("at most 10% of the gallery on average (τ = 0.4, 9.0%) costs 17.00 points "
                                          "of rank-1")
    assert small_gallery_words(curve.iloc[2:]).startswith("no τ of the sweep keeps 10% of the gallery or less")


@pytest.mark.slow
def test_the_state_of_the_art_chapter_puts_this_build_under_the_dataset_it_stands_for(smoke_parameters):
    chapter = state_of_the_art(smoke_parameters)
    check_page_is_computed(chapter, "03_state_of_the_art.py")
    assert "this build" in " ".join(chapter.tables["table1"]["source"])      # the synthetic set stands for Market
    assert "table1" not in chapter.notes
    assert chapter.notes["table2"].startswith("DukeMTMC-reID: not run in this build (synthetic)")
    assert not any("this build" in s for s in chapter.tables["table2"]["source"])
    assert 0 <= chapter.quotes["ranked_hits"] <= chapter.quotes["ranked_queries"] == 5
    assert (smoke_parameters.figures / "ranked_lists_apr.csv").is_file()


def test_the_best_other_method_of_table_1_is_neither_apr_nor_a_baseline():
    best = best_other_method()
    assert best["method"] != "APR" and not best["method"].startswith("Baseline") and best["backbone"] != "CaffeNet"
    assert with_this_build(pd.DataFrame({"source": ["x"]}), "market1501", {}, BookParameters(dataset="peta"),
                           ["source"])[1].startswith("Market-1501: not run in this build (peta)")


def test_lambda_levels_stay_percentages(monkeypatch):
    from apr.book.chapters import ablations as chapter

    # A level whose interval runs past 100 and one past 0: drawn clipped, the means untouched.
    monkeypatch.setattr(chapter, "level_intervals", lambda runs, reference: {
        "rank1": interval(99.0, 97.0, 101.0) if runs[0] == "high" else interval(1.0, -1.0, 3.0),
        "mAP": interval(50.0, 40.0, 60.0)})
    lam, _ = lambda_levels({0.9: ["high"], 0.0: ["low"]})
    assert lam.loc[0.9, "rank1 high"] == 100 and lam.loc[0.0, "rank1 low"] == 0
    assert lam.loc[0.9, "rank1"] == 99.0 and lam.loc[0.0, "rank1"] == 1.0


def _levels(rank1: dict[float, float]) -> pd.DataFrame:
    return pd.DataFrame({"rank1": rank1}).rename_axis("lambda")


def test_lambda_words_name_the_best_and_what_cannot_be_told_from_it():
    lam = _levels({0.0: 40.0, 0.5: 60.0, 0.8: 71.0, 0.9: 70.0, 1.0: 69.0})
    versus = {0.0: interval(-30, -35, -25), 0.5: interval(-10, -14, -6), 0.8: interval(1, -1, 3),
              1.0: interval(-1, -3, 1)}
    words = lambda_words(lam, versus, 120)
    assert words["lambda_text"] == (
        "The highest mean rank-1 on the validation split is at λ = 0.8 (71.00%, 120 validation queries); this build "
        "cannot tell it from λ = 1 (their intervals against λ = 0.9 overlap). Clearly below λ = 0.9 (interval under "
        "0): λ = 0 and 0.5. Within the intervals of λ = 0.9: λ = 0.8 and 1.")
    assert words["lambda0_r1"] == "40.00"


def test_lambda_words_when_the_reference_is_best_never_say_none():
    lam = _levels({0.5: 60.0, 0.7: 69.0, 0.9: 70.0, 1.0: 68.0})
    versus = {0.5: interval(-10, -12, -8), 0.7: interval(-1, -4, 2), 1.0: interval(-2, -5, 1)}
    text = lambda_words(lam, versus, 50)["lambda_text"]
    # What cannot be told from the best (λ = 0.9 itself) is what its intervals include: the sentence names them.
    assert text == ("The highest mean rank-1 on the validation split is at λ = 0.9 (70.00%, 50 validation queries), "
                    "the paper's own choice. Within its interval, so that this build cannot tell them from it: "
                    "λ = 0.7 and 1. Clearly below it (interval under 0): λ = 0.5.")
    lone = lambda_words(_levels({0.5: 60.0, 0.9: 70.0}), {0.5: interval(-10, -12, -8)}, 50)
    assert "Every other λ lies clear of it." in lone["lambda_text"] and "none" not in lone["lambda_text"]
    assert lone["lambda0_r1"] == "–"                      # no λ = 0 point in this sweep
    clear = lambda_words(_levels({0.5: 60.0, 0.8: 75.0, 0.9: 70.0}),
                         {0.5: interval(-10, -12, -8), 0.8: interval(5, 3, 7)}, 50)["lambda_text"]
    assert "at λ = 0.8 (75.00%, 50 validation queries), clear of every other λ." in clear


def test_spearman_off_diagonal_ignores_the_diagonal_and_missing_pairs():
    a = pd.DataFrame([[9.0, 1, 2], [3, 9, 4], [5, 6, 9]])
    assert spearman_off_diagonal(a, a * 10 - 5) == pytest.approx(1.0)
    assert spearman_off_diagonal(a, -a) == pytest.approx(-1.0)
    b = (a * 2).astype(float)
    b.iloc[0, 1] = np.nan                                 # a constant attribute's blank row
    b.iloc[0, 0] = -100                                   # the diagonal does not count
    assert spearman_off_diagonal(a, b) == pytest.approx(1.0)


def test_each_trained_model_verdict_has_one_meaning_and_one_marker():
    from apr.book import verdicts
    from apr.evaluation.stats import MEASURED_VERDICTS, Verdict

    assert set(verdicts.MEANINGS) == set(verdicts.MARKERS) == {*MEASURED_VERDICTS, Verdict.UNTESTABLE}
    assert all(f"*{v}*" in verdicts.glossary() for v in verdicts.MEANINGS)
    assert verdicts.marker("opposite") == "v" and verdicts.marker(Verdict.NOT_SEEN) == "s"
    with pytest.raises(ValueError, match="no forest-plot marker for the verdict 'not shown here'"):
        verdicts.marker("not shown here")              # a renamed word fails here, not as a silent circle


def test_the_headline_reason_says_what_the_build_measured_on_both_sides_of_each_condition():
    from apr.book.chapters.baselines import headline_reason
    from apr.book.convergence import Convergence
    from apr.config import from_params

    summed = from_params("quick", attribute_loss_reduction="sum")
    climbing = Convergence(pd.DataFrame(), {"IDE": {"rank1": 0.4, "mAP": 2.5}, "APR": {"rank1": 0.2, "mAP": 0.8}}, 10,
                           False)
    verdicts = {"sum": ("not seen here", "this build cannot tell"), "mean": ("opposite", "not seen here")}
    gaps = {"sum": interval(-1.2, -2.0, -0.4), "mean": interval(-7.8, -9.0, -6.6)}
    text = headline_reason(verdicts, gaps, {"sum": 0.08, "mean": 0.01}, "60.46 ± 3.66", "77.58 ± 3.06", climbing,
                           summed, 27)
    assert text.startswith('**Why the verdict on "APR beats IDE" is *not seen here* (rank-1) and *this build cannot '
                           'tell* (mAP) in this build.**')
    assert "still added +0.4 rank-1 and +2.5 mAP to IDE, +0.2 rank-1 and +0.8 mAP to APR" in text
    assert "its headline uses attribute losses summed" in text
    assert "The other reading's verdicts: Eq. 6 as printed: *opposite* and *not seen here*." in text
    assert ("-1.2 points (-2.0 to -0.4) with attribute losses summed, where each attribute weighs 1 − λ = 0.1 of "
            "APR's loss; -7.8 points (-9.0 to -6.6) with Eq. 6 as printed, where each attribute weighs (1 − λ)/m = "
            "1/270 of APR's loss") in text
    assert "The paper's Table 4 has them 0.6 above" in text                 # the paper's numbers, not the build's
    assert "carry only 0.08% of its test distance, so it ranks the gallery by its embedding" in text
    converged = Convergence(pd.DataFrame(), {"IDE": {"rank1": 0.4, "mAP": 0.5}}, 30, True)
    duke = headline_reason({"sum": ("x", "y")}, {"sum": None}, {"sum": 12.0}, "1", "2", converged, summed, 23,
                           ("Table 5", 82.3, 83.4))
    assert ("the last third of the 30-epoch schedule added +0.4 rank-1 and +0.5 mAP to IDE, under 1 point of mAP to "
            "each") in duke
    assert "attribute heads" not in duke and "other reading" not in duke
    assert "carry 12.0% of its test distance." in duke
