"""How well cached runs' attribute heads fit their own training images, against always
predicting the majority class.

A head that sits at the majority rate on the images it was trained on has learned nothing of
its attribute, whatever its test accuracy. Each run is read from its folder (the results
cache or any ``--out`` of ``python -m apr train``) and evaluated without augmentation.

    .venv/bin/python scripts/attribute_fit.py runs/cache/arn-743fa8037283 runs/cache/apr-2ba2fd9fcee0
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from apr.engine.run_data import load_training_data
from apr.engine.features import extract
from apr.engine.runs import load_model


def training_fit(run_dir: str) -> pd.DataFrame:
    """Per attribute: accuracy on the run's training images and the majority-class rate."""
    model, config = load_model(run_dir, "cpu")
    training = load_training_data(config, torch.device("cpu"), decode=True, progress=False)
    embeddings = extract(model, training.train, batch_size=config.eval_batch_size)
    if not embeddings.attr_probs:
        raise ValueError(f"'{run_dir}' is a {config.variant} run: it has no attribute heads")
    labels = training.split_attributes("train")
    rows = []
    for j, name in enumerate(training.attribute_names):
        truth = labels[:, j]
        labelled = truth >= 0
        predicted = embeddings.attr_probs[j].argmax(1).numpy()[labelled]
        rows.append({"attribute": name, "train accuracy": 100 * float((predicted == truth[labelled]).mean()),
                     "majority class": 100 * np.bincount(truth[labelled]).max() / labelled.sum()})
    return pd.DataFrame(rows).set_index("attribute")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders")
    args = parser.parse_args()
    for run_dir in args.runs:
        table = training_fit(run_dir)
        above = (table["train accuracy"] - table["majority class"] > 2).sum()
        print(f"\n{run_dir}: {above} of {len(table)} attributes more than 2 points above the majority class")
        print(table.round(1).T.to_string())


if __name__ == "__main__":
    main()
