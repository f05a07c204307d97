"""k-reciprocal re-ranking (Zhong, Zheng, Cao and Li, CVPR 2017), on numpy arrays or torch tensors.

A gallery image is a *k-reciprocal* neighbour of a probe when each is among the other's k nearest. Each image's
k1-reciprocal set, widened by the half-size sets of its members that it mostly contains, becomes a sparse vector
of Gaussian-kernel weights; averaging it over the image's k2 nearest neighbours (local query expansion) and
comparing two such vectors by Jaccard distance gives a second distance, mixed with the original:
``d* = (1 - λ) d_J + λ d``.

Conventions (those of the authors' released code, which the toolboxes follow, so results match theirs):

* the distances given are used as they are; the toolboxes square Euclidean distances first, so pass squared
  Euclidean distances (:func:`apr.evaluation.metrics.pairwise_distances` gives them) to get their numbers;
* each row of the joint (query + gallery) matrix is divided by its largest entry, and ``d`` above is that
  scaled distance;
* a member's half-size set joins when it shares *more than* two thirds of itself with the probe's set (the
  paper's Eq. 6 writes "at least"; the released code, behind the published numbers, uses "more than");
* the weights of an image's vector sum to 1, so the Jaccard distance is ``1 - m / (2 - m)`` with ``m`` the sum of
  element-wise minima.

The nearest-neighbour lists (the O(N²) part) are computed with torch on the input's device; the set algebra runs
on the CPU as sparse matrices (scipy), one row per image.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .metrics import as_tensor

K1, K2, LAMBDA = 20, 6, 0.3          # the paper's settings for Market-1501


def _joint(q_g: torch.Tensor, q_q: torch.Tensor, g_g: torch.Tensor) -> torch.Tensor:
    """The (Q + G) x (Q + G) distance matrix, each row divided by its largest entry."""
    joint = torch.cat([torch.cat([q_q, q_g], 1), torch.cat([q_g.T, g_g], 1)], 0).float()
    return joint / joint.max(dim=1, keepdim=True).values.clamp_min(torch.finfo(torch.float32).tiny)


def _reciprocal(neighbours: np.ndarray, k: int) -> sp.csr_matrix:
    """Row i: the k-reciprocal neighbours of image i (i among the k + 1 nearest of each, itself included)."""
    n = neighbours.shape[0]
    forward = neighbours[:, :k + 1]                                   # (N, k + 1), image i itself first
    mutual = (neighbours[forward, :k + 1] == np.arange(n)[:, None, None]).any(2)
    rows = np.repeat(np.arange(n), k + 1)[mutual.ravel()]
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, forward.ravel()[mutual.ravel()])),
                         shape=(n, n))


def _expanded_sets(neighbours: np.ndarray, k1: int) -> sp.csr_matrix:
    """Row i: R*(i, k1), the k1-reciprocal set of i joined by the half-size sets R(c, k1/2) of its members c that
    share more than two thirds of themselves with it (0/1 entries)."""
    full = _reciprocal(neighbours, k1)
    half = _reciprocal(neighbours, int(np.around(k1 / 2)))
    shared = (full @ half.T).multiply(full)                           # (i, c): |R(i) ∩ R(c, k1/2)|, c in R(i)
    sizes = np.asarray(half.sum(1)).ravel()
    shared = shared.tocoo()
    joins = shared.data > (2 / 3) * sizes[shared.col]
    members = sp.csr_matrix((np.ones(joins.sum(), dtype=np.float32), (shared.row[joins], shared.col[joins])),
                            shape=full.shape)
    expanded = full + members @ half
    expanded.data[:] = 1.0
    return expanded


def _jaccard(vectors: sp.csr_matrix, queries: int) -> np.ndarray:
    """Jaccard distance of each query's vector (rows < ``queries``) to each gallery image's (the other rows)."""
    columns = vectors.tocsc()
    gallery = np.zeros((queries, vectors.shape[0] - queries), dtype=np.float32)
    for i in range(queries):
        start, end = vectors.indptr[i], vectors.indptr[i + 1]
        cols, weights = vectors.indices[start:end], vectors.data[start:end]
        block = columns[:, cols]                                      # the images that share a column with i
        counts = np.diff(block.indptr)
        block.data = np.minimum(block.data, np.repeat(weights, counts))
        minima = np.asarray(block.sum(1)).ravel()
        gallery[i] = minima[queries:]
    return 1 - gallery / (2 - gallery)


def k_reciprocal_rerank(q_g, q_q, g_g, *, k1: int = K1, k2: int = K2, lambda_value: float = LAMBDA):
    """The re-ranked query x gallery distances (Zhong et al. 2017; conventions in the module docstring).

    ``q_g`` (Q, G), ``q_q`` (Q, Q) and ``g_g`` (G, G) are distances (squared Euclidean to match the toolboxes),
    numpy arrays or torch tensors; the result has ``q_g``'s type (a tensor on its device), float32. Defaults: the
    paper's k1 = 20, k2 = 6, λ = 0.3.
    """
    as_numpy = isinstance(q_g, np.ndarray)
    tensors = [as_tensor(m) for m in (q_g, q_q, g_g)]
    q, g = tensors[0].shape
    if tensors[1].shape != (q, q) or tensors[2].shape != (g, g):
        raise ValueError(f"k_reciprocal_rerank: q_g is {q} x {g}, so q_q must be {q} x {q} and g_g {g} x {g}; got "
                         f"{tuple(tensors[1].shape)} and {tuple(tensors[2].shape)}")
    if not (1 <= k2 <= k1 + 1 and k1 + 1 <= q + g):
        raise ValueError(f"k1={k1}, k2={k2}: expected 1 <= k2 <= k1 + 1 <= {q + g} (the images)")
    if not 0 <= lambda_value <= 1:
        raise ValueError(f"lambda_value={lambda_value}: expected a weight in [0, 1]")
    for name, t in ((n, t) for n, t in zip(("q_g", "q_q", "g_g"), tensors) if t.numel()):
        # One reduction per matrix answers every check (min and max propagate NaN); the rows are then divided by
        # their largest entry in float32, which stays finite when these hold.
        low, high = (float(v) for v in torch.aminmax(t))
        if not (low == low and abs(low) != float("inf") and high != float("inf")):
            raise ValueError(f"k_reciprocal_rerank: {name} holds NaN or infinite distances; expected finite ones")
        if low < 0:
            raise ValueError(f"k_reciprocal_rerank: {name} holds a negative distance ({low:.4g}); "
                             "expected distances >= 0 (squared Euclidean, as the toolboxes use)")
        if high > torch.finfo(torch.float32).max:
            raise ValueError(f"k_reciprocal_rerank: {name} holds distances above float32's range (up to {high:.3g}); "
                             "scale them down")
    device = tensors[0].device
    joint = _joint(*(t.to(device) for t in tensors))
    # Nearest first; ties broken by index (a stable sort), so the lists do not depend on the device. In blocks of
    # rows: a whole Market-size sort would hold 3 GB of indices.
    order = np.concatenate([torch.sort(block, dim=1, stable=True).indices[:, :k1 + 1].cpu().numpy()
                            for block in joint.split(1024)])
    scaled = joint.cpu().numpy()
    expanded = _expanded_sets(order, k1).tocoo()
    weights = np.exp(-scaled[expanded.row, expanded.col])
    vectors = sp.csr_matrix((weights, (expanded.row, expanded.col)), shape=expanded.shape)
    vectors = sp.diags(1 / np.asarray(vectors.sum(1)).ravel()) @ vectors
    if k2 > 1:                                                        # local query expansion over the k2 nearest
        n = order.shape[0]
        mean = sp.csr_matrix((np.full(n * k2, 1 / k2, dtype=np.float32),
                              (np.repeat(np.arange(n), k2), order[:, :k2].ravel())), shape=(n, n))
        vectors = mean @ vectors
    vectors = sp.csr_matrix(vectors, dtype=np.float32)
    vectors.sort_indices()
    final = (1 - lambda_value) * _jaccard(vectors, q) + lambda_value * scaled[:q, q:]
    return final.astype(np.float32) if as_numpy else torch.from_numpy(final.astype(np.float32)).to(device)
