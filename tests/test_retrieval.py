"""Attribute filtering: the rule, the index, the curve."""

from __future__ import annotations

import numpy as np
import pytest

from apr.evaluation.metrics import evaluate_ranking
from apr.evaluation.retrieval import (AttributeIndex, AttributePredictions, acceleration_curve, acceleration_per_query,
                                      encode,
                           exhaustive_search, keep_mask)

NUM_CLASSES = (2, 4, 2, 2, 3) + (2,) * 70   # several bit words, multi-class attributes


def random_predictions(n, seed, num_classes=NUM_CLASSES):
    rng = np.random.default_rng(seed)
    probs = []
    for c in num_classes:
        logits = rng.normal(size=(n, c)) * 2
        p = np.exp(logits)
        probs.append(p / p.sum(1, keepdims=True))
    return AttributePredictions.from_probs(probs)


def slow_keep(q, g, tau):
    keep = np.ones((len(q), len(g)), bool)
    for i in range(len(q)):
        for j in range(len(g)):
            for a in range(q.classes.shape[1]):
                both = q.confidence[i, a] > tau and g.confidence[j, a] > tau
                if both and q.classes[i, a] != g.classes[j, a]:
                    keep[i, j] = False
    return keep


@pytest.mark.parametrize("tau", [0.0, 0.6, 0.8, 0.95])
@pytest.mark.parametrize("rows", [1, 16, 1000])    # queries per step: one, a part with a remainder, all
def test_keep_mask_matches_the_rule(tau, rows):
    q, g = random_predictions(37, 0), random_predictions(40, 1)
    np.testing.assert_array_equal(keep_mask(encode(q, tau), encode(g, tau), rows), slow_keep(q, g, tau))


def test_tau_one_keeps_everything_and_larger_tau_keeps_more():
    q, g = random_predictions(10, 2), random_predictions(50, 3)
    assert keep_mask(encode(q, 1.0), encode(g, 1.0)).all()
    previous = None
    for tau in (0.5, 0.7, 0.9, 0.99):
        keep = keep_mask(encode(q, tau), encode(g, tau))
        if previous is not None:
            assert (keep >= previous).all()
        previous = keep


@pytest.mark.parametrize("tau", [-0.1, 1.5])
def test_tau_out_of_range(tau):
    with pytest.raises(ValueError, match="tau must be in"):
        encode(random_predictions(2, 0), tau)


@pytest.mark.parametrize("path", ["slices", "gather", "faiss bitmap"])
def test_index_candidates_and_search(path, monkeypatch):
    from apr.evaluation import retrieval

    backend = "faiss" if path == "faiss bitmap" else "numpy"
    if backend == "faiss":
        pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    g_pred = random_predictions(300, 4, (2,) * 8 + (4,))
    q_pred = random_predictions(12, 5, (2,) * 8 + (4,))
    g_feat = rng.normal(size=(300, 16)).astype(np.float32)
    q_feat = rng.normal(size=(12, 16)).astype(np.float32)
    tau = 0.8
    index = AttributeIndex(g_feat, g_pred, tau, backend=backend)
    assert index.backend == backend
    assert index.num_groups < 300
    # Each path on its own: runs of any length sliced; every kept set gathered; every kept set through FAISS.
    monkeypatch.setattr(retrieval, "MIN_RUN_ROWS", 0 if path == "slices" else 10**9)
    index.max_runs = 10**9 if path == "slices" else 0
    index.faiss_from = 0.0 if path == "faiss bitmap" else 2.0
    keep = keep_mask(encode(q_pred, tau), encode(g_pred, tau))
    q_r, q_p = encode(q_pred, tau)
    for i in range(12):
        got = np.sort(index.order[index.candidates(q_r[i], q_p[i])])
        np.testing.assert_array_equal(got, np.nonzero(keep[i])[0])
        kept = np.nonzero(keep[i])[0]
        d = ((g_feat[kept] - q_feat[i]) ** 2).sum(1)
        expected = kept[np.argsort(d, kind="stable")[:5]]
        np.testing.assert_array_equal(index.search(q_feat[i], q_r[i], q_p[i], topk=5), expected)
    full = exhaustive_search(g_feat, (g_feat ** 2).sum(1), q_feat[0], topk=5)
    np.testing.assert_array_equal(full, np.argsort(((g_feat - q_feat[0]) ** 2).sum(1), kind="stable")[:5])


