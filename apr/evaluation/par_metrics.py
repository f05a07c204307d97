"""The pedestrian-attribute-recognition field's metrics: label-based mA, instance-based accuracy, precision, recall
and F1 (Li et al., "A richly annotated dataset for pedestrian attribute recognition", 2016; the formulas of
Rethinking_of_PAR's ``get_pedestrian_metrics`` and fast-reid's FastAttr).

Every attribute is one binary label per image: 1 positive, 0 negative, -1 unlabelled (left out of every count). A
C-class attribute enters as C binary ones, one per class (:func:`binary_attributes`).

* **mA** (label-based): per attribute, the mean of the positive recall TP / P and the negative recall TN / N over
  its labelled images, then the mean over attributes. A recall whose denominator is zero counts as 0, as the
  toolboxes' ``x / (n + eps)`` gives: an attribute no test image has scores at most 50%, not 100%.
* **instance-based**, per image over its labelled attributes, with predicted positives ``p`` and true ones ``g``:
  accuracy |p ∧ g| / |p ∨ g|, precision |p ∧ g| / |p|, recall |p ∧ g| / |g| (0 when the denominator is), then the
  mean over images.
* **F1**, in the two conventions the toolboxes use: ``F1`` the harmonic mean of the mean precision and the mean
  recall (Rethinking_of_PAR, FastAttr); ``F1_mean`` the mean of each image's F1 (PromptPAR, which also thresholds
  at 0.45 rather than 0.5). A number without its convention is not comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..data.attributes import AttributeSchema


@dataclass(frozen=True)
class AttributeMetrics:
    """The field's attribute metrics of one prediction (fractions in [0, 1]; see the module docstring)."""

    mA: float
    accuracy: float
    precision: float
    recall: float
    F1: float                  # harmonic mean of the mean precision and the mean recall (Rethinking_of_PAR, FastAttr)
    F1_mean: float             # mean of the images' F1 (PromptPAR)
    threshold: float
    per_attribute: pd.DataFrame   # positive_recall, negative_recall, mA, positives, negatives (labelled images)

    def summary(self) -> dict[str, float]:
        """The scalars, for run.json and tables."""
        return {"mA": self.mA, "accuracy": self.accuracy, "precision": self.precision, "recall": self.recall,
                "F1": self.F1, "F1_mean": self.F1_mean, "threshold": self.threshold}


def attribute_metrics(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, *,
                      threshold: float = 0.5, names: Sequence[str] | None = None) -> AttributeMetrics:
    """Label-based mA and instance-based accuracy, precision, recall and F1 of binary attribute predictions.

    Parameters
    ----------
    scores : (N, A)
        Probabilities of the positive class (thresholded: ``score > threshold`` is positive), or 0/1 predictions.
    labels : (N, A) int
        1 positive, 0 negative, -1 unlabelled (ignored in every count).
    threshold
        The positive decision: ``score > threshold`` (0.5 in Rethinking_of_PAR and FastAttr; 0.45 in PromptPAR).
    names
        The attributes' names, for ``per_attribute``'s index.
    """
    s = np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    y = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if s.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape}: expected two (N, A) arrays of the same shape")
    if not np.isin(y, (-1, 0, 1)).all():
        raise ValueError(f"labels: expected 1, 0 or -1 (unlabelled), got {sorted(set(np.unique(y)) - {-1, 0, 1})[:5]}")
    if not np.isfinite(s).all():
        raise ValueError("scores: expected finite probabilities or 0/1 predictions, got NaN or inf")
    if names is not None and len(names) != s.shape[1]:
        raise ValueError(f"names: {len(names)} given for {s.shape[1]} attributes")
    labelled = y >= 0
    pred = (s > threshold) & labelled
    true = (y == 1) & labelled
    # Label-based: per attribute.
    positives, negatives = true.sum(0), (labelled & ~true).sum(0)
    tp, tn = (pred & true).sum(0), (~pred & labelled & ~true).sum(0)
    pos_recall = np.divide(tp, positives, out=np.zeros(len(tp)), where=positives > 0)
    neg_recall = np.divide(tn, negatives, out=np.zeros(len(tn)), where=negatives > 0)
    per_label = (pos_recall + neg_recall) / 2
    # Instance-based: per image, over its labelled attributes.
    inter, union = (pred & true).sum(1), (pred | true).sum(1)
    n_pred, n_true = pred.sum(1), true.sum(1)
    acc = np.divide(inter, union, out=np.zeros(len(inter)), where=union > 0)
    prec = np.divide(inter, n_pred, out=np.zeros(len(inter)), where=n_pred > 0)
    rec = np.divide(inter, n_true, out=np.zeros(len(inter)), where=n_true > 0)
    f1_each = np.divide(2 * prec * rec, prec + rec, out=np.zeros(len(inter)), where=prec + rec > 0)
    images = labelled.any(1)                     # an image with no labelled attribute says nothing
    mean_prec, mean_rec = float(prec[images].mean()), float(rec[images].mean())
    per_attribute = pd.DataFrame({"positive_recall": pos_recall, "negative_recall": neg_recall, "mA": per_label,
                                  "positives": positives, "negatives": negatives},
                                 index=pd.Index(list(names) if names is not None else range(s.shape[1]),
                                                name="attribute"))
    return AttributeMetrics(
        mA=float(per_label.mean()), accuracy=float(acc[images].mean()), precision=mean_prec, recall=mean_rec,
        F1=2 * mean_prec * mean_rec / (mean_prec + mean_rec) if mean_prec + mean_rec > 0 else 0.0,
        F1_mean=float(f1_each[images].mean()), threshold=threshold, per_attribute=per_attribute)


def binary_attributes(probs: Sequence[np.ndarray | torch.Tensor], labels: np.ndarray,
                      schema: AttributeSchema) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One binary attribute per yes/no attribute and per class of a C-class one (``age=teenager``), as the field
    scores them: (scores (N, B), labels (N, B) in {1, 0, -1}, names).

    ``probs`` holds one (N, C) class-probability array per attribute of ``schema``; ``labels`` (N, A) the class
    indices, -1 unlabelled."""
    labels = np.asarray(labels)
    if len(probs) != len(schema.attributes) or labels.shape[1] != len(schema.attributes):
        raise ValueError(f"{len(probs)} probability arrays and {labels.shape[1]} label columns; {schema.dataset} "
                         f"has {len(schema.attributes)} attributes")
    scores, truth, names = [], [], []
    for j, attribute in enumerate(schema.attributes):
        p = np.asarray(probs[j].detach().cpu() if isinstance(probs[j], torch.Tensor) else probs[j])
        y = labels[:, j]
        classes = range(1, 2) if attribute.num_classes == 2 else range(attribute.num_classes)
        for c in classes:
            scores.append(p[:, c])
            truth.append(np.where(y < 0, -1, (y == c).astype(int)))
            names.append(attribute.name if attribute.num_classes == 2 else f"{attribute.name}={attribute.classes[c]}")
    return np.stack(scores, 1), np.stack(truth, 1), names
