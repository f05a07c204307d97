"""The released attribute files, read by name and checked value by value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.io

from apr.data.attributes import (
    DUKE_SCHEMA,
    MARKET_SCHEMA,
    annotation_quirks,
    detect_schema,
    expand_to_images,
    group_targets,
    load_attribute_annotations,
)


def direct_read(path, key):
    """An independent read: {split: {field: 1-D array}} straight from scipy."""
    raw = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)[key]
    return {split: getattr(raw, split) for split in ("train", "test")}


@pytest.mark.parametrize(
    ("fixture", "schema", "key", "n_train", "n_test", "n_attrs"),
    [("market_mat", MARKET_SCHEMA, "market_attribute", 751, 750, 27),
     ("duke_mat", DUKE_SCHEMA, "duke_attribute", 702, 1110, 23)],
)
def test_real_file_matches_direct_read(request, fixture, schema, key, n_train, n_test, n_attrs):
    path = request.getfixturevalue(fixture)
    tables = load_attribute_annotations(path)
    assert detect_schema(path) is schema
    assert len(tables["train"]) == n_train and len(tables["test"]) == n_test
    assert tables["train"].shape[1] == n_attrs == len(schema.attributes)
    direct = direct_read(path, key)
    for split, table in tables.items():
        raw = direct[split]
        assert list(table.index) == [int(s) for s in raw.image_index]
        assert list(table.columns) == schema.names
        for name in schema.names:
            expected = np.asarray(getattr(raw, name), dtype=np.int16) - 1
            np.testing.assert_array_equal(table[name].to_numpy(), expected, err_msg=f"{split}.{name}")
        assert table.index.name == "pid"


def test_market_value_ranges(market_mat):
    train = load_attribute_annotations(market_mat)["train"]
    assert set(train["age"].unique()) == {0, 1, 2, 3}
    assert set(train["gender"].unique()) == {0, 1}
    assert (train.drop(columns="age").isin([0, 1])).all().all()


def test_market_quirks(market_mat):
    tables = load_attribute_annotations(market_mat)
    train = annotation_quirks(tables["train"], MARKET_SCHEMA)
    test = annotation_quirks(tables["test"], MARKET_SCHEMA)
    # Counts derived from the release (shared/PAPER.md §2.1).
    assert (train["what"] == "no C.up colour").sum() == 78
    assert (test["what"] == "no C.up colour").sum() == 69
    assert (train["what"] == "no C.low colour").sum() == 30
    assert (test["what"] == "no C.low colour").sum() == 44


def test_duke_quirks(duke_mat):
    tables = load_attribute_annotations(duke_mat)
    train = annotation_quirks(tables["train"], DUKE_SCHEMA)
    test = annotation_quirks(tables["test"], DUKE_SCHEMA)
    assert (train["what"] == "top unlabelled").sum() == 2
    assert (tables["train"]["top"] == -1).sum() == 2
    assert (train["what"] == "no C.up colour").sum() == 1
    assert (test["what"] == "no C.up colour").sum() == 14
    several = test[test["what"].str.match(r"^[23] C.low colours$")]
    assert several["pid"].nunique() == 23


def test_group_targets_colour_rule():
    frame = pd.DataFrame(0, index=pd.Index([1, 2, 3], name="pid"), columns=MARKET_SCHEMA.names, dtype=np.int8)
    frame.loc[1, "upblue"] = 1                        # exactly one colour -> its index
    frame.loc[2, ["upblack", "upred"]] = 1            # several -> -1
    frame["age"] = np.array([0, 3, 2], dtype=np.int8)
    targets = group_targets(frame, MARKET_SCHEMA)
    assert targets.loc[1, "C.up"] == MARKET_SCHEMA.group("C.up").members.index("upblue") == 5
    assert targets.loc[2, "C.up"] == -1 and targets.loc[3, "C.up"] == -1   # pid 3 has none
    assert list(targets["age"]) == [0, 3, 2]
    assert list(targets.columns) == [g.name for g in MARKET_SCHEMA.groups]


def test_groups_cover_market_and_duke():
    assert len(MARKET_SCHEMA.groups) == 12 and len(DUKE_SCHEMA.groups) == 10
    assert len(MARKET_SCHEMA.group("C.up").members) == 8 and len(MARKET_SCHEMA.group("C.low").members) == 9
    assert len(DUKE_SCHEMA.group("C.up").members) == 8 and len(DUKE_SCHEMA.group("C.low").members) == 7
    for schema in (MARKET_SCHEMA, DUKE_SCHEMA):
        members = [m for g in schema.groups for m in g.members]
        assert sorted(members) == sorted(schema.names)  # every attribute in exactly one group


def test_expand_to_images():
    frame = pd.DataFrame({"a": [0, 1], "b": [1, -1]}, index=pd.Index([5, 9], name="pid"), dtype=np.int8)
    out = expand_to_images([9, 5, 0, -1, 9], frame)
    np.testing.assert_array_equal(out, [[1, -1], [0, 1], [-1, -1], [-1, -1], [1, -1]])
    assert out.dtype == np.int8


def test_errors_name_the_file(tmp_path, market_mat):
    with pytest.raises(FileNotFoundError, match="nothere.mat"):
        load_attribute_annotations(tmp_path / "nothere.mat")
    junk = tmp_path / "junk.mat"
    junk.write_text("not a mat file")
    with pytest.raises(ValueError, match="junk.mat"):
        load_attribute_annotations(junk)
    other = tmp_path / "other.mat"
    scipy.io.savemat(str(other), {"cub_attribute": {"train": {"x": np.ones((1, 2))}, "test": {"x": np.ones((1, 2))}}})
    with pytest.raises(ValueError, match="unknown top-level struct 'cub_attribute'"):
        load_attribute_annotations(other)


def test_missing_field_and_bad_values(tmp_path, market_mat):
    raw = scipy.io.loadmat(str(market_mat))["market_attribute"]
    train = {n: raw["train"][0, 0][n][0, 0] for n in raw["train"][0, 0].dtype.names}
    test = {n: raw["test"][0, 0][n][0, 0] for n in raw["test"][0, 0].dtype.names}
    broken = dict(train)
    del broken["hat"]
    path = tmp_path / "missing.mat"
    scipy.io.savemat(str(path), {"market_attribute": {"train": broken, "test": test}})
    with pytest.raises(ValueError, match=r"missing \['hat'\]"):
        load_attribute_annotations(path)
    bad = dict(train)
    bad["gender"] = bad["gender"].copy()
    bad["gender"][0, 0] = 7
    path = tmp_path / "bad.mat"
    scipy.io.savemat(str(path), {"market_attribute": {"train": bad, "test": test}})
    with pytest.raises(ValueError, match=r"train.gender: values \[7\]"):
        load_attribute_annotations(path)
