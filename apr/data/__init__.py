"""Data: attribute annotations, real dataset layouts, the synthetic stand-in, tensors (``apr.data.load_dataset`` ...).
The bottom layer: it imports nothing else of ``apr``."""

from .attributes import (
    DUKE_SCHEMA,
    MARKET_SCHEMA,
    PETA_SCHEMA,
    SCHEMAS,
    Attribute,
    AttributeGroup,
    AttributeSchema,
    annotation_quirks,
    detect_schema,
    expand_to_images,
    group_targets,
    load_attribute_annotations,
)
from .datasets import (
    DATASETS,
    DatasetLayoutError,
    Record,
    ReidData,
    find_dataset_folder,
    load_dataset,
    read_dukemtmc,
    read_market1501,
    read_peta,
    split_peta,
)
from .download import ANNOTATION_DOWNLOADS, download_annotations
from .paths import ENV_VAR, find_annotation_file, resolve_data_root
from .synthetic import SYNTH_PRESETS, SynthConfig, ensure_synthetic, generate_synthetic, synthetic_config
from .tensors import BatchAugment, DecodedSplit, ReidImageDataset, eval_transform, label_map, read_image, train_transform

__all__ = [
    "ANNOTATION_DOWNLOADS", "DATASETS", "DUKE_SCHEMA", "ENV_VAR", "MARKET_SCHEMA", "PETA_SCHEMA", "SCHEMAS",
    "Attribute", "AttributeGroup", "AttributeSchema", "BatchAugment", "DatasetLayoutError", "DecodedSplit",
    "Record", "ReidData", "ReidImageDataset", "SYNTH_PRESETS", "SynthConfig", "synthetic_config", "annotation_quirks", "detect_schema",
    "download_annotations", "ensure_synthetic", "eval_transform", "expand_to_images", "find_annotation_file",
    "find_dataset_folder", "generate_synthetic", "group_targets", "label_map", "load_attribute_annotations",
    "load_dataset", "read_dukemtmc", "read_image", "read_market1501", "read_peta", "resolve_data_root",
    "split_peta", "train_transform",
]
