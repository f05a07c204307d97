"""The data one run trains and is evaluated on: ``load_training_data(config, device)``.

It loads the run's dataset from its data root (generating the synthetic set on first use),
picks the attributes the run uses, maps identities to classifier labels and, by default,
decodes the training split once into a uint8 tensor (:class:`apr.data.tensors.DecodedSplit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import APRConfig
from ..data.datasets import ReidData, is_synthetic, load_dataset, stands_for
from ..data.synthetic import SynthConfig, ensure_synthetic, synthetic_config, synthetic_root
from ..data.tensors import DecodedSplit, label_map
from ..data.validation import hold_out_validation


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


def synthetic_set_of(config: APRConfig) -> SynthConfig:
    """The sizes and seed of the synthetic set ``config`` trains on (``config.dataset`` must be a synthetic one)."""
    return synthetic_config(config.synthetic_scale, config.seed, stands_for(config.dataset), config.synthetic_test_ids,
                            config.synthetic_train_ids)


def synthetic_root_of(config: APRConfig) -> Path:
    """The folder of the synthetic set ``config`` trains on (``config.dataset`` must be a synthetic one)."""
    return synthetic_root(synthetic_set_of(config), stands_for(config.dataset), config.data_root)


def load_run_dataset(config: APRConfig, *, progress: bool = True) -> ReidData:
    """The dataset of ``config`` with its attributes: the synthetic set (generated on first use)
    or a real one read from ``config.data_root`` (``$APR_DATA_ROOT`` and the defaults only when it is None)."""
    if is_synthetic(config.dataset):
        layout = stands_for(config.dataset)
        root = ensure_synthetic(config=synthetic_set_of(config), layout=layout, data_root=config.data_root,
                                progress=progress)
        return load_dataset(config.dataset, root)
    if config.dataset_file is not None:
        return load_dataset(config.dataset, config.dataset_file)
    data = load_dataset(config.dataset, data_root=config.data_root, seed=config.seed)
    if data.schema is None:
        raise ValueError(f"{config.dataset} at '{data.root}' has no attribute annotations")
    return data


def load_training_data(config: APRConfig, device: torch.device, *, decode: bool = True,
                       progress: bool = True) -> TrainingData:
    """Load the dataset of ``config`` (see :func:`load_run_dataset`) and decode its training split.

    With ``config.validation_ids`` > 0 the run trains without that many training identities and is
    evaluated on them (:func:`apr.data.validation.hold_out_validation`), not on the test split."""
    t = time.perf_counter()
    data = load_run_dataset(config, progress=progress)
    if config.validation_ids:
        data = hold_out_validation(data, config.validation_ids, config.seed)
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