def test_a_querys_kept_groups_lie_in_few_runs():
    """Binary attributes ordered predicted 0, unreliable, predicted 1 at every level: a query reliable on the first
    attribute alone keeps one contiguous block; on the first two, at most two blocks (one per value of the first)."""
    g_pred = random_predictions(2000, 7, (2,) * 6)
    index = AttributeIndex(np.zeros((2000, 4), np.float32), g_pred, 0.8, backend="numpy")
    first = int(np.argmax((g_pred.confidence > 0.8).mean(0)))         # the attribute ordered first
    second = int(np.argsort(-(g_pred.confidence > 0.8).mean(0), kind="stable")[1])
    for value in (0, 1):
        for reliable in ([first], [first, second]):
            q = AttributePredictions(np.full((1, 6), value), np.where(np.isin(np.arange(6), reliable), 0.99, 0.5)[None],
                                     (2,) * 6)
            q_r, q_p = encode(q, 0.8)
            kept = index.kept_groups(q_r[0], q_p[0])
            runs = int(kept[0]) + int(np.count_nonzero(kept[1:] > kept[:-1]))
            assert runs <= len(reliable), (value, reliable, runs)


def test_curve_has_unfiltered_row():
    rng = np.random.default_rng(1)
    g_pids = rng.integers(1, 10, 80)
    q_pids = rng.integers(1, 10, 15)
    q_cams, g_cams = rng.integers(1, 3, 15), rng.integers(1, 3, 80)
    dist = rng.random((15, 80))
    curve = acceleration_curve(dist, random_predictions(15, 6, (2,) * 5), random_predictions(80, 7, (2,) * 5),
                               q_pids, g_pids, q_cams, g_cams, taus=[0.6, 0.9])
    assert list(curve["tau"]) == [0.6, 0.9, 1.0]
    full = curve[curve["tau"] == 1.0].iloc[0]
    cmc, mAP = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams)
    assert full["gallery_used"] == 1.0 and full["mAP"] == pytest.approx(mAP) and full["rank1"] == pytest.approx(cmc[0])
    assert (curve["gallery_used"].diff().dropna() >= 0).all()


def test_per_query_outcomes_average_to_the_curve():
    """Fig. 9's intervals rest on per-query outcomes: their means must be the curve's row at every τ."""
    rng = np.random.default_rng(3)
    g_pids, q_pids = rng.integers(1, 10, 80), rng.integers(1, 10, 15)
    g_pids[:5] = -1                                   # junk is not counted in the gallery used
    q_cams, g_cams = rng.integers(1, 4, 15), rng.integers(1, 4, 80)
    dist = rng.random((15, 80))
    q_pred, g_pred = random_predictions(15, 6, (2,) * 5), random_predictions(80, 7, (2,) * 5)
    curve = acceleration_curve(dist, q_pred, g_pred, q_pids, g_pids, q_cams, g_cams, taus=[0.55, 0.7])
    for _, row in curve.iterrows():
        per_query = acceleration_per_query(dist, q_pred, g_pred, q_pids, g_pids, q_cams, g_cams, row["tau"])
        assert per_query["rank1"].mean() == pytest.approx(row["rank1"])
        assert per_query["AP"].mean() == pytest.approx(row["mAP"])
        # the curve averages the kept fraction over every query; per query, over those with a match
        kept = keep_mask(encode(q_pred, row["tau"]), encode(g_pred, row["tau"]))[:, g_pids != -1].mean(1)
        assert per_query["gallery_used"].to_numpy() == pytest.approx(kept[per_query.index.to_numpy()])


def test_index_backend_errors(monkeypatch):
    import apr.evaluation.retrieval

    pred = random_predictions(20, 0)
    feats = np.zeros((20, 4), np.float32)
    with pytest.raises(ValueError, match="backend must be"):
        AttributeIndex(feats, pred, 0.8, backend="annoy")
    with pytest.raises(ValueError, match=r"features must be \(G, D\) with G = 20"):
        AttributeIndex(feats[:5], pred, 0.8)
    monkeypatch.setattr(apr.evaluation.retrieval, "_import_faiss", lambda: None)
    with pytest.raises(ImportError, match="apr\\[faiss\\]"):
        AttributeIndex(feats, pred, 0.8, backend="faiss")
    assert AttributeIndex(feats, pred, 0.8).backend == "numpy"      # auto without FAISS
