"""Training: ``fit(config, run_dir)`` for CPU, one GPU, or several GPUs under ``torchrun``.

One loop serves every case. Reproducibility: the data order, the augmentation and dropout
are re-seeded from ``(training seed, epoch)`` at the start of every epoch, and a checkpoint (model,
optimizer, history) is written atomically after every epoch, so ``resume=True`` after an
interruption — even ``kill -9`` in the middle of an epoch — continues from the last
finished epoch to the same final weights as an uninterrupted run (bit-identical on the CPU
with the same thread count).

Several processes: started by ``torchrun --nproc_per_node N -m apr train ...``; each
process trains on its shard of every epoch's permutation with DistributedDataParallel
(gloo on CPU, nccl on GPU); only rank 0 writes files. ``batch_size`` stays the global batch: each of N
processes takes batch_size / N, so N GPUs follow the paper's recipe (batch 32, its learning rate) unless
``ddp_batch="per_process"`` asks for N times the batch; run.json records both (``batch``).

A run folder has one writer: rank 0 claims it (:mod:`apr.engine.folder_claim`) for the whole training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..config import APRConfig, config_from_dict
from ..data.files import remove_dead_temporaries, save_json
from ..data.tensors import BatchAugment, ReidImageDataset, train_transform
from ..losses import apr_loss
from ..model import APR
from .device import resolve_device
from .folder_claim import claim_folder
from .run_data import TrainingData, load_training_data
from .runs import (CHECKPOINT_FILE, MODEL_FILE, RUN_FILE, CorruptRunFile, dataset_fingerprint, load_checkpoint,
                   load_run, provenance, save_checkpoint)

# Initial backbone weights given to fit(): a state dict file or the state dict itself.
BackboneWeights = str | Path | dict[str, torch.Tensor]


def build_model(config: APRConfig, num_ids: int, attribute_classes: list[int],
                backbone_weights: BackboneWeights | None = None) -> APR:
    """The network of ``config`` (seeded initialisation).

    ``backbone_weights`` replaces ``config.pretrained`` as the backbone's starting point. It
    is required for ``pretrained="synthetic"``, whose weights come from a pretraining run of the
    store of trained runs (:func:`apr.engine.store.initial_backbone`).
    """
    pretrained = config.pretrained
    if isinstance(backbone_weights, (str, Path)):
        pretrained = str(backbone_weights)
    elif isinstance(backbone_weights, dict):
        pretrained = "none"
    elif pretrained == "synthetic":
        raise ValueError("pretrained='synthetic' needs the pretrained backbone's weights: pass "
                         "backbone_weights=apr.engine.store.initial_backbone(config) (the CLI and the book do this)")
    torch.manual_seed(config.training_seed)
    model = APR(num_ids, attribute_classes if config.uses_attributes else [], config.variant, config.backbone,
                pretrained, config.embed_dim, config.dropout)
    if isinstance(backbone_weights, dict):
        model.backbone.load_state_dict(backbone_weights)
        model.init_note = "weights from a state dict given to fit()"
    return model


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; nothing of the diverged epoch is saved."""


# Called before each training step with (epoch, step), both 0-based: a probe or a profiler can watch a run here (the
# test suite's pause point does: tests/pausing.py).
STEP_HOOKS: list[Callable[[int, int], None]] = []


def _epoch_seed(config: APRConfig, epoch: int) -> int:
    return config.training_seed * 100_003 + epoch


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
    try:
        for batch in loader:
            yield {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    except (ValueError, FileNotFoundError) as exc:
        # A worker's error arrives wrapped in its whole traceback; its last line is the message that names the file.
        text = str(exc).strip()
        if "Original Traceback" not in text:
            raise
        last = text.splitlines()[-1]
        raise type(exc)(last.split(": ", 1)[1] if ": " in last else last) from None


def train_one_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, training: TrainingData, config: APRConfig,
                    epoch: int, device: torch.device, rank: int = 0, world: int = 1,
                    progress: bool = True) -> dict[str, float]:
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
        for hook in STEP_HOOKS:
            hook(epoch, steps)
        x = batch["image"]
        if config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda and config.amp):
            out = model(x)
            parts = apr_loss(out, batch["label"], batch["attrs"], config.variant, config.lambda_id,
                             config.attribute_loss_reduction)
        loss = float(parts.total.detach())
        if not math.isfinite(loss):     # stop here: one more step would write NaN into every weight
            raise TrainingDiverged(f"training diverged: loss {loss} at epoch {epoch + 1}, step {steps + 1} "
                                   f"(learning rate {_learning_rate(config, epoch):g}); lower lr")
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        steps += 1
        images += x.shape[0]
        sums["loss"] += loss
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


