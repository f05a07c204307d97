"""Chapters execute at the smoke scale; bad parameters stop them at the first cell."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from apr.book import chapter_sources, check_parameters, run_chapter


def test_every_chapter_runs_at_smoke_scale(tmp_path):
    sources = chapter_sources()
    assert sources, "no chapters found in notebooks/"
    for source in sources:
        out = tmp_path / f"{source.stem}.ipynb"
        run_chapter(source, out, {"scale": "smoke", "figures_dir": str(tmp_path / "figures")})
        nb = nbformat.read(out, as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{source.stem}: {errors}"
    assert (tmp_path / "figures" / "synthetic_samples.png").is_file()


def test_bad_parameter_stops_at_first_cell(tmp_path):
    source = chapter_sources()[0]
    with pytest.raises(papermill.PapermillExecutionError, match=r"parameter dataset='cuhk03': expected one of"):
        run_chapter(source, tmp_path / "bad.ipynb", {"dataset": "cuhk03"})


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
