"""Estimates for the paper-scale book on GPUs, computed here without one: ``figures/gpu_estimates.md``.

    .venv/bin/python scripts/gpu_estimates.py [--tflops 50] [--out figures/gpu_estimates.md]

Counted, not guessed: the models the paper-scale book trains (``book_configs``), the FLOPs of one training step
of ResNet-50 at 256x128, batch 32 (``torch.utils.flop_counter`` on the CPU: the same graph on any device), a run
folder's files (model, checkpoint with SGD momentum, features of Market-1501's 19,281 test images). Assumed: the
training throughput a GPU sustains (``--tflops``, bf16, achieved, not peak); ``benchmarks/bench_gpu.py`` measures
it on a real GPU, and its "training step, achieved TFLOP/s" row replaces the assumption.
"""

from __future__ import annotations

import argparse
import resource
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from apr.config import from_params
from apr.data.attributes import MARKET_SCHEMA
from apr.data.paths import FIGURES
from apr.engine.train import build_model
from apr.experiments.configs import book_configs
from apr.experiments.parameters import BookParameters
from apr.losses import apr_loss

MARKET = {"train": 12_936, "query": 3_368, "gallery": 15_913, "ids": 751}
ATTRIBUTE_CLASSES = [a.num_classes for a in MARKET_SCHEMA.attributes]   # Market-1501's 27 attributes


def step_flops(config) -> tuple[float, int, float]:
    """(FLOPs of one training step, parameters, the step's peak resident memory growth in MB, fp32 on the CPU)."""
    model = build_model(config, MARKET["ids"], ATTRIBUTE_CLASSES)
    x = torch.randn(config.batch_size, 3, *config.image_size)
    labels = torch.randint(0, MARKET["ids"], (config.batch_size,))
    attrs = torch.randint(0, 2, (config.batch_size, len(ATTRIBUTE_CLASSES)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with FlopCounterMode(display=False) as counter:
        apr_loss(model(x), labels, attrs, "apr", config.lambda_id).total.backward()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return float(counter.get_total_flops()), sum(p.numel() for p in model.parameters()), grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflops", type=float, default=50.0, help="assumed sustained bf16 training TFLOP/s")
    parser.add_argument("--out", default=str(FIGURES / "gpu_estimates.md"))
    args = parser.parse_args()
    config = replace(from_params("paper"), pretrained="none")
    models = len(book_configs(BookParameters(dataset="market1501", scale="paper")))
    flops, parameters, step_mb = step_flops(config)
    steps = MARKET["train"] // config.batch_size * config.epochs
    seconds = flops * steps / (args.tflops * 1e12)
    weights_mb = parameters * 4 / 2**20
    features_mb = (MARKET["query"] + MARKET["gallery"]) * (config.embed_dim + 27 + 2048 + 2 * 26 + 4) * 4 / 2**20
    run_mb = weights_mb * 3 + features_mb          # model.pt, checkpoint.pt (weights + momentum), features.pt
    rows = [
        ("models the paper-scale book trains on Market-1501 (counted)", f"{models}"),
        ("training images per model (60 epochs x 12,936, counted)", f"{steps * config.batch_size:,}"),
        ("FLOPs of one training step, ResNet-50 256x128 batch 32 (counted)", f"{flops:.3e}"),
        ("parameters of APR on ResNet-50 (counted)", f"{parameters:,}"),
        ("memory of one training step, fp32 on the CPU (measured; bench_gpu.py measures a GPU's)",
         f"{step_mb:,.0f} MB"),
        (f"one model's training at {args.tflops:g} TFLOP/s sustained (estimate)", f"{seconds / 60:.1f} min"),
        ("the whole book, one GPU (estimate: models x one model)", f"{models * seconds / 3600:.1f} h"),
        ("the whole book, 8 GPUs, one job each (estimate: / 8)", f"{models * seconds / 3600 / 8:.2f} h"),
        ("disk per model: model, checkpoint, features (counted from sizes)", f"{run_mb:,.0f} MB"),
        ("disk for the whole book's runs (counted)", f"{models * run_mb / 1024:,.1f} GB"),
    ]
    text = ["| quantity | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    Path(args.out).write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
