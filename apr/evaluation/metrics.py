"""Re-ID evaluation (CMC, mAP) under the Market-1501 / DukeMTMC-reID protocol, distances,
and attribute accuracy per evaluation group.

Protocol (single query, as the official MATLAB code and the paper's refs [17, 35]): for
each query, gallery images with the query's id *and* camera are ignored, gallery images
with id -1 (junk) are ignored, distractors (id 0) stay as negatives, and queries with no
valid match are skipped.

How :func:`evaluate_ranking` stays fast without sorting the gallery of every query: AP and
CMC depend only on the ranks of a query's true matches among the valid gallery images.
Per block of queries the few match distances are sorted, and one comparison pass keeps the
gallery items no farther than the row's farthest match (a few percent of the gallery for a
trained model). Those are binned on a per-row grid whose cell function is monotone, so a
histogram's cumulative sum read at each match's cell counts the items nearer than it; the
few items that share a cell with a match are placed by binary search over the matches. The
work is one O(Q·G) comparison plus O(kept items), on the distance matrix's own device.
Exact ties at a match's distance are broken by gallery index, as a stable sort does: rows
that have such ties are re-ranked with a stable sort.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pandas as pd
import torch

from ..data.attributes import AttributeSchema

ArrayLike = np.ndarray | torch.Tensor | Sequence[float]
APMode = Literal["official", "step"]
JUNK_PID = -1


def as_tensor(x: ArrayLike, device: torch.device | None = None) -> torch.Tensor:
    """A numpy array, list or tensor as a tensor (on ``device`` if given), shared with numpy where it can be.

    A view with negative strides (``a[:, ::-1]``, ``np.flip``), which torch cannot share, is copied."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        array = np.asarray(x)
        t = torch.as_tensor(array.copy() if any(s < 0 for s in array.strides) else array)
    return t.to(device) if device is not None else t


def _ids(x: ArrayLike, name: str, device: torch.device) -> torch.Tensor:
    """Person or camera ids as int64; a float id must be a whole number (7.9 is not id 7, NaN is no id)."""
    if not isinstance(x, torch.Tensor) and np.asarray(x).dtype.kind not in "biufc":
        raise ValueError(f"{name}: expected integer ids, got {np.asarray(x).dtype} values")
    ids = as_tensor(x, device)
    if ids.is_floating_point():
        bad = ~torch.isfinite(ids) | (ids != torch.round(ids))
        if bool(bad.any()):
            value = ids[bad][0].item()
            raise ValueError(f"{name}: expected whole-number ids, got {value} at position "
                             f"{int(torch.nonzero(bad.flatten())[0])}")
    elif ids.dtype == torch.bool or ids.is_complex():
        raise ValueError(f"{name}: expected integer ids, got {ids.dtype}")
    return ids.long().contiguous()       # a strided view (ids[::10]) would make searchsorted warn and copy


def pairwise_distances(query: ArrayLike, gallery: ArrayLike, *, squared: bool = True,
                       device: str | torch.device | None = None,
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
    dev = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    q = as_tensor(query, dev).float()
    g = as_tensor(gallery, dev).float()
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"query and gallery must be (Q, D) and (G, D) with the same D; got {tuple(q.shape)} and "
                         f"{tuple(g.shape)}")
    g_norm = (g * g).sum(1)
    out = torch.empty((q.shape[0], g.shape[0]), device=dev)
    for s in range(0, q.shape[0], chunk_size):
        qc = q[s:s + chunk_size]
        block = (qc * qc).sum(1, keepdim=True) + g_norm[None] - 2.0 * (qc @ g.T)
        out[s:s + chunk_size] = block.clamp_min_(0)
    return out if squared else out.sqrt_()


