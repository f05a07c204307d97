"""Images decoded as a viewer shows them: every bit depth and mode PIL reads, EXIF orientation, any format PIL opens,
the pixel limit named by file. Each crafted file is checked against PIL's own conversion of the same picture."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from apr.data.tensors import read_image
from apr.engine.extractor import image_files

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (12, 7), dtype=np.uint8)          # not square: a rotation shows in the shape
COLOUR = RNG.integers(0, 256, (12, 7, 3), dtype=np.uint8)


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(GREY.astype(np.uint16) * 257).save(path)  # the same picture, 16 bits deep
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    np.testing.assert_array_equal(read_image(str(path)), np.repeat(GREY[..., None], 3, 2))


def test_a_32_bit_integer_and_a_float_image_are_scaled(tmp_path):
    Image.fromarray(GREY.astype(np.int32) * 257, mode="I").save(tmp_path / "i.tif")
    Image.fromarray(GREY.astype(np.float32) / 255, mode="F").save(tmp_path / "f.tif")
    for name in ("i.tif", "f.tif"):
        np.testing.assert_array_equal(read_image(str(tmp_path / name)), np.repeat(GREY[..., None], 3, 2))


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "phone.png"
    exif = Image.Exif()
    exif[0x0112] = 6                                            # stored sideways: rotate 90 degrees clockwise to view
    Image.fromarray(COLOUR).save(path, exif=exif)
    got = read_image(str(path))
    assert got.shape == (7, 12, 3)
    np.testing.assert_array_equal(got, np.asarray(Image.fromarray(COLOUR).transpose(Image.Transpose.ROTATE_270)))


@pytest.mark.parametrize("mode", ["P", "CMYK", "LA", "L", "1", "RGBA"])
def test_other_modes_match_pils_conversion(tmp_path, mode):
    path = tmp_path / "image.tif"
    image = Image.fromarray(COLOUR).convert(mode)
    if mode == "P":
        image.info["transparency"] = 0                          # a palette with a transparent colour
        path = tmp_path / "image.png"
    image.save(path)
    with Image.open(path) as reference:
        reference = reference.convert("RGBA") if reference.mode == "P" else reference
        expected = np.asarray(reference.convert("RGB"))
    np.testing.assert_array_equal(read_image(str(path)), expected)


def test_an_image_over_the_pixel_limit_is_named(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.fromarray(COLOUR).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)          # 84 pixels: over twice the limit
    with pytest.raises(ValueError, match=rf"image '{path}' is larger than the pixel limit"):
        read_image(str(path))


def test_an_image_folder_takes_every_format_pil_opens_and_names_the_rest(tmp_path):
    for name in ("a.webp", "b.tif", "c.JPG", "d.bmp"):
        Image.fromarray(COLOUR).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    skipped: list = []
    found = image_files(tmp_path, skipped)
    assert [p.name for p in found] == ["a.webp", "b.tif", "c.JPG", "d.bmp"]
    assert [p.name for p in skipped] == ["notes.txt"]
    assert read_image(str(tmp_path / "a.webp"), (12, 7)).shape == (12, 7, 3)
