"""The ranking metrics under their first public name: they live in :mod:`apr.evaluation.metrics` (and the
re-ranking in :mod:`apr.evaluation.rerank`)."""

from .evaluation.metrics import (ap_from_ranks, attribute_accuracy, evaluate_per_query, evaluate_ranking,
                                 evaluate_ranking_modes, group_predictions, inp_from_ranks, majority_accuracy,
                                 pairwise_distances)
from .evaluation.rerank import k_reciprocal_rerank

__all__ = ["ap_from_ranks", "attribute_accuracy", "evaluate_per_query", "evaluate_ranking", "evaluate_ranking_modes",
           "group_predictions", "inp_from_ranks", "k_reciprocal_rerank", "majority_accuracy", "pairwise_distances"]
