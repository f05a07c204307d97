"""One table of what a GPU (or, at ``--size tiny``, the CPU) does with APR's training, extraction and evaluation.

    .venv/bin/python benchmarks/bench_gpu.py [--size market|tiny] [--device auto|cpu|cuda] [--steps 30]
        [--models 1,2,4,8] [--json out.json] [--no-compile]

The set is made on the CPU and carried to the device: ``market`` has Market-1501's sizes (12,936 training images
of 751 identities at 256x128, 3,368 queries, 15,913 gallery images; ResNet-50, batch 32, the paper's recipe);
``tiny`` 64 training images at 64x32 with the smoke preset's ShuffleNet, to check on a CPU that every row runs.
Images are seeded random pixels: throughput does not depend on what they show. Rows:

* training images/s and seconds per epoch: the GPU-resident path (the split decoded once to uint8 on the device,
  augmented a batch at a time, what ``apr train`` does) against a DataLoader path (per-image CPU transforms,
  pinned memory, 2 workers); eager against ``torch.compile`` and, on CUDA, CUDA graphs (``mode="reduce-overhead"``),
  each "failed: reason" where it does not work;
* K models training at once on one device (K separate processes, summed images/s): the book trains ~50 small jobs;
* extraction images/s over the gallery, and Market-scale evaluation (distance matrix + ranking) in seconds;
* peak memory of the training step; the device's measured bf16 matmul TFLOP/s and the training step's achieved
  fraction of it (the step's FLOPs from ``torch.utils.flop_counter``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from apr.config import from_params
from apr.data.attributes import MARKET_SCHEMA
from apr.data.tensors import BatchAugment, DecodedSplit, train_transform
from apr.engine.device import resolve_device
from apr.engine.features import extract
from apr.engine.train import build_model
from apr.evaluation.metrics import evaluate_ranking, pairwise_distances
from apr.losses import apr_loss


@dataclass(frozen=True)
class Size:
    train: int
    ids: int
    queries: int
    gallery: int
    scale: str           # the preset: its backbone, input size and batch


SIZES = {"market": Size(12_936, 751, 3_368, 15_913, "paper"), "tiny": Size(64, 8, 16, 48, "smoke")}
ATTRIBUTE_CLASSES = [a.num_classes for a in MARKET_SCHEMA.attributes]   # Market-1501's 27 attributes


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def split_of(n: int, ids: int, image_size: tuple[int, int], device: torch.device, seed: int) -> DecodedSplit:
    """A decoded split of seeded random pixels, made on the CPU and carried to ``device``."""
    g = torch.Generator().manual_seed(seed)
    pids = torch.randint(0, ids, (n,), generator=g)
    images = torch.randint(0, 256, (n, 3, *image_size), dtype=torch.uint8, generator=g)
    camids = torch.randint(1, 7, (n,), generator=g)
    attrs = torch.randint(0, 2, (n, len(ATTRIBUTE_CLASSES)), generator=g)
    return DecodedSplit(images=images.to(device), pids=pids.to(device), labels=pids.to(device),
                        camids=camids.to(device), attrs=attrs.to(device))


def matmul_tflops(device: torch.device, n: int) -> float:
    """Measured bf16 matmul throughput (TFLOP/s) of ``device`` on n x n matrices."""
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    synchronize(device)
    repeats, start = 10, time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e12


def _step(model, optimizer, batch, config, device):
    x = batch["image"]
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda" and config.amp):
        parts = apr_loss(model(x), batch["label"], batch["attrs"], "apr", config.lambda_id)
    optimizer.zero_grad(set_to_none=True)
    parts.total.backward()
    optimizer.step()
    return parts.total.detach()


def _model(config, ids: int, device: torch.device, compile_mode: str | None):
    torch.manual_seed(0)
    model = build_model(config, ids, ATTRIBUTE_CLASSES).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9,
                                **({"fused": True} if device.type == "cuda" else {}))
    step = _step if compile_mode is None else torch.compile(_step, mode=compile_mode)
    return model, optimizer, step


def _loader_batches(split: DecodedSplit, config, batch: int):
    """Per-image CPU transforms through a DataLoader (what a toolbox's loop does), pinned for the copy."""
    images = split.images.cpu()
    transform = train_transform(tuple(config.image_size), config.pad)
    data = [(images[i], split.labels[i].item(), split.attrs[i].cpu()) for i in range(len(images))]

    def collate(items):
        return {"image": torch.stack([transform(x) for x, _, _ in items]),
                "label": torch.tensor([y for _, y, _ in items]), "attrs": torch.stack([a for _, _, a in items])}
    return torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, num_workers=2, collate_fn=collate,
                                       drop_last=True, pin_memory=torch.cuda.is_available(),
                                       generator=torch.Generator().manual_seed(0))


