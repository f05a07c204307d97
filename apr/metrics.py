"""Re-ID evaluation (CMC, mAP) under the Market-1501 / DukeMTMC-reID protocol, distances,
and attribute accuracy per evaluation group.

Protocol (single query, as the official MATLAB code and the paper's refs [17, 35]): for
each query, gallery images with the query's id *and* camera are ignored, gallery images
with id -1 (junk) are ignored, distractors (id 0) stay as negatives, and queries with no
valid match are skipped.

How :func:`evaluate_ranking` stays fast without sorting the gallery of every query: AP and
CMC depend only on the ranks of a query's true matches among the valid gallery images.
Per query chunk the few match distances are sorted, every valid gallery distance is
bucketed among them with one batched ``searchsorted``, and a per-row histogram's cumulative
sum gives each match's rank. The work is O(Q·G·log K) for K matches per query, on the
distance matrix's own device. Exact ties at a match's distance are broken by gallery
index, as a stable sort does; rows that have such ties are re-ranked with a stable sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch

from .data.attributes import AttributeSchema

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]
APMode = Literal["official", "step"]
JUNK_PID = -1


def _as_tensor(x: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t.to(device) if device is not None else t


def best_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def pairwise_distances(query: ArrayLike, gallery: ArrayLike, *, squared: bool = True, device: str | torch.device | None = None,
                       chunk_size: int = 4096) -> torch.Tensor:
    """Euclidean distance matrix between feature sets, chunked over queries.

    Parameters
    ----------
    query : array of shape (Q, D)
    gallery : array of shape (G, D)
    squared
        Return squared distances (same ranking, no square root).
    device
        Where to compute (default: CUDA if available, else CPU). The result stays there.

    Returns
    -------
    Tensor of shape (Q, G), float32, computed as ||q||² + ||g||² − 2 q·g and clamped at 0.
    """
    dev = torch.device(device) if device is not None else best_device()
    q = _as_tensor(query, "query", dev).float()
    g = _as_tensor(gallery, "gallery", dev).float()
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"query and gallery must be (Q, D) and (G, D) with the same D; got {tuple(q.shape)} and {tuple(g.shape)}")
    g_norm = (g * g).sum(1)
    out = torch.empty((q.shape[0], g.shape[0]), device=dev)
    for s in range(0, q.shape[0], chunk_size):
        qc = q[s:s + chunk_size]
        block = (qc * qc).sum(1, keepdim=True) + g_norm[None] - 2.0 * (qc @ g.T)
        out[s:s + chunk_size] = block.clamp_min_(0)
    return out if squared else out.sqrt_()


def _validate(distmat: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, q_camids: torch.Tensor,
              g_camids: torch.Tensor, max_rank: int, ap_mode: str) -> None:
    if distmat.ndim != 2:
        raise ValueError(f"distmat must be 2-D (Q, G), got shape {tuple(distmat.shape)}")
    n_q, n_g = distmat.shape
    if n_g == 0:
        raise ValueError("the gallery is empty (distmat has 0 columns)")
    if n_q == 0:
        raise ValueError("there are no queries (distmat has 0 rows)")
    for name, arr, n in (("q_pids", q_pids, n_q), ("q_camids", q_camids, n_q), ("g_pids", g_pids, n_g),
                         ("g_camids", g_camids, n_g)):
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"{name} has shape {tuple(arr.shape)} but distmat is {n_q} x {n_g}; expected ({n},)")
    if torch.isnan(distmat).any():
        raise ValueError("distmat contains NaN distances")
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    if ap_mode not in ("official", "step"):
        raise ValueError(f"ap_mode must be 'official' (Market-1501 MATLAB, trapezoid) or 'step' (toolboxes), got {ap_mode!r}")


def _ap_from_ranks(ranks: torch.Tensor, n_good: torch.Tensor, ap_mode: str) -> torch.Tensor:
    """AP of each row from the 0-based ranks of its matches (padded with inf beyond n_good)."""
    k = ranks.shape[1]
    i = torch.arange(1, k + 1, device=ranks.device, dtype=torch.float64)[None]   # hit number, 1-based
    r = ranks.double()
    precision = i / (r + 1)
    if ap_mode == "step":
        terms = precision
    else:
        # Market-1501 compute_AP.m: mean of the precision before and after each hit, where
        # "before" is the precision at the previous valid position (1 at the first position).
        before = torch.where(r > 0, (i - 1) / r.clamp_min(1), torch.ones_like(r))
        terms = (before + precision) / 2
    valid = i <= n_good[:, None]
    return torch.where(valid, terms, torch.zeros_like(terms)).sum(1) / n_good.double().clamp_min(1)


def _ranks_by_stable_sort(dist: torch.Tensor, valid: torch.Tensor, good: torch.Tensor, k: int) -> torch.Tensor:
    """0-based ranks of the matches of one row, ties broken by gallery index (exact path)."""
    order = torch.argsort(torch.where(valid, dist, torch.full_like(dist, float("inf"))), stable=True)
    hits = torch.nonzero(good[order] & torch.isfinite(dist[order])).flatten().double()
    out = torch.full((k,), float("inf"), dtype=torch.float64, device=dist.device)
    out[: hits.numel()] = hits
    return out


def evaluate_ranking(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike, g_camids: ArrayLike,
                     max_rank: int = 50, ap_mode: APMode = "official", chunk_size: int | None = None
                     ) -> tuple[np.ndarray, float]:
    """CMC and mAP of a query x gallery distance matrix (Market-1501 / DukeMTMC-reID protocol).

    Parameters
    ----------
    distmat : array or tensor of shape (Q, G)
        Smaller is more similar. numpy, or torch on any device (computed there). ``+inf``
        means *not retrieved* (e.g. dropped by attribute filtering): a match there is never
        found, so it adds 0 to AP while still counting in its denominator.
    q_pids, q_camids : arrays of shape (Q,)
    g_pids, g_camids : arrays of shape (G,)
        Gallery id -1 marks junk (ignored); 0 marks distractors (kept as negatives).
    max_rank
        Length of the returned CMC (clipped to G).
    ap_mode
        ``"official"``: the Market-1501 MATLAB rule (trapezoid: mean of the precision before
        and after each hit); ``"step"``: the toolboxes' rule (precision at each hit).
    chunk_size
        Queries per block (default: about 8M matrix cells per block).

    Returns
    -------
    cmc : ndarray of shape (min(max_rank, G),)
        Fraction of valid queries whose first match is within rank k+1.
    mAP : float in [0, 1]
    """
    dist = _as_tensor(distmat, "distmat")
    dev = dist.device
    q_pids, g_pids = _as_tensor(q_pids, "q_pids", dev).long(), _as_tensor(g_pids, "g_pids", dev).long()
    q_camids, g_camids = _as_tensor(q_camids, "q_camids", dev).long(), _as_tensor(g_camids, "g_camids", dev).long()
    _validate(dist, q_pids, g_pids, q_camids, g_camids, max_rank, ap_mode)
    n_q, n_g = dist.shape
    max_rank = min(max_rank, n_g)
    chunk = chunk_size or max(1, (1 << 23) // n_g)
    g_junk = (g_pids == JUNK_PID)[None]
    first_hits, aps = [], []
    for s in range(0, n_q, chunk):
        d = dist[s:s + chunk]
        if not d.is_floating_point():
            d = d.double()
        same_pid = g_pids[None] == q_pids[s:s + chunk, None]                          # (C, G)
        ignored = g_junk | (same_pid & (g_camids[None] == q_camids[s:s + chunk, None]))
        valid = ~ignored
        good = same_pid & valid
        n_good = good.sum(1)
        keep = n_good > 0                                                              # queries with a match
        if not keep.any():
            continue
        d, valid, good, n_good = d[keep], valid[keep], good[keep], n_good[keep]
        c, k = d.shape[0], int(n_good.max())
        # Match distances per row, sorted, padded with +inf: (C, K).
        rows, cols = torch.nonzero(good, as_tuple=True)
        pd_ = d[rows, cols]
        order = torch.argsort(pd_, stable=True)
        order = order[torch.argsort(rows[order], stable=True)]
        rows, pd_ = rows[order], pd_[order]
        slot = torch.arange(rows.numel(), device=dev) - torch.cumsum(n_good, 0).sub(n_good)[rows]
        pos = torch.full((c, k), float("inf"), dtype=d.dtype, device=dev)
        pos[rows, slot] = pd_
        # Bucket b = number of matches strictly closer than each gallery item; invalid items
        # go to a spare bucket k + 1. Match i's rank = (#valid items with b <= i) - 1.
        d_c = d.contiguous()
        left = torch.searchsorted(pos, d_c, right=False)
        right = torch.searchsorted(pos, d_c, right=True)
        bucket = torch.where(valid, left, torch.full_like(left, k + 1))
        flat = bucket + torch.arange(c, device=dev)[:, None] * (k + 2)
        hist = torch.bincount(flat.flatten(), minlength=c * (k + 2)).view(c, k + 2)[:, :k]
        ranks = (torch.cumsum(hist, 1) - 1).double()
        ranks = torch.where(torch.arange(k, device=dev)[None] < n_good[:, None], ranks, torch.full_like(ranks, float("inf")))
        # A tie: a valid item other than the match itself sits exactly at a match's distance.
        ties = (((right - left) > good.long()) & valid & torch.isfinite(d_c)).any(1)
        for row in torch.nonzero(ties).flatten().tolist():
            ranks[row] = _ranks_by_stable_sort(d[row], valid[row], good[row], k)
        ranks = torch.where(torch.isinf(pos), torch.full_like(ranks, float("inf")), ranks)  # not retrieved
        first_hits.append(ranks[:, 0])
        aps.append(_ap_from_ranks(ranks, n_good, ap_mode))
    if not aps:
        raise ValueError("no query has a valid match in the gallery (same id in another camera); cannot evaluate")
    first = torch.cat(first_hits)
    cmc = (first[:, None] <= torch.arange(max_rank, device=dev, dtype=torch.float64)[None]).double().mean(0)
    return cmc.cpu().numpy(), float(torch.cat(aps).mean())


# ------------------------------------------------------------------------- attributes

def group_predictions(probs: Sequence[np.ndarray | torch.Tensor], schema: AttributeSchema) -> pd.DataFrame:
    """Per-attribute class probabilities -> one predicted label per evaluation group.

    Parameters
    ----------
    probs
        One array per schema attribute (schema order), shape (N, C_a): that attribute's class
        probabilities.

    Returns
    -------
    DataFrame (N, groups): a plain group's predicted class; a colour group's predicted colour
    (index into the group's members), the colour whose "yes" probability is highest.
    """
    if len(probs) != len(schema.attributes):
        raise ValueError(f"{len(probs)} probability arrays for {len(schema.attributes)} {schema.dataset} attributes")
    by_name = {a.name: np.asarray(p.detach().cpu() if isinstance(p, torch.Tensor) else p)
               for a, p in zip(schema.attributes, probs)}
    out = {}
    for group in schema.groups:
        if group.is_colour:
            yes = np.stack([by_name[m][:, 1] for m in group.members], axis=1)   # (N, colours)
            out[group.name] = yes.argmax(1)
        else:
            out[group.name] = by_name[group.members[0]].argmax(1)
    return pd.DataFrame(out)


def attribute_accuracy(group_pred: pd.DataFrame | np.ndarray, true_attrs: np.ndarray, schema: AttributeSchema) -> pd.Series:
    """Accuracy per evaluation group and their plain mean (paper Tables 4-6).

    Parameters
    ----------
    group_pred : (N, n_groups)
        From :func:`group_predictions` (columns in the schema's group order).
    true_attrs : (N, A) int
        Image-level attribute labels (schema order, -1 unlabelled). Rows with every label
        -1 (junk, distractors) are left out, as the paper does.

    Rules: a plain group is right when the predicted class equals the label (images whose
    label is -1 do not count for it); a colour group is right iff the true flag of the
    predicted colour is "yes" (official rule: images with no colour marked are never right).
    """
    pred = np.asarray(group_pred)
    true_attrs = np.asarray(true_attrs)
    if pred.shape != (true_attrs.shape[0], len(schema.groups)):
        raise ValueError(f"group_pred has shape {pred.shape}; expected ({true_attrs.shape[0]}, {len(schema.groups)})")
    if true_attrs.shape[1] != len(schema.attributes):
        raise ValueError(f"true_attrs has {true_attrs.shape[1]} columns; {schema.dataset} has {len(schema.attributes)} attributes")
    labelled = (true_attrs != -1).any(1)
    pred, true_attrs = pred[labelled], true_attrs[labelled]
    if not labelled.any():
        raise ValueError("no labelled images to score (every attribute row is -1)")
    column = {n: i for i, n in enumerate(schema.names)}
    acc = {}
    for g, group in enumerate(schema.groups):
        if group.is_colour:
            flags = true_attrs[:, [column[m] for m in group.members]]                 # (N, colours)
            acc[group.name] = float((flags[np.arange(len(flags)), pred[:, g]] == 1).mean())
        else:
            truth = true_attrs[:, column[group.members[0]]]
            scored = truth != -1
            acc[group.name] = float((pred[scored, g] == truth[scored]).mean()) if scored.any() else float("nan")
    series = pd.Series(acc)
    series["mean"] = float(series.mean())
    return series
