"""Pixel-wise metrics: precision/recall/F1 and AUROC (scikit-learn); thresholds are in `thresholds`."""

import warnings

import numpy as np
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score


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
