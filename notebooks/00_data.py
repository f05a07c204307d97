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
# # Datasets and the synthetic stand-in
#
# Every later chapter reads person images through the same loaders. The paper uses
# Market-1501 (27 attributes), DukeMTMC-reID (23) and PETA (35); their images cannot be
# downloaded here, so by default the book runs on a **synthetic dataset in the exact
# Market-1501 layout**, whose identities carry attribute rows drawn from the released
# `market_attribute.mat` when it is found. Change `dataset` and `data_root` below to run
# the book on the real data.

# %% tags=["parameters"]
dataset = "synthetic"   # market1501, dukemtmc, peta, synthetic or synthetic_duke
data_root = None        # folder holding the datasets and annotation files (None: the default data root)
scale = "quick"         # smoke (CI), quick (2 CPU cores, minutes), paper (GPU, real data)
device = "auto"         # auto, cpu, cuda
seed = 0                # data seed: the synthetic set and its pretraining population
seeds = 8               # training seeds of IDE, ARN and APR, the models of Table 1 (intervals include them)
figures_dir = None      # where figures are saved (None: the repository's figures/)

# %%
import json

import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from apr.book import check_parameters, figure_folder
from apr.data import MARKET_SCHEMA, ensure_synthetic, load_dataset, synthetic_config
from apr.data.datasets import is_synthetic, stands_for
from apr.plots import publish, synthetic_samples_figure, synthetic_samples_table

check_parameters(dataset, data_root, scale, device, seed, seeds)
if is_synthetic(dataset):
    layout = stands_for(dataset)
    root = ensure_synthetic(config=synthetic_config(scale, seed, layout), layout=layout, data_root=data_root,
                            progress=False)
    manifest = json.loads((root / "synthetic.json").read_text())
    data = load_dataset(dataset, root)
    display(Markdown(f"Attributes of the synthetic identities: {manifest['attribute_source']}."))
else:
    data = load_dataset(dataset, data_root=data_root, seed=seed)

# %% [markdown]
# ## Images, identities and cameras per split
#
# Counted as the common re-ID toolboxes do: junk images (id −1) are left out, distractors
# (id 0000) are kept and count as one identity.

# %%
# NBVAL_CHECK_OUTPUT
summary = pd.DataFrame(data.summary()).T
glue("n_train_images", int(summary.loc["train", "images"]), display=False)
glue("n_train_ids", int(summary.loc["train", "ids"]), display=False)
glue("n_gallery_images", int(summary.loc["gallery", "images"]), display=False)
summary

# %% [markdown]
# The training split has {glue}`n_train_images` images of {glue}`n_train_ids` identities
# and the gallery {glue}`n_gallery_images` images (junk left out, distractors counted; the
# acceleration chapter counts the junk images too, since they stay in the gallery the search runs on).
#
# ## What the synthetic pedestrians look like
#
# Each identity is rendered from its attribute row plus details no attribute captures
# (exact shades, a clothing pattern, shoes, build), and each camera changes lighting,
# colour cast, viewpoint, scale, clutter, occlusion and blur. Top: one identity across the
# six cameras; below: the same person, camera and noise with one attribute flipped.

# %%
fig = synthetic_samples_figure(seed)
publish(fig, "synthetic_samples", synthetic_samples_table(seed), folder=figure_folder(figures_dir))

# %% [markdown]
# ## The attributes and the paper's evaluation groups
#
# Attribute values are the file's values minus one; −1 marks an unlabelled value. The
# accuracy tables of the paper (Tables 4–5) score groups: colour groups are one 8- or
# 9-way choice (Market) whose prediction is right iff the true label marks that colour.

# %%
schema = data.schema or MARKET_SCHEMA
groups = pd.DataFrame(
    [(g.name, g.label, len(g.members) if g.is_colour else schema.attribute(g.members[0]).num_classes,
      ", ".join(g.members) if g.is_colour else " / ".join(schema.attribute(g.members[0]).classes))
     for g in schema.groups],
    columns=["group", "meaning", "classes", "values"],
)
groups
