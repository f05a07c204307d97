"""Fig. 8's experiment at a chosen gallery size: generation, embedding and search time, and peak memory.

Runs what the acceleration chapter runs (APR and IDE, ``--seeds`` training runs each, from the results
cache: trained first when missing) up to a gallery of ``--multiple`` times the test gallery, and prints
the seconds per size, the outcomes, and the peak resident memory of this process and of the generator's
worker processes. Outcomes already cached for these sizes are reused: pass ``--fresh`` to embed again.

    .venv/bin/python benchmarks/bench_distractors.py --multiple 20 [--scale quick] [--seeds 4] [--fresh]
"""

from __future__ import annotations

import argparse
import resource
import time

from apr.experiments import BookParameters
from apr.experiments.cache import load_or_train_many
from apr.experiments.configs import seeded_configs, variant_configs
from apr.experiments.distractors import book_distractor_outcomes


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024   # Linux reports kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiple", type=float, default=20.0, help="largest gallery / test gallery (default: 20)")
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--seed", type=int, default=0, help="data seed")
    parser.add_argument("--seeds", type=int, default=3, help="training runs of each model (default: 3)")
    parser.add_argument("--fresh", action="store_true", help="drop cached Fig. 8 outcomes of these runs first")
    args = parser.parse_args()

    parameters = BookParameters(scale=args.scale, seed=args.seed, device="cpu", seeds=args.seeds,
                                ablation_seeds=args.seeds, gallery_multiple=args.multiple)
    variants = variant_configs(parameters.main_config())
    runs = [r for v in ("apr", "ide") for r in load_or_train_many(seeded_configs(variants[v], args.seeds),
                                                                  progress=False)]
    if args.fresh:
        for run in runs:
            for cached in run.run_dir.glob("distractors-*.npz"):
                cached.unlink()
    start = time.perf_counter()
    growth, manifest = book_distractor_outcomes(parameters, progress=True)
    total = time.perf_counter() - start
    per_size = growth.timing.groupby("gallery")[["added", "decode_s", "extract_s", "search_s"]].agg(
        {"added": "first", "decode_s": "sum", "extract_s": "sum", "search_s": "sum"})
    print(per_size.round(2).to_string())
    if manifest is not None:
        print(f"synthetic distractors: {manifest['count']:,} on disk; generations: {manifest['generations']}")
    for model, values in growth.values.items():
        means = values["rank1"].mean(axis=(0, 2)).round(2).tolist()
        print(f"{model} rank-1 by size {growth.sizes}: {means}")
    print(f"wall time (generation if needed, embedding, search): {total:.1f} s")
    print(f"peak RSS: this process {peak_rss_mb(resource.RUSAGE_SELF):.0f} MB, "
          f"largest child (generator workers) {peak_rss_mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
