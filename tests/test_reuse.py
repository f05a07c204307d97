"""apr in someone else's project: a trained run as a feature extractor (Python and shell)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from apr.data.records import DatasetLayoutError
from apr.data.tensors import normalize, read_image
from apr.engine.extractor import Extractor, image_files
from apr.engine.runs import load_model

from .test_train import ARGS, ENV, apr_cli, finish


@pytest.fixture(scope="module")
def apr_run(tmp_path_factory):
    """A smoke APR run (one epoch, no evaluation)."""
    run = tmp_path_factory.mktemp("reuse") / "run"
    finish(apr_cli("train", *ARGS[:-3], "--set", "epochs=1", "--variant", "apr", "--no-eval", "--out", str(run)))
    return run


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Six person-like crops of several sizes (four PNGs, two JPEGs in a sub-folder) and a file that is no image."""
    folder = tmp_path_factory.mktemp("crops")
    (folder / "more").mkdir()
    rng = np.random.default_rng(0)
    for k, size in enumerate([(128, 64), (96, 48), (200, 90), (64, 32), (128, 64), (50, 40)]):
        path = folder / f"p{k}.png" if k < 4 else folder / "more" / f"p{k}.jpg"
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.mark.numerics
def test_extractor_from_python_gives_the_runs_features(apr_run, crops):
    extractor = Extractor.from_run(apr_run, device="cpu", batch_size=4)
    files = image_files(crops)
    assert [f.name for f in files] == ["p4.jpg", "p5.jpg", "p0.png", "p1.png", "p2.png", "p3.png"]
    out = extractor(files)
    assert out.features.shape == (6, 512 + 27) and out.pool5.shape[0] == 6
    assert len(out.attributes) == 27 and out.sources == [str(f) for f in files]
    for probs in out.attributes.values():
        np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    # The same images as PIL images, and as the run's own pipeline computes them (decode, resize, normalise).
    pil = extractor([Image.open(f) for f in files])
    np.testing.assert_allclose(pil.features, out.features, atol=1e-5)
    model, config = load_model(apr_run)
    batch = torch.from_numpy(np.stack([read_image(str(f), config.image_size) for f in files])).permute(0, 3, 1, 2)
    with torch.no_grad():
        direct = model.eval()(normalize(batch)).test_feature(config.test_feature)
    np.testing.assert_allclose(out.features, direct.numpy(), atol=1e-5)
    # A uint8 batch already at the input size, and a normalised float batch.
    np.testing.assert_allclose(extractor(batch).features, out.features, atol=1e-5)
    np.testing.assert_allclose(extractor(normalize(batch)).features, out.features, atol=1e-5)


