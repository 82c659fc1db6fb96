"""Decision thresholds fitted on scores and binary labels: F1, IoU or Youden's J maximised.

Every rule takes the lowest threshold among ties (scikit-learn's curve order favours recall), and a
score equal to the threshold counts as positive (`scores >= t`). Pooled over every score given: one
IoU over all pixels, not a mean of per-image IoUs. Pooled IoU = F1 / (2 - F1) is monotone in F1, so the
two rules pick the same threshold on the same scores; IoU is still its own rule, for the tables.
"""

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

RULES = ("f1", "iou", "youden")


def _checked(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, bool).ravel()
    if not labels.any():
        raise ValueError("cannot fit a threshold: the data it is fitted on has no positive")
    return np.asarray(scores).ravel(), labels


def _precision_recall(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    return precision[:-1], recall[:-1], thresholds  # the last (P=1, R=0) point has no threshold


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold t maximising F1 of `scores >= t` against `labels`."""
    precision, recall, thresholds = _precision_recall(*_checked(scores, labels))
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(thresholds[int(np.argmax(f1))])


def best_iou_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold maximising IoU = TP / (TP + FP + FN) = P R / (P + R - P R)."""
    precision, recall, thresholds = _precision_recall(*_checked(scores, labels))
    union = precision + recall - precision * recall
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, precision * recall / union, 0.0)
    return float(thresholds[int(np.argmax(iou))])


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold maximising Youden's J = TPR - FPR; needs negatives as well as positives."""
    scores, labels = _checked(scores, labels)
    if labels.all():
        raise ValueError("cannot fit a Youden threshold: the data it is fitted on has no negative")
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    j = (tpr - fpr)[1:]  # the first point (t = inf) predicts nothing
    best = np.flatnonzero(j == j.max())[-1]  # thresholds fall along the curve: the last tie is the lowest t
    return float(thresholds[1:][best])


def fit_threshold(scores: np.ndarray, labels: np.ndarray, rule: str = "f1") -> float:
    """The threshold of `rule` (one of RULES)."""
    fits = {"f1": best_f1_threshold, "iou": best_iou_threshold, "youden": youden_threshold}
    if rule not in fits:
        raise ValueError(f"unknown threshold rule {rule!r}; known: {', '.join(RULES)}")
    return fits[rule](scores, labels)


def iou(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Pooled intersection over union of a predicted mask; 0 when both are empty (nothing found of nothing)."""
    predicted, labels = np.asarray(predicted, bool).ravel(), np.asarray(labels, bool).ravel()
    union = int((predicted | labels).sum())
    return float((predicted & labels).sum() / union) if union else 0.0
