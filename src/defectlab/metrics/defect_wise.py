"""Defect-wise recall: the share of instances that a prediction detects (001, Section V-C).

Instances are counted per image from the instance masks; an instance's class is the
class its pixels carry in the class mask.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd

COVERAGE_COLUMNS = ["image", "instance", "class_index", "pixels", "covered"]


def instance_coverage(image: str, predicted: np.ndarray, class_mask: np.ndarray, instances: np.ndarray) -> pd.DataFrame:
    """One row per instance of one image: its class, its size and how many of its pixels are predicted."""
    predicted = np.asarray(predicted, bool)
    ids = instances.ravel()
    present = np.unique(ids[ids > 0])
    rows = []
    for instance in present:
        on = instances == instance
        classes, counts = np.unique(class_mask[on], return_counts=True)
        rows.append((image, int(instance), int(classes[np.argmax(counts)]), int(on.sum()), int(predicted[on].sum())))
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)


def detected(coverage: pd.DataFrame, min_coverage: float = 0.0) -> pd.Series:
    """An instance counts as detected if at least one of its pixels is predicted and the
    predicted share of its pixels reaches `min_coverage` (0 = any pixel, 1 = all pixels)."""
    share = coverage["covered"] / coverage["pixels"]
    return (coverage["covered"] > 0) & (share >= min_coverage)


def recall_by_class(coverage: pd.DataFrame, classes: Iterable[int], min_coverage: float = 0.0) -> dict[int, float]:
    """Defect-wise recall of each class present among the instances (absent classes are left out)."""
    hits = detected(coverage, min_coverage)
    result = {}
    for index in classes:
        of_class = coverage["class_index"] == index
        if of_class.any():
            result[index] = float(hits[of_class].mean())
    return result
