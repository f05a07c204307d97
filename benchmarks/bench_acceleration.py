"""Per-query retrieval time with and without attribute filtering, by gallery size.

Synthetic features (539-d, as APR's test feature on Market) and attribute predictions whose
confidences look like a trained model's: each identity has true attributes (drawn from the
Market prior) and each image's predicted probability is a noisy sigmoid around the truth.
Prints, per gallery size and tau: kept fraction, signature groups, seconds per query for an
exhaustive top-10 search and for the filtered one, the speed-up and its ideal (one over the share kept).

    .venv/bin/python benchmarks/bench_acceleration.py [--sizes 15913 100000 1000000] [--queries 100]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from apr.data.attributes import MARKET_SCHEMA
from apr.data.synthetic import sample_from_prior
from apr.evaluation.retrieval import AttributePredictions, time_per_query


def synthetic_predictions(truth: np.ndarray, rng: np.random.Generator, sharpness: float = 2.5) -> AttributePredictions:
    """Model-like class probabilities around true labels (N, A) of the Market schema."""
    probs = []
    for a, attr in enumerate(MARKET_SCHEMA.attributes):
        c = attr.num_classes
        logits = rng.normal(0, 1.5, (truth.shape[0], c))
        logits[np.arange(truth.shape[0]), truth[:, a].clip(0, c - 1)] += sharpness
        p = np.exp(logits - logits.max(1, keepdims=True))
        probs.append(p / p.sum(1, keepdims=True))
    return AttributePredictions.from_probs(probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[15913, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--taus", type=float, nargs="+", default=[0.7, 0.8, 0.9])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dim", type=int, default=539)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"{'gallery':>9} {'tau':>5} {'used':>7} {'groups':>7} {'full s/q':>9} {'filtered s/q':>12} {'speed-up':>8} "
          f"{'ideal':>7} {'index s':>8}")
    for size in args.sizes:
        n_ids = max(size // 20, 10)
        id_attrs = sample_from_prior(n_ids, rng).to_numpy()
        g_ids = rng.integers(0, n_ids, size)
        q_ids = rng.integers(0, n_ids, args.queries)
        centres = rng.normal(size=(n_ids, args.dim)).astype(np.float32)
        g_feat = centres[g_ids] + rng.normal(size=(size, args.dim)).astype(np.float32)
        q_feat = centres[q_ids] + rng.normal(size=(args.queries, args.dim)).astype(np.float32)
        g_pred = synthetic_predictions(id_attrs[g_ids], rng)
        q_pred = synthetic_predictions(id_attrs[q_ids], rng)
        for tau in args.taus:
            r = time_per_query(q_feat, q_pred, g_feat, g_pred, tau)
            print(f"{size:>9,} {tau:>5.2f} {r['gallery_used']:>7.2%} {r['groups']:>7,} {r['seconds_full']:>9.4f} "
                  f"{r['seconds_filtered']:>12.4f} {r['speedup']:>7.1f}x {r['ideal_speedup']:>6.1f}x "
                  f"{r['index_build_s']:>8.2f}", flush=True)
        del g_feat


if __name__ == "__main__":
    main()
