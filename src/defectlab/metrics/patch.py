"""The patch unit of the kitchen-board thesis (seed 002 §3.4, §7): every test patch is one sample, labelled 1
when it holds at least `min_positive_pixels` defect pixels (the thesis: any), scored by the maximum of the
anomaly map over its window; metrics from the confusion matrix in scikit-learn's orientation
[[TN, FP], [FN, TP]].

Patches lie on a grid of `size` every `stride` pixels with a column and a row flush with the right and bottom
edges (`data.exclusions.border_positions`), inside the image's borders and off its labels when the dataset has
exclusion areas, over the whole image otherwise. Any model's maps give patch scores this way.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix

from defectlab.data.exclusions import Exclusion, patch_positions
from defectlab.metrics.pixel import auroc


@dataclass(frozen=True)
class PatchGrid:
    """Where test patches lie and when one is positive."""

    size: int = 224
    stride: int = 112
    min_positive_pixels: int = 1

    def __post_init__(self) -> None:
        for name in ("size", "stride", "min_positive_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"patch unit: {name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class Patches:
    """The patches of a split: which image, where (x, y), the score and the label of each."""

    image: np.ndarray  # (P,) index into the split's images
    corners: np.ndarray  # (P, 2) x, y
    scores: np.ndarray  # (P,) float
    labels: np.ndarray  # (P,) bool


def image_patches(
    height: int, width: int, grid: PatchGrid, exclusion: Exclusion | None = None
) -> list[tuple[int, int]]:
    """The patch corners of one image: inside its exclusion's borders and off its labels, or the whole image."""
    area = exclusion if exclusion is not None else Exclusion(borders=((0, 0, width, height),))
    return patch_positions(area, grid.size, grid.stride)


def split_patches(
    ids: Sequence[str],
    maps: np.ndarray,
    defect_pixels: np.ndarray,
    grid: PatchGrid,
    exclusions: Mapping[str, Exclusion] | None = None,
) -> Patches:
    """Scores (map maximum over the window) and labels (defect pixels >= min_positive_pixels) of every patch of
    every image; `exclusions` by image id (an image without an entry is refused: it would be scored whole)."""
    images, corners, scores, labels = [], [], [], []
    for k, image_id in enumerate(ids):
        exclusion = None
        if exclusions is not None:
            if image_id not in exclusions:
                raise ValueError(f"patch unit: image {image_id} has no exclusion entry (borders and labels)")
            exclusion = exclusions[image_id]
        height, width = maps[k].shape
        for x, y in image_patches(height, width, grid, exclusion):
            window = (slice(y, y + grid.size), slice(x, x + grid.size))
            images.append(k)
            corners.append((x, y))
            scores.append(float(maps[k][window].max()))
            labels.append(int(defect_pixels[k][window].sum()) >= grid.min_positive_pixels)
    if not images:
        raise ValueError(f"patch unit: no patch of {grid.size} pixels fits any image (inside its borders)")
    return Patches(np.array(images), np.array(corners).reshape(-1, 2), np.array(scores), np.array(labels, bool))


def confusion(labels: np.ndarray, predicted: np.ndarray) -> tuple[int, int, int, int]:
    """(TN, FP, FN, TP), as scikit-learn's confusion_matrix [[TN, FP], [FN, TP]] reads."""
    tn, fp, fn, tp = confusion_matrix(
        np.asarray(labels, bool), np.asarray(predicted, bool), labels=[False, True]
    ).ravel()
    return int(tn), int(fp), int(fn), int(tp)


def from_confusion(tn: int, fp: int, fn: int, tp: int) -> dict[str, float]:
    """Accuracy, precision, recall, F1, FPR, Youden's J and balanced accuracy of a confusion matrix (NaN where
    a denominator is 0)."""

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    precision, recall, fpr = ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(fp, fp + tn)
    return {
        "accuracy": ratio(tp + tn, tn + fp + fn + tp),
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "fpr": fpr,
        "youden_j": recall - fpr,
        "balanced_accuracy": (recall + 1 - fpr) / 2,
    }


def patch_metrics(patches: Patches, threshold: float) -> dict[str, float]:
    """Every patch metric at `threshold` (a patch is predicted anomalous when its score >= threshold): the
    confusion matrix counts, the derived ratios and the ROC AUC of the scores."""
    tn, fp, fn, tp = confusion(patches.labels, patches.scores >= threshold)
    return {
        "auroc": auroc(patches.scores, patches.labels),
        **from_confusion(tn, fp, fn, tp),
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }
