"""``APRConfig``: every setting of one training run, its presets, and ``from_params``.

Defaults are the paper's (§5.2) where it states them; where it is silent the choice is
commented and can be changed like any other setting (``--set key=value`` on the CLI, a
keyword in notebooks).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any



@dataclass(frozen=True)
class Variant:
    """What a model variant has and what it trains on (paper §4, Eq. 6); the network, the loss and the book read
    these rather than the variant's name."""

    name: str
    attribute_heads: bool     # per-attribute classifiers on pool5 (ã)
    arm: bool                 # the attribute re-weighting module (a = c ⊙ ã)
    embedding: bool           # an embedding layer, the ID classifier on [embedding, a] (IDE's is on pool5)
    id_loss: bool             # the ID classifier is trained
    attribute_loss: bool      # the attribute classifiers are trained

    @property
    def weighs_losses(self) -> bool:
        """Whether λ weighs an ID loss against an attribute loss (APR and w/o ARM); the others train one loss."""
        return self.id_loss and self.attribute_loss


# The paper's model and its baselines and ablations (§5.3): APR, IDE (Baseline 1: identities only), ARN (Baseline 2:
# attributes only), APR without ARM, and APR without the attribute loss ("w/o attri": the heads, trained by nothing).
VARIANT_SPECS: dict[str, Variant] = {v.name: v for v in (
    Variant("apr", attribute_heads=True, arm=True, embedding=True, id_loss=True, attribute_loss=True),
    Variant("ide", attribute_heads=False, arm=False, embedding=False, id_loss=True, attribute_loss=False),
    Variant("arn", attribute_heads=True, arm=False, embedding=False, id_loss=False, attribute_loss=True),
    Variant("apr_no_arm", attribute_heads=True, arm=False, embedding=True, id_loss=True, attribute_loss=True),
    Variant("apr_no_attr_loss", attribute_heads=True, arm=True, embedding=True, id_loss=True, attribute_loss=False),
)}
VARIANTS: tuple[str, ...] = tuple(VARIANT_SPECS)
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def variant_spec(variant: str) -> Variant:
    """The :class:`Variant` called ``variant``; another name is an error naming the known ones."""
    if variant not in VARIANT_SPECS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    return VARIANT_SPECS[variant]


def device_problem(name: Any) -> str | None:
    """None when ``name`` is a device setting the project takes (auto, cpu, cuda, cuda:N), else the problem in one
    line (whether CUDA is there is checked where the device is opened: :func:`apr.engine.device.resolve_device`)."""
    if isinstance(name, str) and (name in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", name) is not None):
        return None
    return f"device={name!r}: expected {DEVICE_CHOICES}"
BACKBONES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "mobilenet_v3_small",
                               "shufflenet_v2_x0_5", "shufflenet_v2_x1_0")


