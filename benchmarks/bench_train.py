"""Training and extraction throughput (images/s): decoded-once uint8 path vs a DataLoader.

Both paths run the real training step (forward, Eq. 6 loss, backward, SGD) of APR on the
synthetic dataset's training images (generated on first use), resized to --size.

    .venv/bin/python benchmarks/bench_train.py --backbone resnet18 --size 128x64 --device cpu
    .venv/bin/python benchmarks/bench_train.py --backbone resnet50 --size 256x128 --device cuda --batch 128
"""

from __future__ import annotations

import argparse
import time

import torch

from apr.config import from_params
from apr.data.tensors import DecodedSplit
from apr.engine.run_data import load_training_data
from apr.engine.device import resolve_device
from apr.engine.features import extract
from apr.engine.train import build_model, train_one_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", default="128x64", help="HxW")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", default="quick", help="synthetic dataset size: smoke, quick or paper")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the standard path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = from_params("quick", backbone=args.backbone, image_size=args.size, batch_size=args.batch,
                         device=args.device,
                         synthetic_scale=args.scale, pretrained="none", epochs=1, loader_workers=args.workers)
    device = resolve_device(config.device)
    training = load_training_data(config, device, progress=False)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device={name} backbone={args.backbone} size={config.image_size} batch={args.batch} "
          f"train images={len(training.data.train)}")
    results = {}
    for path in ("decoded", "loader"):
        kept = ("backbone", "image_size", "batch_size", "device", "synthetic_scale", "pretrained", "loader_workers")
        cfg = from_params("quick", **{k: getattr(config, k) for k in kept}, data_path=path, epochs=2)
        model = build_model(cfg, len(training.labels), training.attribute_classes).to(device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
        train_one_epoch(model, opt, training, cfg, 0, device, progress=False)     # warm-up epoch
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        stats = train_one_epoch(model, opt, training, cfg, 1, device, progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        results[path] = stats["images"] / seconds
        print(f"train, {path:8s} path: {results[path]:8.1f} img/s  ({seconds:.2f} s per epoch)")
    print(f"decoded / loader: {results['decoded'] / results['loader']:.2f}x")
    gallery = DecodedSplit.decode(training.data.gallery, config.image_size, device=device, progress=False)
    extract(model, gallery, batch_size=256)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    extract(model, gallery, batch_size=256)
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"extraction: {len(gallery) / (time.perf_counter() - t):8.1f} img/s")


if __name__ == "__main__":
    main()
