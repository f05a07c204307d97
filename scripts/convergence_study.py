"""How far the default build's models are from converged: validation accuracy against the length of the schedule.

Trains IDE, ARN and APR (both readings of Eq. 6's attribute term, ``attribute_loss_reduction`` mean and sum) on
the λ sweep's validation split (training identities held out, ``VALIDATION_IDS``) with schedules of several
lengths, each with its own learning-rate step at its last third, and prints per model and schedule the
validation rank-1 and mAP, the mean attribute accuracy and the last epoch's training loss. The test split is
never looked at: a schedule is chosen on these numbers, never on APR − IDE.
Runs go through the results cache (a second call only reads them). ``--set`` weighs another stand-in the same
way: ``--set backbone=shufflenet_v2_x0_5 image_size=64x32 pretrain_epochs=150`` (its own pretraining first).

    .venv/bin/python scripts/convergence_study.py [--epochs 10 20 30 40] [--seeds 1] [--set batch_size=128 lr=0.2]
        [--out study.csv]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd

from apr.config import in_reading, parse_overrides
from apr.experiments import BookParameters
from apr.experiments.cache import load_or_train_many
from apr.experiments.configs import VALIDATION_IDS, seeded_configs

MODELS = {"IDE": ("ide", "mean"), "ARN": ("arn", "mean"), "APR, mean (as printed)": ("apr", "mean"),
          "APR, sum": ("apr", "sum")}    # variant and reading of Eq. 6 (IDE and ARN read none: apr.config.in_reading)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 20, 30, 40])
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per model and schedule (default: 1)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="settings other than the quick preset's, for every model (batch_size=128 lr=0.2)")
    parser.add_argument("--out", default=None, help="also write the table as CSV")
    args = parser.parse_args()
    book = BookParameters()
    base = book.main_config(validation_ids=VALIDATION_IDS[book.scale], **parse_overrides(args.set))
    plan = [(name, epochs, config) for epochs in args.epochs for name in args.models
            for config in seeded_configs(in_reading(replace(base, epochs=epochs, variant=MODELS[name][0]),
                                                    MODELS[name][1]), args.seeds)]
    runs = load_or_train_many([c for _, _, c in plan])
    rows = []
    for (name, epochs, config), run in zip(plan, runs):
        accuracy = run.metrics.get("attribute_accuracy", {}).get("mean")
        rows.append({"model": name, "epochs": epochs, "train_seed": config.train_seed,
                     "val rank-1": 100 * run.metrics["rank1"], "val mAP": 100 * run.metrics["mAP"],
                     "attr. acc.": 100 * accuracy if accuracy is not None else float("nan"),
                     "last loss": run.history[-1]["loss"], "train s": run.info["timings"]["train_s"]})
    table = pd.DataFrame(rows)
    summary = table.groupby(["model", "epochs"], sort=False).mean(numeric_only=True).drop(columns="train_seed")
    with pd.option_context("display.float_format", "{:.2f}".format, "display.width", 160):
        print(summary)
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
