"""How often two builds on machines with other numerics would give the same verdict on Table 1's comparisons, by seeds.

Reads IDE, ARN and APR with ``--seeds`` training seeds each from one or more results caches (e.g. the default
build's and one built with ``ATEN_CPU_CAPABILITY=default``: the same configurations, other floating-point sums),
pools their per-seed differences, and for each number of seeds in ``--try`` prints the estimated probability that
two independent builds agree on each row's verdict, and on all of them (:func:`apr.evaluation.stats.verdict_agreement`).
Nothing is trained: a missing run is an error that names it.

    .venv/bin/python scripts/verdict_agreement.py --cache runs/cache --cache /other/runs/cache --seeds 8
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from apr.book.report import attribute_accuracy_gap, per_query_runs
from apr.engine.runs import load_run
from apr.engine.store import RunRecord, entry_problem, run_dir_for
from apr.evaluation.stats import claim_verdict, paired_seed_interval, query_term, verdict_agreement
from apr.experiments import BookParameters
from apr.experiments.configs import seeded_configs, variant_configs

DEFAULT_SEEDS = BookParameters().seeds


def cached_runs(cache: Path, variant: str, seeds: int, scale: str, seed: int) -> list[RunRecord]:
    """The cached runs of ``variant`` with training seeds 0 .. seeds - 1; exits with one line when one is missing."""
    config = variant_configs(BookParameters(scale=scale, seed=seed).main_config())[variant]
    runs = []
    for c in seeded_configs(config, seeds):
        run_dir = run_dir_for(c, cache)
        problem = entry_problem(c, run_dir) if run_dir.is_dir() else "missing"
        if problem is not None:
            sys.exit(f"{run_dir}: {variant} with training seed {c.train_seed} cannot be read "
                     f"({getattr(problem, 'reason', problem)}); "
                     f"build it first (make book SEEDS={seeds})")
        runs.append(RunRecord(c, run_dir, load_run(run_dir)))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, action="append", required=True, help="a results cache (repeatable)")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                        help=f"training seeds per model in each cache (default: {DEFAULT_SEEDS})")
    parser.add_argument("--try", dest="tries", type=int, nargs="+", default=[4, 6, 8, 12, 16],
                        help="seeds per build to estimate the agreement for")
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: 0)")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error(f"--seeds {args.seeds}: expected at least 2")
    rows: dict[str, dict] = {}
    names = {"APR − IDE, rank-1": ("ide", "rank1"), "APR − IDE, mAP": ("ide", "AP_official"),
             "APR − ARN, rank-1": ("arn", "rank1"), "APR − ARN, attribute accuracy": ("arn", None)}
    for cache in args.cache:
        runs = {v: cached_runs(cache, v, args.seeds, args.scale, args.seed) for v in ("ide", "arn", "apr")}
        for name, (other, column) in names.items():
            row = rows.setdefault(name, {"differences": [], "query_variance": [], "measured": []})
            if column is None:
                arn_accuracy, apr_accuracy, interval = attribute_accuracy_gap(runs["arn"], runs["apr"])
                differences, query_variance = np.subtract(apr_accuracy, arn_accuracy), 0.0
            else:
                a, b = 100 * per_query_runs(runs["apr"], column), 100 * per_query_runs(runs[other], column)
                interval = paired_seed_interval(a, b)
                differences = (a - b).mean(1)
                query_variance = query_term(interval, differences)
            row["differences"].extend(differences)
            row["query_variance"].append(query_variance)
            row["measured"].append(f"{interval.mean:+.2f} [{interval.low:+.2f}, {interval.high:+.2f}] "
                                   f"{claim_verdict(1, interval)}")
    print(f"{args.seeds} seeds per cache, {len(args.cache)} cache(s); what each build measured:")
    for name, row in rows.items():
        print(f"  {name}: " + " | ".join(row["measured"]))
    print("\nper-seed differences pooled: mean ± SD, and the estimated share of builds that agree, by seeds per build")
    header = "  ".join(f"{k:>5d}" for k in args.tries)
    print(f"{'':34s} {'mean ± SD':>14s}   seeds: {header}")
    joint = np.ones(len(args.tries))
    for name, row in rows.items():
        d = np.array(row["differences"])
        agreement = [verdict_agreement(d, k, query_variance=float(np.mean(row["query_variance"])))[0]
                     for k in args.tries]
        joint *= agreement
        shares = "  ".join(f"{a:5.2f}" for a in agreement)
        print(f"{name:34s} {d.mean():+6.2f} ± {d.std(ddof=1):5.2f}          " + shares)
    print(f"{'all four (independent rows)':34s} {'':14s}          " + "  ".join(f"{a:5.2f}" for a in joint))


if __name__ == "__main__":
    main()
