"""The command line, the data-root setting and the download helper (no network)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from apr.cli import main
from apr.data import download, paths
from apr.data.download import RemoteFile, fetch, sha256_of


def test_synth_then_info_json(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--out", str(out), "--train-ids", "4", "--test-ids", "3", "--attributes", "prior", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["info", "--dataset", "synthetic", "--root", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = json.loads((out / "synthetic.json").read_text())
    assert set(summary) == {"train", "query", "gallery"}
    assert summary["train"] == {"images": manifest["counts"]["train"], "ids": 4, "cameras": summary["train"]["cameras"]}
    assert summary["query"]["ids"] == 3
    assert summary["gallery"]["images"] == manifest["counts"]["gallery"] + manifest["counts"]["distractors"]


def test_info_table(tiny_synthetic, capsys):
    assert main(["info", "--dataset", "synthetic", "--root", str(tiny_synthetic)]) == 0
    text = capsys.readouterr().out
    assert "split" in text and "train" in text and "gallery" in text


def test_errors_are_one_line_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "apr", "info", "--dataset", "market1501", "--root", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no Market-1501 layout under")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    debug = subprocess.run([sys.executable, "-m", "apr", "--debug", "info", "--dataset", "market1501", "--root",
                            str(tmp_path)], capture_output=True, text=True)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_bad_size_option(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s"), "--cameras", "9", "--quiet"]) == 1
    assert "num_cameras" in capsys.readouterr().err


def test_data_root_resolution(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir()
    env.mkdir()
    monkeypatch.setenv(paths.ENV_VAR, str(env))
    assert paths.resolve_data_root(explicit) == explicit       # argument first
    assert paths.resolve_data_root() == env                    # then the environment
    monkeypatch.delenv(paths.ENV_VAR)
    monkeypatch.setattr(paths, "DEFAULT_ROOTS", (tmp_path / "missing", explicit))
    assert paths.resolve_data_root() == explicit               # then the first existing default
    with pytest.raises(FileNotFoundError, match="from data_root argument"):
        paths.resolve_data_root(tmp_path / "nope")


def test_default_root_finds_shared_annotations(market_mat, monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    assert paths.find_annotation_file("market1501") == market_mat


def test_fetch_checks_sha256(tmp_path, market_mat):
    good = RemoteFile(market_mat.as_uri(), "market1501/market_attribute.mat",
                      download.ANNOTATION_DOWNLOADS["market_attribute"].sha256)
    target = fetch(good, tmp_path / "root")
    assert sha256_of(target) == good.sha256
    bad = RemoteFile(market_mat.as_uri(), "x/market_attribute.mat", "0" * 64)
    with pytest.raises(ValueError, match="sha256 mismatch"):
        fetch(bad, tmp_path / "root")
    assert not (tmp_path / "root" / "x" / "market_attribute.mat").exists()
    assert not list((tmp_path / "root" / "x").glob("*.part"))


def test_published_hashes_match_shared_copies(market_mat, duke_mat):
    assert sha256_of(market_mat) == download.ANNOTATION_DOWNLOADS["market_attribute"].sha256
    assert sha256_of(duke_mat) == download.ANNOTATION_DOWNLOADS["duke_attribute"].sha256
    gallery = market_mat.parent / "gallery_market.mat"
    assert sha256_of(gallery) == download.ANNOTATION_DOWNLOADS["gallery_market"].sha256


def test_fetch_reuses_a_good_file(tmp_path, market_mat):
    dest = tmp_path / "market1501"
    dest.mkdir()
    shutil.copy(market_mat, dest / "market_attribute.mat")
    remote = RemoteFile("http://127.0.0.1:9/unreachable", "market1501/market_attribute.mat",
                        download.ANNOTATION_DOWNLOADS["market_attribute"].sha256)
    assert fetch(remote, tmp_path) == dest / "market_attribute.mat"  # no network touched


def test_the_parser_and_help_import_neither_torch_nor_torchvision():
    """--help answers at once: building the parser imports no heavy library (which one is what a test can hold,
    not how long it takes)."""
    import subprocess
    import sys

    code = ("import sys, apr.cli as cli; cli.build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