def test_extractor_rejects_what_it_cannot_read(apr_run, tmp_path):
    extractor = Extractor.from_run(apr_run, device="cpu")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        extractor(torch.zeros(2, 1, 64, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="already be normalised"):
        extractor(torch.zeros(2, 3, 10, 10))
    with pytest.raises(TypeError, match="image paths, PIL images or a tensor"):
        extractor([3])
    with pytest.raises(ValueError, match=r"with B >= 1, got shape \(0, 3, 64, 32\)"):
        extractor(torch.zeros(0, 3, 64, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="--batch-size 0: expected at least 1"):
        Extractor.from_run(apr_run, device="cpu", batch_size=0)
    with pytest.raises(FileNotFoundError, match="no image files"):
        image_files(tmp_path)


def test_extract_images_from_the_shell(apr_run, crops, tmp_path):
    out = tmp_path / "feats.npz"
    text = finish(apr_cli("extract", str(apr_run), "--images", str(crops), "--out", str(out), "--device", "cpu",
                          "--quiet"))
    assert "6 images" in text and "539-d" in text
    with np.load(out, allow_pickle=False) as saved:
        assert saved["features"].shape == (6, 539) and len(saved["attribute_names"]) == 27
        assert saved[f"attr_{saved['attribute_names'][0]}"].shape[0] == 6 and len(saved["sources"]) == 6
    glob = finish(apr_cli("extract", str(apr_run), "--images", str(crops / "*.png"), "--out", str(tmp_path / "g.npz"),
                          "--device", "cpu", "--quiet"))
    assert "4 images" in glob
    bad = subprocess.run([sys.executable, "-m", "apr", "extract", str(apr_run), "--images", str(tmp_path / "none"),
                          "--out", str(tmp_path / "x.npz")], capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "--images" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "apr", "extract", str(apr_run), "--images", str(crops), "--out",
                          str(tmp_path / "x.csv")], capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and "--out" in bad.stderr and "x.csv" in bad.stderr


@pytest.mark.numerics
def test_onnx_export_runs_in_onnxruntime_and_matches_pytorch(apr_run, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export is checked with the optional extra apr[onnx]")
    path = tmp_path / "model.onnx"
    text = finish(apr_cli("export", str(apr_run), "--onnx", str(path)))
    assert "ONNX model written" in text and "Attribute type is ambiguous" not in text
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    model, config = load_model(apr_run)
    assert names[:3] == ["features", "pool5", "attr_gender"] and len(names) == 2 + 27
    for batch in (1, 5):                                             # the batch dimension is free
        x = torch.randn(batch, 3, *config.image_size, generator=torch.Generator().manual_seed(batch))
        outs = dict(zip(names, session.run(None, {"images": x.numpy()})))
        with torch.no_grad():
            ref = model.eval()(x)
        np.testing.assert_allclose(outs["features"], ref.test_feature(config.test_feature).numpy(), atol=1e-4)
        np.testing.assert_allclose(outs["pool5"], ref.pool5.numpy(), atol=1e-4)
        np.testing.assert_allclose(outs["attr_gender"], ref.attr_logits[0].softmax(1).numpy(), atol=1e-5)
    bad = subprocess.run([sys.executable, "-m", "apr", "export", str(apr_run), "--onnx", str(tmp_path / "m.txt")],
                         capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and "--onnx" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def write_custom_csv(folder: Path, source: Path) -> Path:
    """A custom dataset file over a synthetic Market-layout set: its images, ids, cameras, splits and two
    attributes made up from the id (so that they can be learnt)."""
    from apr.data.datasets import load_dataset
    data = load_dataset("synthetic", source)
    lines = ["path,pid,camid,split,tall,coat"]
    for split in ("train", "query", "gallery"):
        for r in data.split(split):
            coat = "" if r.pid <= 0 else str(r.pid % 3)
            lines.append(f"{r.path},{r.pid},{r.camid},{split},{r.pid % 2 if r.pid > 0 else -1},{coat}")
    path = folder / "my_set.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_and_extract_on_your_own_csv_dataset(tiny_synthetic, tmp_path):
    from apr.data.datasets import load_dataset
    csv_file = write_custom_csv(tmp_path, tiny_synthetic)
    data = load_dataset("custom", csv_file)
    assert [a.name for a in data.schema.attributes] == ["tall", "coat"]
    assert data.schema.attribute("coat").num_classes == 3 and data.attributes["train"].shape[1] == 2
    out = finish(apr_cli("train", *ARGS[:-3], "--set", "epochs=1", "--dataset", "custom", "--dataset-file",
                         str(csv_file), "--out", str(tmp_path / "run")))
    assert "rank-1" in out and "tall" in out and "coat" in out
    extractor = Extractor.from_run(tmp_path / "run", device="cpu")
    assert list(extractor([r.path for r in data.query[:3]]).attributes) == ["tall", "coat"]


@pytest.mark.parametrize("row,message", [
    ("x.jpg,1,1,train,0,1", "line 3, field 'path': image file"),
    ("{img},one,1,train,0,1", "line 3, field 'pid': expected an integer, got 'one'"),
    ("{img},1,1,test,0,1", "line 3, field 'split': expected one of train, query, gallery, got 'test'"),
    ("{img},1,1,train,0,500", "line 3, field 'coat': expected a class index"),
    ("{img},1,1,train,0", "line 3: expected 6 fields like the header, got 5"),
])
def test_a_bad_row_of_a_custom_dataset_is_named(tiny_synthetic, tmp_path, row, message):
    from apr.data.datasets import load_dataset
    good = write_custom_csv(tmp_path, tiny_synthetic).read_text().splitlines()
    image = tmp_path / "another.jpg"                                # an image no other row lists
    shutil.copy(good[1].split(",")[0], image)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([good[0], good[1], row.format(img=image), *good[2:]]) + "\n")
    with pytest.raises(DatasetLayoutError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("custom", bad)
    cli = subprocess.run([sys.executable, "-m", "apr", "train", *ARGS, "--dataset", "custom", "--dataset-file",
                          str(bad), "--out", str(tmp_path / "r")], capture_output=True, text=True, env=ENV)
    assert cli.returncode != 0 and "bad.csv' line 3" in cli.stderr and len(cli.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_the_configuration_comes_from_run_json_and_must_match_the_weights(apr_run, tmp_path):
    import json

    from apr.engine.runs import CorruptRunFile
    copy = tmp_path / "run"
    shutil.copytree(apr_run, copy)
    _, config = load_model(copy)
    info = json.loads((copy / "run.json").read_text())
    assert config.to_dict() == info["config"]
    info["config"]["epochs"] += 1                                     # run.json of another run beside these weights
    (copy / "run.json").write_text(json.dumps(info))
    with pytest.raises(CorruptRunFile, match="describe different configurations"):
        Extractor.from_run(copy, device="cpu")


def _custom_with(tmp_path: Path, source: Path, edit) -> Path:
    """The tests' custom dataset file after ``edit(lines)`` (the header is lines[0])."""
    lines = write_custom_csv(tmp_path, source).read_text().splitlines()
    edit(lines)
    path = tmp_path / "edited.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_problem_of_a_dataset_file_is_reported_at_once(tiny_synthetic, tmp_path):
    from apr.data.custom import check_custom

    def edit(lines):
        train = [i for i, line in enumerate(lines) if ",train," in line]
        first = lines[train[0]].split(",")
        lines[0] = lines[0].replace("tall", "tall:2")                   # declared binary
        lines[train[1]] = lines[train[1]].rsplit(",", 2)[0] + ",2," + lines[train[1]].rsplit(",", 1)[1]
        lines[train[2]] = ",".join([lines[train[2]].split(",")[0], "-1", *lines[train[2]].split(",")[2:]])
        lines.append(lines[train[3]])                                   # a duplicate row
        lines.append(",".join([first[0], str(int(first[1]) + 1), *first[2:]]))   # one image, two ids
        lines.append("missing.jpg,3,1,train,0,1")

    check = check_custom(_custom_with(tmp_path, tiny_synthetic, edit))
    text = "\n".join(check.errors)
    assert len(check.errors) == 5, text
    assert "field 'tall': expected a class index 0..1 (declared 'tall:2')" in text
    assert "field 'pid': -1 marks a junk or distractor image" in text
    assert "repeats line" in text and "is listed under id" in text and "'missing.jpg' not found" in text.replace(
        str(tmp_path) + "/", "")
    assert check.data is None
    assert any("attribute 'coat': 3 classes, inferred" in n for n in check.notes)
    with pytest.raises(DatasetLayoutError, match=r"5 problems \(nothing was trained\)"):
        check.raise_if_errors()


@pytest.mark.parametrize("case,message", [
    ("one identity", "has 1 training identity: the ID classifier needs at least 2"),
    ("no matching query", "none of the .* queries has a match in the gallery"),
    ("unlabelled attribute", "column 'coat': no training image has a label for it"),
    ("bad declaration", "column 'coat:1': expected 'name:C' with 2 <= C <= 100"),
])
def test_a_dataset_that_cannot_train_or_be_scored_is_refused_before_training(tiny_synthetic, tmp_path, case, message):
    def edit(lines):
        rows = [line.split(",") for line in lines[1:]]
        if case == "one identity":
            keep = rows[0][1]
            lines[1:] = [",".join(r) for r in rows if r[3] != "train" or r[1] == keep]
        elif case == "no matching query":
            gallery_ids = {r[1] for r in rows if r[3] == "gallery"}
            lines[1:] = [",".join(r) for r in rows if r[3] != "query"] + [
                ",".join([r[0], "999", *r[2:]]) for r in rows if r[3] == "query" and r[1] in gallery_ids][:2]
        elif case == "unlabelled attribute":
            lines[1:] = [",".join(r[:5] + [""]) if r[3] == "train" else ",".join(r) for r in rows]
        else:
            lines[0] = lines[0].replace("coat", "coat:1")

    path = _custom_with(tmp_path, tiny_synthetic, edit)
    cli = subprocess.run([sys.executable, "-m", "apr", "train", *ARGS, "--dataset", "custom", "--dataset-file",
                          str(path), "--out", str(tmp_path / "r")], capture_output=True, text=True, env=ENV)
    assert cli.returncode != 0 and re.search(message, cli.stderr), cli.stderr
    assert not (tmp_path / "r").exists()


def test_apr_info_checks_a_dataset_file_and_says_what_it_inferred(tiny_synthetic, tmp_path):
    def edit(lines):
        lines[0] = "\ufeff" + lines[0]                                  # a spreadsheet's byte-order mark
        query = next(i for i, line in enumerate(lines) if ",query," in line)
        lines[query] = ",".join([lines[query].split(",")[0], "998", *lines[query].split(",")[2:]])

    path = _custom_with(tmp_path, tiny_synthetic, edit)
    out = finish(apr_cli("info", "--dataset", "custom", "--dataset-file", str(path)))
    assert "note: attribute 'coat': 3 classes, inferred from its values" in out
    assert re.search(r"warning: .* 1 of \d+ queries have no match in the gallery", out)
    assert "train" in out and "gallery" in out


def test_a_run_knows_its_data_file_and_notices_an_edit(tiny_synthetic, tmp_path, monkeypatch):
    import json

    csv_file = write_custom_csv(tmp_path, tiny_synthetic)
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)                                        # the file named relative to here
    train = ["train", *ARGS[:-3], "--set", "epochs=1", "--dataset", "custom", "--dataset-file", csv_file.name,
             "--out", str(run), "--no-eval"]
    finish(apr_cli(*train, cwd=tmp_path))
    info = json.loads((run / "run.json").read_text())
    assert info["config"]["dataset_file"] == str(csv_file) and len(info["dataset_fingerprint"]) == 16
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "rank-1" in finish(apr_cli("extract", str(run), "--device", "cpu", cwd=elsewhere))   # found from anywhere

    lines = csv_file.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",0" if not lines[1].endswith(",0") else lines[1][:-1] + "1"
    csv_file.write_text("\n".join(lines) + "\n")                       # one label edited
    resumed = subprocess.run([sys.executable, "-m", "apr", *train, "--resume"], capture_output=True, text=True,
                             env=ENV, cwd=tmp_path)
    errors = [line for line in resumed.stderr.splitlines() if not line.startswith("note: ")]   # the check's notes
    assert resumed.returncode != 0 and len(errors) == 1, resumed.stderr
    assert f"with content {info['dataset_fingerprint']}; the file now holds" in resumed.stderr
    extracted = subprocess.run([sys.executable, "-m", "apr", "extract", str(run), "--device", "cpu"],
                               capture_output=True, text=True, env=ENV)
    assert extracted.returncode == 0 and "warning: " in extracted.stderr
    assert info["dataset_fingerprint"] in extracted.stderr
    exported = subprocess.run([sys.executable, "-m", "apr", "export", str(run), "--onnx", str(tmp_path / "m.onnx")],
                              capture_output=True, text=True, env=ENV)
    assert exported.returncode != 0 and "edited since" in exported.stderr and not (tmp_path / "m.onnx").exists()
    assert len(exported.stderr.strip().splitlines()) == 1, exported.stderr


def test_export_checks_the_attribute_names_against_the_heads(apr_run, tmp_path):
    import json

    copy = tmp_path / "run"
    shutil.copytree(apr_run, copy)
    info = json.loads((copy / "run.json").read_text())
    info["attributes"] = info["attributes"][:-1]
    (copy / "run.json").write_text(json.dumps(info))
    bad = subprocess.run([sys.executable, "-m", "apr", "export", str(copy), "--onnx", str(tmp_path / "m.onnx")],
                         capture_output=True, text=True, env=ENV)
    assert bad.returncode != 0 and "names 26 attributes but the model has 27 attribute heads" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.onnx").exists()


def test_search_by_attributes_and_ranked_lists_from_python(apr_run, crops):
    from apr.engine.search import attribute_classes, attribute_hits, parse_where, ranked

    extractor = Extractor.from_run(apr_run, device="cpu")
    classes = attribute_classes(extractor)
    assert classes["gender"] == ("male", "female") and len(classes["age"]) == 4 and classes["backpack"] == ("no", "yes")
    assert parse_where("gender=female backpack=yes age=2", classes) == {"gender": 1, "backpack": 1, "age": 2}
    for bad, message in (("colour=red", "predicts no attribute 'colour'; it predicts gender"),
                         ("gender=tall", "gender is one of male, female"), ("gender", "expected name=value")):
        with pytest.raises(ValueError, match=message):
            parse_where(bad, classes)
    gallery = extractor(image_files(crops))
    probs = gallery.attributes["gender"][:, 1]
    threshold = float(np.sort(probs)[2])                                  # keeps the 4 most female-looking crops
    keep = attribute_hits(gallery, {"gender": 1}, threshold)
    assert keep.sum() == 4 and (probs[keep] >= threshold).all()
    hits = ranked(None, gallery, where={"gender": 1}, min_confidence=threshold, top=3)
    assert len(hits) == 3 and hits["confidence"].is_monotonic_decreasing and hits["distance"].isna().all()
    assert set(hits["gallery"]) <= {gallery.sources[i] for i in np.flatnonzero(keep)}
    query = extractor([gallery.sources[0]])
    table = ranked(query, gallery, top=6, classes=classes)
    assert table["gallery"].iloc[0] == gallery.sources[0] and table["distance"].iloc[0] < 1e-6   # itself first
    assert table["distance"].is_monotonic_increasing and list(table["rank"]) == [1, 2, 3, 4, 5, 6]
    assert table["attributes"].str.contains(r"gender=(?:male|female) 0\.\d\d").all()      # named classes, not yes
    filtered = ranked(query, gallery, where={"gender": 1}, min_confidence=threshold, top=6)
    assert set(filtered["gallery"]) == {gallery.sources[i] for i in np.flatnonzero(keep)}       # only the hits
    reranked = ranked(query, gallery, top=6, rerank=True)
    assert sorted(reranked["gallery"]) == sorted(table["gallery"]) and (reranked["distance"] >= 0).all()


def test_apr_rank_and_search_write_a_table_and_an_escaped_page(apr_run, crops, tmp_path):
    odd = tmp_path / "gallery"
    shutil.copytree(crops, odd)
    shutil.copy(crops / "p0.png", odd / "<b onmouseover=alert(1)>x.png")          # a hostile file name
    out = finish(apr_cli("rank", str(apr_run), "--query", str(crops / "p1.png"), "--gallery", str(odd), "--top", "3",
                         "--out", str(tmp_path / "rank"), "--device", "cpu", "--quiet", "--rerank"))
    assert "3 rows -> " in out and "k-reciprocal re-ranked distance" in out and "skipped 1 files" in out
    table = pd.read_csv(tmp_path / "rank" / "ranked.csv")
    assert list(table.columns) == ["query", "rank", "gallery", "distance", "confidence", "attributes"]
    everything = finish(apr_cli("search", str(apr_run), "--gallery", str(odd), "--where", "gender=male",
                                "--min-confidence", "0", "--top", "20", "--out", str(tmp_path / "search"),
                                "--device", "cpu", "--quiet"))
    assert "7 rows -> " in everything                                             # every image is male with p >= 0
    page = (tmp_path / "search" / "ranked.html").read_text()
    assert "<b onmouseover" not in page and "&lt;b onmouseover=alert(1)&gt;x.png" in page
    assert page.count("<img ") == 7 and page.count("data:image/png;base64,") == 7
    nothing = subprocess.run([sys.executable, "-m", "apr", "search", str(apr_run), "--gallery", str(odd)],
                             capture_output=True, text=True, env=ENV)
    assert nothing.returncode == 1 and "give query images, attribute conditions (--where), or both" in nothing.stderr


def _python_blocks(section: str) -> list[str]:
    """The Python code blocks of one section (``## section``) of book/using.md, as written."""
    text = (Path(__file__).resolve().parents[1] / "book" / "using.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


@pytest.mark.parametrize("section", ["Attribute recognition as its field scores it",
                                     "Search a gallery by attributes, rank it for your query images"])
def test_the_using_page_runs_as_written(section, apr_run, crops, tmp_path, monkeypatch):
    blocks = _python_blocks(section)
    assert blocks, f"no Python block under '## {section}' in book/using.md"
    monkeypatch.chdir(tmp_path)
    names = {"run": apr_run, "gallery_folder": crops, "query_image": crops / "p1.png"}
    for block in blocks:
        exec(compile(block, f"using.md: {section}", "exec"), names)
    if "Search" in section:
        assert (tmp_path / "ranked.html").is_file() and len(names["table"]) == 6 and len(names["hits"]) <= 6
    else:
        assert 0 <= names["m"].mA <= 1 and len(names["m"].per_attribute) == 3
