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
parameters = {}   # the book's parameters by name, e.g. {"scale": "smoke"} (apr.experiments.BookParameters; {}: defaults)

# %%
import json
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from apr.book.plots import publish, synthetic_samples_figure, synthetic_samples_table
from apr.data import MARKET_SCHEMA, ensure_synthetic, load_dataset, synthetic_config
from apr.data.datasets import is_synthetic, stands_for
from apr.data.synthetic import SYNTHETIC_MANIFEST
from apr.experiments import BookParameters

book = BookParameters.from_dict(parameters)
if is_synthetic(book.dataset):
    layout = stands_for(book.dataset)
    root = ensure_synthetic(config=synthetic_config(book.scale, book.seed, layout), layout=layout,
                            data_root=book.data_root, progress=False)
    manifest = json.loads((root / SYNTHETIC_MANIFEST).read_text())
    data = load_dataset(book.dataset, root)
    display(Markdown(f"Attributes of the synthetic identities: {manifest['attribute_source']}."))
elif book.dataset_file is not None:      # your own dataset, listed in a CSV file
    data = load_dataset(book.dataset, book.dataset_file)
else:
    data = load_dataset(book.dataset, data_root=book.data_root, seed=book.seed)
if not is_synthetic(book.dataset):
    source = (f"your own dataset, listed in `{Path(book.dataset_file).name}`" if book.dataset_file is not None
              else f"{book.dataset} from the data root")
    display(Markdown(f"**This build reads {source}**, not the synthetic stand-in: the tables below count its "
                     "images, and the synthetic pedestrians further down are the default book's data, shown for "
                     "reference only."))

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

# %% mystnb={"figure": {"caption": "Synthetic pedestrians: one identity through the six cameras (top), then pairs of the same person, camera and noise with one attribute flipped.", "name": "fig-synthetic-samples"}, "image": {"alt": "A grid of small synthetic pedestrian images: one person in six cameras, then pairs that differ in one attribute each."}}
fig = synthetic_samples_figure(book.seed)
publish(fig, "synthetic_samples", synthetic_samples_table(book.seed), folder=book.figures)

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
).set_index("group")
groups
