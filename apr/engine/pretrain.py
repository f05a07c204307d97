"""A stand-in for ImageNet pretraining: a backbone pretrained on *other* synthetic people.

The paper fine-tunes an ImageNet-pretrained ResNet-50. Where no ImageNet weights exist (they
cannot be downloaded here), ``pretrained="synthetic"`` starts every model from a backbone
trained once by identity classification (IDE) on a synthetic population generated with
another seed, so none of its identities appear in the training or test splits the model is
then fine-tuned and evaluated on. Every configuration of one data seed starts from the same
pretraining run, whatever its training seed, variant, λ, attributes, schedule or validation split:
like ImageNet weights, which are one fixed download for everybody, the starting point belongs to
the data (the data seed makes it), and a training seed varies the fine-tuning only. The run is
long (``PRETRAIN_EPOCHS``), as ImageNet training is: from a backbone pretrained for 20 epochs,
fine-tuning reached at 20 epochs the validation mAP it had only at 40 from the old one
(``scripts/convergence_study.py``); whether a schedule has stopped climbing, chapter 02 checks on every
build.

This module says *what* that run is (:func:`pretrain_config`); the store of trained runs trains it
once and hands its backbone to every run that needs it (:func:`apr.engine.store.pretrained_backbone`).
"""

from __future__ import annotations

from dataclasses import replace

from ..config import APRConfig
from ..data.synthetic import SYNTH_PRESETS

# Changing these changes what pretrained="synthetic" means: bump apr.engine.store.CACHE_VERSION.
# Epochs per synthetic scale: the smoke scale (CI) only checks that the path runs.
PRETRAIN_EPOCHS: dict[str, int] = {"smoke": 20, "quick": 60, "paper": 60}
PRETRAIN_SEED_OFFSET = 1000   # the pretraining population: synthetic seed + this offset
# The population's test split only checks that the pretraining learned something (its run is evaluated like any
# other); the scale's large test split would cost rendering and evaluation for nothing.
PRETRAIN_TEST_IDS = 50
# Training identities of the pretraining population, per scale, where it differs from the fine-tuning set's.
PRETRAIN_TRAIN_IDS: dict[str, int] = {}
BACKBONE_FILE = "backbone.pt"   # the pretraining entry's backbone weights, derived from its model.pt


def pretrain_config(config: APRConfig) -> APRConfig:
    """The IDE run on a disjoint synthetic population whose backbone ``config`` starts from: the scale's
    ``PRETRAIN_EPOCHS`` long unless ``config.pretrain_epochs`` says otherwise."""
    return replace(config, dataset="synthetic", data_root=None, variant="ide", attributes=None, pretrained="none",
                   seed=config.seed + PRETRAIN_SEED_OFFSET, train_seed=0,
                   epochs=config.pretrain_epochs or PRETRAIN_EPOCHS[config.synthetic_scale], pretrain_epochs=0,
                   synthetic_test_ids=min(PRETRAIN_TEST_IDS, SYNTH_PRESETS[config.synthetic_scale].num_test_ids),
                   synthetic_train_ids=PRETRAIN_TRAIN_IDS.get(config.synthetic_scale, 0),
                   lambda_id=0.9, lr_decay_epoch=None, head_lr_factor=1.0, validation_ids=0,
                   attribute_loss_reduction="mean")   # IDE reads no attribute loss: APR's readings share one start
