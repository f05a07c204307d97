"""Train IDE, ARN, APR and APR w/o ARM at one scale on one dataset, then print a table
(rank-1, mAP, mean attribute accuracy, wall time) and APR's attribute-acceleration curve.

    .venv/bin/python scripts/compare_variants.py --scale quick [--dataset synthetic] [--out runs/compare]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from apr.config import from_params
from apr.engine.run_data import load_training_data
from apr.engine.device import resolve_device
from apr.engine.evaluate import evaluate_run
from apr.evaluation.metrics import pairwise_distances
from apr.engine.store import initial_backbone
from apr.evaluation.retrieval import AttributePredictions, acceleration_curve
from apr.engine.train import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--variants", nargs="+", default=["ide", "arn", "apr", "apr_no_arm"])
    parser.add_argument("--out", default="runs/compare")
    parser.add_argument("--taus", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    args = parser.parse_args()
    base = from_params(args.scale, dataset=args.dataset, data_root=args.data_root)
    device = resolve_device(base.device)
    training = load_training_data(base, device, progress=True)
    rows = []
    for variant in args.variants:
        config = from_params(args.scale, dataset=args.dataset, data_root=args.data_root, variant=variant)
        run_dir = Path(args.out) / f"{variant}-{config.key()}"
        t = time.perf_counter()
        if not (run_dir / "run.json").exists():
            fit(config, run_dir, progress=False, training=training, backbone_weights=initial_backbone(config))
        metrics = evaluate_run(run_dir, device=str(device), progress=False, training=training)
        rows.append((variant, metrics, time.perf_counter() - t))
        acc = metrics.get("attribute_accuracy", {}).get("mean")
        print(f"{variant:12s} rank-1 {metrics['rank1']:.2%}  mAP {metrics['mAP']:.2%}  "
              f"attr acc {'' if acc is None else f'{acc:.2%}':>7}  wall {time.perf_counter() - t:.0f} s", flush=True)
    apr_dir = next(Path(args.out).glob("apr-*"), None)
    if apr_dir is not None:
        feats = torch.load(apr_dir / "features.pt", weights_only=False)
        q, g = feats["query"], feats["gallery"]
        dist = pairwise_distances(q["features"], g["features"], device="cpu")
        curve = acceleration_curve(dist, AttributePredictions.from_probs(q["attr_probs"]),
                                   AttributePredictions.from_probs(g["attr_probs"]), q["pids"], g["pids"], q["camids"],
                                   g["camids"], taus=args.taus)
        print("\nAPR attribute acceleration (dropped gallery images are not retrieved):")
        print(curve.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