def train_rate(size: Size, device: torch.device, steps: int, path: str,
               compile_mode: str | None) -> tuple[float, float]:
    """(training images/s, peak memory in MB) of ``steps`` steps after two warm-up steps."""
    config = replace(from_params(size.scale), device=str(device))
    split = split_of(size.train, size.ids, tuple(config.image_size), device, 0)
    model, optimizer, step = _model(config, size.ids, device, compile_mode)
    model.train()
    if path == "resident":
        def batches():
            g = torch.Generator().manual_seed(0)
            while True:
                yield from split.batches(config.batch_size, shuffle=True, generator=g, augment=BatchAugment(config.pad),
                                         drop_last=True)
        stream = batches()
    else:
        def loaded():
            while True:
                for b in _loader_batches(split, config, config.batch_size):
                    yield {k: v.to(device, non_blocking=True) for k, v in b.items()}
        stream = loaded()
    for _ in range(2):
        step(model, optimizer, next(stream), config, device)
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(model, optimizer, next(stream), config, device)
    float(loss)
    synchronize(device)
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    return steps * config.batch_size / seconds, peak


def step_flops(size: Size, device: torch.device) -> float:
    """FLOPs of one training step (forward and backward) of the preset's model at its batch size."""
    config = replace(from_params(size.scale), device=str(device))
    split = split_of(config.batch_size, size.ids, tuple(config.image_size), device, 1)
    model, optimizer, _ = _model(config, size.ids, device, None)
    batch = next(split.batches(config.batch_size, augment=BatchAugment(config.pad)))
    with FlopCounterMode(display=False) as counter:
        _step(model, optimizer, batch, config, device)
    return float(counter.get_total_flops())


