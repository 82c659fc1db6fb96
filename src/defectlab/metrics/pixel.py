"""Pixel-wise metrics: the F1-maximising threshold, precision/recall/F1 and AUROC (scikit-learn)."""

import warnings

import numpy as np
from sklearn.metrics import precision_recall_curve, precision_recall_fscore_support, roc_auc_score


def fit_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold t maximising pixel F1 of `scores >= t` against binary `labels`.

    Ties in F1 go to the lowest threshold (scikit-learn's order), which favours recall.
    """
    labels = np.asarray(labels, bool).ravel()
    if not labels.any():
        raise ValueError("cannot fit a threshold: the validation split has no positive pixel")
    precision, recall, thresholds = precision_recall_curve(labels, np.asarray(scores).ravel())
    # the last (precision=1, recall=0) point has no threshold
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(thresholds[int(np.argmax(f1))])


def precision_recall_f1(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Binary precision, recall and F1 of a predicted mask, 0 where undefined."""
    p, r, f, _ = precision_recall_fscore_support(
        np.asarray(labels, bool).ravel(),
        np.asarray(predicted, bool).ravel(),
        average="binary",
        zero_division=0,
    )
    return float(p), float(r), float(f)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve; NaN (with a warning) when only one class is present."""
    labels = np.asarray(labels, bool).ravel()
    if labels.all() or not labels.any():
        warnings.warn("AUROC undefined: only one class present", stacklevel=2)
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores).ravel()))


def class_pixel_recall(predicted: np.ndarray, class_mask: np.ndarray, class_index: int) -> float:
    """Share of the pixels of one class that are predicted anomalous; NaN if the class is absent."""
    on_class = np.asarray(class_mask) == class_index
    total = int(on_class.sum())
    return float(np.asarray(predicted, bool)[on_class].sum() / total) if total else float("nan")
