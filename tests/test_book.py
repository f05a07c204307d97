"""The book: baselines match their chapters, the smoke build's HTML is complete, bad
parameters stop a chapter at its first cell.

The chapters' outputs themselves are regression-tested by nbval on ``tests/notebooks/``
(``--nbval-lax``: cells marked ``# NBVAL_CHECK_OUTPUT`` are compared, every cell must run).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import jupytext
import nbformat
import pandas as pd
import papermill
import pytest

from apr.book import NBVAL_PARAMETERS, build_book, chapter_sources, check_parameters, run_chapter
from apr.data.paths import REPO_ROOT

BASELINES = REPO_ROOT / "tests" / "notebooks"


def _code_cells(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("source", chapter_sources(), ids=lambda p: p.stem)
def test_nbval_baseline_matches_its_chapter(source):
    baseline = BASELINES / f"{source.stem}.ipynb"
    assert baseline.is_file(), f"no nbval baseline for {source.name}: run scripts/update_nbval_baselines.py"
    expected, stored = _code_cells(jupytext.read(source)), _code_cells(nbformat.read(baseline, as_version=4))
    assert stored == expected, f"{baseline.name} is stale: run scripts/update_nbval_baselines.py"
    injected = [c for c in nbformat.read(baseline, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1, f"{baseline.name}: expected one papermill parameters cell"
    values: dict = {}
    exec(injected[0].source, values)        # the cell papermill wrote: plain assignments
    assert {k: values.get(k) for k in NBVAL_PARAMETERS} == NBVAL_PARAMETERS


def test_every_baseline_has_a_chapter():
    stems = {p.stem for p in chapter_sources()}
    assert {p.stem for p in BASELINES.glob("*.ipynb")} == stems


@pytest.mark.slow
def test_smoke_book_html_is_complete(tmp_path):
    index = build_book({"scale": "smoke", "figures_dir": str(tmp_path / "figures")}, root=tmp_path / "book")
    assert index.is_file()
    site = index.parent
    for source in chapter_sources():
        page = site / "book" / "_generated" / f"{source.stem}.html"
        assert page.is_file(), f"chapter {source.stem} missing from the HTML"
        text = page.read_text()
        # myst-nb adds classes after these (class="output stderr highlight-myst-ansi ..."), so no closing quote
        for bad in ("Traceback (most recent call last)", 'class="output traceback', 'class="output stderr'):
            assert bad not in text, f"{page.name} shows {bad!r}"
        images = re.findall(r'<img[^>]+src="([^"]+)"', text)
        assert images, f"{page.name} shows no figure"
        assert "&lt;Figure size" not in text, f"{page.name} shows a figure's text repr instead of the figure"
        for src in images:
            if src.startswith("data:") or src.startswith("http"):
                continue
            assert (page.parent / html.unescape(src)).resolve().is_file(), f"{page.name}: missing image {src}"
        assert "{glue" not in text, f"{page.name}: an unresolved glue reference"
        # notebook plumbing stays out of the reader's way: no nbval markers, no parameters cells
        for leftover in ("NBVAL_", "# Parameters", "injected-parameters"):
            assert leftover not in text, f"{page.name} shows {leftover!r}"
    for page in ("intro", "reproduce", "errata"):
        assert (site / "book" / f"{page}.html").is_file()
    status = (site / "book" / "_generated" / "status.html").read_text()
    assert "smoke" in status and "00_data" in status
    claims = pd.read_csv(tmp_path / "figures" / "claims.csv")
    assert list(claims.columns[:7]) == ["claim", "paper", "measured", "low", "high", "seeds", "verdict"]
    assert set(claims["verdict"]) <= {"reproduces", "contradicts", "cannot tell at this precision", "not run here"}
    headline = claims.set_index("claim").loc["APR beats IDE (Baseline 1): rank-1"]
    assert headline["seeds"] == "3/3" and headline["low"] <= headline["measured"] <= headline["high"]
    assert (claims["verdict"] == "not run here").any() and claims.loc[claims["verdict"] == "not run here", "note"].all()
    page = (site / "book" / "_generated" / "claims.html").read_text()
    assert "Which claims hold" in page and "APR beats IDE" in page
    assert (tmp_path / "figures" / "fig9_acceleration.png").is_file()
    assert (tmp_path / "figures" / "fig9_acceleration.csv").is_file()


def test_bad_parameter_stops_at_first_cell(tmp_path):
    source = chapter_sources()[0]
    with pytest.raises(papermill.PapermillExecutionError, match=r"parameter dataset='cuhk03': expected one of"):
        run_chapter(source, tmp_path / "bad.ipynb", {"dataset": "cuhk03"})


def test_build_book_rejects_bad_parameters_before_running(tmp_path):
    with pytest.raises(ValueError, match="parameter scale='huge'"):
        build_book({"scale": "huge"}, root=tmp_path)
    assert not (tmp_path / "book" / "_generated").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scale": "huge"}, "parameter scale='huge'"),
    ({"device": "tpu"}, "parameter device='tpu'"),
    ({"seed": -1}, "parameter seed=-1"),
    ({"dataset": "market1501", "data_root": "/nonexistent"}, "parameter data_root='/nonexistent'"),
])
def test_check_parameters(kwargs, message):
    params = {"dataset": "synthetic", "data_root": None, "scale": "smoke", "device": "auto", "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        check_parameters(**params)


def test_figures_of_other_builds_do_not_overwrite_the_committed_ones():
    from apr.book import default_figures_dir

    assert default_figures_dir({"dataset": "synthetic", "scale": "quick", "seed": 0}) is None
    assert default_figures_dir({"dataset": "market1501", "scale": "paper", "seed": 0}).startswith("_build/figures/")
    assert Path(REPO_ROOT / "figures").is_dir()
