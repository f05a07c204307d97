"""Attribute-accelerated retrieval (paper §4.3, Fig. 9).

An attribute prediction is *reliable* when its confidence exceeds τ. A gallery image is
dropped for a query when some attribute is reliable for both and the two predictions
differ. Small τ is aggressive (most predictions are reliable), τ = 1 keeps the whole gallery.

Choices where the paper is silent (documented, and settings where it matters):

* the unit of filtering is each annotated attribute (27 on Market: 9 binary, age, and each
  colour flag as its own binary attribute);
* confidence = the attribute head's largest class probability (so a binary attribute's
  confidence is at least 0.5: every τ < 0.5 makes every prediction reliable, consistent
  with the paper's τ = 0.1 point keeping 0.42% of the gallery).

Fast filtering: each image's reliable predictions are packed into bit words: ``R`` (which
bits are reliable) and ``P`` (the predicted bits, zero where unreliable); binary attributes
take one bit, a C-class attribute C one-hot bits. A conflict is ``(Rq & Rg) & (Pq ^ Pg) != 0``.
:class:`AttributeIndex` groups the gallery by its (R, P) signature and stores each group
contiguously, so a query tests each *signature* once and gathers only the kept images.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .metrics import evaluate_per_query, evaluate_ranking


def _check_tau(tau: float) -> None:
    if not 0.0 <= float(tau) <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau}")


@dataclass(frozen=True)
class AttributePredictions:
    """Predicted class and its confidence for each image and attribute."""

    classes: np.ndarray        # (N, A) int
    confidence: np.ndarray     # (N, A) float in [0, 1]
    num_classes: tuple[int, ...]

    @classmethod
    def from_probs(cls, probs: Sequence[np.ndarray | torch.Tensor]) -> AttributePredictions:
        """From one (N, C_a) class-probability array per attribute."""
        arrays = [np.asarray(p.detach().cpu() if isinstance(p, torch.Tensor) else p, dtype=np.float32) for p in probs]
        if not arrays or any(a.ndim != 2 or a.shape[1] < 2 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
            raise ValueError("probs must be a non-empty list of (N, C) arrays, C >= 2, with the same N; got shapes "
                             f"{[a.shape for a in arrays]}")
        for index, a in enumerate(arrays):
            # Logits or scores here would make every confidence test against τ meaningless, silently.
            if not np.isfinite(a).all() or a.min(initial=0.0) < -1e-4 or a.max(initial=0.0) > 1 + 1e-4 \
                    or not np.allclose(a.sum(1), 1.0, atol=1e-3):
                raise ValueError(f"probs[{index}]: expected class probabilities (each row in [0, 1], summing to 1); "
                                 "apply softmax to logits first")
        return cls(np.stack([a.argmax(1) for a in arrays], 1), np.stack([a.max(1) for a in arrays], 1),
                   tuple(a.shape[1] for a in arrays))

    def __len__(self) -> int:
        return self.classes.shape[0]

    def subset(self, index: np.ndarray) -> AttributePredictions:
        """The predictions of the images at ``index``."""
        return AttributePredictions(self.classes[index], self.confidence[index], self.num_classes)


def encode(pred: AttributePredictions, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Pack reliable predictions into bit words: (R, P), each uint64 of shape (N, W)."""
    _check_tau(tau)
    n = len(pred)
    bits = sum(1 if c == 2 else c for c in pred.num_classes)
    words = max(1, -(-bits // 64))
    r = np.zeros((n, words), np.uint64)
    p = np.zeros((n, words), np.uint64)
    reliable = pred.confidence > tau
    offset = 0
    for a, c in enumerate(pred.num_classes):
        width = 1 if c == 2 else c
        rel = reliable[:, a]
        for b in range(width):
            bit = offset + b
            w, mask = bit // 64, np.uint64(1) << np.uint64(bit % 64)
            on = (pred.classes[:, a] == 1) if c == 2 else (pred.classes[:, a] == b)
            r[rel, w] |= mask
            p[rel & on, w] |= mask
        offset += width
    return r, p


def keep_mask(q_code: tuple[np.ndarray, np.ndarray], g_code: tuple[np.ndarray, np.ndarray],
              rows: int = 16) -> np.ndarray:
    """(Q, G) bool: True where no attribute reliable for both disagrees.

    ``rows`` queries at a time: the (rows, G) words of each step stay in the CPU's cache, where (Q, G) ones
    would not.
    """
    (rq, pq), (rg, pg) = q_code, g_code
    keep = np.empty((rq.shape[0], rg.shape[0]), bool)
    for start in range(0, rq.shape[0], rows):
        stop = min(start + rows, rq.shape[0])
        conflict = np.zeros((stop - start, rg.shape[0]), np.uint64)
        for w in range(rq.shape[1]):
            conflict |= (rq[start:stop, None, w] & rg[None, :, w]) & (pq[start:stop, None, w] ^ pg[None, :, w])
        np.equal(conflict, 0, out=keep[start:stop])
    return keep


def _as_distances(distmat: np.ndarray | torch.Tensor, q_pred: AttributePredictions,
                  g_pred: AttributePredictions) -> torch.Tensor:
    """The (Q, G) distance matrix as a tensor, checked against the numbers of query and gallery predictions."""
    dist = torch.as_tensor(np.asarray(distmat)) if not isinstance(distmat, torch.Tensor) else distmat
    if dist.ndim != 2 or tuple(dist.shape) != (len(q_pred), len(g_pred)):
        raise ValueError(f"distmat has shape {tuple(dist.shape)}; expected (queries, gallery) = "
                         f"({len(q_pred)}, {len(g_pred)}) from the query and gallery predictions")
    return dist


def acceleration_curve(distmat: np.ndarray | torch.Tensor, q_pred: AttributePredictions, g_pred: AttributePredictions,
                       q_pids, g_pids, q_camids, g_camids, taus: Sequence[float],
                       ap_mode: str = "official") -> pd.DataFrame:
    """Rank-1, mAP and fraction of the gallery compared, per τ (the data of Fig. 9).

    Dropped gallery images are *not retrieved*: a true match dropped by the filter is never
    found (see :func:`apr.evaluation.metrics.evaluate_ranking`). ``gallery_used`` is the mean over
    queries of the kept fraction of the non-junk gallery. A row for τ = 1 (no filtering)
    is always included.
    """
    dist = _as_distances(distmat, q_pred, g_pred)
    g_pids_np = np.asarray(g_pids)
    counted = g_pids_np != -1
    rows = []
    for tau in sorted(set(float(t) for t in taus) | {1.0}):
        keep = keep_mask(encode(q_pred, tau), encode(g_pred, tau))
        keep_t = torch.as_tensor(keep, device=dist.device)
        filtered = torch.where(keep_t, dist, torch.full_like(dist, float("inf")))
        cmc, mAP = evaluate_ranking(filtered, q_pids, g_pids, q_camids, g_camids, max_rank=10, ap_mode=ap_mode)
        used = keep[:, counted].mean(1).mean() if counted.any() else 0.0
        rows.append({"tau": tau, "gallery_used": float(used), "rank1": float(cmc[0]),
                     "rank5": float(cmc[4] if len(cmc) > 4 else cmc[-1]),
                     "mAP": mAP})
    return pd.DataFrame(rows)


def acceleration_per_query(distmat: np.ndarray | torch.Tensor, q_pred: AttributePredictions,
                           g_pred: AttributePredictions, q_pids, g_pids, q_camids, g_camids, tau: float,
                           ap_mode: str = "official") -> pd.DataFrame:
    """Per query at one τ (1: no filtering): the fraction of the non-junk gallery compared
    (``gallery_used``), the rank-1 hit (``rank1``, 0/1) and the AP (``AP``), indexed by query
    position (queries without a valid match left out, as in :func:`apr.evaluation.metrics.evaluate_per_query`).
    Their means are the row of :func:`acceleration_curve` at τ; per query they let the book put
    intervals over training runs and queries on Fig. 9."""
    _check_tau(tau)
    dist = _as_distances(distmat, q_pred, g_pred)
    keep = keep_mask(encode(q_pred, tau), encode(g_pred, tau))
    filtered = dist.masked_fill(~torch.as_tensor(keep, device=dist.device), float("inf"))
    frame = evaluate_per_query(filtered, q_pids, g_pids, q_camids, g_camids, ap_modes=(ap_mode,))
    counted = np.asarray(g_pids) != -1
    used = (keep & counted).sum(1) / counted.sum() if counted.any() else np.zeros(len(keep))
    return pd.DataFrame({"gallery_used": used[frame.index.to_numpy()],
                         "rank1": (frame["first_match_rank"] == 0).astype(float),
                         "AP": frame[f"AP_{ap_mode}"]}, index=frame.index)


def _import_faiss():
    """The faiss module, or None when it is not installed (``pip install 'apr[faiss]'``)."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _signature_groups(pred: AttributePredictions, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """The gallery's reliable-attribute signatures, ordered so that what a query keeps lies in few runs.

    Groups are sorted attribute by attribute, the most often reliable first; within an attribute a binary one goes
    predicted 0, unreliable, predicted 1, and a C-class one unreliable, then class 0, 1, ... . A query reliable on a
    binary attribute keeps one end and the middle: one contiguous block at every level of the order, where a sort by
    raw signature bits scatters it over thousands of runs. Returns each group's first image (groups,) and each
    image's group (N,)."""
    reliable = pred.confidence > tau
    binary = np.array([c == 2 for c in pred.num_classes])
    # Binary: 0, 1, 2 for predicted 0, unreliable, predicted 1. C classes: 0 unreliable, 1 + class.
    key = np.where(binary, np.where(reliable, 2 * pred.classes, 1), np.where(reliable, 1 + pred.classes, 0))
    key = key[:, np.argsort(-reliable.mean(0), kind="stable")].astype(np.int16)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


# Runs shorter than this on average are gathered (or searched by FAISS) rather than sliced: a slice's matrix
# product costs a few microseconds of call overhead, the cost of copying ~64 rows of a 539-d feature.
MIN_RUN_ROWS = 64


class AttributeIndex:
    """Gallery features grouped by reliable-attribute signature, for filtered search.

    A query's kept signatures usually form a few runs of contiguous rows, searched in place.
    When they are scattered over more than ``max_runs`` runs (many distinct signatures),
    the kept rows are gathered and scanned; or, when they are at least ``faiss_from`` of the
    gallery and FAISS is installed, searched in FAISS's flat index through a bitmap of them
    (no copy of the kept features; the bitmap costs O(G), so small kept sets gather).

    Parameters
    ----------
    features : (G, D) float32
    pred : the gallery's attribute predictions
    tau : reliability threshold
    max_runs : above this many runs, the scattered-set path is taken
    faiss_from : smallest kept fraction of the gallery searched through FAISS (at 100k-1M
        images the two paths were even at 1-2% kept and FAISS 1.6x faster at 10%;
        ``benchmarks/bench_faiss.py``)
    backend : ``"auto"`` (FAISS when installed), ``"faiss"`` (required) or ``"numpy"``.
        With FAISS the features are stored once, in its index.
    """

    def __init__(self, features: np.ndarray, pred: AttributePredictions, tau: float, max_runs: int = 512,
                 backend: str = "auto", faiss_from: float = 0.03) -> None:
        if backend not in ("auto", "faiss", "numpy"):
            raise ValueError(f"backend must be 'auto', 'faiss' or 'numpy', got {backend!r}")
        faiss = None if backend == "numpy" else _import_faiss()
        if backend == "faiss" and faiss is None:
            raise ImportError("AttributeIndex(backend='faiss') needs faiss-cpu: pip install 'apr[faiss]'")
        features = np.asarray(features)
        if features.ndim != 2 or len(features) != len(pred):
            raise ValueError(f"features must be (G, D) with G = {len(pred)} predictions, got shape {features.shape}")
        self.tau = tau
        self.max_runs = max_runs
        self.faiss_from = faiss_from
        r, p = encode(pred, tau)
        first, inverse = _signature_groups(pred, tau)
        order = np.argsort(inverse, kind="stable")
        self.order = order                                         # sorted position -> original index
        sorted_features = np.ascontiguousarray(features[order], dtype=np.float32)
        self._faiss, self._flat = faiss, None
        if faiss is not None:
            self._flat = faiss.IndexFlatL2(sorted_features.shape[1])
            self._flat.add(sorted_features)
            # A view of the index's own copy, so the gallery is held once.
            n, dim = sorted_features.shape
            sorted_features = faiss.rev_swig_ptr(self._flat.get_xb(), n * dim).reshape(n, dim)
        self.features = sorted_features
        self.sq_norms = (self.features ** 2).sum(1)
        self.group_r, self.group_p = r[first], p[first]
        counts = np.bincount(inverse, minlength=len(first))
        self.group_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.group_len = counts
        self._one_image_per_group = bool((counts == 1).all())

    @property
    def backend(self) -> str:
        """Which library searches scattered kept sets: ``"faiss"`` or ``"numpy"``."""
        return "faiss" if self._flat is not None else "numpy"

    @property
    def num_groups(self) -> int:
        """How many distinct attribute signatures the gallery holds."""
        return len(self.group_len)

    def kept_groups(self, q_r: np.ndarray, q_p: np.ndarray) -> np.ndarray:
        """(groups,) bool: the signatures that do not conflict with the query code (q_r, q_p)."""
        conflict = np.zeros(self.num_groups, bool)
        for w in range(q_r.shape[0]):
            conflict |= ((self.group_r[:, w] & q_r[w]) & (self.group_p[:, w] ^ q_p[w])) != 0
        return ~conflict

    def _positions(self, kept: np.ndarray) -> np.ndarray:
        """Sorted-gallery positions of the kept groups' rows, as one array."""
        starts, lens = self.group_start[kept], self.group_len[kept]
        if lens.size == 0:
            return np.zeros(0, np.int64)
        # Concatenated ranges without a Python loop: each range's start, shifted by its offset.
        return np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())

    def candidates(self, q_r: np.ndarray, q_p: np.ndarray) -> np.ndarray:
        """Sorted-gallery positions kept for a query with code (q_r, q_p), each shape (W,)."""
        return self._positions(self.kept_groups(q_r, q_p))

    def search(self, q_feat: np.ndarray, q_r: np.ndarray, q_p: np.ndarray, topk: int = 10) -> np.ndarray:
        """Original gallery indices of the ``topk`` nearest kept images for one query.

        Kept groups that sit next to each other form runs of contiguous rows; distances are
        computed on those slices directly (no copy of the kept features) when the runs are few
        and long; otherwise FAISS searches the rows of a bitmap (a large kept set), or one
        gather is cheaper than many slices.
        """
        kept = self.kept_groups(q_r, q_p)
        rows = int(self.group_len @ kept)
        if rows == 0:
            return np.zeros(0, np.int64)
        runs = int(kept[0]) + int(np.count_nonzero(kept[1:] > kept[:-1]))
        if runs <= self.max_runs and rows >= MIN_RUN_ROWS * runs:
            edges = np.diff(kept.astype(np.int8), prepend=0, append=0)
            run_first, run_last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
            starts = self.group_start[run_first]
            stops = self.group_start[run_last] + self.group_len[run_last]
            pos = np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
            d = np.concatenate([self.sq_norms[a:b] - 2.0 * (self.features[a:b] @ q_feat)
                                for a, b in zip(starts, stops)])
        elif self._flat is not None and rows >= self.faiss_from * len(self.order):
            row_kept = kept if self._one_image_per_group else np.repeat(kept, self.group_len)
            bits = np.packbits(row_kept, bitorder="little")   # kept rows, index order
            params = self._faiss.SearchParameters(sel=self._faiss.IDSelectorBitmap(bits))
            _, ids = self._flat.search(np.asarray(q_feat, dtype=np.float32)[None], topk, params=params)
            return self.order[ids[0][ids[0] >= 0]]
        else:
            pos = self._positions(kept)
            d = self.sq_norms[pos] - 2.0 * (self.features[pos] @ q_feat)
        k = min(topk, d.size)
        best = np.argpartition(d, k - 1)[:k]
        best = best[np.argsort(d[best], kind="stable")]
        return self.order[pos[best]]


def exhaustive_search(g_feat: np.ndarray, g_sq_norms: np.ndarray, q_feat: np.ndarray, topk: int = 10) -> np.ndarray:
    """The unfiltered baseline: nearest ``topk`` gallery indices for one query."""
    d = g_sq_norms - 2.0 * (g_feat @ q_feat)   # not (2.0 * g_feat) @ q_feat: that copies the whole gallery
    k = min(topk, d.size)                      # a gallery smaller than topk: all of it
    best = np.argpartition(d, k - 1)[:k]
    return best[np.argsort(d[best], kind="stable")]


def time_per_query(q_feat: np.ndarray, q_pred: AttributePredictions, g_feat: np.ndarray, g_pred: AttributePredictions,
                   tau: float, topk: int = 10) -> dict[str, float]:
    """Mean seconds per query for exhaustive vs attribute-filtered top-k search.

    ``ideal_speedup`` is one over the share of the gallery kept: what the filtered search would reach if it cost
    nothing but comparing the kept images at the exhaustive scan's speed. Index building (done once, offline, like
    the paper's gallery attribute extraction) is
    timed separately.
    """
    g_feat = np.ascontiguousarray(g_feat, dtype=np.float32)
    g_norms = (g_feat ** 2).sum(1)
    t = time.perf_counter()
    index = AttributeIndex(g_feat, g_pred, tau)
    build = time.perf_counter() - t
    q_r, q_p = encode(q_pred, tau)
    t = time.perf_counter()
    for i in range(len(q_feat)):
        exhaustive_search(g_feat, g_norms, q_feat[i], topk)
    full = (time.perf_counter() - t) / len(q_feat)
    t = time.perf_counter()
    for i in range(len(q_feat)):
        index.search(q_feat[i], q_r[i], q_p[i], topk)
    filtered = (time.perf_counter() - t) / len(q_feat)
    kept = sum(index.candidates(q_r[i], q_p[i]).size for i in range(len(q_feat)))
    used = kept / len(q_feat) / len(g_feat)
    return {"tau": tau, "gallery": len(g_feat), "groups": index.num_groups, "gallery_used": used,
            "seconds_full": full, "seconds_filtered": filtered, "speedup": full / filtered,
            "ideal_speedup": 1 / used if used > 0 else float("inf"), "index_build_s": build}


def ranked_lists(distmat: np.ndarray | torch.Tensor, q_pids, g_pids, q_camids, g_camids, queries: Sequence[int],
                 top: int = 10) -> list[np.ndarray]:
    """The top ``top`` gallery indices of each query in ``queries`` under the evaluation protocol.

    Gallery images of the query's identity seen by its own camera, and junk images (id -1),
    are skipped, as :func:`apr.evaluation.metrics.evaluate_ranking` does.
    """
    dist = np.asarray(distmat.detach().cpu() if isinstance(distmat, torch.Tensor) else distmat)
    q_pids, g_pids, q_camids, g_camids = (np.asarray(x) for x in (q_pids, g_pids, q_camids, g_camids))
    out = []
    for q in queries:
        valid = (g_pids != -1) & ~((g_pids == q_pids[q]) & (g_camids == q_camids[q]))
        order = np.argsort(dist[q], kind="stable")
        out.append(order[valid[order]][:top])
    return out


def enlarge_gallery(features: np.ndarray, pred: AttributePredictions, size: int, seed: int = 0,
                    noise: float = 0.05) -> tuple[np.ndarray, AttributePredictions]:
    """A gallery of ``size`` images resampled from a real one, to time search at scale.

    Each new image copies a random real image's attribute predictions and its feature plus
    Gaussian noise (``noise`` times the features' standard deviation), so the distribution
    of signatures and distances stays that of the trained model.
    """
    if size < 1:
        raise ValueError(f"size={size}: expected a positive gallery size")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(features), size)
    feats = np.asarray(features, dtype=np.float32)
    out = feats[index] + rng.normal(0.0, noise * float(feats.std()), (size, feats.shape[1])).astype(np.float32)
    return out, pred.subset(index)
