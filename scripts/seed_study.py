"""IDE against APR over several training seeds on one data set, with intervals that include training variance.

Each model is trained ``--train-seeds`` times on the same synthetic data (data seed ``--seed``); a
training seed changes the synthetic pretraining it starts from, the initialisation and the batch order.
The table shows each run; the last lines give each model's mean ± SD over its runs, APR − IDE with the
95% interval over training seeds *and* test queries (:func:`apr.evaluation.stats.seed_query_interval`), and how
wide that interval is with the first 2, 3, ... of the runs, unpaired and paired by seed (the precision
each number of seeds buys).
Runs go through the results cache (``apr.experiments.cache``): a second call only reads them.

    .venv/bin/python scripts/seed_study.py [--scale quick] [--seed 0] [--train-seeds 3] [--lambdas 0.9]
        [--set epochs=40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from apr.config import from_params, parse_overrides
from apr.book.report import per_query
from apr.experiments.cache import load_or_train_many
from apr.evaluation.stats import paired_seed_interval, seed_query_interval, seed_summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: 0)")
    parser.add_argument("--train-seeds", type=int, default=3, help="training runs per model (default: 3)")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.9], help="APR's lambda_id values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting changed for every model (repeatable)")
    args = parser.parse_args()
    if args.train_seeds < 1:
        parser.error(f"--train-seeds {args.train_seeds}: expected at least 1")
    overrides = parse_overrides(args.overrides) | {"seed": args.seed}
    models = {"IDE": {"variant": "ide"}} | {f"APR λ={lam:g}": {"variant": "apr",
                                                               "lambda_id": lam} for lam in args.lambdas}
    configs = {(name, k): from_params(args.scale, **overrides, **settings, train_seed=k)
               for name, settings in models.items() for k in range(args.train_seeds)}
    start = time.perf_counter()
    records = dict(zip(configs, load_or_train_many(list(configs.values()))))
    rows = [{"model": name, "train seed": k, "rank-1 %": 100 * r.metrics["rank1"], "mAP %": 100 * r.metrics["mAP"]}
            for (name, k), r in records.items()]
    print(pd.DataFrame(rows).set_index(["model", "train seed"]).round(2).to_string())
    hits = {name: np.stack([per_query(records[name, k])["rank1"].to_numpy() for k in range(args.train_seeds)])
            for name in models}
    for name in models:
        mean, sd, k = seed_summary(hits[name].mean(1) * 100)
        print(f"{name}: rank-1 {mean:.2f} ± {sd:.2f} (mean ± SD over {k} training runs)")
    for name in list(models)[1:]:
        diff = seed_query_interval(hits[name], hits["IDE"]).scaled(100)
        print(f"{name} − IDE, rank-1: {diff.mean:+.2f} points, 95% interval {diff.low:+.2f} to {diff.high:+.2f} "
              f"(±{diff.half_width:.2f}; {args.train_seeds} training seeds each, {diff.queries} queries)")
        for k in range(2, args.train_seeds + 1):
            first = seed_query_interval(hits[name][:k], hits["IDE"][:k]).scaled(100)
            paired = paired_seed_interval(hits[name][:k], hits["IDE"][:k]).scaled(100)
            print(f"  with the first {k} seeds of each: {first.mean:+.2f} points, ±{first.half_width:.2f}; paired by "
                  f"seed (run k of both starts from pretraining k; what the book uses): {paired.low:+.2f} to "
                  f"{paired.high:+.2f}, ±{paired.half_width:.2f}")
    print(f"wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