def _validate(distmat: torch.Tensor, q_pids: torch.Tensor, g_pids: torch.Tensor, q_camids: torch.Tensor,
              g_camids: torch.Tensor, max_rank: int, ap_modes: Sequence[str]) -> None:
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
    if max_rank < 1:
        raise ValueError(f"max_rank must be >= 1, got {max_rank}")
    for ap_mode in ap_modes:
        if ap_mode not in ("official", "step"):
            raise ValueError("ap_mode must be 'official' (Market-1501 MATLAB, trapezoid) or 'step' (toolboxes), got "
                             f"{ap_mode!r}")


def ap_from_ranks(ranks: torch.Tensor, n_good: torch.Tensor, ap_mode: str) -> torch.Tensor:
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


def inp_from_ranks(ranks: torch.Tensor, n_good: torch.Tensor) -> torch.Tensor:
    """INP of each row (Ye et al. 2021, the re-ID survey): its number of matches over the 1-based rank of its last
    (hardest) match, from the 0-based ranks of :func:`ap_from_ranks`; 0 when a match is never retrieved (+inf)."""
    last = ranks.double().gather(1, (n_good.long() - 1).clamp_min(0)[:, None]).squeeze(1)
    return torch.where(torch.isfinite(last), n_good.double() / (last + 1), torch.zeros_like(last))


def _ranks_by_stable_sort(dist: torch.Tensor, valid: torch.Tensor, good: torch.Tensor, k: int) -> torch.Tensor:
    """0-based ranks of the matches of one row, ties broken by gallery index (exact path)."""
    order = torch.argsort(torch.where(valid, dist, torch.full_like(dist, float("inf"))), stable=True)
    hits = torch.nonzero(good[order] & torch.isfinite(dist[order])).flatten().double()
    out = torch.full((k,), float("inf"), dtype=torch.float64, device=dist.device)
    out[: hits.numel()] = hits
    return out


