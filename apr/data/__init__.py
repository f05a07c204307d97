"""Data: attribute annotations, real dataset layouts, the synthetic stand-in, tensors (``apr.data.load_dataset`` ...).
The bottom layer: it imports nothing else of ``apr``."""

# The names below load on first use (PEP 562): importing one data module (the CLI's parser needs the dataset
# names) must not import torch and torchvision with apr.data.tensors.

from __future__ import annotations

import importlib

_HOMES = {
    "attributes": ("DUKE_SCHEMA", "MARKET_SCHEMA", "PETA_SCHEMA", "SCHEMAS", "Attribute", "AttributeGroup",
                   "AttributeSchema", "annotation_quirks", "detect_schema", "expand_to_images", "group_targets",
                   "load_attribute_annotations"),
    "datasets": ("DATASETS", "DatasetLayoutError", "Record", "ReidData", "find_dataset_folder", "load_dataset",
                 "read_dukemtmc", "read_market1501", "read_peta", "split_peta"),
    "download": ("ANNOTATION_DOWNLOADS", "download_annotations"),
    "paths": ("ENV_VAR", "find_annotation_file", "resolve_data_root"),
    "synthetic": ("SYNTH_PRESETS", "SynthConfig", "ensure_synthetic", "generate_synthetic", "synthetic_config"),
    "tensors": ("BatchAugment", "DecodedSplit", "ReidImageDataset", "eval_transform", "label_map", "read_image",
                "train_transform"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'apr.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value           # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
