"""Loaders on small generated folders in the real layouts."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from apr.data.attributes import MARKET_SCHEMA
from apr.data.datasets import (
    DatasetLayoutError,
    load_dataset,
    read_dukemtmc,
    read_market1501,
    read_peta,
    split_peta,
)
from apr.data.synthetic import write_market_attribute_mat
from apr.data.tensors import read_image

from .conftest import write_jpeg

MARKET_FILES = {
    "bounding_box_train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s1_000100_01.jpg",
                           "0007_c6s2_010000_02.jpg"],
    "query": ["0003_c1s1_000151_01.jpg", "0004_c5s3_001234_01.jpg"],
    "bounding_box_test": ["0003_c2s1_000201_01.jpg", "0003_c3s1_000301_02.jpg", "0004_c1s1_000001_01.jpg",
                          "0000_c1s1_000002_01.jpg", "0000_c4s1_000003_01.jpg", "-1_c1s1_000004_01.jpg",
                          "-1_c2s1_000005_01.jpg"],
}


def make_market(root, files=MARKET_FILES, annotate=True):
    for folder, names in files.items():
        for i, name in enumerate(names):
            write_jpeg(root / folder / name, seed=i)
    (root / "bounding_box_test" / "Thumbs.db").write_bytes(b"\x00\x01")  # the real release has one
    (root / "query" / ".DS_Store").write_bytes(b"")
    if annotate:
        def table(pids, seed):
            rng = np.random.default_rng(seed)
            values = rng.integers(0, 2, (len(pids), len(MARKET_SCHEMA.names)))
            return pd.DataFrame(values, index=pd.Index(pids, name="pid"), columns=MARKET_SCHEMA.names).astype(np.int8)
        write_market_attribute_mat(root / "market_attribute.mat", table([2, 7], 0), table([3, 4], 1))
    return root


def test_market_layout_counts_and_order(tmp_path):
    root = make_market(tmp_path / "Market-1501-v15.09.15")
    data = read_market1501(tmp_path)  # parent with the extracted name works too
    assert data.root == root
    assert [r.pid for r in data.train] == [2, 2, 7, 7]
    assert [r.camid for r in data.train] == [1, 2, 3, 6]
    assert all(r.split == "query" for r in data.query)
    assert [r.path for r in data.gallery] == sorted(r.path for r in data.gallery)
    assert data.summary() == {
        "train": {"images": 4, "ids": 2, "cameras": 4},
        "query": {"images": 2, "ids": 2, "cameras": 2},
        "gallery": {"images": 5, "ids": 3, "cameras": 4},  # junk left out, distractor 0 counted
    }
    # Image-level attributes: identity rows, -1 for junk and distractors.
    assert data.attributes["train"].shape == (4, 27)
    gallery_pids = np.array([r.pid for r in data.gallery])
    assert (data.attributes["gallery"][gallery_pids <= 0] == -1).all()
    assert (data.attributes["gallery"][gallery_pids > 0] >= 0).all()
    row = data.identity_attributes["train"].loc[7].to_numpy()
    np.testing.assert_array_equal(data.attributes["train"][2], row)


def test_missing_root_names_the_folder(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"no Market-1501 layout under '.*empty'.*bounding_box_train/"):
        (tmp_path / "empty").mkdir()
        read_market1501(tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        read_market1501(tmp_path / "nowhere")


def test_bad_file_name_is_named(tmp_path):
    files = {k: list(v) for k, v in MARKET_FILES.items()}
    files["query"].append("0003_cam1_0001.jpg")
    make_market(tmp_path, files)
    with pytest.raises(ValueError, match=r"0003_cam1_0001.jpg': not a Market-1501 file name"):
        read_market1501(tmp_path)


def test_camera_out_of_range(tmp_path):
    files = {k: list(v) for k, v in MARKET_FILES.items()}
    files["bounding_box_train"].append("0002_c7s1_000451_03.jpg")
    make_market(tmp_path, files)
    with pytest.raises(ValueError, match="camera 7 outside 1..6"):
        read_market1501(tmp_path)


def test_ids_missing_from_annotations(tmp_path):
    files = {k: list(v) for k, v in MARKET_FILES.items()}
    files["bounding_box_train"].append("0011_c1s1_000451_03.jpg")
    make_market(tmp_path, files)
    with pytest.raises(ValueError,
                       match=r"1 person id\(s\) of training images have no row in .*market_attribute.mat.*: 0011"):
        read_market1501(tmp_path)


def test_wrong_dataset_annotation(tmp_path, duke_mat):
    make_market(tmp_path, annotate=False)
    with pytest.raises(ValueError, match="holds dukemtmc attributes"):
        read_market1501(tmp_path, annotation_file=duke_mat)


def test_no_annotation_file(tmp_path, monkeypatch):
    make_market(tmp_path, annotate=False)
    monkeypatch.setenv("APR_DATA_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no market_attribute.mat"):
        read_market1501(tmp_path)
    assert read_market1501(tmp_path, attributes=False).attributes == {}


def test_corrupt_image_is_named(tmp_path):
    make_market(tmp_path)
    bad = tmp_path / "query" / "0003_c1s1_000151_01.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    data = read_market1501(tmp_path)
    with pytest.raises(ValueError, match="corrupt or unreadable image .*0003_c1s1_000151_01.jpg"):
        read_image(data.query[0].path)


def test_dukemtmc_layout(tmp_path, duke_mat):
    root = tmp_path / "DukeMTMC-reID"
    names = {"bounding_box_train": ["0001_c2_f0046182.jpg", "0001_c5_f0051341.jpg", "0008_c8_f0000001.jpg"],
             "query": ["0005_c2_f0046985.jpg"], "bounding_box_test": ["0005_c1_f0000001.jpg", "0019_c3_f0000010.jpg"]}
    for folder, files in names.items():
        for f in files:
            write_jpeg(root / folder / f)
    shutil.copy(duke_mat, root / "duke_attribute.mat")
    data = read_dukemtmc(tmp_path)
    assert [r.camid for r in data.train] == [2, 5, 8]
    assert data.summary()["train"] == {"images": 3, "ids": 2, "cameras": 3}
    assert data.attributes["gallery"].shape == (2, 23)
    assert (data.attributes["gallery"] >= -1).all()
    write_jpeg(root / "query" / "0005_c9_f0046985.jpg")
    with pytest.raises(ValueError, match="camera 9 outside 1..8"):
        read_dukemtmc(root)


def make_peta(root, ids_per_subset=12):
    for subset in ("3DPeS", "CUHK", "VIPeR"):
        archive = root / "PETA" / subset / "archive"
        lines = []
        for pid in range(1, ids_per_subset + 1):
            attrs = ["personalMale", "hairLong"] if pid % 2 else ["personalLess30", "carryingBackpack", "hairShort"]
            head = f"{pid:04d}.png" if subset == "CUHK" and pid == 1 else str(pid)  # a file name instead of an id
            lines.append(" ".join([head] + attrs))
            for k in range(1 + pid % 3):
                write_jpeg(archive / f"{pid:04d}_{k}.jpg", seed=pid * 10 + k)
        archive.mkdir(parents=True, exist_ok=True)
        (archive / "Label.txt").write_text("\n".join(lines) + "\n")
        (archive / "Thumbs.db").write_bytes(b"x")


def test_peta_layout_and_split(tmp_path):
    make_peta(tmp_path)
    data = read_peta(tmp_path, seed=3)
    total = 36
    assert data.summary()["query"]["images"] == max(1, round(total * 423 / 4981))
    train_ids = {r.pid for r in data.train}
    query_ids = {r.pid for r in data.query}
    assert not train_ids & query_ids
    assert len(train_ids) + len(query_ids) == total
    assert query_ids <= {r.pid for r in data.gallery}  # each query has a gallery match
    assert {r.camid for r in data.query} == {1} and {r.camid for r in data.gallery} == {2}
    assert data.attributes["train"].shape[1] == 35
    table = data.identity_attributes["train"]
    assert set(table.columns) >= {"personalMale", "hairLong", "carryingBackpack"}
    assert (table["personalMale"] + table["personalLess30"] == 1).all()
    again = read_peta(tmp_path, seed=3)
    assert again.train == data.train and again.query == data.query
    assert read_peta(tmp_path, seed=4).query != data.query or total < 3


def test_peta_split_paper_sizes():
    ids = list(range(1, 6001))
    train, test = split_peta(ids, {i: 1 + i % 4 for i in ids}, seed=0)
    assert len(train) == 4558 and len(test) == 423 and not train & test


def test_peta_label_mismatch(tmp_path):
    make_peta(tmp_path)
    write_jpeg(tmp_path / "PETA" / "VIPeR" / "archive" / "0099_0.jpg")
    with pytest.raises(ValueError, match=r"0099_0.jpg': person id 99 has no line in .*VIPeR/archive/Label.txt"):
        read_peta(tmp_path)


def test_peta_bad_label_line_names_file_and_line(tmp_path):
    make_peta(tmp_path)
    label = tmp_path / "PETA" / "CUHK" / "archive" / "Label.txt"
    label.write_text(label.read_text() + "\nunknownPerson personalMale\n")
    with pytest.raises(ValueError,
                       match=r"CUHK/archive/Label.txt' line 14: expected a person id first, got 'unknownPerson'"):
        read_peta(tmp_path)


def test_load_dataset_rejects_unknown():
    with pytest.raises(ValueError, match="unknown dataset 'cuhk03'"):
        load_dataset("cuhk03")
