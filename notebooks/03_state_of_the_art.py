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
# # Comparison with the state of the art (paper §5.3.2, Tables 1–2)
#
# The paper compares APR with the methods of its time on Market-1501 (Table 1) and
# DukeMTMC-reID (Table 2). Every row of those tables below is **reported by the paper**;
# this build's rows say which dataset and scale produced them, as the mean ± SD over their
# training runs. Rows from different datasets
# or scales are not comparable with each other: on the default build they show the method
# runs end to end, not that it matches the paper's numbers.

# %% tags=["parameters"]
parameters = {}   # the book's parameters by name, e.g. {"scale": "smoke"} (apr.experiments.BookParameters; {}: defaults)

# %%
import pandas as pd

from apr.book.chapters.state_of_the_art import state_of_the_art

pd.set_option("display.max_colwidth", 100)   # the "source" column names the whole configuration
chapter = state_of_the_art(parameters)   # the runs, tables, figures and quoted values (apr/book/chapters)
chapter.glue()


# %% [markdown]
# ## Table 1: Market-1501
#
# "–" in the backbone column marks hand-crafted features and "*" self-designed networks, as
# in the paper; empty cells are values the paper does not give.

# %%
chapter.table("table1")   # with a note when this build did not run Market-1501


# %% [markdown]
# ## Table 2: DukeMTMC-reID
#
# The paper gives rank-1 and mAP only for this dataset.

# %%
chapter.table("table2")


# %% [markdown]
# Among the other methods of Table 1, the highest rank-1 is {glue:text}`best_other_method`
# with {glue:text}`best_other_r1`% (reported by the paper), below APR's 87.04% (reported by
# the paper).
#
# ## What APR retrieves
#
# A few queries of this build's test set with the ten nearest gallery images under the
# evaluation protocol, by APR's first training run (same identity from the query's own camera and junk images skipped);
# blue frames (and a tick) are the query's identity, orange frames (and a cross) other people.

# %% mystnb={"figure": {"caption": "Five queries of this build's test set and the ten gallery images APR's first training run ranks nearest, under the evaluation protocol; a tick marks the query's identity, a cross another person.", "name": "fig-ranked-lists"}, "image": {"alt": "Rows of small pedestrian images: a query, then its ten nearest gallery images framed blue when they show the same person and orange when not."}}
chapter.figure("ranked_lists")


# %% [markdown]
# For {glue:text}`ranked_hits` of these {glue:text}`ranked_queries` queries the first
# image returned is the same person.
