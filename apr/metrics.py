"""The ranking and attribute metrics under their first public name: they live in :mod:`apr.evaluation.metrics`,
the re-ranking in :mod:`apr.evaluation.rerank`, the attribute-recognition field's mA and instance metrics in
:mod:`apr.evaluation.par_metrics`."""

from .evaluation.metrics import (ap_from_ranks, attribute_accuracy, evaluate_per_query, evaluate_ranking,
                                 evaluate_ranking_modes, group_predictions, inp_from_ranks, majority_accuracy,
                                 pairwise_distances)
from .evaluation.par_metrics import AttributeMetrics, attribute_metrics, binary_attributes
from .evaluation.rerank import k_reciprocal_rerank

__all__ = ["AttributeMetrics", "ap_from_ranks", "attribute_accuracy", "attribute_metrics", "binary_attributes",
           "evaluate_per_query", "evaluate_ranking", "evaluate_ranking_modes", "group_predictions", "inp_from_ranks",
           "k_reciprocal_rerank", "majority_accuracy", "pairwise_distances"]
