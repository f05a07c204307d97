"""Fig. 8: the Market-1501+500k layout, synthetic distractors, and accuracy as the gallery grows."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from apr.data.datasets import DatasetLayoutError
from apr.data.distractors import MANIFEST, ensure_synthetic_distractors, read_distractors
from apr.experiments.configs import PAPER_DISTRACTORS, distractor_counts
from apr.evaluation.gallery_growth import GrowingGallery, squared_distances
from apr.evaluation.metrics import evaluate_per_query

from .conftest import write_jpeg

real_model = __import__("apr.experiments.cache", fromlist=["RunRecord"]).RunRecord.model

REAL_NAMES = ["0000_c1s1_000451_03.jpg", "0000_c2s1_000301_01.jpg", "0000_c6s2_010000_02.jpg",
              "-1_c3s1_000100_01.jpg", "0123_c5s3_001234_01.jpg"]


def make_500k(root, names=REAL_NAMES):
    for i, name in enumerate(names):
        write_jpeg(root / "images" / name, seed=i)
    (root / "images" / "Thumbs.db").write_bytes(b"\x00")   # not an image: skipped


def test_real_layout_reads_every_image_as_a_distractor_in_a_seeded_nested_order(tmp_path):
    make_500k(tmp_path)
    records = read_distractors(tmp_path)
    assert len(records) == len(REAL_NAMES)
    assert {r.pid for r in records} == {0} and {r.split for r in records} == {"gallery"}   # never a match, never junk
    assert sorted(r.camid for r in records) == [1, 2, 3, 5, 6]
    assert read_distractors(tmp_path, 3) == records[:3]                  # a smaller gallery is a prefix of a larger
    assert read_distractors(tmp_path, seed=0) == records                  # seeded: the same order again
    assert [r.path for r in read_distractors(tmp_path, seed=1)] != [r.path for r in records]


def test_missing_or_partial_distractor_folder_is_one_clear_line(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"no distractor folder '.*images' \(found 0 images; expected 100 "):
        read_distractors(tmp_path, 100)
    make_500k(tmp_path)
    with pytest.raises(DatasetLayoutError, match=r"'.*images' holds 5 distractor images; 7 are needed"):
        read_distractors(tmp_path, 7)
    write_jpeg(tmp_path / "images" / "person.jpg")
    with pytest.raises(ValueError, match=r"person.jpg': not a Market-1501 file name"):
        read_distractors(tmp_path)


def _copy(tiny_synthetic, tmp_path, name):
    return shutil.copytree(tiny_synthetic, tmp_path / name)


def test_synthetic_distractors_grow_without_changing_earlier_images(tiny_synthetic, tmp_path, monkeypatch):
    once, grown = _copy(tiny_synthetic, tmp_path, "once"), _copy(tiny_synthetic, tmp_path, "grown")
    ensure_synthetic_distractors(once, 9, workers=1, progress=False)
    monkeypatch.setattr("apr.data.distractors.BLOCK", 2)           # several blocks: through the process pool
    ensure_synthetic_distractors(grown, 4, workers=2, progress=False)
    manifest = ensure_synthetic_distractors(grown, 9, workers=2, progress=False)
    assert manifest["count"] == 9 and [g["added"] for g in manifest["generations"]] == [4, 5]
    a, b = read_distractors(once), read_distractors(grown)
    assert [r.path.split("/")[-1] for r in a] == [r.path.split("/")[-1] for r in b]
    for x, y in zip(a, b):
        assert Path(x.path).read_bytes() == Path(y.path).read_bytes()    # byte-identical, whatever the steps
    assert {r.pid for r in a} == {0}
    assert ensure_synthetic_distractors(grown, 5, progress=False) == manifest   # enough already: nothing made
    assert not list(grown.glob(".staging-*"))


def test_an_interrupted_generation_leaves_the_folder_as_it_was(tiny_synthetic, tmp_path, monkeypatch):
    folder = _copy(tiny_synthetic, tmp_path, "set")
    ensure_synthetic_distractors(folder, 3, workers=1, progress=False)
    before = (folder / "images" / MANIFEST).read_text()
    calls = []

    def failing(source, k):
        calls.append(k)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return np.zeros((128, 64, 3), np.uint8), 1

    monkeypatch.setattr("apr.data.distractors.render_distractor", failing)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic_distractors(folder, 6, workers=1, progress=False)
    assert (folder / "images" / MANIFEST).read_text() == before
    assert len(read_distractors(folder)) == 3 and not list(folder.glob(".staging-*"))


def test_synthetic_distractors_need_a_synthetic_set(tmp_path):
    with pytest.raises(DatasetLayoutError, match="is not a synthetic dataset"):
        ensure_synthetic_distractors(tmp_path, 3, progress=False)


def test_distractor_counts_follow_a_log_axis_or_the_papers_sizes():
    from apr.experiments import BookParameters

    assert distractor_counts(BookParameters(gallery_multiple=8.0), 1000) == [0, 1000, 3000, 7000]
    assert distractor_counts(BookParameters(dataset="market1501", scale="paper"), 19_732) == list(PAPER_DISTRACTORS)
    counts = distractor_counts(BookParameters(gallery_multiple=20.0), 3679)
    assert 3679 + counts[-1] >= 20 * 3679 - 1 and len(counts) == 4     # 20 times the test gallery is reachable
    with pytest.raises(ValueError, match="gallery_multiple=1.5, points=1"):
        distractor_counts(BookParameters(gallery_multiple=1.5), 1000, points=1)


def _random_test_set(seed=0, queries=120, gallery=400, dim=8):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(60, dim))
    q_pids, g_pids = rng.integers(1, 50, queries), rng.integers(1, 50, gallery)
    g_pids[rng.random(gallery) < 0.1] = -1                             # junk
    g_pids[rng.random(gallery) < 0.1] = 0                              # the dataset's own distractors
    q_cams, g_cams = rng.integers(1, 7, queries), rng.integers(1, 7, gallery)
    q = torch.tensor(centres[q_pids] + rng.normal(size=(queries, dim)), dtype=torch.float32)
    g = torch.tensor(centres[np.abs(g_pids)] + rng.normal(size=(gallery, dim)), dtype=torch.float32)
    d = torch.tensor(1.5 * rng.normal(size=(3000, dim)), dtype=torch.float32)
    return q, q_pids, q_cams, g, g_pids, g_cams, d


def test_growing_gallery_gives_the_full_evaluation_at_every_size_without_a_full_matrix(monkeypatch):
    q, q_pids, q_cams, g, g_pids, g_cams, d = _random_test_set()
    block = 1 << 12
    largest = []

    def tracked(a, b):
        largest.append(len(a) * len(b))
        return squared_distances(a, b)

    monkeypatch.setattr("apr.evaluation.gallery_growth.squared_distances", tracked)
    growing = GrowingGallery(q, q_pids, q_cams, g, g_pids, g_cams, block_cells=block)
    for size in (0, 700, 3000):
        growing.add(d[growing.distractors:size])
        got = growing.per_query()
        every = torch.cat([g, d[:size]])
        expected = evaluate_per_query(torch.cdist(q.double(), every.double()) ** 2, q_pids,
                                      np.concatenate([g_pids, np.zeros(size, int)]), q_cams,
                                      np.concatenate([g_cams, np.ones(size, int)]))
        assert got.index.equals(expected.index) and growing.size == len(g) + size
        np.testing.assert_array_equal(got["first_match_rank"].to_numpy(), expected["first_match_rank"].to_numpy())
        np.testing.assert_allclose(got["AP_official"].to_numpy(), expected["AP_official"].to_numpy(), rtol=0,
                                   atol=1e-12)
        np.testing.assert_array_equal(got["rank1"].to_numpy(), (expected["first_match_rank"] == 0).to_numpy(float))
    assert max(largest) <= max(block, len(g))   # never queries × (gallery + distractors): 120 × 3,400 here
    assert len(q) * (len(g) + 3000) > 2 * max(largest)


def test_a_distractor_tied_with_a_match_ranks_after_it():
    q = torch.zeros((1, 2))
    g = torch.tensor([[1.0, 0.0], [2.0, 0.0]])             # the match, then a farther negative
    growing = GrowingGallery(q, [5], [1], g, [5, 7], [2, 1])
    growing.add(torch.tensor([[0.0, 1.0], [0.5, 0.0]]))      # one as near as the match, one nearer
    assert growing.per_query()["first_match_rank"].tolist() == [1]


def test_distractor_outcomes_equal_the_dense_evaluation_and_are_cached(tmp_path, monkeypatch):
    import apr.experiments.distractors as distractor_runs
    from apr.config import from_params
    from apr.engine.run_data import load_run_dataset
    from apr.experiments.configs import seeded_configs
    from apr.experiments.cache import RunRecord, load_or_train_many

    config = from_params("smoke", device="cpu", epochs=1)
    runs = load_or_train_many(seeded_configs(config, 2), cache=tmp_path, progress=False, workers=1)
    # People of the training split are in no test split: relabelled, they make a distractor set.
    distractors = [replace(r, pid=0, split="gallery") for r in load_run_dataset(config).train[:50]]
    # The features each model gave the distractors, as embedded (a one-epoch smoke model's distances are so
    # small that another batching's last-bit differences would reorder near ties).
    embedded: dict[int, list[torch.Tensor]] = {}
    real_extract = distractor_runs.extract

    def spy(model, decoded, **kwargs):
        out = real_extract(model, decoded, **kwargs)
        embedded.setdefault(id(model), []).append(out.features)
        return out

    monkeypatch.setattr(distractor_runs, "extract", spy)
    models = []
    monkeypatch.setattr(RunRecord, "model", lambda self, device="cpu": models.append(
        (self, real_model(self, device))) or models[-1][1])
    growth = distractor_runs.distractor_outcomes({"a": runs, "b": runs[:1]}, distractors, [0, 20, 50], block=16,
                                                 progress=False)
    assert growth.values["a"]["rank1"].shape[:2] == (2, 3) and growth.values["b"]["AP"].shape[:2] == (1, 3)
    assert len(models) == 2                                            # runs[0] is embedded once for both names
    for run, model in models:
        extra = torch.cat(embedded[id(model)])
        features = run.features()
        query, gallery = features["query"], features["gallery"]
        k = runs.index(run)
        for p, size in enumerate((0, 20, 50)):
            every = torch.cat([gallery["features"], extra[:size]])
            dense = evaluate_per_query(torch.cdist(query["features"].double(), every.double()) ** 2, query["pids"],
                                       torch.cat([gallery["pids"], torch.zeros(size, dtype=torch.long)]),
                                       query["camids"],
                                       torch.cat([gallery["camids"], torch.ones(size, dtype=torch.long)]))
            np.testing.assert_allclose(growth.values["a"]["AP"][k, p], 100 * dense["AP_official"].to_numpy(), atol=1e-9)
            np.testing.assert_array_equal(growth.values["a"]["rank1"][k, p],
                                          100 * (dense["first_match_rank"] == 0).to_numpy(float))
    np.testing.assert_array_equal(growth.values["b"]["AP"][0], growth.values["a"]["AP"][0])
    assert growth.sizes == [len(runs[0].features()["gallery"]["pids"]) + c for c in (0, 20, 50)]
    assert set(growth.timing["added"]) == {0, 20, 30}
    assert len(list(runs[0].run_dir.glob("distractors-*.npz"))) == 1

    def no_model(self, device="cpu"):
        raise AssertionError("a cached run was embedded again")

    monkeypatch.setattr(RunRecord, "model", no_model)
    again = distractor_runs.distractor_outcomes({"a": runs, "b": runs[:1]}, distractors, [0, 20, 50], progress=False)
    np.testing.assert_array_equal(again.values["a"]["rank1"], growth.values["a"]["rank1"])
    assert again.timing.equals(growth.timing)                         # the measured seconds travel with the cache
    with pytest.raises(ValueError, match=r"distractor counts \[0, 60\]: expected 0..50"):
        distractor_runs.distractor_outcomes({"a": runs}, distractors, [0, 60], progress=False)


def test_book_parameter_gallery_multiple_is_checked():
    from apr.experiments import BookParameters

    with pytest.raises(ValueError, match="book parameter gallery_multiple=0.5: expected"):
        BookParameters(scale="smoke", gallery_multiple=0.5)
    assert BookParameters(scale="smoke", gallery_multiple=26.34).gallery_multiple == 26.34


def test_every_chapter_takes_the_books_parameters_whole():
    import jupytext

    from apr.book.build import chapter_sources

    from .conftest import declared_parameters

    assert all(declared_parameters(jupytext.read(source)) == {"parameters"} for source in chapter_sources())