def _worker(size_name: str, device: str, steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    return train_rate(SIZES[size_name], torch.device(device), steps, "resident", None)[0]


def concurrent_rate(size_name: str, device: torch.device, steps: int, k: int) -> float:
    """Summed training images/s of ``k`` processes each training its own model on ``device``."""
    threads = max(1, torch.get_num_threads() // k) if device.type == "cpu" else 1
    with ProcessPoolExecutor(k, mp_context=multiprocessing.get_context("spawn")) as pool:
        return sum(pool.map(_worker, [size_name] * k, [str(device)] * k, [steps] * k, [threads] * k))


def extraction_rate(size: Size, device: torch.device) -> float:
    config = replace(from_params(size.scale), device=str(device))
    gallery = split_of(size.gallery, size.ids, tuple(config.image_size), device, 2)
    model = build_model(config, size.ids, ATTRIBUTE_CLASSES).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    extract(model, split_of(8, size.ids, tuple(config.image_size), device, 3), batch_size=config.eval_batch_size)
    synchronize(device)
    start = time.perf_counter()
    extract(model, gallery, batch_size=config.eval_batch_size, amp=config.amp, channels_last=config.channels_last)
    synchronize(device)
    return size.gallery / (time.perf_counter() - start)


def evaluation_seconds(size: Size, device: torch.device) -> float:
    """Distance matrix and ranking of the size's queries against its gallery (539-d features), in seconds."""
    g = torch.Generator().manual_seed(4)
    q, gal = torch.randn(size.queries, 539, generator=g), torch.randn(size.gallery, 539, generator=g)
    ids = [torch.randint(0, size.ids, (n,), generator=g) for n in (size.queries, size.gallery)]
    cams = [torch.randint(1, 7, (n,), generator=g) for n in (size.queries, size.gallery)]
    args = [x.to(device) for x in (ids[0], ids[1], cams[0], cams[1])]
    q, gal = q.to(device), gal.to(device)
    evaluate_ranking(pairwise_distances(q[:8], gal), torch.arange(8, device=device) % size.ids, *args[1:2],
                     args[2][:8], args[3])
    synchronize(device)
    start = time.perf_counter()
    evaluate_ranking(pairwise_distances(q, gal), *args)
    synchronize(device)
    return time.perf_counter() - start


def attempt(label: str, function, *args) -> tuple[str, object]:
    """(label, value), or (label, "failed: reason") when this path does not work here."""
    try:
        return label, function(*args)
    except Exception as exc:     # a benchmark row that cannot run says why instead of ending the table
        return label, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=SIZES, default="market")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per row (default: 30, tiny 3)")
    parser.add_argument("--models", default=None, help="K values for models at once (default: 1,2,4,8; tiny 1,2)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--no-compile", action="store_true",
                        help="eager rows only (torch.compile takes minutes to compile on a CPU)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    size = SIZES[args.size]
    steps = args.steps or (3 if args.size == "tiny" else 30)
    ks = [int(k) for k in (args.models or ("1,2" if args.size == "tiny" else "1,2,4,8")).split(",")]
    config = from_params(size.scale)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    rows: list[tuple[str, object]] = [("device", name), ("set", f"{size.train:,} training images of {size.ids} ids "
                                      f"at {config.image_size[0]}x{config.image_size[1]}, {config.backbone}, batch "
                                      f"{config.batch_size}")]
    peak_tflops = matmul_tflops(device, 8192 if device.type == "cuda" else 512)
    rows.append(("bf16 matmul, measured (TFLOP/s)", round(peak_tflops, 3)))
    rates = {}
    for path in ("resident", "loader"):
        modes = ((None, "eager"),) if args.no_compile else ((None, "eager"), ("default", "torch.compile")) + (
            (("reduce-overhead", "CUDA graphs"),) if device.type == "cuda" else ())
        for mode, label in modes:
            key, value = attempt(f"train images/s, {path} path, {label}", train_rate, size, device, steps, path, mode)
            if isinstance(value, tuple):
                rates[(path, label)] = value
                rows += [(key, round(value[0], 1)),
                         (key.replace("images/s", "s/epoch"), round(size.train / value[0], 1)),
                         (key.replace("images/s", "peak memory (MB)"), round(value[1]))]
            else:
                rows.append((key, value))
            if device.type == "cpu" and mode is not None and args.size != "tiny":
                break
    if ("resident", "eager") in rates:
        label, flops = attempt("training step FLOPs (forward + backward)", step_flops, size, device)
        rows.append((label, f"{flops:.3e}" if isinstance(flops, float) else flops))
        if isinstance(flops, float):
            achieved = flops * rates[("resident", "eager")][0] / config.batch_size / 1e12
            rows += [("training step, achieved TFLOP/s", round(achieved, 3)),
                     ("training step, fraction of measured bf16 matmul", round(achieved / peak_tflops, 3))]
    for k in ks:
        rows.append(attempt(f"train images/s, {k} model(s) at once (summed)", concurrent_rate, args.size, device,
                            steps, k))
    rows.append(attempt("extraction images/s (gallery)", extraction_rate, size, device))
    rows.append(attempt(f"evaluation s ({size.queries:,} x {size.gallery:,}, distances + ranking)",
                        evaluation_seconds, size, device))
    width = max(len(k) for k, _ in rows)
    print(f"| {'what'.ljust(width)} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        value = round(value, 3) if isinstance(value, float) else value
        print(f"| {key.ljust(width)} | {value} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({k: v for k, v in rows}, handle, indent=2, default=str)


if __name__ == "__main__":
    np.set_printoptions(suppress=True)
    main()
