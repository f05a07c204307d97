"""The CUB-200-2011 reader on crafted tiny folders, bad input included."""

from __future__ import annotations

import numpy as np
import pytest

from apr.data.cub import read_cub
from apr.data.datasets import DatasetLayoutError

from .conftest import write_jpeg

ATTRIBUTES = ["has_bill_shape::curved", "has_bill_shape::dagger", "has_bill_shape::hooked",
              "has_wing_color::blue", "has_wing_color::brown", "has_size::small_(5_-_9_in)",
              "has_size::large_(16_-_32_in)"]
IMAGES = [(1, "001.Albatross/a.jpg", 1, 1), (2, "001.Albatross/b.jpg", 1, 0), (3, "002.Auklet/c.jpg", 2, 1),
          (4, "002.Auklet/d.jpg", 2, 0)]
# (image, attribute, present, certainty): image 1 labelled in every group; image 2's wing colour is a tie
# (two values "definitely"), its size only "not visible"; image 3 has a guess beaten by a sure value;
# image 4 has nothing present.
FLAGS = [(1, 1, 1, 4), (1, 2, 0, 4), (1, 4, 1, 3), (1, 6, 1, 4),
         (2, 3, 1, 3), (2, 4, 1, 4), (2, 5, 1, 4), (2, 7, 1, 1),
         (3, 1, 1, 2), (3, 2, 1, 4), (3, 5, 1, 3), (3, 7, 1, 3),
         (4, 1, 0, 3), (4, 4, 0, 4)]


def make_cub(root, flags=FLAGS, extra_field=True):
    folder = root / "CUB_200_2011"
    for image_id, relative, _, _ in IMAGES:
        write_jpeg(folder / "images" / relative, seed=image_id)
    (folder / "images.txt").write_text("".join(f"{i} {p}\n" for i, p, _, _ in IMAGES))
    (folder / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, _, c, _ in IMAGES))
    (folder / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, _, t in IMAGES))
    (root / "attributes.txt").write_text("".join(f"{k} {name}\n" for k, name in enumerate(ATTRIBUTES, 1)))
    lines = [f"{i} {a} {p} {c} 1.5" + (" 0" if extra_field and n == 0 else "") for n, (i, a, p, c) in enumerate(flags)]
    (folder / "attributes").mkdir()
    (folder / "attributes" / "image_attribute_labels.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_cub_reads_classes_splits_and_one_label_per_group(tmp_path):
    make_cub(tmp_path)
    data = read_cub(tmp_path)
    assert [g.name for g in data.schema.groups] == ["has_bill_shape", "has_wing_color", "has_size"]
    assert data.schema.attribute("has_bill_shape").classes == ("curved", "dagger", "hooked")
    assert [(r.pid, r.split) for r in data.train] == [(1, "train"), (2, "train")]
    assert [r.pid for r in data.test] == [1, 2] and all(r.path.endswith(".jpg") for r in data.test)
    # train: images 1 and 3; test: images 2 and 4
    np.testing.assert_array_equal(data.attributes["train"], [[0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(data.attributes["test"], [[2, -1, -1], [-1, -1, -1]])
    assert data.labelled == {"has_bill_shape": 3, "has_wing_color": 2, "has_size": 2}


@pytest.mark.parametrize(("break_it", "message"), [
    (lambda f: (f / "train_test_split.txt").unlink(), r"train_test_split.txt' is missing"),
    (lambda f: (f.parent / "attributes.txt").unlink(), r"no attributes.txt for"),
    (lambda f: (f / "images" / "002.Auklet" / "c.jpg").unlink(),
     r"images.txt' line 3: image '.*c.jpg' is listed but absent"),
    (lambda f: (f / "attributes" / "image_attribute_labels.txt").write_text("1 9 1 4 1.0\n"),
     r"image_attribute_labels.txt' line 1: attribute id 9 is not in attributes.txt \(ids 1..7\)"),
    (lambda f: (f / "attributes" / "image_attribute_labels.txt").write_text("1 2 1 4 1.0\n7 1 1 4 1.0\n"),
     r"image_attribute_labels.txt' line 2: image id 7 is not in images.txt"),
    (lambda f: (f / "attributes" / "image_attribute_labels.txt").write_text("1 2 1\n"),
     r"image_attribute_labels.txt' line 1: expected 4 fields, got 3"),
    (lambda f: (f / "image_class_labels.txt").write_text("1 1\n2 x\n"),
     r"image_class_labels.txt' line 2: class id 'x'"),
    (lambda f: (f / "image_class_labels.txt").write_text("1 1\n"), r"image id 2 of images.txt \(line 2\) has no class"),
])
def test_bad_cub_input_is_one_line_naming_the_file_and_line(tmp_path, break_it, message):
    break_it(make_cub(tmp_path))
    with pytest.raises((DatasetLayoutError, ValueError), match=message):
        read_cub(tmp_path)


def test_a_folder_without_cub_says_what_it_expected(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"no CUB-200-2011 layout under .*expected images.txt"):
        read_cub(tmp_path)
