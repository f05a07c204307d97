"""The ranking metrics under their first public name: they live in :mod:`apr.evaluation.metrics`."""

from .evaluation.metrics import (ap_from_ranks, attribute_accuracy, evaluate_per_query, evaluate_ranking,
                                 evaluate_ranking_modes, group_predictions, majority_accuracy, pairwise_distances)

__all__ = ["ap_from_ranks", "attribute_accuracy", "evaluate_per_query", "evaluate_ranking", "evaluate_ranking_modes",
           "group_predictions", "majority_accuracy", "pairwise_distances"]
