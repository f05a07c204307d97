"""k-reciprocal re-ranking against a plain, loop-by-loop transcription of Zhong et al. 2017; and mINP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apr.evaluation.metrics import evaluate_ranking, pairwise_distances
from apr.evaluation.rerank import k_reciprocal_rerank


def reference_rerank(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray, k1: int, k2: int, lam: float) -> np.ndarray:
    """The paper's steps one image at a time, with Python sets (the conventions of apr.evaluation.rerank)."""
    q = q_g.shape[0]
    d = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float64)
    d = d / d.max(axis=1, keepdims=True)
    n = d.shape[0]
    ranked = [list(np.argsort(d[i], kind="stable")) for i in range(n)]

    def nearest(i: int, k: int) -> list[int]:
        return ranked[i][:k + 1]                                    # N(i, k), i itself included

    def reciprocal(i: int, k: int) -> set[int]:
        return {j for j in nearest(i, k) if i in nearest(j, k)}      # R(i, k), Eq. 4

    vectors = np.zeros((n, n))
    for i in range(n):
        members = reciprocal(i, k1)
        expanded = set(members)
        for c in members:                                            # Eq. 6, "more than" two thirds
            half = reciprocal(c, round(k1 / 2))
            if len(members & half) > 2 / 3 * len(half):
                expanded |= half
        for j in expanded:                                           # Eq. 7, then weights summing to 1
            vectors[i, j] = np.exp(-d[i, j])
        vectors[i] /= vectors[i].sum()
    if k2 > 1:                                                       # Eq. 11: mean over the k2 nearest
        vectors = np.stack([vectors[ranked[i][:k2]].mean(0) for i in range(n)])
    out = np.zeros((q, n - q))
    for i in range(q):
        for j in range(q, n):
            both = np.minimum(vectors[i], vectors[j]).sum()
            either = np.maximum(vectors[i], vectors[j]).sum()
            out[i, j - q] = (1 - lam) * (1 - both / either) + lam * d[i, j]   # Eqs. 10 and 12
    return out


def clustered(rng: np.random.Generator, ids: int, per_id: int, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(0, 1, (ids, dim))
    labels = np.repeat(np.arange(ids), per_id)
    return (centres[labels] + rng.normal(0, 0.6, (labels.size, dim))).astype(np.float32), labels


@pytest.mark.numerics
@pytest.mark.parametrize("k1,k2,lam", [(20, 6, 0.3), (6, 3, 0.5), (4, 1, 0.0)])
def test_rerank_matches_the_loop_by_loop_reference(k1, k2, lam):
    rng = np.random.default_rng(k1)
    feats, _ = clustered(rng, 9, 6)
    q, g = feats[:10], feats[10:]
    q_g, q_q, g_g = (pairwise_distances(a, b).numpy() for a, b in ((q, g), (q, q), (g, g)))
    ours = k_reciprocal_rerank(q_g, q_q, g_g, k1=k1, k2=k2, lambda_value=lam)
    assert isinstance(ours, np.ndarray) and ours.shape == (10, 44) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference_rerank(q_g, q_q, g_g, k1, k2, lam), atol=2e-6)
    tensor = k_reciprocal_rerank(*(torch.from_numpy(m) for m in (q_g, q_q, g_g)), k1=k1, k2=k2, lambda_value=lam)
    assert isinstance(tensor, torch.Tensor)
    np.testing.assert_allclose(tensor.numpy(), ours, atol=1e-6)


def test_rerank_improves_retrieval_of_clustered_identities():
    rng = np.random.default_rng(3)
    feats, labels = clustered(rng, 40, 6)
    cams = np.tile([1, 2, 3, 4, 5, 6], 40)
    query = np.arange(0, labels.size, 6)                             # one query per identity, camera 1
    gallery = np.setdiff1d(np.arange(labels.size), query)
    q, g = feats[query], feats[gallery]
    d = pairwise_distances(q, g).numpy()
    reranked = k_reciprocal_rerank(d, pairwise_distances(q, q).numpy(), pairwise_distances(g, g).numpy())
    ids = (labels[query], labels[gallery], cams[query], cams[gallery])
    _, before = evaluate_ranking(d, *ids)
    _, after = evaluate_ranking(reranked, *ids)
    assert after > before, (before, after)


