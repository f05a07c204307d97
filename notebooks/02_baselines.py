# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Baselines: IDE, ARN and APR (paper §5.3.1, Tables 1–2 and 4–5)
#
# The paper's two baselines are **IDE** (Baseline 1: identity classification only) and
# **ARN** (Baseline 2: attribute classification only, the attribute predictions as the
# re-ID feature). APR learns both, with the attribute re-weighting module (ARM) between
# them. This chapter trains all three (and APR without ARM, and APR without the attribute
# loss, used again in the ablation chapter) with one configuration, then compares re-ID
# accuracy and attribute accuracy with the paper's reported rows.

# %% tags=["parameters"]
dataset = "synthetic"   # market1501, dukemtmc, peta or synthetic
data_root = None        # folder holding the datasets and annotation files (None: the default data root)
scale = "quick"         # smoke (CI), quick (2 CPU cores, minutes), paper (GPU, real data)
device = "auto"         # auto, cpu, cuda
seed = 0
figures_dir = None      # where figures are saved (None: the repository's figures/)

# %%
import pandas as pd
from myst_nb import glue

from apr.book import check_parameters, figure_folder
from apr.experiments import main_config, variant_configs
from apr.plots import publish, training_curves_figure
from apr.report import (attribute_accuracy_table, compare, difference, history_frame, interval_text, metrics_table,
                        paper_baseline_rows, shown, verdict)
from apr.results import load_or_train_many

check_parameters(dataset, data_root, scale, device, seed)
pd.set_option("display.max_colwidth", 100)   # the "source" column names the whole configuration
figures = figure_folder(figures_dir)
configs = variant_configs(main_config(dataset, scale, seed, device, data_root))
records = dict(zip(configs, load_or_train_many(list(configs.values()))))
base = configs["apr"]
pd.Series({"dataset": base.dataset, "backbone": base.backbone, "pretrained backbone": base.pretrained,
           "input (H x W)": f"{base.image_size[0]} x {base.image_size[1]}", "epochs": base.epochs,
           "batch": base.batch_size, "lr (x0.1 for the last third)": base.lr, "dropout": base.dropout,
           "lambda": base.lambda_id, "seed": base.seed}, name="setting").to_frame()

# %% [markdown]
# ## Re-ID accuracy next to the paper (Tables 1–2)
#
# mAP is the official Market-1501 rule (trapezoid AP); "mAP (step AP)" is the rule of the
# common toolboxes, shown because the two differ. The rows labelled *reported by the paper*
# are quoted, not computed; they use ResNet-50 pretrained on ImageNet and the real dataset.

# %%
measured = metrics_table(records)
table = pd.concat([measured, paper_baseline_rows(dataset)])
shown(table)

# %% tags=["remove-cell"]
# Key results, checked on every build (and by the nbval tests at smoke scale).
for name, rec in records.items():
    m = rec.metrics
    assert 0 <= m["rank1"] <= m["rank5"] <= m["rank10"] <= 1 and 0 <= m["mAP"] <= 1, (name, m)
    assert ("attribute_accuracy" in m) == (name != "ide"), name
assert len(rec.history) == rec.config.epochs

# %% tags=["remove-cell"]
apr, ide, arn = (records[v].metrics for v in ("apr", "ide", "arn"))
glue("apr_r1", f"{100 * apr['rank1']:.2f}", display=False)
glue("apr_map", f"{100 * apr['mAP']:.2f}", display=False)
glue("ide_r1", f"{100 * ide['rank1']:.2f}", display=False)
glue("ide_map", f"{100 * ide['mAP']:.2f}", display=False)
glue("arn_r1", f"{100 * arn['rank1']:.2f}", display=False)
apr_vs_ide = compare(records["apr"], records["ide"], seed=seed)
glue("apr_vs_ide", verdict(apr_vs_ide["rank1"]), display=False)
glue("apr_vs_ide_r1", interval_text(apr_vs_ide["rank1"]), display=False)
glue("apr_vs_ide_map", interval_text(apr_vs_ide["mAP"]), display=False)
glue("apr_vs_arn_r1", difference(100 * apr["rank1"], 100 * arn["rank1"]), display=False)

# %% [markdown]
# In this build APR reaches {glue:text}`apr_r1`% rank-1 and {glue:text}`apr_map`% mAP; IDE
# reaches {glue:text}`ide_r1`% and {glue:text}`ide_map`%. So APR **{glue:text}`apr_vs_ide`**
# IDE here: {glue:text}`apr_vs_ide_r1` rank-1 and {glue:text}`apr_vs_ide_map` mAP. The
# intervals come from resampling the queries (paired bootstrap), and the verdict follows the
# rank-1 interval: "beats" only when it lies above 0. They do not include the variation between
# training runs, which at this scale is several points (the status page lists every
# model). The paper reports +6.88 points rank-1 on Market-1501 and +9.7 on DukeMTMC-reID (reported by the
# paper). ARN, which sees attributes only, trails APR by {glue:text}`apr_vs_arn_r1` rank-1
# (the paper: 37.28 points on Market-1501): attributes alone describe a population, not a
# person.
#
# Why the gap to the paper can differ in either direction on the default build: it trains a
# small network on a few hundred synthetic identities, on a CPU, for minutes. The paper
# fine-tunes an ImageNet-pretrained ResNet-50 on real pedestrians, where attributes carry
# knowledge the ID labels alone do not give. ImageNet weights cannot be downloaded here;
# with `pretrained = "synthetic"` every model of this build starts from one backbone
# pretrained by identity classification on *other* synthetic people (a population
# generated with another seed, none of them in these splits), the closest stand-in this
# build has. The status page lists the settings of this build; `SCALE=paper` on the real
# data with ImageNet weights is the comparable run.
#
# ## Attribute accuracy per group (Tables 4–5)
#
# Accuracy on the labelled gallery images (junk and distractors left out); a colour group
# counts as right when the predicted colour is marked "yes" for the identity, as the
# official evaluation script does.

# %%
attr_table = attribute_accuracy_table({v: records[v] for v in ("arn", "apr")}, dataset)
shown(attr_table, 1)

# %% tags=["remove-cell"]
glue("arn_attr", f"{attr_table.iloc[0]['Avg']:.1f}", display=False)
glue("apr_attr", f"{attr_table.iloc[1]['Avg']:.1f}", display=False)

# %% [markdown]
# Mean attribute accuracy: ARN {glue:text}`arn_attr`%, APR {glue:text}`apr_attr`% in this
# build (the paper reports 86.0% and 86.6% on Market-1501).
#
# ## Training curves
#
# Loss and training accuracies per epoch; the learning rate drops tenfold for the last
# third of the epochs, as in the paper.

# %%
history = history_frame(records)
fig = training_curves_figure(history)
publish(fig, "training_curves", history.set_index(["variant", "epoch"]), folder=figures)
