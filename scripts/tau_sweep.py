"""Fig. 9's τ sweep of one trained run, from its saved features: rank-1, mAP and the gallery share compared.

    .venv/bin/python scripts/tau_sweep.py RUN [--device cuda] [--out sweep.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apr.engine.device import resolve_device
from apr.engine.runs import CorruptRunFile, load_checkpoint
from apr.evaluation.metrics import pairwise_distances
from apr.evaluation.retrieval import AttributePredictions, acceleration_curve

TAUS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=None, help="also write the curve as CSV")
    args = parser.parse_args()
    try:
        features = load_checkpoint(Path(args.run_dir) / "features.pt")
    except (FileNotFoundError, CorruptRunFile) as exc:
        sys.exit(f"tau_sweep: {exc} (train the run with evaluation, or run `python -m apr extract RUN`)")
    query, gallery = features["query"], features["gallery"]
    if not query["attr_probs"]:
        sys.exit(f"tau_sweep: '{args.run_dir}' has no attribute predictions (an IDE run): nothing to filter on")
    device = resolve_device(args.device)
    distmat = pairwise_distances(query["features"].to(device), gallery["features"].to(device))
    curve = acceleration_curve(distmat, AttributePredictions.from_probs(query["attr_probs"]),
                               AttributePredictions.from_probs(gallery["attr_probs"]), query["pids"], gallery["pids"],
                               query["camids"], gallery["camids"], TAUS)
    print(curve.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        curve.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
