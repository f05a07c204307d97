"""Where a training step's time goes, and what share of the CPU's arithmetic it reaches.

Times APR's training step on the quick preset's input (batch 32 of 96x48 images by default) split into its
parts: the batch (crop, flip, to float), the forward pass, the loss, the backward pass and the SGD update. Counts
the forward pass's floating-point operations with torch's FlopCounterMode and takes the step as three times that
(the backward pass costs about twice the forward; the counter's own figure for the backward of a grouped
convolution is many times too high: 6.6 GFLOP against a 0.37 GFLOP forward for MobileNetV3-small), and prints
GFLOP/s beside a dense matrix product on the same threads (the arithmetic this CPU reaches at best). Each
setting given by --backbone, --size and --batch is timed in turn, so a faster recipe can be weighed against the
default in one run. ``--compile`` times each setting a second time with the model under ``torch.compile``
(inductor), and prints how long its compiling warm-up took.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_step.py [--backbone mobilenet_v3_small resnet18]
        [--size 96x48] [--batch 32 64] [--steps 30] [--threads 1] [--compile]
"""

from __future__ import annotations

import argparse
import time
from itertools import product

import torch
from torch.utils.flop_counter import FlopCounterMode

from apr.config import from_params
from apr.data.tensors import BatchAugment
from apr.engine.device import resolve_device
from apr.engine.run_data import load_training_data
from apr.engine.train import build_model
from apr.losses import apr_loss


def matmul_gflops(threads: int, size: int = 1024, repeats: int = 10) -> float:
    """GFLOP/s of a float32 size x size matrix product: what dense arithmetic reaches on these threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def profile(backbone: str, size: str, batch: int, steps: int, compiled: bool = False) -> dict[str, float]:
    """Mean milliseconds per step of each part, GFLOP per step and GFLOP/s of one setting; ``compiled``: the
    model under ``torch.compile``, and the seconds its warm-up steps took (they compile it)."""
    config = from_params("quick", backbone=backbone, image_size=size, batch_size=batch, pretrained="none",
                         device="cpu")
    training = load_training_data(config, resolve_device("cpu"), progress=False)
    model = build_model(config, len(training.labels), training.attribute_classes)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    model.train()
    forward = torch.compile(model) if compiled else model
    generator = torch.Generator().manual_seed(0)
    def batches():        # epoch after epoch, as many steps as asked
        while True:
            yield from training.train.batches(batch, augment=BatchAugment(config.pad), generator=generator,
                                              drop_last=True)

    stream = batches()
    parts = {"batch": 0.0, "forward": 0.0, "loss": 0.0, "backward": 0.0, "sgd": 0.0}
    warm_up = time.perf_counter()
    for k in range(steps + 3):                     # three warm-up steps, then the timed ones
        t0 = time.perf_counter()
        b = next(stream)
        x = b["image"].contiguous(memory_format=torch.channels_last) if config.channels_last else b["image"]
        t1 = time.perf_counter()
        if k == 0:
            with FlopCounterMode(display=False) as counter:
                model(x)
            flops = 3 * counter.get_total_flops()
        out = forward(x)
        t2 = time.perf_counter()
        loss = apr_loss(out, b["label"], b["attrs"], "apr", config.lambda_id).total
        t3 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        optimizer.step()
        t5 = time.perf_counter()
        if k == 2:
            warm_up = time.perf_counter() - warm_up
        if k >= 3:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[name] += seconds / steps
    total = sum(parts.values())
    row = {**{f"{k} ms": 1000 * v for k, v in parts.items()}, "step ms": 1000 * total,
           "images/s": batch / total, "GFLOP/step (3 x forward)": flops / 1e9, "GFLOP/s": flops / 1e9 / total}
    return row | ({"warm-up s": warm_up} if compiled else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", nargs="+", default=["mobilenet_v3_small"])
    parser.add_argument("--size", nargs="+", default=["96x48"], help="HxW")
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the book trains with 1 per model)")
    parser.add_argument("--compile", action="store_true", help="also time each setting under torch.compile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"dense float32 matrix product, {args.threads} thread(s): {matmul_gflops(args.threads):.1f} GFLOP/s")
    for backbone in args.backbone:
        for size in args.size:
            for batch, compiled in product(args.batch, (False, True) if args.compile else (False,)):
                row = profile(backbone, size, batch, args.steps, compiled)
                print(f"{backbone} {size} batch {batch}{' compiled' if compiled else ''}: " + ", ".join(
                    f"{k} {v:.1f}" if "ms" in k or "/s" in k or k.endswith(" s") else f"{k} {v:.3f}"
                    for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
