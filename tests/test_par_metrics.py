"""The attribute-recognition metrics against a literal, image-by-image transcription of the published formulas."""

from __future__ import annotations

import numpy as np
import pytest

from apr.data.attributes import MARKET_SCHEMA
from apr.metrics import attribute_metrics, binary_attributes


def literal(scores, labels, threshold):
    """Li et al. 2016's metrics as Rethinking_of_PAR's get_pedestrian_metrics writes them (x / (n + eps), eps -> 0),
    one attribute and one image at a time, unlabelled entries skipped; and PromptPAR's mean of per-image F1."""
    n, a = labels.shape
    per_attribute = []
    for j in range(a):
        tp = fn = tn = fp = 0
        for i in range(n):
            if labels[i, j] < 0:
                continue
            positive = scores[i, j] > threshold
            if labels[i, j] == 1:
                tp, fn = tp + positive, fn + (not positive)
            else:
                fp, tn = fp + positive, tn + (not positive)
        per_attribute.append(((tp / (tp + fn) if tp + fn else 0.0) + (tn / (tn + fp) if tn + fp else 0.0)) / 2)
    accs, precs, recs, f1s = [], [], [], []
    for i in range(n):
        kept = [j for j in range(a) if labels[i, j] >= 0]
        if not kept:
            continue
        p = {j for j in kept if scores[i, j] > threshold}
        g = {j for j in kept if labels[i, j] == 1}
        accs.append(len(p & g) / len(p | g) if p | g else 0.0)
        precs.append(len(p & g) / len(p) if p else 0.0)
        recs.append(len(p & g) / len(g) if g else 0.0)
        f1s.append(2 * precs[-1] * recs[-1] / (precs[-1] + recs[-1]) if precs[-1] + recs[-1] else 0.0)
    prec, rec = np.mean(precs), np.mean(recs)
    return {"mA": np.mean(per_attribute), "accuracy": np.mean(accs), "precision": prec, "recall": rec,
            "F1": 2 * prec * rec / (prec + rec), "F1_mean": np.mean(f1s)}


@pytest.mark.parametrize("threshold", [0.5, 0.45])
@pytest.mark.parametrize("seed", range(4))
def test_metrics_match_the_published_formulas_on_random_labels(seed, threshold):
    rng = np.random.default_rng(seed)
    n, a = 60, 9
    labels = rng.integers(0, 2, (n, a))
    labels[rng.random((n, a)) < 0.15] = -1                      # unlabelled entries
    labels[:, 0] = np.where(labels[:, 0] >= 0, 0, -1)           # an attribute no test image has
    labels[3] = -1                                              # an image with no label at all
    scores = np.clip(labels * 0.4 + rng.random((n, a)) * 0.6, 0, 1)
    got = attribute_metrics(scores, labels, threshold=threshold).summary()
    want = literal(scores, labels, threshold)
    worst = max(abs(got[k] - want[k]) for k in want)
    print(f"seed {seed}, threshold {threshold}: largest difference {worst:.1e}")
    assert worst < 1e-12, (got, want)


def test_an_attribute_absent_from_the_test_set_scores_half_not_everything():
    labels = np.zeros((10, 1), int)                             # no image wears a hat
    got = attribute_metrics(np.zeros((10, 1)), labels)
    assert got.per_attribute["mA"].iloc[0] == 0.5 and got.per_attribute["positives"].iloc[0] == 0


def test_multi_class_attributes_enter_one_class_at_a_time():
    rng = np.random.default_rng(0)
    n = 20
    labels = np.stack([rng.integers(0, c, n) for c in (a.num_classes for a in MARKET_SCHEMA.attributes)], 1)
    labels[0, 1] = -1
    probs = [rng.dirichlet(np.ones(a.num_classes), n) for a in MARKET_SCHEMA.attributes]
    scores, truth, names = binary_attributes(probs, labels, MARKET_SCHEMA)
    age = MARKET_SCHEMA.attribute("age")
    assert scores.shape == truth.shape == (n, 26 + age.num_classes) and len(names) == scores.shape[1]
    assert f"age={age.classes[2]}" in names and "gender" in names
    column = names.index(f"age={age.classes[2]}")
    np.testing.assert_array_equal(scores[:, column], probs[1][:, 2])
    assert truth[0, column] == -1 and (truth[1:, column] == (labels[1:, 1] == 2)).all()


def test_bad_shapes_and_labels_are_named():
    with pytest.raises(ValueError, match=r"scores \(2, 3\) and labels \(2, 4\)"):
        attribute_metrics(np.zeros((2, 3)), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="expected 1, 0 or -1"):
        attribute_metrics(np.zeros((2, 2)), np.full((2, 2), 2))