def _same_id_pairs(q_pids: torch.Tensor, g_pids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All (query, gallery) index pairs with the same person id, sorted by query.

    Found through the gallery sorted by id, so the cost is the number of pairs, not Q x G.
    """
    dev = g_pids.device
    g_sorted, g_order = torch.sort(g_pids, stable=True)
    first = torch.searchsorted(g_sorted, q_pids, right=False)
    count = torch.searchsorted(g_sorted, q_pids, right=True) - first
    q_idx = torch.repeat_interleave(torch.arange(q_pids.numel(), device=dev), count)
    within = torch.arange(q_idx.numel(), device=dev) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    return q_idx, g_order[torch.repeat_interleave(first, count) + within]


CELLS = 512       # grid cells per query between its nearest and farthest match
SPREAD = 8        # cells that share the items beyond every match (dense binning)
ROW_WIDTH = CELLS + 2 + SPREAD
DENSE_FROM = 0.25  # bin the whole block when more than this fraction of it is kept
NUMPY_ON_CPU = True  # compare and compact through numpy on the CPU (torch ops elsewhere)


class _Scratch:
    """Buffers reused across the chunks one worker processes (a fresh multi-megabyte tensor
    per chunk costs more in page faults than the comparison that fills it)."""

    def __init__(self) -> None:
        self._bufs: dict[str, torch.Tensor] = {}

    def get(self, name: str, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < n or buf.dtype != dtype or buf.device != device:
            buf = self._bufs[name] = torch.empty(n, dtype=dtype, device=device)
        return buf[:n]


def _binned_items(d: torch.Tensor, limit: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor,
                  holds_match: torch.Tensor, scratch: _Scratch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid histogram of the items no farther than their row's farthest match.

    Returns the per-row cell counts (C, ROW_WIDTH) of the items ``d <= limit`` and the row
    and distance of those among them that share a cell with a match. One comparison pass
    finds the kept items; when they are few (a trained model) only they are binned, else
    the whole block is (an untrained model keeps most of the gallery). On the CPU the
    comparison goes through numpy, several times faster than torch's, and releases the GIL
    so that chunk workers run side by side.
    """
    c, g = d.shape
    dev = d.device
    cpu = dev.type == "cpu" and NUMPY_ON_CPU
    if cpu:
        d_np = d.numpy()
        mask = np.less_equal(d_np, limit.numpy()[:, None], out=scratch.get("near", c * g, torch.bool, dev).numpy()
                             .reshape(c, g))
        kept = int(np.count_nonzero(mask))
    else:
        mask = d <= limit[:, None]
        kept = int(mask.sum())
    if kept <= DENSE_FROM * c * g:
        flat = torch.from_numpy(np.flatnonzero(mask)) if cpu else torch.nonzero(mask.view(-1)).flatten()
        rows = flat // g
        near_d = torch.from_numpy(np.take(d_np.reshape(-1), flat.numpy())) if cpu else d.reshape(-1)[flat]
        # The matches' cell formula, element by element.
        cell = torch.mul(near_d, scale.view(-1).index_select(0, rows)).add_(bias.view(-1).index_select(0, rows))
        key = rows * ROW_WIDTH + cell.clamp_(0, CELLS + 1).to(torch.int32).long()
        amb = torch.nonzero(holds_match.index_select(0, key)).flatten()
        return torch.bincount(key, minlength=c * ROW_WIDTH).view(c, ROW_WIDTH), rows[amb], near_d[amb]
    # Every item. Those beyond all matches would land in cell CELLS + 1, and a histogram
    # whose increments hit one counter in a row runs ~3x slower, so they are spread over
    # SPREAD cells by column (the same function as the matches' up to CELLS + 1).
    x = torch.mul(d, scale, out=scratch.get("x", c * g, d.dtype, dev).view(c, g)).add_(bias).clamp_min_(0)
    torch.minimum(x, (CELLS + 1 + torch.arange(g, device=dev) % SPREAD).to(d.dtype)[None], out=x)
    key = scratch.get("key", c * g, torch.int32, dev).view(c, g).copy_(x)   # truncation = floor (>= 0)
    key += (torch.arange(c, device=dev, dtype=torch.int32) * ROW_WIDTH)[:, None]
    key = key.view(-1)
    in_match_cell = torch.index_select(holds_match, 0, key, out=scratch.get("amb", c * g, torch.bool, dev))
    flat = torch.from_numpy(np.flatnonzero(in_match_cell.numpy())) if cpu else torch.nonzero(in_match_cell).flatten()
    return torch.bincount(key, minlength=c * ROW_WIDTH).view(c, ROW_WIDTH), flat // g, d.reshape(-1)[flat]


def _grid_exponents(pos: torch.Tensor) -> torch.Tensor | None:
    """Per row, the power of two that brings its largest finite match distance near 1 where that lies outside
    [2**-60, 2**60]; None when every row is inside (the usual case). The grid's scale (cells per distance) and bias
    come from the matches alone; items of any magnitude then multiply a finite positive scale and are clamped, so
    only the matches must stay in range. ``pos`` (C, K) holds each row's match distances, +inf padded: a (C, K)
    reduction, no pass over the chunk."""
    largest = torch.where(torch.isfinite(pos), pos.abs(), torch.zeros((), dtype=pos.dtype, device=pos.device)).amax(1)
    outside = (largest > 0) & ((largest <= 2.0**-60) | (largest >= 2.0**60))
    if not bool(outside.any()):
        return None
    return torch.where(outside, -torch.frexp(largest).exponent, 0)


def _times_powers_of_two(x: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """``x * 2**exponents[:, None]``, exact, in two halves so that no factor leaves ``x``'s dtype (2**149 leaves
    float32's). A power of two changes no order and no tie within a row."""
    half = torch.div(exponents, 2, rounding_mode="floor")
    for part in (half, exponents - half):
        x = x * torch.exp2(part.to(x.dtype))[:, None]
    return x


def _rank_chunk(d: torch.Tensor, pos_r: torch.Tensor, pos_c: torch.Tensor, ign_r: torch.Tensor, ign_c: torch.Tensor,
                scratch: _Scratch) -> tuple[torch.Tensor, torch.Tensor]:
    """Ranks of each row's matches among its valid items, for one chunk of queries.

    ``d`` (C, G) holds distances (junk columns already removed); ``pos_*`` index the
    matches and ``ign_*`` the ignored same-id, same-camera items, rows local to the chunk
    and sorted by row. Returns (ranks (C, K) float64 with +inf padding, n_good (C,)).
    """
    dev = d.device
    c, g = d.shape
    n_good = torch.bincount(pos_r, minlength=c)
    k = max(int(n_good.max()), 1)
    # Match distances per row, sorted, padded with +inf: (C, K).
    slot = torch.arange(pos_r.numel(), device=dev) - (torch.cumsum(n_good, 0) - n_good)[pos_r]
    pos = torch.full((c, k), float("inf"), dtype=d.dtype, device=dev)
    pos[pos_r, slot] = d[pos_r, pos_c]
    pos = torch.sort(pos, dim=1).values
    exponents = _grid_exponents(pos)
    if exponents is not None:   # rare: a row's matches near overflow or underflow
        d, pos = _times_powers_of_two(d, exponents), _times_powers_of_two(pos, exponents)
    n_fin = torch.isfinite(pos).sum(1)                                        # retrieved matches
    # Per-row grid: cell(x) = floor(clamp(x * scale + bias, 0, CELLS + 1)) puts the nearest
    # finite match in cell 2 and the farthest in cell CELLS - 1. It is computed with separate,
    # correctly rounded multiply and add (no fused multiply-add), so it is the same function
    # for every element and monotone: an item in a lower (higher) cell than a match is
    # nearer (farther) than it. Only items in a cell that holds a match are resolved exactly.
    has = n_fin > 0
    lo = torch.where(has, pos[:, 0], torch.zeros_like(pos[:, 0]))
    hi = torch.where(has, pos.gather(1, (n_fin - 1).clamp_min(0)[:, None])[:, 0], lo)
    span = hi - lo
    span = torch.where(span > 0, span, lo.abs().clamp_min(1e-12) * 1e-3)
    scale = ((CELLS - 3) / span)[:, None].to(d.dtype)                       # (C, 1)
    bias = (2 - lo[:, None] * scale).to(d.dtype)
    p_cell = torch.mul(pos, scale).add_(bias).clamp_(0, CELLS + 1).to(torch.int32).long()   # +inf -> CELLS + 1
    match_key = (torch.arange(c, device=dev)[:, None] * ROW_WIDTH + p_cell)[torch.isfinite(pos)]
    holds_match = torch.zeros(c * ROW_WIDTH, dtype=torch.bool, device=dev)
    holds_match[match_key] = True
    # Only items no farther than the row's farthest retrieved match can come before a match.
    per_cell, amb_r, amb_d = _binned_items(d, torch.where(has, hi, torch.full_like(hi, -float("inf"))), scale, bias,
                                           holds_match, scratch)
    # Items in cells below match j's cell are nearer than it: their count is a cumulative sum
    # over the cells, read at p_cell (cells that hold a match are left out and counted exactly).
    per_cell.view(-1)[match_key] = 0
    settled_below = torch.cumsum(per_cell, 1).gather(1, p_cell)              # (C, K)
    # Items in a cell that holds a match: how many matches are strictly nearer, by binary
    # search over the row's matches (left), and how many are as near (right - left).
    left = torch.searchsorted(pos[amb_r], amb_d[:, None], right=False).flatten()
    right = torch.searchsorted(pos[amb_r], amb_d[:, None], right=True).flatten()
    width = k + 1
    # An item with `left` == i is no farther than matches i, i + 1, ...: its count goes to
    # every later match through a cumulative sum over i.
    amb_hist = torch.bincount(amb_r * width + left, minlength=c * width).view(c, width)
    # Same-id same-camera items are ignored. Settled or not, an item is counted for match j
    # iff left <= j (for a settled item, left is the number of matches in lower cells), so
    # the ignored ones come off by the same cumulative sum.
    ign_d = d[ign_r, ign_c]
    ign_left = torch.searchsorted(pos[ign_r], ign_d[:, None], right=False).flatten()
    ign_right = torch.searchsorted(pos[ign_r], ign_d[:, None], right=True).flatten()
    ign_hist = torch.bincount(ign_r * width + ign_left, minlength=c * width).view(c, width)
    ranks = settled_below + torch.cumsum(amb_hist - ign_hist, 1)[:, :k] - 1
    ranks = torch.where(torch.isfinite(pos), ranks.double(), torch.full_like(pos, float("inf"), dtype=torch.float64))
    # Exact ties at a match's distance (other than the match itself, and not ignored items)
    # make a row's sum of (right - left) exceed its number of retrieved matches: re-rank those
    # rows with a stable sort, which breaks ties by gallery index.
    # .double(): a weighted bincount of no items comes back as int64 (every match filtered out to +inf).
    excess = torch.bincount(amb_r, weights=(right - left).double(), minlength=c).double()
    excess -= torch.bincount(ign_r, weights=(ign_right - ign_left).double(), minlength=c).double()
    for row in torch.nonzero(excess > n_fin).flatten().tolist():
        valid = torch.ones(g, dtype=torch.bool, device=dev)
        good = torch.zeros(g, dtype=torch.bool, device=dev)
        valid[ign_c[ign_r == row]] = False
        good[pos_c[pos_r == row]] = True
        ranks[row] = _ranks_by_stable_sort(d[row], valid, good, k)
    return ranks, n_good


def evaluate_ranking(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike, g_camids: ArrayLike,
                     max_rank: int = 50, ap_mode: APMode = "official", chunk_size: int | None = None,
                     workers: int | None = None, minp: bool = False
                     ) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, float]:
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
        Length of the returned CMC (clipped to the number of non-junk gallery images).
    ap_mode
        ``"official"``: the Market-1501 MATLAB rule (trapezoid: mean of the precision before
        and after each hit); ``"step"``: the toolboxes' rule (precision at each hit).
    chunk_size
        Queries per block (default: at most about 4M matrix cells per block).
    workers
        CPU only: blocks processed side by side (default: ``torch.get_num_threads()``), each
        with one intra-op thread; the thread setting is restored afterwards.
    minp
        Also return mINP (:func:`inp_from_ranks`), from the same ranking pass.

    Returns
    -------
    cmc : ndarray of shape (min(max_rank, G),)
        Fraction of valid queries whose first match is within rank k+1.
    mAP : float in [0, 1]
    mINP : float in [0, 1], only with ``minp=True``
    """
    cmc, maps = evaluate_ranking_modes(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, (ap_mode,), chunk_size,
                                       workers, minp=minp)
    return (cmc, maps[ap_mode], maps["mINP"]) if minp else (cmc, maps[ap_mode])


def evaluate_ranking_modes(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike,
                           g_camids: ArrayLike, max_rank: int = 50, ap_modes: Sequence[APMode] = ("official", "step"),
                           chunk_size: int | None = None, workers: int | None = None,
                           per_query: bool = False, minp: bool = False
                           ) -> tuple[np.ndarray, dict[str, float]] | pd.DataFrame:
    """:func:`evaluate_ranking` for several AP rules from one ranking pass: (cmc, {mode: mAP}), with ``"mINP"``
    in the dictionary when ``minp``.

    ``per_query=True`` returns instead one row per evaluated query (index: query position):
    the 0-based rank of its first match and its AP under each rule (see :func:`evaluate_per_query`), and its
    ``INP`` when ``minp``.
    """
    dist = as_tensor(distmat)
    dev = dist.device
    q_pids, g_pids = _ids(q_pids, "q_pids", dev), _ids(g_pids, "g_pids", dev)
    q_camids, g_camids = _ids(q_camids, "q_camids", dev), _ids(g_camids, "g_camids", dev)
    _validate(dist, q_pids, g_pids, q_camids, g_camids, max_rank, ap_modes)
    if not dist.is_floating_point():
        dist = dist.double()
    elif dist.dtype in (torch.float16, torch.bfloat16):   # too short for the grid's scale: rank in float32
        dist = dist.float()
    # Junk gallery images are ignored for every query: drop their columns (per chunk).
    keep_cols = torch.nonzero(g_pids != JUNK_PID).flatten()
    has_junk = keep_cols.numel() < g_pids.numel()
    if keep_cols.numel() == 0:
        raise ValueError("the gallery holds only junk images (id -1)")
    g_pids, g_camids = g_pids[keep_cols], g_camids[keep_cols]
    n_q, n_g = dist.shape[0], keep_cols.numel()
    max_rank = min(max_rank, n_g)
    pair_q, pair_g = _same_id_pairs(q_pids, g_pids)
    same_cam = g_camids[pair_g] == q_camids[pair_q]
    pos_q, pos_g, ign_q, ign_g = pair_q[~same_cam], pair_g[~same_cam], pair_q[same_cam], pair_g[same_cam]
    workers = workers if workers is not None else (torch.get_num_threads() if dev.type == "cpu" else 1)
    if chunk_size is None:
        # CPU: blocks of ~2M cells, whose reused buffers stay warm in cache;
        # GPU: large blocks, fewer kernel launches.
        target = (1 << 21) if dev.type == "cpu" else (1 << 26)
        n_chunks = -(-n_q * n_g // target)
        n_chunks = -(-n_chunks // max(workers, 1)) * max(workers, 1)   # a multiple of the workers
        chunk_size = -(-n_q // n_chunks)
    starts = list(range(0, n_q, chunk_size))
    # Pairs are sorted by query, so each chunk's pairs are one slice.
    bounds = torch.as_tensor(starts + [n_q], device=dev)
    pos_at = torch.searchsorted(pos_q, bounds).tolist()
    ign_at = torch.searchsorted(ign_q, bounds).tolist()
    local = threading.local()

    def run(i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor] | None:
        s, e = starts[i], min(starts[i] + chunk_size, n_q)
        if pos_at[i] == pos_at[i + 1]:
            return None
        p_sl, i_sl = slice(pos_at[i], pos_at[i + 1]), slice(ign_at[i], ign_at[i + 1])
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = _Scratch()
        d = dist[s:e]                                            # a view: no copy
        smallest = float(d.min())                                # one pass; min propagates NaN
        if smallest != smallest:
            raise ValueError(f"distmat contains NaN distances (query rows {s}..{e - 1})")
        if smallest == -float("inf"):
            raise ValueError(f"distmat contains -inf distances (query rows {s}..{e - 1})")
        if has_junk:
            d = torch.index_select(d, 1, keep_cols, out=scratch.get("d", (e - s) * n_g, d.dtype, dev).view(e - s, n_g))
        else:
            d = d.contiguous()
        ranks, n_good = _rank_chunk(d, pos_q[p_sl] - s, pos_g[p_sl], ign_q[i_sl] - s, ign_g[i_sl], scratch)
        with_match = n_good > 0                                  # queries without a match are skipped
        ranks, n_good = ranks[with_match], n_good[with_match]
        evaluated = torch.nonzero(with_match).flatten() + s
        scores = {mode: ap_from_ranks(ranks, n_good, mode) for mode in ap_modes}
        if minp:
            scores["mINP"] = inp_from_ranks(ranks, n_good)
        return ranks[:, 0], scores, evaluated

    if workers > 1 and len(starts) > 1 and dev.type == "cpu":
        # Several of the dense ops (bincount, index_select) run on one core: process chunks
        # side by side, each op on one thread, rather than one chunk at a time.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(run, range(len(starts))))
        finally:
            torch.set_num_threads(threads)
    else:
        results = [run(i) for i in range(len(starts))]
    first_hits = [r[0] for r in results if r is not None]
    aps = [r[1] for r in results if r is not None]
    if not aps:
        raise ValueError("no query has a valid match in the gallery (same id in another camera); cannot evaluate")
    first = torch.cat(first_hits)
    if per_query:
        queries = torch.cat([r[2] for r in results if r is not None])
        ranks = first.cpu().numpy()
        # A query whose every match was filtered out (distance +inf) never retrieves one: its rank stays inf.
        ranks = ranks.astype(np.int64) if np.isfinite(ranks).all() else ranks.astype(np.float64)
        frame = pd.DataFrame({"query": queries.cpu().numpy(), "first_match_rank": ranks})
        for mode in ap_modes:
            frame[f"AP_{mode}"] = torch.cat([a[mode] for a in aps]).cpu().numpy()
        if minp:
            frame["INP"] = torch.cat([a["mINP"] for a in aps]).cpu().numpy()
        return frame.set_index("query")
    cmc = (first[:, None] <= torch.arange(max_rank, device=dev, dtype=torch.float64)[None]).double().mean(0)
    return cmc.cpu().numpy(), {mode: float(torch.cat([a[mode] for a in aps]).mean()) for mode in aps[0]}


def evaluate_per_query(distmat: ArrayLike, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike,
                       g_camids: ArrayLike, ap_modes: Sequence[APMode] = ("official",)) -> pd.DataFrame:
    """Per-query results under the same protocol as :func:`evaluate_ranking`.

    Returns a DataFrame indexed by query position (queries without a valid match left out)
    with ``first_match_rank`` (0 = rank-1 hit; inf when every match has distance +inf, i.e. was
    filtered out) and ``AP_<mode>`` columns; their means are
    the CMC at rank 1 and the mAP.
    """
    return evaluate_ranking_modes(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=1, ap_modes=ap_modes,
                                  per_query=True)


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


def attribute_accuracy(group_pred: pd.DataFrame | np.ndarray, true_attrs: np.ndarray,
                       schema: AttributeSchema) -> pd.Series:
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
        raise ValueError(f"true_attrs has {true_attrs.shape[1]} columns; {schema.dataset} has "
                         f"{len(schema.attributes)} attributes")
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


def majority_accuracy(true_attrs: np.ndarray, schema: AttributeSchema) -> pd.Series:
    """Accuracy per evaluation group of the best constant prediction, and their plain mean: the rate a model
    that predicts each group's most common value reaches under :func:`attribute_accuracy`'s rules (for a colour
    group, the colour marked "yes" on most images).

    Parameters
    ----------
    true_attrs : (N, A) int
        Image- (or identity-) level attribute labels in schema order, -1 unlabelled.
    """
    true_attrs = np.asarray(true_attrs)
    if true_attrs.ndim != 2 or true_attrs.shape[1] != len(schema.attributes):
        raise ValueError(f"true_attrs has shape {true_attrs.shape}; expected (N, {len(schema.attributes)})")
    best = {}
    for g, group in enumerate(schema.groups):
        choices = len(group.members) if group.is_colour else schema.attribute(group.members[0]).num_classes
        scores = []
        for choice in range(choices):
            constant = np.zeros((len(true_attrs), len(schema.groups)), dtype=np.int64)
            constant[:, g] = choice
            scores.append(attribute_accuracy(constant, true_attrs, schema)[group.name])
        best[group.name] = float(np.nanmax(scores)) if not np.isnan(scores).all() else float("nan")
    series = pd.Series(best)
    series["mean"] = float(series.mean())
    return series
