"""Training: ``fit(config, run_dir)`` for CPU, one GPU, or several GPUs under ``torchrun``.

One loop serves every case. Reproducibility: the data order, the augmentation and dropout
are re-seeded from ``(seed, epoch)`` at the start of every epoch, and a checkpoint (model,
optimizer, history) is written atomically after every epoch, so ``resume=True`` after an
interruption — even ``kill -9`` in the middle of an epoch — continues from the last
finished epoch to the same final weights as an uninterrupted run (bit-identical on the CPU
with the same thread count).

Several processes: started by ``torchrun --nproc_per_node N -m apr train ...``; each
process trains on its shard of every epoch's permutation with DistributedDataParallel
(gloo on CPU, nccl on GPU); only rank 0 writes files.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .config import APRConfig, config_from_dict
from .data.datasets import ReidData, load_dataset
from .data.synthetic import ensure_synthetic, synthetic_config
from .data.tensors import BatchAugment, DecodedSplit, ReidImageDataset, label_map, train_transform
from .losses import apr_loss
from .model import APR
from .runs import load_run, provenance, save_checkpoint, save_json


@dataclass
class TrainingData:
    """The dataset, the attributes a run uses, and the decoded training split."""

    data: ReidData
    attribute_names: list[str]
    attribute_columns: list[int]
    attribute_classes: list[int]
    labels: dict[int, int]
    train: DecodedSplit | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def split_attributes(self, split: str) -> np.ndarray:
        """Image-level labels of the used attributes, (N, m) int8."""
        full = self.data.attributes.get(split)
        if full is None:
            return np.zeros((len(self.data.split(split)), 0), np.int8)
        return full[:, self.attribute_columns]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> the local CUDA device if there is one, else the CPU; clear error otherwise."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={name!r} but CUDA is not available on this machine; use device=cpu or auto")
    return device


def load_training_data(config: APRConfig, device: torch.device, *, decode: bool = True, progress: bool = True) -> TrainingData:
    """Load the dataset of ``config`` (generating the synthetic one on first use) and decode train."""
    t = time.perf_counter()
    if config.dataset == "synthetic":
        root = ensure_synthetic(config=synthetic_config(config.synthetic_scale, config.seed), data_root=config.data_root,
                                progress=progress)
        data = load_dataset("synthetic", root)
    else:
        data = load_dataset(config.dataset, data_root=config.data_root, seed=config.seed)
        if config.data_root is not None and data.schema is None:
            raise ValueError(f"{config.dataset} at {config.data_root} has no attribute annotations")
    schema = data.schema
    names = list(config.attributes) if config.attributes is not None else (schema.names if schema else [])
    known = schema.names if schema else []
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown attribute(s) {unknown} for {data.name}; known: {', '.join(known)}")
    columns = [known.index(n) for n in names]
    classes = [schema.attribute(n).num_classes for n in names]
    out = TrainingData(data, names, columns, classes, label_map(data.train))
    out.seconds["load"] = time.perf_counter() - t
    if decode:
        t = time.perf_counter()
        out.train = DecodedSplit.decode(data.train, config.image_size, out.split_attributes("train"), out.labels,
                                        device=device, progress=progress)
        out.seconds["decode_train"] = time.perf_counter() - t
    return out


def build_model(config: APRConfig, num_ids: int, attribute_classes: list[int]) -> APR:
    """The network of ``config`` (seeded initialisation)."""
    pretrained = config.pretrained
    if pretrained == "synthetic":
        from .pretrain import pretrained_backbone

        pretrained = str(pretrained_backbone(config))
    torch.manual_seed(config.seed)
    return APR(num_ids, attribute_classes if config.uses_attributes else [], config.variant, config.backbone,
               pretrained, config.embed_dim, config.dropout)


def _epoch_seed(config: APRConfig, epoch: int) -> int:
    return config.seed * 100_003 + epoch


def _learning_rate(config: APRConfig, epoch: int) -> float:
    return config.lr * (0.1 if epoch >= config.decay_epoch else 1.0)


def _parameter_groups(model: torch.nn.Module, config: APRConfig) -> list[dict[str, Any]]:
    """The backbone at the base learning rate; the new layers (heads, ARM, embedding) at ``head_lr_factor`` times it.

    At factor 1 there is one group, as before the setting existed, so older checkpoints resume.
    """
    if config.head_lr_factor == 1.0:
        return [{"params": list(model.parameters()), "lr_factor": 1.0}]
    backbone = list(model.backbone.parameters())
    ids = {id(p) for p in backbone}
    heads = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": backbone, "lr_factor": 1.0}, {"params": heads, "lr_factor": config.head_lr_factor}]


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _loader_batches(training: TrainingData, config: APRConfig, generator: torch.Generator, shard: torch.Tensor,
                    device: torch.device):
    """The standard path: JPEG decoding and augmentation per image in DataLoader workers."""
    dataset = ReidImageDataset(training.data.train, training.split_attributes("train"),
                               train_transform(config.image_size, config.pad), training.labels)
    sampler = shard.tolist()
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                                         num_workers=config.loader_workers, pin_memory=device.type == "cuda",
                                         generator=generator, persistent_workers=False)
    for batch in loader:
        yield {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def train_one_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, training: TrainingData, config: APRConfig,
                    epoch: int, device: torch.device, rank: int = 0, world: int = 1, progress: bool = True) -> dict[str, float]:
    """One epoch; returns mean loss parts and training accuracies."""
    seed = _epoch_seed(config, epoch)
    torch.manual_seed(seed)                       # dropout and anything else using the global RNG
    generator = torch.Generator().manual_seed(seed)
    n = len(training.data.train)
    order = torch.randperm(n, generator=generator)
    order = order[: (n // world) * world][rank::world]   # this process's shard
    for group in optimizer.param_groups:
        group["lr"] = _learning_rate(config, epoch) * group.get("lr_factor", 1.0)
    model.train()
    cuda = device.type == "cuda"
    if config.data_path == "decoded":
        if training.train is None:
            raise ValueError("data_path='decoded' needs the decoded training split (load_training_data(decode=True))")
        batches = training.train.batches(config.batch_size, indices=order, augment=BatchAugment(config.pad),
                                         generator=generator, drop_last=True)
    else:
        batches = _loader_batches(training, config, generator, order, device)
    sums: dict[str, float] = {"loss": 0.0, "id_loss": 0.0, "attr_loss": 0.0, "id_acc": 0.0, "attr_acc": 0.0}
    steps, images = 0, 0
    total = len(order) // config.batch_size
    bar = tqdm(batches, total=total, desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
               disable=not progress or rank != 0)
    for batch in bar:
        x = batch["image"]
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and config.amp):
            out = model(x)
            parts = apr_loss(out, batch["label"], batch["attrs"], config.variant, config.lambda_id)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        steps += 1
        images += x.shape[0]
        sums["loss"] += float(parts.total.detach())
        if parts.id is not None:
            sums["id_loss"] += float(parts.id.detach())
            sums["id_acc"] += float((out.id_logits.argmax(1) == batch["label"]).float().mean())
        if parts.attr is not None:
            sums["attr_loss"] += float(parts.attr.detach())
            accs = [(logit.argmax(1) == batch["attrs"][:, j])[batch["attrs"][:, j] >= 0].float().mean()
                    for j, logit in enumerate(out.attr_logits) if (batch["attrs"][:, j] >= 0).any()]
            sums["attr_acc"] += float(torch.stack(accs).mean()) if accs else 0.0
        bar.set_postfix(loss=f"{sums['loss'] / steps:.3f}", id_acc=f"{sums['id_acc'] / steps:.2f}",
                        attr_acc=f"{sums['attr_acc'] / steps:.2f}")
    if steps == 0:
        raise ValueError(f"no full batch of {config.batch_size} in {len(order)} training images; lower batch_size")
    return {k: v / steps for k, v in sums.items()} | {"lr": _learning_rate(config, epoch), "images": images * world}


@dataclass
class RunResult:
    """Where a run lives, what it learned, and how long each stage took."""

    run_dir: Path
    model: APR
    history: list[dict[str, float]]
    info: dict[str, Any]


def fit(config: APRConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True,
        training: TrainingData | None = None) -> RunResult:
    """Train ``config`` into ``run_dir`` (see the module docstring for resume and torchrun).

    A folder that already holds a checkpoint is refused unless ``resume=True``.
    """
    run_dir = Path(run_dir)
    rank, world, local_rank = _distributed()
    device = resolve_device(config.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    checkpoint_path = run_dir / "checkpoint.pt"
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"'{run_dir}' already holds a run (checkpoint.pt); pass resume=True (--resume) or pick a new folder")
    timings: dict[str, Any] = {}
    start = time.perf_counter()
    training = training or load_training_data(config, device, decode=config.data_path == "decoded",
                                              progress=progress and rank == 0)
    timings.update({f"{k}_s": round(v, 3) for k, v in training.seconds.items()})
    model = build_model(config, len(training.labels), training.attribute_classes).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(_parameter_groups(model, config), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, **({"fused": True} if device.type == "cuda" else {}))
    history: list[dict[str, float]] = []
    first_epoch = 0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state["config"] != config.to_dict():
            raise ValueError(f"'{run_dir}' was trained with another configuration; cannot resume it with this one")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = state["history"], state["epoch"] + 1
    trainable = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    epoch_seconds = []
    for epoch in range(first_epoch, config.epochs):
        t = time.perf_counter()
        stats = train_one_epoch(trainable, optimizer, training, config, epoch, device, rank, world, progress)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t
        epoch_seconds.append(seconds)
        history.append({"epoch": epoch + 1, **stats, "seconds": round(seconds, 3)})
        if progress and rank == 0:
            print(f"epoch {epoch + 1}/{config.epochs}: loss {stats['loss']:.4f} id_acc {stats['id_acc']:.3f} "
                  f"attr_acc {stats['attr_acc']:.3f} ({stats['images'] / seconds:.0f} img/s)", flush=True)
        if rank == 0:
            save_checkpoint(checkpoint_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                              "epoch": epoch, "history": history, "config": config.to_dict()})
    timings["train_s"] = round(sum(h["seconds"] for h in history), 3)
    timings["total_s"] = round(time.perf_counter() - start, 3)
    info = {
        "config": config.to_dict(), "key": config.key(), "provenance": provenance(device), "world_size": world,
        "initialisation": model.init_note, "num_ids": len(training.labels), "attributes": training.attribute_names,
        "dataset_root": str(training.data.root), "timings": timings, "history": history, "complete": True,
    }
    if rank == 0:
        save_checkpoint(run_dir / "model.pt", {"model": model.state_dict(), "config": config.to_dict(),
                                               "num_ids": len(training.labels),
                                               "attribute_classes": training.attribute_classes})
        save_json(run_dir / "run.json", info)
    if world > 1:
        dist.barrier()
    return RunResult(run_dir, model, history, info)


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[APR, APRConfig]:
    """The final model of a run folder and its configuration."""
    run_dir = Path(run_dir)
    load_run(run_dir)
    state = torch.load(run_dir / "model.pt", map_location=device, weights_only=False)
    config = config_from_dict(state["config"])
    model = APR(state["num_ids"], state["attribute_classes"], config.variant, config.backbone, "none",
                config.embed_dim, config.dropout)
    model.load_state_dict(state["model"])
    return model.to(device), config
