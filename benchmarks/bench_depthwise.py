"""Training-step time of the quick preset's backbone with and without the small-map depthwise kernel.

MobileNetV3-small at 96x48 (batch 32, one torch thread, channels-last, SGD with momentum) runs a forward,
a cross-entropy loss and a backward pass; ``apr.model.SMALL_MAP_CELLS`` is set to 0 (every depthwise layer
through ``nn.Conv2d``, i.e. oneDNN) or to its default (maps of at most that many cells as a matrix product),
alternately, so that both see the same machine load.

    .venv/bin/python benchmarks/bench_depthwise.py [--rounds 3] [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from apr import model as model_module


def step_ms(cells: int, steps: int) -> float:
    """Mean milliseconds of one training step with ``SMALL_MAP_CELLS = cells``."""
    model_module.SMALL_MAP_CELLS = cells
    torch.manual_seed(0)
    net, _ = model_module.load_backbone("mobilenet_v3_small", "none")
    net = net.to(memory_format=torch.channels_last)
    head = torch.nn.Linear(576, 150)
    optimizer = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.01, momentum=0.9)
    x = torch.randn(32, 3, 96, 48).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 150, (32,))

    def step() -> None:
        optimizer.zero_grad()
        F.cross_entropy(head(net(x)), y).backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default = model_module.SMALL_MAP_CELLS
    times: dict[int, list[float]] = {0: [], default: []}
    for _ in range(args.rounds):
        for cells in times:
            times[cells].append(step_ms(cells, args.steps))
    for cells, values in times.items():
        name = "oneDNN everywhere" if cells == 0 else f"matrix product on maps of <= {cells} cells"
        print(f"{name}: median {statistics.median(values):.1f} ms per step ({', '.join(f'{v:.1f}' for v in values)})")
    ratio = statistics.median(times[0]) / statistics.median(times[default])
    print(f"speed-up of a training step: x{ratio:.2f}")


if __name__ == "__main__":
    main()
