"""A trained model on its dataset's query and gallery: re-ID and attribute metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..config import APRConfig
from ..data.tensors import DecodedSplit
from ..evaluation.metrics import attribute_accuracy, evaluate_ranking_modes, group_predictions, pairwise_distances
from ..evaluation.par_metrics import attribute_metrics, binary_attributes
from ..model import APR
from .device import resolve_device
from .features import Embeddings, extract
from .run_data import TrainingData, load_training_data
from ..data.files import save_json
from .runs import RUN_FILE, load_model, load_run, save_checkpoint

FEATURES_FILE = "features.pt"   # query and gallery embeddings of a run folder's final model


def extract_test(model: APR, training: TrainingData, config: APRConfig, device: torch.device,
                 progress: bool = True) -> tuple[Embeddings, Embeddings, dict[str, float]]:
    """Decode and embed the query and gallery splits; returns (query, gallery, seconds)."""
    seconds = {}
    out = []
    for split in ("query", "gallery"):
        if not training.data.split(split):        # an attribute-only dataset has no queries
            out.append(Embeddings.empty())
            continue
        t = time.perf_counter()
        decoded = DecodedSplit.decode(training.data.split(split), config.image_size, training.split_attributes(split),
                                      device=device, progress=progress)
        seconds[f"decode_{split}_s"] = time.perf_counter() - t
        t = time.perf_counter()
        out.append(extract(model.to(device), decoded, feature=config.test_feature, batch_size=config.eval_batch_size,
                           amp=config.amp, channels_last=config.channels_last))
        seconds[f"extract_{split}_s"] = time.perf_counter() - t
    return out[0], out[1], seconds


def score(query: Embeddings, gallery: Embeddings, training: TrainingData, device: torch.device) -> dict[str, Any]:
    """Rank-1/5/10, mAP (official and step AP) and mINP, plus attribute accuracy per group and the field's mA and
    instance metrics (:mod:`apr.evaluation.par_metrics`); without queries (an attribute-only dataset,
    CUB-200-2011) the attribute metrics of the gallery (its test images) only."""
    t = time.perf_counter()
    metrics: dict[str, Any] = {}
    if len(query.pids):
        distmat = pairwise_distances(query.features, gallery.features, device=device)
        cmc, maps = evaluate_ranking_modes(distmat, query.pids.to(device), gallery.pids.to(device),
                                           query.camids.to(device), gallery.camids.to(device), max_rank=10,
                                           ap_modes=("official", "step"), minp=True)
        # A gallery of fewer than k images has ranked all of them by rank k: its CMC stops there.
        metrics |= {f"rank{k}": float(cmc[min(k, len(cmc)) - 1]) for k in (1, 5, 10)}
        metrics |= {"mAP": maps["official"], "mAP_step": maps["step"], "mINP": maps["mINP"]}
    schema = training.data.schema
    if gallery.attr_probs and schema is not None and training.attribute_names == schema.names:
        groups = group_predictions(gallery.attr_probs, schema)
        acc = attribute_accuracy(groups, training.split_attributes("gallery"), schema)
        metrics["attribute_accuracy"] = {k: float(v) for k, v in acc.items()}
        # The attribute-recognition field's label-based mA and instance metrics, every class a binary attribute.
        scores, labels, names = binary_attributes(gallery.attr_probs, training.split_attributes("gallery"), schema)
        metrics["attribute_metrics"] = attribute_metrics(scores, labels, names=names).summary()
    metrics["evaluate_s"] = time.perf_counter() - t
    return metrics


def evaluate_run(run_dir: str | Path, *, device: str = "auto", progress: bool = True, save_features: bool = True,
                 training: TrainingData | None = None) -> dict[str, Any]:
    """Evaluate a run folder's final model; writes metrics into its run.json (and features.pt)."""
    run_dir = Path(run_dir)
    info = load_run(run_dir)
    dev = resolve_device(device)
    model, config = load_model(run_dir, dev)
    training = training or load_training_data(config, dev, decode=False, progress=progress)
    query, gallery, seconds = extract_test(model, training, config, dev, progress)
    metrics = score(query, gallery, training, dev)
    info["metrics"] = metrics
    info["timings"].update({k: round(v, 3) for k, v in seconds.items()}
                           | {"evaluate_s": round(metrics["evaluate_s"], 3)})
    save_json(run_dir / RUN_FILE, info)
    if save_features:
        save_checkpoint(run_dir / FEATURES_FILE, {"query": query.to_dict(), "gallery": gallery.to_dict(),
                                                  "attributes": training.attribute_names})
    return metrics
