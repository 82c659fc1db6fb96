"""Threshold rules on hand-computed cases and against a brute-force search over every candidate."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, jaccard_score, roc_curve

from defectlab.metrics.thresholds import fit_threshold, iou

# two positives (0.9, 0.5) among 100 negatives, three of them between the positives:
#   t = 0.9: TP 1, FP 0, FN 1 -> F1 2/3, IoU 1/2, J = 1/2 - 0
#   t = 0.5: TP 2, FP 3, FN 0 -> F1 4/7, IoU 2/5, J = 1 - 3/100
SCORES = np.array([0.9, 0.5, 0.8, 0.7, 0.6, *[0.1] * 97])
LABELS = np.array([1, 1, *[0] * 100], bool)


@pytest.mark.parametrize(("rule", "expected"), [("f1", 0.9), ("iou", 0.9), ("youden", 0.5)])
def test_each_rule_on_a_hand_computed_case(rule, expected):
    assert fit_threshold(SCORES, LABELS, rule) == pytest.approx(expected)


def test_ties_go_to_the_lowest_threshold():
    # t = 0.8 and t = 0.2 both give J = 1/2 (TPR 1/2, FPR 0; TPR 1, FPR 1/2): the lower one is taken
    scores, labels = np.array([0.8, 0.2, 0.5, 0.1]), np.array([1, 1, 0, 0], bool)
    assert fit_threshold(scores, labels, "youden") == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("rule", "measure"),
    [
        ("f1", lambda y, p: f1_score(y, p)),
        ("iou", lambda y, p: jaccard_score(y, p)),
        ("youden", lambda y, p: p[y].mean() - p[~y].mean()),
    ],
)
def test_each_rule_is_the_best_of_all_candidates(rule, measure):
    rng = np.random.default_rng(3)
    labels = rng.random(400) < 0.25
    scores = np.round(rng.random(400) + labels * 0.4, 2)  # rounded: ties among scores
    best = fit_threshold(scores, labels, rule)
    values = {t: measure(labels, scores >= t) for t in np.unique(scores)}
    assert measure(labels, scores >= best) == pytest.approx(max(values.values()))
    assert best == min(t for t, v in values.items() if v == pytest.approx(max(values.values())))


def test_youden_matches_the_roc_curve_optimum():
    rng = np.random.default_rng(5)
    labels = rng.random(300) < 0.3
    scores = rng.normal(size=300) + labels
    fpr, tpr, thresholds = roc_curve(labels, scores)
    assert fit_threshold(scores, labels, "youden") == pytest.approx(thresholds[np.argmax(tpr - fpr)])


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match="has no positive"):
        fit_threshold(np.zeros(3), np.zeros(3, bool), "iou")
    with pytest.raises(ValueError, match="Youden threshold: the data it is fitted on has no negative"):
        fit_threshold(np.zeros(3), np.ones(3, bool), "youden")
    with pytest.raises(ValueError, match="unknown threshold rule 'max'; known: f1, iou, youden"):
        fit_threshold(SCORES, LABELS, "max")


def test_iou_by_hand():
    predicted = np.array([1, 1, 0, 0], bool)
    labels = np.array([0, 1, 1, 0], bool)
    assert iou(predicted, labels) == pytest.approx(1 / 3)
    assert iou(np.zeros(4, bool), np.zeros(4, bool)) == 0.0