@dataclass(frozen=True)
class APRConfig:
    """All settings of one run. Defaults follow the paper (§5.2) unless a comment says otherwise."""

    # data
    dataset: str = "synthetic"            # market1501, dukemtmc, peta, synthetic, synthetic_duke, cub200, custom
    dataset_file: str | None = None       # dataset "custom": the CSV listing its images (apr.data.custom)
    data_root: str | None = None          # None: $APR_DATA_ROOT, then ../shared/data
    synthetic_scale: str = "quick"        # size of the generated set when dataset == "synthetic"
    synthetic_train_ids: int = 0          # > 0: that many training identities instead of the scale's
    synthetic_test_ids: int = 0           # > 0: that many test identities instead of the scale's (the pretraining
                                          # population, whose test split only checks the pretraining, uses few)
    image_size: tuple[int, int] = (256, 128)  # not in the paper; the usual re-ID input (H, W)
    pad: int = 10                         # pad-and-random-crop (paper: "random cropping")
    validation_ids: int = 0               # > 0: hold this many training identities out of training and evaluate
                                          # on them instead of the test split (§5.1: 651 train / 100 validation)
    # model
    variant: str = "apr"                  # apr, ide (Baseline 1), arn (Baseline 2), apr_no_arm, apr_no_attr_loss
    attributes: tuple[str, ...] | None = None  # None: all of the dataset's; a subset for ablations
    backbone: str = "resnet50"
    pretrained: str = "imagenet"          # "imagenet": torchvision's ImageNet weights (cache, else download; error if
                                          # neither works); "auto": only if already cached, else random (warned);
                                          # "none": random; a .pth path; "synthetic": a backbone pretrained on other
                                          # synthetic identities (apr.engine.pretrain, resolved by apr.engine.store)
    pretrain_epochs: int = 0              # pretrained="synthetic": > 0, that many epochs of pretraining instead of the
                                          # scale's (apr.engine.pretrain.PRETRAIN_EPOCHS), for schedule studies
    embed_dim: int = 512
    dropout: float = 0.5
    test_feature: str = "concat"          # "concat": [embedding, re-weighted attributes] (paper); "pool5"
    # loss and optimisation
    lambda_id: float = 0.9                # Eq. 6: lambda * ID loss + (1 - lambda) * mean attribute loss
    attribute_loss_reduction: str = "mean"  # Eq. 6's attribute term, λ·L_ID + (1 − λ)·(1/m)·Σ_j L_attr^j as printed
                                          # ("mean"), or without the 1/m ("sum": each attribute weighs 1 − λ, as
                                          # Eq. 2 weighs each of ARN's 1); the paper's Table 4 has APR's attributes
                                          # above ARN's, which the printed mean makes hard (errata page). Only
                                          # variants that weigh two losses (APR, w/o ARM) read it
    epochs: int = 60
    batch_size: int = 32                  # the global batch: under torchrun split over the processes (see ddp_batch)
    ddp_batch: str = "global"             # "global": each of N processes takes batch_size / N (the paper's recipe on
                                          # any N); "per_process": each takes batch_size (a global batch N times larger)
    lr: float = 0.01                      # then lr * 0.1 for the last third (paper: last 20 of 60 epochs)
    lr_decay_epoch: int | None = None     # None: epochs - epochs // 3
    head_lr_factor: float = 1.0           # not in the paper (silent): lr multiplier of the layers the backbone lacks
    momentum: float = 0.9                 # not in the paper: recipe of its ref. [20]
    weight_decay: float = 5e-4            # not in the paper: recipe of its ref. [20]
    # execution
    seed: int = 0                         # the data seed: the synthetic set, its pretraining population, PETA's split
    train_seed: int = 0                   # the training randomness apart from the data: initialisation, batch order,
                                          # augmentation, dropout; K seeds of one configuration = K runs on one data set
    device: str = "auto"                  # auto, cpu, cuda, cuda:N
    data_path: str = "decoded"            # "decoded": decode once to a uint8 tensor; "loader": DataLoader per epoch
    loader_workers: int = 2
    amp: bool = True                      # bf16 autocast, CUDA only
    channels_last: bool = True            # NHWC tensors; on one CPU thread MobileNetV3-small steps ~30% faster too
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        from .data.datasets import DATASETS

        if self.dataset_file is not None:   # absolute: a run read from another folder finds its data again
            object.__setattr__(self, "dataset_file", str(Path(self.dataset_file).expanduser().absolute()))

        checks = [
            (self.dataset in DATASETS, f"dataset={self.dataset!r}: expected one of {', '.join(DATASETS)}"),
            (self.variant in VARIANTS, f"variant={self.variant!r}: expected one of {', '.join(VARIANTS)}"),
            (self.backbone in BACKBONES, f"backbone={self.backbone!r}: expected one of {', '.join(BACKBONES)}"),
            (0.0 <= self.lambda_id <= 1.0, f"lambda_id={self.lambda_id}: must be in [0, 1]"),
            (self.attribute_loss_reduction in ("mean", "sum"),
             f"attribute_loss_reduction={self.attribute_loss_reduction!r}: expected mean (Eq. 6 as printed) or sum"),
            (self.epochs >= 1 and self.batch_size >= 2,
             f"epochs={self.epochs}, batch_size={self.batch_size}: need >= 1 and >= 2"),
            (math.isfinite(self.lr) and self.lr > 0, f"lr={self.lr}: must be a finite number > 0"),
            (self.seed >= 0, f"seed={self.seed}: must be a non-negative integer"),
            (self.train_seed >= 0, f"train_seed={self.train_seed}: must be a non-negative integer"),
            (self.validation_ids >= 0, f"validation_ids={self.validation_ids}: must be a non-negative integer"),
            (self.synthetic_test_ids >= 0,
             f"synthetic_test_ids={self.synthetic_test_ids}: must be a non-negative integer"),
            (self.synthetic_train_ids >= 0,
             f"synthetic_train_ids={self.synthetic_train_ids}: must be a non-negative integer"),
            (self.pretrain_epochs >= 0 and (self.pretrain_epochs == 0 or self.pretrained == "synthetic"),
             f"pretrain_epochs={self.pretrain_epochs}: must be a non-negative integer, > 0 only with "
             "pretrained=synthetic (the only pretraining this package runs)"),
            (self.lr_decay_epoch is None or 0 <= self.lr_decay_epoch <= self.epochs,
             f"lr_decay_epoch={self.lr_decay_epoch}: must be in 0..epochs ({self.epochs}) or none"),
            (self.attributes is None or len(set(self.attributes)) == len(self.attributes),
             f"attributes={','.join(self.attributes or ())}: an attribute is listed twice"),
            (device_problem(self.device) is None, device_problem(self.device)),
            (math.isfinite(self.momentum) and math.isfinite(self.weight_decay),
             f"momentum={self.momentum}, weight_decay={self.weight_decay}: must be finite"),
            (self.head_lr_factor > 0, f"head_lr_factor={self.head_lr_factor}: must be > 0"),
            (0.0 <= self.dropout < 1.0, f"dropout={self.dropout}: must be in [0, 1)"),
            (self.test_feature in ("concat", "pool5"), f"test_feature={self.test_feature!r}: expected concat or pool5"),
            (self.data_path in ("decoded", "loader"), f"data_path={self.data_path!r}: expected decoded or loader"),
            (self.ddp_batch in ("global", "per_process"),
             f"ddp_batch={self.ddp_batch!r}: expected global or per_process"),
            (len(self.image_size) == 2 and min(self.image_size) >= 32,
             f"image_size={self.image_size}: expected (H, W), each >= 32"),
            (self.synthetic_scale in ("smoke", "quick", "paper"),
             f"synthetic_scale={self.synthetic_scale!r}: expected smoke, quick or paper"),
            ((self.dataset == "custom") == (self.dataset_file is not None),
             f"dataset={self.dataset!r}, dataset_file={self.dataset_file!r}: dataset_file names the CSV of dataset "
             "custom, and only of it"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise ValueError("invalid configuration: " + "; ".join(bad))

    @property
    def decay_epoch(self) -> int:
        """First epoch (0-based) trained at lr * 0.1."""
        return self.lr_decay_epoch if self.lr_decay_epoch is not None else self.epochs - self.epochs // 3

    @property
    def training_seed(self) -> int:
        """The seed of the training randomness. Training seed 0 is the data seed itself, so runs made
        before the two were separated keep their cache entries and results."""
        return self.seed + TRAINING_SEED_STRIDE * self.train_seed

    @property
    def uses_attributes(self) -> bool:
        """Whether the variant has attribute heads (every variant but IDE)."""
        return VARIANT_SPECS[self.variant].attribute_heads

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name, as JSON takes it (tuples as lists): what ``run.json`` records."""
        d = dataclasses.asdict(self)
        d["image_size"] = list(self.image_size)
        d["attributes"] = list(self.attributes) if self.attributes is not None else None
        return d

    def key(self) -> str:
        """Stable hash of every setting that changes the trained model (for the run cache)."""
        import hashlib

        d = self.to_dict()
        for name in NOT_IN_CACHE_KEY:
            d.pop(name)
        for name, default in LATER_SETTINGS.items():   # at their default, runs cached before they existed stay valid
            if d[name] == default:
                d.pop(name)
        if self.dataset_file is not None:                # the file's content, not where it lies, defines the data
            from .data.custom import fingerprint

            d["dataset_file"] = fingerprint(self.dataset_file)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def in_reading(config: APRConfig, reading: str) -> APRConfig:
    """``config`` with Eq. 6's attribute term read as ``reading`` ("mean" or "sum") where its variant weighs an
    attribute loss beside the ID loss (APR, APR w/o ARM). The other variants read no such term and keep the printed
    "mean", so that one IDE, ARN or APR w/o attri run serves both readings."""
    spec = VARIANT_SPECS[config.variant]
    return dataclasses.replace(config, attribute_loss_reduction=reading if spec.id_loss and spec.attribute_loss
                               else "mean")


# Settings that change how a run executes, not the model it trains.
NOT_IN_CACHE_KEY: tuple[str, ...] = ("device", "loader_workers", "eval_batch_size", "data_path")
# Settings added after runs were first cached, with the default that means "as before".
LATER_SETTINGS: dict[str, Any] = {"head_lr_factor": 1.0, "train_seed": 0, "validation_ids": 0, "synthetic_test_ids": 0,
                                  "synthetic_train_ids": 0, "dataset_file": None, "ddp_batch": "global",
                                  "attribute_loss_reduction": "mean", "pretrain_epochs": 0}
# Training seed k of data seed s seeds the training with s + k * this (a prime far above the data seeds in use).
TRAINING_SEED_STRIDE = 7919


PRESETS: dict[str, APRConfig] = {
    # CI: seconds on a CPU; checks that everything runs, not that it learns.
    "smoke": APRConfig(synthetic_scale="smoke", backbone="shufflenet_v2_x0_5", pretrained="none", image_size=(64, 32),
                       epochs=2, batch_size=16, lr=0.05, eval_batch_size=64),
    # The default book on 2 CPU cores: a small backbone, so that every model can be trained with several
    # training seeds. No ImageNet weights can be downloaded here, so each model starts from a backbone
    # pretrained on a disjoint synthetic population (apr.engine.pretrain). Dropout 0.1: the paper's 0.5 kept
    # the ID classifier from fitting in a short schedule without ImageNet weights. Batch 128 at lr 0.2 (batch 32 at
    # 0.05, scaled linearly) reaches the same validation accuracy per epoch in fewer, denser steps
    # (benchmarks/bench_step.py; scripts/convergence_study.py --set batch_size=128 lr=0.2). Whether 20 epochs have
    # converged is checked on every build (apr.book.convergence); the default build's check says not yet.
    "quick": APRConfig(synthetic_scale="quick", backbone="mobilenet_v3_small", pretrained="synthetic",
                       image_size=(96, 48), epochs=20, batch_size=128, lr=0.2, dropout=0.1, eval_batch_size=128),
    # The paper's schedule: ResNet-50 at 256x128, 60 epochs, batch 32 (GPU, real data).
    "paper": APRConfig(synthetic_scale="paper"),
}


# Settings whose unset value is None: "none" sets them so (a TOML file has no null). attributes has its own rule.
NULLABLE = ("data_root", "dataset_file", "lr_decay_epoch")


def _typed(name: str, value: Any, current: Any) -> Any:
    """A non-string value (a config file's bool, number or list, or a caller's None) in the field's type;
    TypeError when it is not one."""
    if value is None and (name in NULLABLE or name == "attributes"):   # Python callers pass None to unset
        return None
    if isinstance(current, tuple) or name == "attributes":
        if not isinstance(value, list):
            raise TypeError(name)
        return tuple(value)
    if isinstance(current, bool) or isinstance(value, bool):     # bool is an int subclass: match it first
        if not (isinstance(current, bool) and isinstance(value, bool)):
            raise TypeError(name)
        return value
    if isinstance(current, float):
        if not isinstance(value, (int, float)):
            raise TypeError(name)
        return float(value)
    if (isinstance(current, int) and not isinstance(value, int)) or isinstance(current, str) or \
            name in ("data_root", "dataset_file"):   # a text setting needs a string
        raise TypeError(name)
    return value


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Turn a ``--set key=value`` string, or a config file's value, into the field's type."""
    if not isinstance(value, str):
        return _typed(name, value, current)
    text = value.strip()
    if name == "attributes":
        return None if text.lower() in ("none", "") else tuple(t for t in text.replace(",", " ").split() if t)
    if name == "image_size":
        parts = text.lower().replace("x", ",").split(",")
        return tuple(int(p) for p in parts)
    if name in NULLABLE:
        return None if text.lower() == "none" else (int(text) if name == "lr_decay_epoch" else text)
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{name}={value!r}: expected true or false")
        return text.lower() in ("true", "1")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    return text


def from_params(scale: str = "quick", **overrides: Any) -> APRConfig:
    """A preset with overrides: ``from_params("quick", variant="ide", lambda_id=0.8)``.

    Unknown keys and bad values fail with a message that lists the valid keys.
    """
    if scale not in PRESETS:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(PRESETS)}")
    base = PRESETS[scale]
    valid = [f.name for f in dataclasses.fields(APRConfig)]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; valid keys: {', '.join(valid)}")
    values = {}
    for key, value in overrides.items():
        current = getattr(base, key)
        try:
            values[key] = _coerce(key, value, current)
        except (TypeError, ValueError):
            kind = {bool: "true or false", int: "an integer", float: "a number"}.get(type(current), "a valid value")
            if key == "image_size":
                kind = "HxW, e.g. 256x128"
            elif key == "lr_decay_epoch":
                kind = "an integer or none"
            raise ValueError(f"setting {key}={value!r}: expected {kind}") from None
    return replace(base, **values)


CONFIG_SUFFIXES = (".toml", ".yaml", ".yml")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings of a config file: TOML (``.toml``), or YAML (``.yaml``/``.yml``, with PyYAML installed). Its
    keys are those of ``--set`` (:class:`APRConfig`'s fields) and optionally ``scale`` (the preset they modify);
    ``"none"`` stands for an unset value. Unknown keys and bad values fail later, in :func:`from_params`, with the
    list of valid keys."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise ValueError(f"--config '{path}': expected a .toml (or .yaml) file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"--config '{path}' cannot be read: {exc.strerror}") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            settings = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"--config '{path}' is not valid TOML: {exc}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ImportError(f"--config '{path}': reading YAML needs PyYAML (pip install pyyaml); or use "
                              "TOML") from None
        try:
            settings = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"--config '{path}' is not valid YAML: {exc}") from None
    if not isinstance(settings, dict) or any(isinstance(v, dict) for v in settings.values()):
        raise ValueError(f"--config '{path}': expected flat key = value settings (the keys of --set), no tables")
    return settings


