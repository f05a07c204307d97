"""Attribute-filtered search: the package's signature index against FAISS, by gallery size.

Same synthetic features and attribute predictions as ``bench_acceleration.py``. For each
gallery size and τ it prints seconds per query (one query at a time, top-10) of:

* ``numpy full``: exhaustive search (``apr.evaluation.retrieval.exhaustive_search``);
* ``faiss full``: FAISS ``IndexFlatL2`` over the whole gallery;
* ``apr numpy``: :class:`apr.evaluation.retrieval.AttributeIndex` with ``backend="numpy"`` (signature
  groups; runs of kept rows sliced, or gathered when scattered);
* ``apr auto``: the same index with FAISS installed (scattered kept sets go to FAISS);
* ``faiss sel``: FAISS ``IndexFlatL2`` with an ``IDSelectorBitmap`` of the kept images
  (the bitmap is built from the same signature test, its time included).

and checks that the filtered top-10 lists agree. Needs ``faiss-cpu`` (``pip install
'apr[bench]'``); FAISS is pinned to the same number of threads.

    .venv/bin/python benchmarks/bench_faiss.py [--sizes 15913 100000 1000000] [--queries 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from bench_acceleration import synthetic_predictions

from apr.data.synthetic import sample_from_prior
from apr.evaluation.retrieval import AttributeIndex, encode, exhaustive_search


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[15913, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--taus", type=float, nargs="+", default=[0.7, 0.8, 0.9])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dim", type=int, default=539)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"faiss {faiss.__version__}, {args.threads} threads, {args.queries} queries, top-10, seconds per query")
    print(f"{'gallery':>9} {'tau':>5} {'kept':>7} {'numpy full':>10} {'faiss full':>10} {'apr numpy':>10} "
          f"{'apr auto':>10} {'faiss sel':>10} {'same top-10':>11}")
    for size in args.sizes:
        n_ids = max(size // 20, 10)
        id_attrs = sample_from_prior(n_ids, rng).to_numpy()
        g_ids, q_ids = rng.integers(0, n_ids, size), rng.integers(0, n_ids, args.queries)
        centres = rng.normal(size=(n_ids, args.dim)).astype(np.float32)
        g_feat = np.ascontiguousarray(centres[g_ids] + rng.normal(size=(size, args.dim)).astype(np.float32))
        q_feat = np.ascontiguousarray(centres[q_ids] + rng.normal(size=(args.queries, args.dim)).astype(np.float32))
        g_pred, q_pred = synthetic_predictions(id_attrs[g_ids], rng), synthetic_predictions(id_attrs[q_ids], rng)
        g_norms = (g_feat ** 2).sum(1)
        flat = faiss.IndexFlatL2(args.dim)
        flat.add(g_feat)
        t = time.perf_counter()
        for q in q_feat:
            exhaustive_search(g_feat, g_norms, q)
        numpy_full = (time.perf_counter() - t) / args.queries
        t = time.perf_counter()
        for q in q_feat:
            flat.search(q[None], 10)
        faiss_full = (time.perf_counter() - t) / args.queries
        for tau in args.taus:
            q_r, q_p = encode(q_pred, tau)
            g_r, g_p = encode(g_pred, tau)
            index = AttributeIndex(g_feat, g_pred, tau, backend="numpy")
            t = time.perf_counter()
            ours = [index.search(q_feat[i], q_r[i], q_p[i], 10) for i in range(args.queries)]
            apr_time = (time.perf_counter() - t) / args.queries
            del index
            index = AttributeIndex(g_feat, g_pred, tau, backend="auto")
            t = time.perf_counter()
            ours_auto = [index.search(q_feat[i], q_r[i], q_p[i], 10) for i in range(args.queries)]
            auto_time = (time.perf_counter() - t) / args.queries
            del index
            t = time.perf_counter()
            theirs, kept = [], 0
            for i in range(args.queries):
                conflict = np.zeros(size, bool)
                for w in range(q_r.shape[1]):
                    conflict |= ((g_r[:, w] & q_r[i, w]) & (g_p[:, w] ^ q_p[i, w])) != 0
                keep = ~conflict
                kept += int(keep.sum())
                params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(np.packbits(keep, bitorder="little")))
                _, ids = flat.search(q_feat[i][None], 10, params=params)
                theirs.append(ids[0][ids[0] >= 0])
            faiss_sel = (time.perf_counter() - t) / args.queries
            same = np.mean([set(a.tolist()) == set(b.tolist()) == set(c.tolist())
                            for a, b, c in zip(ours, ours_auto, theirs)])
            print(f"{size:>9,} {tau:>5.2f} {kept / args.queries / size:>7.2%} {numpy_full:>10.4f} {faiss_full:>10.4f} "
                  f"{apr_time:>10.4f} {auto_time:>10.4f} {faiss_sel:>10.4f} {same:>11.0%}", flush=True)
        del g_feat, flat


if __name__ == "__main__":
    main()
