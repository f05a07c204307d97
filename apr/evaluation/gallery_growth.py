"""Re-ID accuracy as distractors join the gallery (paper §5.3.4, Fig. 8), with no query × gallery matrix.

A distractor (id 0) never matches a query, so it changes a query's CMC and AP only by pushing its true
matches down. Match j of a query, at 0-based rank r_j among the valid images of the dataset's own
gallery, sits at r_j + c_j once distractors join, where c_j counts the distractors strictly nearer than
it. (A distractor exactly as near comes after the match: distractors follow the dataset's gallery, and
:func:`apr.evaluation.metrics.evaluate_ranking` breaks ties by gallery position.) So the matches' ranks in the
dataset's gallery are found once, and each block of distractors only adds to the counts c_j:

* memory is one block of queries × one block of distractors, whatever the gallery size (no dense
  matrix: a 500k gallery of Market's 3,368 queries would take 6.7 GB as float32);
* nested gallery sizes come out of one pass: read the metrics, add more distractors, read again;
* the result is exact, the same CMC and AP as :func:`apr.evaluation.metrics.evaluate_ranking` on the whole
  gallery's distances (``tests/test_distractors.py`` checks it), unlike a top-k nearest-neighbour search, which
  cannot give the rank of a match beyond k and so cannot give mAP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .metrics import JUNK_PID, ap_from_ranks

BLOCK_CELLS = 1 << 22    # distances held at once: 32 MB of float64


def squared_distances(query: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances in float64. The gallery is met a block at a time here, and float32 sums
    of differently shaped blocks can differ in the last bit, which would reorder near ties between blocks."""
    q, g = query.double(), gallery.double()
    return ((q * q).sum(1, keepdim=True) + (g * g).sum(1)[None] - 2.0 * (q @ g.T)).clamp_min_(0)


class GrowingGallery:
    """A test set's queries against its gallery plus a growing stream of distractors.

    ``add(features)`` appends distractors; :meth:`per_query` gives each query's first-match rank, rank-1
    hit and official AP at the current size. Queries without a valid match are left out, as
    :func:`apr.evaluation.metrics.evaluate_per_query` leaves them out.
    """

    def __init__(self, query_features: torch.Tensor, query_pids, query_camids, gallery_features: torch.Tensor,
                 gallery_pids, gallery_camids, *, block_cells: int = BLOCK_CELLS) -> None:
        q = torch.as_tensor(query_features).float().cpu()
        g = torch.as_tensor(gallery_features).float().cpu()
        q_pids, q_cams = torch.as_tensor(query_pids).long(), torch.as_tensor(query_camids).long()
        g_pids, g_cams = torch.as_tensor(gallery_pids).long(), torch.as_tensor(gallery_camids).long()
        if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
            raise ValueError(f"query and gallery features must be (Q, D) and (G, D) with the same D; got "
                             f"{tuple(q.shape)} and {tuple(g.shape)}")
        self.block_cells = block_cells
        self.gallery_size = g.shape[0]
        self.distractors = 0
        rows = max(1, block_cells // max(1, g.shape[0]))
        distances, ranks, counts = [], [], []
        for s in range(0, q.shape[0], rows):
            d = squared_distances(q[s:s + rows], g)
            same = q_pids[s:s + rows, None] == g_pids[None]
            valid = (g_pids != JUNK_PID)[None] & ~(same & (q_cams[s:s + rows, None] == g_cams[None]))
            good = same & valid
            # Stable sort of the valid items: ties broken by gallery position, as evaluate_ranking does.
            order = torch.argsort(torch.where(valid, d, torch.full_like(d, float("inf"))), dim=1, stable=True)
            hit = good.gather(1, order)
            position = torch.cumsum(hit, 1) - 1                       # which match of its row each hit is
            n = hit.sum(1)
            k = max(int(n.max()) if n.numel() else 0, 1)
            r = torch.full((d.shape[0], k), float("inf"), dtype=torch.float64)
            m = torch.full((d.shape[0], k), float("inf"), dtype=torch.float64)
            row, col = torch.nonzero(hit, as_tuple=True)
            r[row, position[row, col]] = col.double()
            m[row, position[row, col]] = d.gather(1, order)[row, col]
            distances.append(m), ranks.append(r), counts.append(n)
        width = max(x.shape[1] for x in ranks)
        pad = lambda x, value: torch.nn.functional.pad(x, (0, width - x.shape[1]), value=value)   # noqa: E731
        n_good = torch.cat(counts)
        keep = torch.nonzero(n_good > 0).flatten()
        if keep.numel() == 0:
            raise ValueError("no query has a valid match in the gallery (same id in another camera); cannot evaluate")
        self.queries = keep.numpy()
        self.query_features = q[keep]
        self.n_good = n_good[keep]
        self.match_distances = torch.cat([pad(x, float("inf")) for x in distances])[keep]   # (Q, K), ascending
        self.base_ranks = torch.cat([pad(x, float("inf")) for x in ranks])[keep]            # (Q, K), inf padding
        self.nearer = torch.zeros(self.base_ranks.shape, dtype=torch.float64)               # distractors nearer

    @property
    def size(self) -> int:
        """Gallery images now: the dataset's gallery (junk included, as its published size counts it) plus
        distractors."""
        return self.gallery_size + self.distractors

    def add(self, features: torch.Tensor) -> None:
        """Append distractors (N, D) to the gallery, a block of distractors at a time."""
        x = torch.as_tensor(features).float().cpu()
        if x.ndim != 2 or x.shape[1] != self.query_features.shape[1]:
            raise ValueError(f"distractor features must be (N, {self.query_features.shape[1]}), got {tuple(x.shape)}")
        n_q = self.query_features.shape[0]
        rows = min(n_q, max(1, self.block_cells // 1024))
        cols = max(1, self.block_cells // rows)
        for s in range(0, x.shape[0], cols):
            block = x[s:s + cols]
            for r in range(0, n_q, rows):
                d = torch.sort(squared_distances(self.query_features[r:r + rows], block), dim=1).values
                # Distractors strictly nearer than each match (padding at +inf counts all; masked in the AP).
                below = torch.searchsorted(d, self.match_distances[r:r + rows].contiguous(), right=False)
                self.nearer[r:r + rows] += below.double()
        self.distractors += x.shape[0]

    def per_query(self) -> pd.DataFrame:
        """One row per evaluated query (index: query position): ``first_match_rank``, ``rank1`` (hit 0/1),
        ``AP_official``."""
        ranks = self.base_ranks + self.nearer
        return pd.DataFrame({"first_match_rank": ranks[:, 0].numpy().astype(np.int64),
                             "rank1": (ranks[:, 0] == 0).numpy().astype(float),
                             "AP_official": ap_from_ranks(ranks, self.n_good, "official").numpy()},
                            index=pd.Index(self.queries, name="query"))
