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
from IPython.display import Markdown, display

from apr.book.chapters.data import data_chapter

chapter = data_chapter(parameters)   # the dataset, tables, figures and quoted values (apr/book/chapters)
chapter.glue()
display(Markdown(chapter.notes["data"]))   # what this build reads


# %% [markdown]
# ## Images, identities and cameras per split
#
# Counted as the common re-ID toolboxes do: junk images (id −1) are left out, distractors
# (id 0000) are kept and count as one identity.

# %%
# NBVAL_CHECK_OUTPUT
chapter.tables["summary"]


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
chapter.figure("synthetic_samples")


# %% [markdown]
# ## The attributes and the paper's evaluation groups
#
# Attribute values are the file's values minus one; −1 marks an unlabelled value. The
# accuracy tables of the paper (Tables 4–5) score groups: colour groups are one 8- or
# 9-way choice (Market) whose prediction is right iff the true label marks that colour.

# %%
chapter.table("groups")
