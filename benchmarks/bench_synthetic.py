"""Synthetic data generation speed: images rendered (and written as JPEG) per second, in one process.

Generates a synthetic set of the given size into a temporary folder, ``--repeats`` times, and prints
the median seconds and images per second. The book's quick set has 150 training and 1,350 test identities
(about 13,900 images); its pretraining population 150 and 50.

    .venv/bin/python benchmarks/bench_synthetic.py [--train-ids 150] [--test-ids 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from apr.data.synthetic import SynthConfig, generate_synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-ids", type=int, default=150)
    parser.add_argument("--test-ids", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = SynthConfig(num_train_ids=args.train_ids, num_test_ids=args.test_ids, seed=args.seed,
                         attribute_source="prior")
    seconds, images = [], 0
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            generate_synthetic(Path(folder) / "set", config, progress=False)
            seconds.append(time.perf_counter() - start)
            images = sum(1 for _ in Path(folder).rglob("*.jpg"))
    median = statistics.median(seconds)
    print(f"{args.train_ids} + {args.test_ids} identities, {images} images: median {median:.2f} s over "
          f"{args.repeats} runs (min {min(seconds):.2f}, max {max(seconds):.2f}), {images / median:.0f} images/s")


if __name__ == "__main__":
    main()