def config_to_toml(config: APRConfig, *, origin: str = "") -> str:
    """Every setting of ``config`` as a TOML file that ``apr train --config`` trains from again (unset values as
    ``"none"``); ``origin`` goes into its first comment."""
    lines = [f"# apr run configuration{f' of {origin}' if origin else ''}: apr train --config THIS_FILE "
             "[--set key=value ...]"]
    for key, value in config.to_dict().items():
        if value is None:
            text = '"none"'
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        elif isinstance(value, list):
            text = "[" + ", ".join(json.dumps(v) for v in value) + "]"
        else:
            text = json.dumps(str(value))      # a JSON string is a valid TOML basic string
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["lambda_id=0.8", "epochs=3"]`` -> dict; a pair without ``=`` is an error."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out


# Keys that older run folders record and that no longer are settings.
RETIRED_SETTINGS = ("extra",)


def config_from_dict(d: dict[str, Any]) -> APRConfig:
    """Inverse of :meth:`APRConfig.to_dict` (lists back to tuples; retired keys of older runs dropped)."""
    d = {k: v for k, v in d.items() if k not in RETIRED_SETTINGS}
    d["image_size"] = tuple(d["image_size"])
    d["attributes"] = tuple(d["attributes"]) if d.get("attributes") else None
    return APRConfig(**d)
