"""The command line, the data-root setting and the download helper (no network)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from apr.cli import main
from apr.data import download, paths
from apr.data.download import RemoteFile, fetch, sha256_of


def test_synth_then_info_json(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--out", str(out), "--train-ids", "4", "--test-ids", "3", "--attributes", "prior",
                 "--quiet"]) == 0
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
    code = ("import sys, apr.cli as cli; cli.build_parser().format_help(); "
            "print(sorted(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


def test_a_printed_configuration_trains_the_same_run_again(tmp_path):
    from .test_train import ENV

    def apr(*args):
        return subprocess.run([sys.executable, "-m", "apr", *args], capture_output=True, text=True, env=ENV,
                              cwd=tmp_path)

    printed = apr("train", "--scale", "smoke", "--device", "cpu", "--set", "lambda_id=0.8", "attributes=gender,age",
                  "--print-config")
    assert printed.returncode == 0 and not (tmp_path / "runs").exists(), printed.stderr   # printed, nothing trained
    (tmp_path / "run.toml").write_text(printed.stdout)
    trained = apr("train", "--config", "run.toml", "--set", "epochs=1", "--out", "run", "--no-eval", "--quiet")
    assert trained.returncode == 0, trained.stderr
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["lambda_id"] == 0.8 and config["attributes"] == ["gender", "age"] and config["epochs"] == 1
    assert config["backbone"] == "shufflenet_v2_x0_5" and config["data_root"] is None       # the smoke preset's
    again = apr("config", "run")
    assert again.returncode == 0 and "epochs = 1\n" in again.stdout and 'attributes = ["gender", "age"]' in again.stdout
    (tmp_path / "again.toml").write_text(again.stdout)
    assert apr("train", "--config", "again.toml", "--print-config").stdout.splitlines()[1:] == \
        again.stdout.splitlines()[1:]


@pytest.mark.parametrize("text,message", [
    ("epoch = 3\n", r"unknown setting\(s\) \['epoch'\]; valid keys: dataset, dataset_file"),
    ('epochs = "three"\n', "setting epochs='three': expected an integer"),
    ("epochs = 2.5\n", "setting epochs=2.5: expected an integer"),
    ("amp = 1\n", "setting amp=1: expected true or false"),
    ("backbone = 5\n", "setting backbone=5: expected a valid value"),
    ("[train]\nepochs = 3\n", "expected flat key = value settings"),
    ("epochs = \n", "is not valid TOML"),
])
def test_a_bad_config_file_is_named_in_one_line(tmp_path, text, message):
    from .test_train import ENV

    (tmp_path / "bad.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "apr", "train", "--config", str(tmp_path / "bad.toml"),
                           "--print-config"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert re.search(message, proc.stderr), proc.stderr


def test_a_yaml_config_file_reads_like_toml(tmp_path):
    pytest.importorskip("yaml")
    from apr.config import read_config_file

    (tmp_path / "c.yaml").write_text("scale: smoke\nepochs: 3\nimage_size: [64, 32]\n")
    (tmp_path / "c.toml").write_text('scale = "smoke"\nepochs = 3\nimage_size = [64, 32]\n')
    assert read_config_file(tmp_path / "c.yaml") == read_config_file(tmp_path / "c.toml")
