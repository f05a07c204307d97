"""Attribute-filtered retrieval under its first public name: it lives in :mod:`apr.evaluation.retrieval`."""

from .evaluation.retrieval import (AttributeIndex, AttributePredictions, acceleration_curve, acceleration_per_query,
                                   enlarge_gallery, exhaustive_search, keep_mask, ranked_lists, time_per_query)

__all__ = ["AttributeIndex", "AttributePredictions", "acceleration_curve", "acceleration_per_query", "enlarge_gallery",
           "exhaustive_search", "keep_mask", "ranked_lists", "time_per_query"]
