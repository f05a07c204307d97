"""CMC / mAP against a slow, literal reference; hand-worked cases; attribute accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from apr.data.attributes import MARKET_SCHEMA, PETA_SCHEMA
from apr.evaluation.metrics import (attribute_accuracy, evaluate_ranking, evaluate_ranking_modes, group_predictions,
                                    pairwise_distances)


def reference_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, ap_mode="official"):
    """Per-query loop transcribing the Market-1501 MATLAB code (compute_AP.m) and the step AP.

    Items at distance +inf are not retrieved (they end the ranked list).
    """
    n_q, n_g = distmat.shape
    cmcs, aps = [], []
    for q in range(n_q):
        order = np.argsort(distmat[q], kind="stable")
        good = {j for j in range(n_g) if g_pids[j] == q_pids[q] and g_camids[j] != q_camids[q]}
        junk = {j for j in range(n_g) if g_pids[j] == -1 or (g_pids[j] == q_pids[q] and g_camids[j] == q_camids[q])}
        if not good:
            continue
        cmc = np.zeros(n_g)
        ap, old_recall, old_precision, hits, position, njunk, found = 0.0, 0.0, 1.0, 0, 0, 0, 0
        step_sum = 0.0
        for n, j in enumerate(order):
            if not np.isfinite(distmat[q, j]):
                break  # +inf: not retrieved (a match there is never found)
            if j in good:
                cmc[n - njunk:] = 1
                found += 1
            if j in junk:
                njunk += 1
                continue
            if j in good:
                hits += 1
                step_sum += hits / (position + 1)
            recall = hits / len(good)
            precision = hits / (position + 1)
            ap += (recall - old_recall) * ((old_precision + precision) / 2)
            old_recall, old_precision = recall, precision
            position += 1
            if found == len(good):
                break
        aps.append(ap if ap_mode == "official" else step_sum / len(good))
        cmcs.append(cmc[:max_rank])
    return np.mean(cmcs, axis=0), float(np.mean(aps))


def random_case(seed, n_q=30, n_g=200, n_ids=25, n_cams=4, integer=False):
    rng = np.random.default_rng(seed)
    g_pids = rng.integers(1, n_ids + 1, n_g)
    g_pids[rng.random(n_g) < 0.1] = -1        # junk
    g_pids[rng.random(n_g) < 0.1] = 0         # distractors
    q_pids = rng.integers(1, n_ids + 5, n_q)  # some ids absent from the gallery -> skipped
    q_camids, g_camids = rng.integers(1, n_cams + 1, n_q), rng.integers(1, n_cams + 1, n_g)
    dist = rng.integers(0, 8, (n_q, n_g)).astype(np.float32) if integer else rng.random((n_q, n_g)).astype(np.float32)
    return dist, q_pids, g_pids, q_camids, g_camids


@pytest.fixture(params=["sparse", "dense", "sparse-torch", "dense-torch"])
def binning(request, monkeypatch):
    """Run a test through both ways evaluate_ranking bins a block: only the items near the
    matches (a trained model), or the whole block (an untrained one); and through the torch
    ops that a GPU runs as well as the numpy ones used on the CPU."""
    import apr.evaluation.metrics

    monkeypatch.setattr(apr.evaluation.metrics, "DENSE_FROM", 2.0 if request.param.startswith("sparse") else -1.0)
    monkeypatch.setattr(apr.evaluation.metrics, "NUMPY_ON_CPU", not request.param.endswith("torch"))
    return request.param


@pytest.mark.parametrize("ap_mode", ["official", "step"])
@pytest.mark.parametrize("seed", range(6))
def test_matches_reference_on_random_cases(seed, ap_mode, binning):
    case = random_case(seed, integer=seed % 2 == 1)  # odd seeds: many exact ties
    cmc, mAP = evaluate_ranking(*case, max_rank=20, ap_mode=ap_mode, chunk_size=7)
    ref_cmc, ref_map = reference_evaluate(*case, max_rank=20, ap_mode=ap_mode)
    np.testing.assert_allclose(cmc, ref_cmc, atol=1e-12)
    assert mAP == pytest.approx(ref_map, abs=1e-12)
    assert 0 <= mAP <= 1


def test_hand_worked_case():
    # Gallery pids [3, 7, 7] at distances [0.1, 0.5, 0.9], query pid 7: hits at ranks 2 and 3.
    dist = np.array([[0.1, 0.5, 0.9, 0.05]])
    g_pids, g_cams = np.array([3, 7, 7, 7]), np.array([1, 1, 2, 3])
    q_pids, q_cams = np.array([7]), np.array([3])       # gallery item 4: same id and camera -> ignored
    cmc, step = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams, max_rank=3, ap_mode="step")
    assert step == pytest.approx((1 / 2 + 2 / 3) / 2)    # 7/12
    np.testing.assert_allclose(cmc, [0, 1, 1])
    _, official = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams, ap_mode="official")
    # Trapezoids: hit 1 at position 2: (1/1 + 1/2)/2 ... precision before = 0/1 -> (0 + 1/2)/2;
    # hit 2 at position 3: (1/2 + 2/3)/2; each weighted by recall step 1/2.
    assert official == pytest.approx(0.5 * (0 + 0.5) / 2 + 0.5 * (0.5 + 2 / 3) / 2)


def test_first_position_hit_and_distractor():
    dist = np.array([[0.2, 0.1, 0.3]])
    g_pids, g_cams = np.array([5, 0, 5]), np.array([2, 2, 3])   # distractor 0 stays a negative
    _, official = evaluate_ranking(dist, [5], g_pids, [1], g_cams, ap_mode="official")
    # Hits at positions 2 and 3: (0+1/2)/2/2 + (1/2+2/3)/2/2
    assert official == pytest.approx((0 + 0.5) / 4 + (0.5 + 2 / 3) / 4)
    _, top = evaluate_ranking(np.array([[0.0, 0.1, 0.3]]), [5], g_pids, [1], g_cams, ap_mode="official")
    assert top == pytest.approx((1 + 1) / 4 + (0.5 + 2 / 3) / 4)   # precision before the first position is 1


def test_permutation_invariance():
    dist, q_pids, g_pids, q_cams, g_cams = random_case(11)
    perm = np.random.default_rng(0).permutation(len(g_pids))
    qperm = np.random.default_rng(1).permutation(len(q_pids))
    a = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams)
    b = evaluate_ranking(dist[qperm][:, perm], q_pids[qperm], g_pids[perm], q_cams[qperm], g_cams[perm])
    np.testing.assert_allclose(a[0], b[0])
    assert a[1] == pytest.approx(b[1], abs=1e-12)


def test_torch_input_and_chunking_agree():
    case = random_case(4, n_q=50, n_g=300)
    cmc, mAP = evaluate_ranking(*case)
    tcase = [torch.as_tensor(x) for x in case]
    cmc_t, map_t = evaluate_ranking(*tcase, chunk_size=3)
    np.testing.assert_allclose(cmc, cmc_t)
    assert mAP == pytest.approx(map_t, abs=1e-12)


def test_perfect_and_worst_rankings():
    g_pids = np.array([1, 1, 2, 2, 0])
    g_cams = np.array([2, 3, 2, 3, 1])
    q_pids, q_cams = np.array([1, 2]), np.array([1, 1])
    perfect = np.array([[0, 0.1, 1, 1, 1], [1, 1, 0, 0.1, 1.0]])
    cmc, mAP = evaluate_ranking(perfect, q_pids, g_pids, q_cams, g_cams, ap_mode="step")
    assert mAP == 1.0 and cmc[0] == 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"distmat": np.zeros((2, 0))}, "gallery is empty"),
    ({"q_pids": np.array([1])}, "q_pids has shape"),
    ({"g_camids": np.array([1, 2])}, "g_camids has shape"),
    ({"distmat": np.array([[np.nan, 1.0, 2.0], [0.0, 1.0, 2.0]])}, "NaN"),
    ({"ap_mode": "voc"}, "ap_mode must be"),
    ({"q_pids": np.array([8, 9])}, "no query has a valid match"),
])
def test_bad_input(kwargs, message):
    args = {"distmat": np.random.default_rng(0).random((2, 3)), "q_pids": np.array([1, 2]),
            "g_pids": np.array([1, 2, 2]),
            "q_camids": np.array([1, 1]), "g_camids": np.array([2, 2, 3])} | kwargs
    with pytest.raises(ValueError, match=message):
        evaluate_ranking(**args)


@pytest.mark.numerics
def test_pairwise_distances():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(7, 5)), rng.normal(size=(11, 5))
    expected = ((q[:, None] - g[None]) ** 2).sum(-1)
    np.testing.assert_allclose(pairwise_distances(q, g, chunk_size=3, device="cpu").numpy(), expected, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(pairwise_distances(q, g, squared=False, device="cpu").numpy(), np.sqrt(expected),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="same D"):
        pairwise_distances(q, g[:, :3])


def test_attribute_accuracy_official_colour_rule():
    names = MARKET_SCHEMA.names
    truth = pd.DataFrame(0, index=range(4), columns=names, dtype=np.int8)
    truth.loc[0, "upblue"] = 1                     # predicted blue -> right
    truth.loc[1, ["upblack", "upred"]] = 1         # two colours: predicting either is right
    truth.loc[2, "upwhite"] = 1                    # predicted blue -> wrong
    truth.loc[3, :] = -1                           # junk/distractor row: left out
    truth.loc[0:2, "age"] = np.array([2, 1, 0], dtype=np.int8)
    up = MARKET_SCHEMA.group("C.up").members
    pred = np.zeros((4, len(MARKET_SCHEMA.groups)), dtype=int)
    groups = [g.name for g in MARKET_SCHEMA.groups]
    g_up, g_age = groups.index("C.up"), groups.index("age")
    pred[:, g_up] = [up.index("upblue"), up.index("upred"), up.index("upblue"), 0]
    pred[:, g_age] = [2, 1, 1, 0]
    acc = attribute_accuracy(pred, truth.to_numpy(), MARKET_SCHEMA)
    assert acc["C.up"] == pytest.approx(2 / 3)
    assert acc["age"] == pytest.approx(2 / 3)
    assert acc["C.low"] == 0.0   # nobody has a lower colour marked: never right (official rule)
    assert acc["mean"] == pytest.approx(acc.drop("mean").mean())
    assert len(acc) == 13


def test_group_predictions_from_probabilities():
    rng = np.random.default_rng(0)
    probs = []
    for attr in MARKET_SCHEMA.attributes:
        p = rng.random((5, attr.num_classes))
        probs.append(p / p.sum(1, keepdims=True))
    groups = group_predictions(probs, MARKET_SCHEMA)
    assert list(groups.columns) == [g.name for g in MARKET_SCHEMA.groups]
    idx = {a.name: i for i, a in enumerate(MARKET_SCHEMA.attributes)}
    members = MARKET_SCHEMA.group("C.low").members
    expected = np.stack([probs[idx[m]][:, 1] for m in members], 1).argmax(1)
    np.testing.assert_array_equal(groups["C.low"], expected)
    np.testing.assert_array_equal(groups["age"], probs[idx["age"]].argmax(1))
    peta = group_predictions([np.eye(2)[[0, 1, 1]]] * 35, PETA_SCHEMA)
    assert peta.shape == (3, 35)


def test_infinite_distance_means_not_retrieved():
    # Three matches; the closest one is dropped (inf): it is never found.
    dist = np.array([[np.inf, 0.2, 0.1, 0.3]])
    g_pids, g_cams = np.array([4, 4, 9, 4]), np.array([2, 2, 2, 3])
    cmc, step = evaluate_ranking(dist, [4], g_pids, [1], g_cams, max_rank=3, ap_mode="step")
    # Retrieved order: 9, 4, 4 -> hits at positions 2 and 3; the third match adds 0.
    assert step == pytest.approx((1 / 2 + 2 / 3) / 3)
    np.testing.assert_allclose(cmc, [0, 1, 1])
    _, none = evaluate_ranking(np.array([[np.inf, np.inf, 0.1, np.inf]]), [4], g_pids, [1], g_cams)
    assert none == 0.0


@pytest.mark.parametrize("seed", range(8))
def test_matches_reference_with_dropped_items_and_float64(seed, binning):
    dist, q_pids, g_pids, q_cams, g_cams = random_case(100 + seed, n_q=25, n_g=150, integer=seed % 2 == 0)
    rng = np.random.default_rng(seed)
    dist = dist.astype(np.float64) * (1e6 if seed % 3 == 0 else 1.0)
    dist[rng.random(dist.shape) < 0.2] = np.inf
    for mode in ("official", "step"):
        cmc, mAP = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams, max_rank=10, ap_mode=mode, chunk_size=4)
        ref_cmc, ref_map = reference_evaluate(dist, q_pids, g_pids, q_cams, g_cams, max_rank=10, ap_mode=mode)
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-12)
        assert mAP == pytest.approx(ref_map, abs=1e-12)


def test_modes_from_one_pass_equal_separate_calls():
    from apr.evaluation.metrics import evaluate_ranking_modes

    case = random_case(21, n_q=40, n_g=250)
    cmc, maps = evaluate_ranking_modes(*case, max_rank=15)
    for mode in ("official", "step"):
        cmc_one, map_one = evaluate_ranking(*case, max_rank=15, ap_mode=mode)
        np.testing.assert_array_equal(cmc, cmc_one)
        assert maps[mode] == map_one
    with pytest.raises(ValueError, match="ap_mode must be"):
        evaluate_ranking_modes(*case, ap_modes=("official", "voc"))


def test_per_query_results_average_to_cmc_and_map():
    from apr.evaluation.metrics import evaluate_per_query

    rng = np.random.default_rng(3)
    d = rng.random((80, 300))
    qp, gp = rng.integers(0, 30, 80), rng.integers(-1, 30, 300)
    qc, gc = rng.integers(0, 4, 80), rng.integers(0, 4, 300)
    cmc, maps = evaluate_ranking_modes(d, qp, gp, qc, gc, ap_modes=("official", "step"))
    per = evaluate_per_query(d, qp, gp, qc, gc, ap_modes=("official", "step"))
    assert (per["first_match_rank"] == 0).mean() == pytest.approx(cmc[0])
    assert per["AP_official"].mean() == pytest.approx(maps["official"])
    assert per["AP_step"].mean() == pytest.approx(maps["step"])
    has_match = [((gp == qp[i]) & (gc != qc[i])).any() for i in range(80)]
    assert per.index.tolist() == [i for i in range(80) if has_match[i]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference_when_many_items_crowd_the_matches(dtype, binning):
    # Many distinct distances within a hair of each match's: they share its grid cell and
    # must be ordered exactly; some items exactly equal a match (ties), some are ignored ones.
    rng = np.random.default_rng(7)
    n_q, n_g = 12, 3000
    g_pids, g_cams = rng.integers(1, 40, n_g), rng.integers(1, 5, n_g)
    q_pids, q_cams = rng.integers(1, 40, n_q), rng.integers(1, 5, n_q)
    dist = rng.random((n_q, n_g)).astype(dtype) * 100
    for q in range(n_q):
        matches = np.flatnonzero(g_pids == q_pids[q])
        crowd = rng.choice(n_g, 600, replace=False)
        centre = dist[q, rng.choice(matches, crowd.size)]
        dist[q, crowd] = (centre + rng.normal(0, 1e-3, crowd.size)).astype(dtype)
        if q % 3 == 0:
            dist[q, crowd[:2]] = dist[q, matches[0]]           # exact ties -> the stable-sort path
    for mode in ("official", "step"):
        cmc, mAP = evaluate_ranking(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50, ap_mode=mode)
        ref_cmc, ref_map = reference_evaluate(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50, ap_mode=mode)
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-12)
        assert mAP == pytest.approx(ref_map, abs=1e-12)


def _extreme_case(seed: int, kind: str, dtype):
    """A random case whose distances sit at a magnitude that would overflow the grid's scale unguarded."""
    dist, *ids = random_case(seed)
    dist = dist.astype(np.float64)
    rng = np.random.default_rng(seed + 100)
    if kind == "huge":                        # matches and items near the dtype's largest value
        dist = dist * (1e37 if dtype == np.float32 else 1e300)
    elif kind == "tiny":                      # near the smallest normal, and below it (subnormal)
        dist = dist * (1e-38 if dtype == np.float32 else 1e-300)
    elif kind == "signed huge":               # negative and positive, so hi - lo alone would overflow
        dist = (2 * dist - 1) * (3e38 if dtype == np.float32 else 1.7e308)
    elif kind == "one tiny row":              # one row's matches far below the chunk's largest distance
        dist[0] *= 1e-42 if dtype == np.float32 else 1e-320
    elif kind == "huge items, normal matches":
        far = rng.random(dist.shape) < 0.3
        dist[far] = 3e38 if dtype == np.float32 else 1e308
    dist[rng.random(dist.shape) < 0.2] = np.inf   # dropped items, as attribute filtering leaves them
    return (dist.astype(dtype), *ids)


@pytest.mark.numerics
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("kind", ["huge", "tiny", "signed huge", "one tiny row", "huge items, normal matches"])
def test_matches_reference_at_extreme_magnitudes(kind, dtype, binning):
    case = _extreme_case(3, kind, dtype)
    for mode in ("official", "step"):
        cmc, mAP = evaluate_ranking(*case, max_rank=20, ap_mode=mode, chunk_size=7)
        ref_cmc, ref_map = reference_evaluate(*case, max_rank=20, ap_mode=mode)
        np.testing.assert_allclose(cmc, ref_cmc, atol=1e-12)
        assert mAP == pytest.approx(ref_map, abs=1e-12)
