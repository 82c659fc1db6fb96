"""The patch unit of the kitchen-board thesis (seed 002 §3.4, §7): every test patch is one sample, labelled 1
when it holds at least `min_positive_pixels` defect pixels (the thesis: any), scored by the maximum of the
anomaly map over its window; metrics from the confusion matrix in scikit-learn's orientation
[[TN, FP], [FN, TP]].

Patches lie on a grid of `size` every `stride` pixels with a column and a row flush with the right and bottom
edges (`data.exclusions.border_positions`), inside the image's borders and off its labels when the dataset has
exclusion areas, over the whole image otherwise. Any model's maps give patch scores this way; a model that
scores patches on its own (the thesis's reweighted PatchCore) gives them in its maps file, and then every test
patch must be among them (its patch store cut on the same grid: dataset `patches.grid: exclusions`).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
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
    patch_scores: pd.DataFrame | None = None,
) -> Patches:
    """Scores (the model's own `patch_scores`, else the map maximum over the window) and labels (defect pixels >=
    min_positive_pixels) of every patch of every image; `exclusions` by image id (an image without an entry is
    refused: it would be scored whole)."""
    own = None
    if patch_scores is not None:
        keys = zip(patch_scores["image"], patch_scores["x"].astype(int), patch_scores["y"].astype(int), strict=True)
        own = dict(zip(keys, patch_scores["score"], strict=True))
    images, corners, scores, labels, unscored = [], [], [], [], []
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
            if own is None:
                scores.append(float(maps[k][window].max()))
            elif (image_id, x, y) in own:
                scores.append(float(own[image_id, x, y]))
            else:
                unscored.append(f"{image_id} at x {x}, y {y}")
                scores.append(float("nan"))
            labels.append(int(defect_pixels[k][window].sum()) >= grid.min_positive_pixels)
    if not images:
        raise ValueError(f"patch unit: no patch of {grid.size} pixels fits any image (inside its borders)")
    if unscored:
        raise ValueError(
            f"patch unit: the model scored its own patches, but not {len(unscored)} of the {len(images)} test "
            f"patches ({', '.join(unscored[:3])}, …): cut the test dataset's patch store on the evaluation's grid "
            f"(patches.grid: exclusions, the same size and stride as the experiment's `patch`) and keep its dark "
            f"patches (patches.min_mean_intensity: 0)"
        )
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


def kind_recall(
    patches: Patches, predicted: np.ndarray, masks: np.ndarray, instances: np.ndarray, size: int, kinds: Sequence[int]
) -> dict[int, tuple[float, float]]:
    """Per defect class present (seed 002 §8.7, the thesis's per-kind figures as numbers): the share of test patches
    touching the class that are predicted anomalous, and the share of its instances with a predicted patch over
    one of their pixels (an instance under no test patch, e.g. under a sticker, is left out)."""
    touching: dict[int, list[bool]] = {k: [] for k in kinds}
    covered: dict[int, dict[tuple[int, int], bool]] = {k: {} for k in kinds}
    for (x, y), image, hit in zip(patches.corners, patches.image, predicted, strict=True):
        window = (slice(y, y + size), slice(x, x + size))
        classes, ids = masks[image][window].ravel(), instances[image][window].ravel()
        for kind in set(np.unique(classes).tolist()) & set(kinds):
            touching[kind].append(bool(hit))
            for instance in np.unique(ids[classes == kind]).tolist():
                key = (int(image), int(instance))
                covered[kind][key] = covered[kind].get(key, False) or bool(hit)
    return {
        kind: (float(np.mean(touching[kind])), float(np.mean(list(covered[kind].values()))))
        for kind in kinds
        if touching[kind]
    }


def board_metrics(patches: Patches, threshold: float, boards: int) -> dict[str, float]:
    """Board-level decisions (seed 002 §7.5, not in the thesis): a board's score is the maximum over its test
    patches, anomalous at >= threshold, defective when a patch is; recall, FPR and AUROC over the `boards` images
    (a board without a test patch is left out; FPR and AUROC are NaN without a clean board)."""
    best = np.full(boards, -np.inf)
    np.maximum.at(best, patches.image, patches.scores)
    defective = np.zeros(boards, bool)
    np.logical_or.at(defective, patches.image, patches.labels)
    scored = np.isfinite(best)
    best, defective = best[scored], defective[scored]
    flagged = best >= threshold
    clean = int((~defective).sum())
    return {
        "recall": float(flagged[defective].mean()) if defective.any() else float("nan"),
        "fpr": float(flagged[~defective].mean()) if clean else float("nan"),
        "auroc": auroc(best, defective) if clean and defective.any() else float("nan"),
        "boards": float(len(best)),
        "clean_boards": float(clean),
    }
