"""The scorecard's rules that no default build happens to exercise: when a verdict is no finding, how a factor
and an interval off the axis are drawn, how tables get one header row, and where the hand-written pages' numbers
come from."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from apr.book.claims import as_multiple
from apr.book.plots import FOREST_LIMITS, forest_clips, forest_figure
from apr.book.report import one_header_row, shown
from apr.book.verdicts import AGREEMENT_FLOOR, with_doubt
from apr.data.paths import REPO_ROOT
from apr.evaluation.stats import Verdict

matplotlib.use("Agg")


def test_a_verdict_a_rebuild_would_not_repeat_is_no_finding():
    verdict, note = with_doubt(Verdict.NOT_SEEN, 1.33, 1.0, 0.57)
    assert verdict == Verdict.CANNOT_TELL
    assert note == ("leans *not seen here*, but a rebuild would repeat that about 57% of the time, under the 80% a "
                    "finding needs")
    assert with_doubt(Verdict.NOT_SEEN, 1.33, 1.0, AGREEMENT_FLOOR) == (Verdict.NOT_SEEN, "")   # at the floor: kept
    assert with_doubt(Verdict.SMALLER, 5.0, 1.0, 0.6)[0] == Verdict.CANNOT_TELL


def test_not_seeing_an_effect_smaller_than_the_build_can_detect_is_no_finding():
    verdict, note = with_doubt(Verdict.NOT_SEEN, -2.14, 3.53, 0.95)
    assert verdict == Verdict.CANNOT_TELL
    assert "the smallest effect this build can detect (3.53) is larger than the paper's (2.14)" in note
    # An interval that excludes 0 is a finding, however small the paper's effect: APR's attributes below ARN's.
    assert with_doubt(Verdict.OPPOSITE, 0.6, 1.15, 1.0) == (Verdict.OPPOSITE, "")
    assert with_doubt(Verdict.AS_CLAIMED, 0.3, 2.0, None) == (Verdict.AS_CLAIMED, "")
    # Verdicts that are no finding to begin with stay as they are.
    for verdict in (Verdict.CANNOT_TELL, Verdict.UNTESTABLE, Verdict.NOT_RUN):
        assert with_doubt(verdict, 1.0, 5.0, 0.1) == (verdict, "")


def test_a_speed_up_counts_from_one():
    row = {"paper_effect": 10.2, "measured": 2.0, "low": 2.0, "high": 2.0, "unit": "×"}
    assert as_multiple(row) == pytest.approx((1 / 9.2, 1 / 9.2, 1 / 9.2))
    assert as_multiple(row | {"measured": 1.0, "low": 1.0, "high": 1.0}) == (0.0, 0.0, 0.0)   # no speed-up
    assert as_multiple(row | {"paper_effect": 1.0}) is None
    points = {"paper_effect": -2.0, "measured": 1.0, "low": -1.0, "high": 3.0, "unit": "points"}
    assert as_multiple(points) == pytest.approx((-0.5, -1.5, 0.5))


def test_an_interval_off_the_axis_gets_one_arrow_on_its_side_with_its_numbers():
    lo, hi = FOREST_LIMITS
    assert forest_clips(-13.0, -14.9, -11.1) == [(lo, "left", "-13.0 (-14.9 to -11.1)")]
    assert forest_clips(7.0, 5.0, 9.0) == [(hi, "right", "+7.0 (+5.0 to +9.0)")]
    assert forest_clips(0.5, -4.8, 1.6) == [(lo, "left", "to -4.8")]
    assert forest_clips(2.5, -14.6, 19.6) == [(lo, "left", "to -14.6"), (hi, "right", "to +19.6")]
    assert forest_clips(0.5, 0.1, 0.9) == []
    forest = pd.DataFrame({"claim": ["far", "wide", "inside"], "verdict": ["opposite", "this build cannot tell",
                                                                          "not seen here"],
                           "multiple": [-13.0, 2.5, 0.5], "low": [-14.9, -14.6, 0.1], "high": [-11.1, 19.6, 0.9]})
    fig = forest_figure(forest)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["-13.0 (-14.9 to -11.1)", "to -14.6", "to +19.6"]
    # No stub at the far side of a row wholly off the axis: one arrow, at the left end.
    arrows = [line for line in fig.axes[0].lines if line.get_marker() in ("<", ">")]
    assert [(line.get_marker(), float(line.get_xdata()[0])) for line in arrows] == [("<", lo), ("<", lo), (">", hi)]


def test_tables_have_one_header_row():
    single = pd.DataFrame({"τ": [0.6, 0.7], "kept": [16.3, 39.1]}).set_index("τ")
    shown_single = shown(single)
    assert shown_single.columns.name == "τ" and shown_single.index.name is None
    assert shown_single._repr_html_().count("<tr") == 3          # the header and two rows
    multi = pd.DataFrame({"gallery": [1, 1], "τ": [0.6, 0.7], "ms": [1.0, 2.0]}).set_index(["gallery", "τ"])
    flat = one_header_row(multi)
    assert flat.index.nlevels == 1 and list(flat.columns) == ["τ", "ms"] and flat.columns.name == "gallery"
    assert flat._repr_html_().count("<tr") == 3
    plain = pd.DataFrame({"a": [1]})
    assert one_header_row(plain) is plain


def test_every_number_a_hand_written_page_substitutes_comes_from_the_package():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_numbers", REPO_ROOT / "book" / "_ext" / "build_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    numbers = module.book_numbers()
    used = {name for page in (REPO_ROOT / "book").glob("*.md")
            for name in re.findall(r"\{\{\s*([a-z0-9_]+)\s*\}\}", page.read_text())}
    assert used and used <= set(numbers)
    from apr.experiments import BookParameters
    from apr.experiments.configs import book_configs

    assert numbers["default_seeds"] == str(BookParameters().seeds)
    assert numbers["default_models"] == str(len(book_configs(BookParameters())))
    assert int(numbers["paper_models_8_seeds"]) > int(numbers["paper_models"]) > int(numbers["paper_models_2_seeds"])
    assert np.all([v.isdigit() for v in numbers.values()])
