"""The synthetic stand-in: round trip through the Market loader, determinism, signal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from apr.data.attributes import MARKET_SCHEMA, load_attribute_annotations
from apr.data.datasets import read_market1501
from apr.data.render import make_cameras, make_identity, render
from apr.data.synthetic import SynthConfig, ensure_synthetic, generate_synthetic, sample_from_prior, synthetic_root

from .conftest import TINY


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "synthetic.json"}


def test_round_trip_through_market_loader(tiny_synthetic):
    manifest = json.loads((tiny_synthetic / "synthetic.json").read_text())
    data = read_market1501(tiny_synthetic.parent)  # found by its extracted name, annotations beside it
    assert data.annotation_file == tiny_synthetic / "market_attribute.mat"
    counts = manifest["counts"]
    assert len(data.train) == counts["train"]
    assert len(data.query) == counts["query"]
    assert len(data.gallery) == counts["gallery"] + counts["junk"] + counts["distractors"]
    assert sum(r.pid == -1 for r in data.gallery) == counts["junk"] > 0
    assert sum(r.pid == 0 for r in data.gallery) == counts["distractors"] > 0
    summary = data.summary()
    assert summary["train"]["ids"] == TINY.num_train_ids
    assert summary["query"]["ids"] == TINY.num_test_ids
    tables = load_attribute_annotations(data.annotation_file)
    assert set(tables["train"].index) == {r.pid for r in data.train}
    assert set(tables["test"].index) == {r.pid for r in data.query}
    # Every query has a same-id gallery image in another camera (a valid match).
    for q in data.query:
        assert any(g.pid == q.pid and g.camid != q.camid for g in data.gallery)
    # Every test identity is seen by at least two cameras, as in Market.
    for pid in tables["test"].index:
        assert len({g.camid for g in data.gallery if g.pid == pid}) >= 2


def test_deterministic_for_a_seed(tmp_path, tiny_synthetic):
    generate_synthetic(tmp_path / "again", TINY, progress=False)
    assert digest(tmp_path / "again") == digest(tiny_synthetic)
    other = SynthConfig(**{**TINY.__dict__, "seed": 1})
    generate_synthetic(tmp_path / "other", other, progress=False)
    assert digest(tmp_path / "other") != digest(tiny_synthetic)


def test_attributes_from_real_file(tmp_path, market_mat):
    config = SynthConfig(num_train_ids=8, num_test_ids=4, attribute_source=str(market_mat))
    manifest = generate_synthetic(tmp_path / "s", config, progress=False)
    assert "market_attribute.mat" in manifest["attribute_source"]
    real = load_attribute_annotations(market_mat)
    pool = {tuple(r) for t in real.values() for r in t.to_numpy()}
    synth = load_attribute_annotations(tmp_path / "s" / "market_attribute.mat")
    for table in synth.values():
        assert all(tuple(r) in pool for r in table.to_numpy())  # whole real rows, joint distribution kept


def test_prior_is_consistent():
    rows = sample_from_prior(2000, np.random.default_rng(0))
    assert list(rows.columns) == MARKET_SCHEMA.names
    assert not ((rows["gender"] == 0) & (rows["clothes"] == 0)).any()          # no dresses on men
    women, men = rows[rows["gender"] == 1], rows[rows["gender"] == 0]
    assert women["hair"].mean() > 0.6 > 0.2 > men["hair"].mean()
    up = rows[[f"up{c}" for c in ("black", "white", "red", "purple", "gray", "blue", "green", "yellow")]]
    assert (up.sum(axis=1) <= 1).all()


def test_attributes_change_the_picture():
    """Flipping one attribute, same person and camera and noise, changes the pixels."""
    cam = make_cameras(6, np.random.default_rng(0))[1]
    base = sample_from_prior(1, np.random.default_rng(3)).iloc[0].to_dict()
    base.update(backpack=0, hat=0, bag=0, handbag=0)
    ident = make_identity(5, base, np.random.default_rng(5))
    ref = render(ident, cam, np.random.default_rng(9)).astype(int)
    assert ref.shape == (128, 64, 3) and ref.dtype == np.int64
    for attr in ("hat", "bag", "handbag", "gender", "up"):
        changed = make_identity(5, {**base, attr: 1 - base[attr]}, np.random.default_rng(5))
        img = render(changed, cam, np.random.default_rng(9)).astype(int)
        assert np.abs(img - ref).sum() > 500, attr


def test_config_validation():
    with pytest.raises(ValueError, match="num_cameras"):
        SynthConfig(num_cameras=9)
    with pytest.raises(ValueError, match="min_cameras"):
        SynthConfig(min_cameras=1)


def test_refuses_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        generate_synthetic(tmp_path / "x", TINY, progress=False)


def test_ensure_synthetic_reuses_and_guards(tmp_path):
    root = ensure_synthetic(tmp_path / "s", TINY, progress=False)
    stamp = (root / "synthetic.json").stat().st_mtime_ns
    assert ensure_synthetic(tmp_path / "s", TINY, progress=False) == root
    assert (root / "synthetic.json").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="other settings"):
        ensure_synthetic(tmp_path / "s", SynthConfig(**{**TINY.__dict__, "seed": 7}), progress=False)


def test_the_attribute_rows_source_is_part_of_the_set(tmp_path, market_mat):
    """``attribute_source="auto"`` takes the real file's rows when the data root holds it and the prior when it does
    not: two different sets from one configuration, which must not share a folder (a results cache reads the
    folder's name to tell them apart)."""
    auto = SynthConfig(**{**TINY.__dict__, "attribute_source": "auto"})
    without = tmp_path / "empty-root"
    without.mkdir()
    elsewhere = tmp_path / "copy" / "market1501"
    elsewhere.mkdir(parents=True)
    (elsewhere / market_mat.name).write_bytes(market_mat.read_bytes())
    real = synthetic_root(auto, data_root=market_mat.parent.parent)
    assert synthetic_root(auto, data_root=without) != real
    assert synthetic_root(auto,
                          data_root=elsewhere.parent) == real           # named by the file's contents, not its path
    root = ensure_synthetic(tmp_path / "s", auto, data_root=without, progress=False)
    assert json.loads((root / "synthetic.json").read_text())["attribute_rows"] == "prior"
    with pytest.raises(FileExistsError, match="attribute rows from prior"):
        ensure_synthetic(tmp_path / "s", auto, data_root=elsewhere.parent, progress=False)
    with pytest.raises(FileNotFoundError, match="attribute_source '.*nowhere.mat': no such file"):
        synthetic_root(SynthConfig(**{**TINY.__dict__, "attribute_source": str(tmp_path / "nowhere.mat")}))


DUKE_TINY = SynthConfig(num_train_ids=6, num_test_ids=7, max_images_per_camera=2, max_cameras=3, num_cameras=8,
                        junk_per_test_id=0.0, distractors_per_test_id=0.0, attribute_source="prior")


def test_duke_layout_round_trip_through_the_duke_loader(tmp_path):
    from apr.data.attributes import DUKE_SCHEMA
    from apr.data.datasets import DUKE_NAME, load_dataset, read_dukemtmc

    root = tmp_path / "DukeMTMC-reID"
    manifest = generate_synthetic(root, DUKE_TINY, layout="dukemtmc", progress=False)
    assert manifest["layout"] == "DukeMTMC-reID" and (root / "duke_attribute.mat").is_file()
    assert not (root / "market_attribute.mat").exists()
    data = read_dukemtmc(tmp_path)                        # found by its extracted name, annotations beside it
    assert data.schema is DUKE_SCHEMA and data.attributes["gallery"].shape[1] == 23
    for record in data.train + data.query + data.gallery:
        # no junk, no 0000
        assert DUKE_NAME.match(Path(record.path).stem) and 1 <= record.camid <= 8 and record.pid > 0
    tables = load_attribute_annotations(root / "duke_attribute.mat")
    queried = {r.pid for r in data.query}
    gallery_only = {r.pid for r in data.gallery} - queried
    # Like Duke's 408: identities that only the gallery holds, each seen by one camera, annotated in the test split.
    assert len(gallery_only) == round(7 * 408 / 702)
    for pid in gallery_only:
        assert len({r.camid for r in data.gallery if r.pid == pid}) == 1
    assert set(tables["test"].index) == {r.pid for r in data.gallery}
    assert set(tables["train"].index) == {r.pid for r in data.train}
    again = load_dataset("synthetic_duke", root)
    assert again.name == "synthetic_duke" and again.gallery == data.gallery
    generate_synthetic(tmp_path / "again", DUKE_TINY, layout="dukemtmc", progress=False)
    assert digest(tmp_path / "again") == digest(root)      # same seed, same bytes


def test_duke_attributes_are_drawn():
    from apr.data.render import make_duke_identity

    cams = make_cameras(2, np.random.default_rng(0))
    base = {"gender": 0, "hat": 0, "boots": 0, "top": 0, "backpack": 0, "handbag": 0, "bag": 0, "shoes": 0,
            "upblack": 1, "downblue": 1}
    images = {}
    for name, change in (("plain", {}), ("boots", {"boots": 1}), ("coat", {"top": 1})):
        ident = make_duke_identity(3, base | change, np.random.default_rng(1))
        images[name] = render(ident, cams[0], np.random.default_rng(2), view="front").astype(int)
    boots = np.abs(images["boots"] - images["plain"]).sum(2) > 30
    coat = np.abs(images["coat"] - images["plain"]).sum(2) > 30
    assert boots[96:].sum() > 20 and boots[:80].sum() == 0     # boots change only the lower legs
    assert coat[60:100].sum() > 50 and coat[:50].sum() == 0    # a coat covers the thighs, not the head
    dark = make_duke_identity(3, base, np.random.default_rng(1)).shoe_rgb
    bright = make_duke_identity(3, base | {"shoes": 1}, np.random.default_rng(1)).shoe_rgb
    assert bright.mean() > dark.mean() + 0.25


def test_market_layout_keeps_six_cameras(tmp_path):
    with pytest.raises(ValueError, match="num_cameras=8: the Market-1501 layout has at most 6 cameras"):
        generate_synthetic(tmp_path / "m", DUKE_TINY, progress=False)


# Whole-frame versions of the drawing primitives (how apr.data.render drew before it drew in windows): a shape
# drawn in its window must give the very same image.
def _whole_frame(img, alpha, colour):
    a = alpha[..., None]
    img *= 1 - a
    img += a * np.asarray(colour, dtype=np.float32)


def _ellipse_whole(img, cy, cx, ry, rx, colour, keep=None):
    from apr.data.render import _XX, _YY

    ry, rx = max(ry, 0.5), max(rx, 0.5)
    d = np.sqrt(((_YY - cy) / ry) ** 2 + ((_XX - cx) / rx) ** 2)
    alpha = np.clip((1 - d) * min(ry, rx) + 0.5, 0, 1)
    _whole_frame(img, alpha if keep is None else alpha * keep, colour)


def _polygon_whole(img, points, colour, texture=None):
    from apr.data.render import HEIGHT, WIDTH, _XX, _YY

    sd = np.full((HEIGHT, WIDTH), np.inf, dtype=np.float32)
    for i in range(len(points)):
        (y0, x0), (y1, x1) = points[i], points[(i + 1) % len(points)]
        ny, nx = (x1 - x0), -(y1 - y0)
        sd = np.minimum(sd, ((_YY - y0) * ny + (_XX - x0) * nx) / (np.hypot(ny, nx) or 1.0))
    _whole_frame(img, np.clip(sd + 0.5, 0, 1), colour if texture is None else texture)


def _segment_whole(img, p0, p1, width, colour):
    from apr.data.render import _XX, _YY

    (y0, x0), (y1, x1) = p0, p1
    dy, dx = y1 - y0, x1 - x0
    t = np.clip(((_YY - y0) * dy + (_XX - x0) * dx) / (dy * dy + dx * dx or 1.0), 0, 1)
    _whole_frame(img, np.clip(width / 2 - np.hypot(_YY - (y0 + t * dy), _XX - (x0 + t * dx)) + 0.5, 0, 1), colour)


def test_shapes_drawn_in_their_windows_equal_whole_frame_drawing():
    from apr.data.render import HEIGHT, WIDTH, ellipse, polygon, segment

    rng = np.random.default_rng(0)
    for trial in range(300):
        base = rng.uniform(0, 1, (HEIGHT, WIDTH, 3)).astype(np.float32)
        fast, slow = base.copy(), base.copy()
        colour = rng.uniform(0, 1, 3)
        y, x = rng.uniform(-30, HEIGHT + 30), rng.uniform(-30, WIDTH + 30)   # some shapes leave the frame
        kind = trial % 5
        if kind == 0:
            ry, rx = rng.uniform(0.1, 20, 2)
            keep = (rng.uniform(0, 1, (HEIGHT, WIDTH)) < 0.5).astype(np.float32)
            ellipse(fast, y, x, ry, rx, colour, keep=keep if trial % 2 else None)
            _ellipse_whole(slow, y, x, ry, rx, colour, keep=keep if trial % 2 else None)
        elif kind in (1, 2):   # rectangles and trapezoids, clockwise, some very thin or sharp
            h, w, lean = rng.uniform(0.05, 40), rng.uniform(0.05, 30), rng.uniform(-0.45, 0.45) * rng.uniform(0, 30)
            points = [(y, x), (y, x + w), (y + h, x + w + lean), (y + h, x - lean)]
            texture = rng.uniform(0, 1, (HEIGHT, WIDTH, 3)).astype(np.float32) if kind == 2 else None
            polygon(fast, points, colour, texture)
            _polygon_whole(slow, points, colour, texture)
        elif kind == 3:        # not a clockwise convex polygon, or a repeated corner: the whole frame
            points = [(y, x), (y + 10, x + 10), (y, x + 10), (y, x + 10)] if trial % 2 else [(y, x), (y + 9, x),
                                                                                             (y + 9, x + 7)]
            polygon(fast, points, colour)
            _polygon_whole(slow, points, colour)
        else:
            p1 = (y + rng.uniform(-40, 40), x + rng.uniform(-40, 40)) if trial % 3 else (y, x)   # also a dot
            width = rng.uniform(0.2, 12)
            segment(fast, (y, x), p1, width, colour)
            _segment_whole(slow, (y, x), p1, width, colour)
        assert np.array_equal(fast, slow), (trial, kind)