def process_batch(config: APRConfig, world: int) -> dict[str, int]:
    """The global and per-process batch of ``world`` processes: ``batch_size`` split evenly over them
    (``ddp_batch="global"``, the paper's batch on any number of GPUs), or taken by each (``"per_process"``)."""
    if config.ddp_batch == "per_process" or world == 1:
        return {"global": config.batch_size * world, "per_process": config.batch_size, "processes": world}
    if config.batch_size % world or config.batch_size // world < 2:
        raise ValueError(f"batch_size={config.batch_size} is the global batch and does not split into {world} "
                         f"processes of 2 or more images each; give a multiple of {world} (at least {2 * world}), "
                         "or set ddp_batch=per_process")
    return {"global": config.batch_size, "per_process": config.batch_size // world, "processes": world}


def fit(config: APRConfig, run_dir: str | Path, *, resume: bool = False, progress: bool = True,
        training: TrainingData | None = None, backbone_weights: BackboneWeights | None = None) -> RunResult:
    """Train ``config`` into ``run_dir`` (see the module docstring for resume and torchrun).

    ``backbone_weights``: the backbone's initial weights (see :func:`build_model`); needed
    for ``pretrained="synthetic"``. A folder that already holds a checkpoint is refused
    unless ``resume=True``.
    """
    run_dir = Path(run_dir)
    rank, world, local_rank = _distributed()
    device = resolve_device(config.device, local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # One writer per folder: a second training started into it refuses at once instead of overwriting this one.
    with claim_folder(run_dir) if rank == 0 else contextlib.nullcontext():
        return _fit(config, run_dir, resume, progress, training, backbone_weights, device, rank, world)


def _fit(config: APRConfig, run_dir: Path, resume: bool, progress: bool, training: TrainingData | None,
         backbone_weights: BackboneWeights | None, device: torch.device, rank: int, world: int) -> RunResult:
    checkpoint_path = run_dir / CHECKPOINT_FILE
    if rank == 0:
        remove_dead_temporaries(run_dir)    # what a killed earlier run of this folder was writing
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"'{run_dir}' already holds a run (checkpoint.pt); pass resume=True (--resume) or pick "
                              "a new folder")
    timings: dict[str, Any] = {}
    start = time.perf_counter()
    training = training or load_training_data(config, device, decode=config.data_path == "decoded",
                                              progress=progress and rank == 0)
    timings.update({f"{k}_s": round(v, 3) for k, v in training.seconds.items()})
    model = build_model(config, len(training.labels), training.attribute_classes, backbone_weights).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(_parameter_groups(model, config), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay, **({"fused": True} if device.type == "cuda" else {}))
    history: list[dict[str, float]] = []
    first_epoch = 0
    data = dataset_fingerprint(config)     # a custom dataset file's content, kept with the checkpoint and the run
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path, device)
        # Through config_from_dict: a setting added since the checkpoint was written reads as its default.
        if config_from_dict(state["config"]).to_dict() != config.to_dict():
            raise ValueError(f"'{run_dir}' was trained with another configuration; cannot resume it with this one")
        if state.get("data_fingerprint", data) != data:
            raise ValueError(f"'{run_dir}' was trained on '{config.dataset_file}' with content "
                             f"{state['data_fingerprint']}; the file now holds {data} (edited since): cannot resume "
                             "on other data, train a new run")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, first_epoch = state["history"], state["epoch"] + 1
    trainable = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    batch = process_batch(config, world)
    # Each process's epoch runs at its own batch; the configuration (and the run's key) keeps the global one.
    epoch_config = dataclasses.replace(config, batch_size=batch["per_process"])
    for epoch in range(first_epoch, config.epochs):
        t = time.perf_counter()
        stats = train_one_epoch(trainable, optimizer, training, epoch_config, epoch, device, rank, world, progress)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t
        history.append({"epoch": epoch + 1, **stats, "seconds": round(seconds, 3)})
        if progress and rank == 0:
            print(f"epoch {epoch + 1}/{config.epochs}: loss {stats['loss']:.4f} id_acc {stats['id_acc']:.3f} "
                  f"attr_acc {stats['attr_acc']:.3f} ({stats['images'] / seconds:.0f} img/s)", flush=True)
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):   # the last step can do it too
            raise TrainingDiverged(f"training diverged: non-finite weights after epoch {epoch + 1} "
                                   f"(learning rate {_learning_rate(config, epoch):g}); lower lr")
        if rank == 0:
            save_checkpoint(checkpoint_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                              "epoch": epoch, "history": history, "config": config.to_dict(),
                                              "data_fingerprint": data})
    timings["train_s"] = round(sum(h["seconds"] for h in history), 3)
    timings["total_s"] = round(time.perf_counter() - start, 3)
    finished_before = first_epoch >= config.epochs and (run_dir / RUN_FILE).is_file()
    info = {
        "config": config.to_dict(), "key": config.key(), "provenance": provenance(device), "world_size": world,
        "batch": batch,
        "initialisation": model.init_note, "num_ids": len(training.labels), "attributes": training.attribute_names,
        "dataset_root": str(training.data.root), "timings": timings, "history": history, "complete": True,
    }
    if data is not None:
        info["dataset_fingerprint"] = data
    if finished_before:   # a resumed run that had nothing left to train keeps what it measured
        try:
            previous = load_run(run_dir)
        except CorruptRunFile:
            previous = {}    # a damaged run.json is written again from what this run knows
        info = previous | {k: v for k, v in info.items() if k not in previous}
    if rank == 0:
        save_checkpoint(run_dir / MODEL_FILE, {"model": model.state_dict(), "config": config.to_dict(),
                                               "num_ids": len(training.labels),
                                               "attribute_classes": training.attribute_classes})
        save_json(run_dir / RUN_FILE, info)
    if world > 1:
        dist.barrier()
    return RunResult(run_dir, model, history, info)