def test_rerank_rejects_bad_input():
    q_g, q_q, g_g = np.ones((2, 5)), np.ones((2, 2)), np.ones((5, 5))
    with pytest.raises(ValueError, match="g_g 5 x 5"):
        k_reciprocal_rerank(q_g, q_q, np.ones((4, 4)))
    with pytest.raises(ValueError, match="k1=20"):
        k_reciprocal_rerank(q_g, q_q, g_g)
    with pytest.raises(ValueError, match="lambda_value"):
        k_reciprocal_rerank(q_g, q_q, g_g, k1=3, k2=2, lambda_value=2)
    with pytest.raises(ValueError, match="q_g holds NaN or infinite distances"):
        k_reciprocal_rerank(np.full((2, 5), np.nan), q_q, g_g, k1=3, k2=2)
    with pytest.raises(ValueError, match=r"g_g holds a negative distance \(-0.5\); expected distances >= 0"):
        k_reciprocal_rerank(q_g, q_q, g_g - 1.5, k1=3, k2=2)
    with pytest.raises(ValueError, match="q_g holds distances above float32.s range"):
        k_reciprocal_rerank(q_g * 1e300, q_q, g_g, k1=3, k2=2)


def test_flipped_views_are_accepted_as_their_copies():
    rng = np.random.default_rng(0)
    q_g, q_q, g_g = rng.random((3, 6)), rng.random((3, 3)), rng.random((6, 6))
    np.testing.assert_array_equal(k_reciprocal_rerank(q_g[:, ::-1], q_q, g_g[::-1], k1=3, k2=2),
                                  k_reciprocal_rerank(q_g[:, ::-1].copy(), q_q, g_g[::-1].copy(), k1=3, k2=2))
    ids, cams = np.array([1, 2, 3, 1, 2, 3]), np.array([1, 1, 1, 2, 2, 2])
    flipped = evaluate_ranking(q_g[:, ::-1], ids[:3][::-1], ids[::-1], cams[:3][::-1], cams[::-1])
    copied = evaluate_ranking(q_g[:, ::-1].copy(), ids[:3][::-1].copy(), ids[::-1].copy(), cams[:3][::-1].copy(),
                              cams[::-1].copy())
    np.testing.assert_array_equal(flipped[0], copied[0]) and np.testing.assert_equal(flipped[1], copied[1])


def reference_minp(distmat: np.ndarray, q_pids, g_pids, q_cams, g_cams) -> float:
    """mINP by its definition: per query with a match, matches / 1-based rank of the last match; junk (id -1) and
    same-camera matches are left out of the ranking."""
    values = []
    for i in range(distmat.shape[0]):
        keep = (g_pids != -1) & ~((g_pids == q_pids[i]) & (g_cams == q_cams[i]))
        order = np.argsort(distmat[i][keep], kind="stable")
        hits = np.flatnonzero(g_pids[keep][order] == q_pids[i])
        if hits.size:
            values.append(hits.size / (hits[-1] + 1))
    return float(np.mean(values))


@pytest.mark.numerics
def test_minp_matches_its_definition_and_comes_with_the_same_pass():
    rng = np.random.default_rng(5)
    q_pids, g_pids = rng.integers(0, 8, 30), rng.integers(-1, 8, 200)
    q_cams, g_cams = rng.integers(1, 4, 30), rng.integers(1, 4, 200)
    distmat = rng.random((30, 200))
    cmc, mean_ap, minp = evaluate_ranking(distmat, q_pids, g_pids, q_cams, g_cams, minp=True)
    assert minp == pytest.approx(reference_minp(distmat, q_pids, g_pids, q_cams, g_cams), abs=1e-12)
    plain_cmc, plain_ap = evaluate_ranking(distmat, q_pids, g_pids, q_cams, g_cams)
    assert mean_ap == plain_ap and np.array_equal(cmc, plain_cmc)
    # A match filtered out (+inf) is never retrieved: its query's INP is 0.
    filtered = distmat.copy()
    filtered[g_pids[None, :] == q_pids[:, None]] = np.inf
    _, _, none = evaluate_ranking(filtered, q_pids, g_pids, q_cams, g_cams, minp=True)
    assert none == 0.0


def test_strided_ids_are_accepted_without_a_warning():
    rng = np.random.default_rng(1)
    pids, cams = rng.integers(0, 5, 60), rng.integers(1, 3, 60)
    distmat = rng.random((30, 60))
    strided = evaluate_ranking(distmat, pids[::2], pids, cams[::2], cams)    # warnings are errors in the tests
    dense = evaluate_ranking(distmat, pids[::2].copy(), pids, cams[::2].copy(), cams)
    assert strided[1] == dense[1]
