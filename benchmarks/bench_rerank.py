"""Benchmark k-reciprocal re-ranking and mINP at Market-1501 scale against fast-reid's versions, in one run.

Features shaped like Market-1501's test split (3,368 queries, 15,913 gallery; ``--size small``: a tenth),
re-ranked by apr (:func:`apr.evaluation.rerank.k_reciprocal_rerank`) and by fast-reid 1.4.0's
``fastreid/evaluation/rerank.py`` (read from its wheel, downloaded once under ``benchmarks/_build/``; it squares
its input distances, so it gets Euclidean ones and apr squared ones). Prints each one's seconds and peak memory
(each in a fresh process, with the distance matrices it starts from; the time counts the re-ranking
alone), the largest difference of the two results, rank-1 / mAP / mINP before and after re-ranking, and, with
``--cython``, mINP from fast-reid's Cython evaluator beside apr's.

    .venv/bin/python benchmarks/bench_rerank.py [--size market|small] [--threads 2] [--cython]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from bench_evaluate import BUILD_DIR, build_toolbox_cython, market_like_case, toolbox_file

from apr.evaluation.metrics import evaluate_ranking, pairwise_distances
from apr.evaluation.rerank import k_reciprocal_rerank

RERANK_IN_WHEEL = "fastreid/evaluation/rerank.py"


def toolbox_rerank():
    """fast-reid's ``re_ranking`` function, imported from its own source file (written under ``_build/``)."""
    path = BUILD_DIR / "fastreid_rerank.py"
    if not path.exists():
        path.write_bytes(toolbox_file(RERANK_IN_WHEEL))
    spec = importlib.util.spec_from_file_location("fastreid_rerank", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.re_ranking


def _distances(q: np.ndarray, g: np.ndarray, squared: bool) -> list[np.ndarray]:
    out = [pairwise_distances(a, b).numpy() for a, b in ((q, g), (q, q), (g, g))]
    return out if squared else [np.sqrt(np.maximum(d, 0)) for d in out]


def _toolbox(q_g: np.ndarray, q_q: np.ndarray, g_g: np.ndarray) -> np.ndarray:
    return toolbox_rerank()(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3)


def _measured(method: str, q: np.ndarray, g: np.ndarray, threads: int) -> tuple[np.ndarray, float, float]:
    """In a fresh process: the result, seconds and peak resident memory (MB) of one re-ranking; the distance
    matrices it starts from are computed first, counted in the memory and not in the time. fast-reid squares the
    distances it is given, so it gets Euclidean ones and apr the squared ones: the same numbers underneath."""
    torch.set_num_threads(threads)
    rerank = {"apr": k_reciprocal_rerank, "fast-reid": _toolbox}[method]
    distances = _distances(q, g, squared=method == "apr")
    start = time.perf_counter()
    out = rerank(*distances)
    return out, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(method: str, q: np.ndarray, g: np.ndarray, threads: int) -> tuple[np.ndarray, float, float]:
    # spawn, not fork: a process forked after torch's thread pool has run can hang in it.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, method, q, g, threads).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("market", "small"), default="market")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cython", action="store_true", help="also mINP from fast-reid's Cython evaluator")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    q, g, q_pids, g_pids, q_cams, g_cams = market_like_case()
    if args.size == "small":
        q, q_pids, q_cams = q[::10], q_pids[::10], q_cams[::10]
        g, g_pids, g_cams = g[::10], g_pids[::10], g_cams[::10]
    ids = (q_pids, g_pids, q_cams, g_cams)
    print(f"threads={torch.get_num_threads()} queries={len(q_pids)} gallery={len(g_pids)} k1=20 k2=6 lambda=0.3")
    squared = [pairwise_distances(a, b).numpy() for a, b in ((q, g), (q, q), (g, g))]
    before = evaluate_ranking(squared[0], *ids, ap_mode="step", minp=True)
    print(f"original distances          rank-1 {before[0][0]:.4f}  mAP {before[1]:.4f}  mINP {before[2]:.4f}")

    ours, t_ours, mem_ours = measured("apr", q, g, args.threads)
    after = evaluate_ranking(ours, *ids, ap_mode="step", minp=True)
    print(f"apr re-ranking     {t_ours:7.1f} s  rank-1 {after[0][0]:.4f}  mAP {after[1]:.4f}  mINP {after[2]:.4f}"
          f"  (peak memory {mem_ours:,.0f} MB)")

    toolbox_rerank()                                                # download before the clock starts
    theirs, t_theirs, mem_theirs = measured("fast-reid", q, g, args.threads)
    toolbox = evaluate_ranking(theirs, *ids, ap_mode="step", minp=True)
    print(f"fast-reid re_ranking {t_theirs:5.1f} s  rank-1 {toolbox[0][0]:.4f}  mAP {toolbox[1]:.4f}"
          f"  mINP {toolbox[2]:.4f}  (peak memory {mem_theirs:,.0f} MB)")
    diff = np.abs(ours - theirs)
    top_ours, top_theirs = np.argsort(ours, 1, kind="stable")[:, :10], np.argsort(theirs, 1, kind="stable")[:, :10]
    same = np.mean([np.array_equal(a, b) for a, b in zip(top_ours, top_theirs)])
    print(f"largest |apr - fast-reid|   {diff.max():.2e}  (mean {diff.mean():.2e}); gallery orders equal for "
          f"{same:.1%} of queries (top 10)")
    print(f"speed-up                    {t_theirs / t_ours:7.1f} x")
    if args.cython:
        rank_cy = build_toolbox_cython()
        _, _, inp = rank_cy.evaluate_cy(squared[0], q_pids, g_pids, q_cams, g_cams, 50)
        print(f"mINP, fast-reid Cython      {float(np.mean(inp)):.6f}  apr {before[2]:.6f}")


if __name__ == "__main__":
    main()
