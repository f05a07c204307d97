"""IDE against APR (at one or more λ) over several seeds of the synthetic data, at one scale.

Each seed is a different synthetic data set and pretraining population, so the table shows
how much of a gap between the two survives a change of data. Runs go through the results
cache (``apr.results``): a second call only reads them.

    .venv/bin/python scripts/seed_study.py [--scale quick] [--seeds 0 1 2] [--lambdas 0.9 0.5] [--set epochs=40]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from apr.config import from_params, parse_overrides
from apr.results import load_or_train_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.9, 0.5], help="APR's lambda_id values")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting changed for every model (repeatable)")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    configs = []
    for seed in args.seeds:
        configs.append(from_params(args.scale, **{**overrides, "variant": "ide", "seed": seed}))
        configs += [from_params(args.scale, **{**overrides, "variant": "apr", "seed": seed, "lambda_id": lam})
                    for lam in args.lambdas]
    start = time.perf_counter()
    records = load_or_train_many(configs)
    rows = [{"seed": c.seed, "model": "IDE" if c.variant == "ide" else f"APR λ={c.lambda_id:g}",
             "rank1": 100 * r.metrics["rank1"], "mAP": 100 * r.metrics["mAP"]} for c, r in zip(configs, records)]
    table = pd.DataFrame(rows).pivot(index="seed", columns="model", values=["rank1", "mAP"])
    print(table.round(2).to_string())
    for lam in args.lambdas:
        gap = table["rank1"][f"APR λ={lam:g}"] - table["rank1"]["IDE"]
        print(f"APR λ={lam:g} minus IDE, rank-1: " + ", ".join(f"{v:+.2f}" for v in gap) + f" (mean {gap.mean():+.2f})")
    print(f"wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
