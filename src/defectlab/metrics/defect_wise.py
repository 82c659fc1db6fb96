"""Defect-wise recall: the share of instances that a prediction detects (001, Section V-C).

Instances are counted per image from the instance masks; an instance's class is the
class its pixels carry in the class mask.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd

COVERAGE_COLUMNS = ["image", "instance", "class_index", "pixels", "covered"]
# shares of an instance that must be predicted for it to count as detected (001, Appendix C, Fig. 5)
COVERAGE_SWEEP = (0.0, 0.01, 0.02, 0.03, 0.05, 0.10, 0.15, 0.20, 0.25, 0.50, 0.75, 1.0)


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
    predicted share of its pixels reaches `min_coverage` (0 = any pixel, 1 = all pixels).

    A share exactly equal to `min_coverage` counts: `covered / pixels` and a decimal `min_coverage` are
    both the double nearest the same rational (e.g. 3 / 100 == 0.03), so the comparison is exact."""
    if not 0 <= min_coverage <= 1:
        raise ValueError(f"min_coverage must lie in [0, 1], got {min_coverage}")
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


def recall_sweep(
    coverage: pd.DataFrame, classes: Iterable[int], min_coverages: Iterable[float] = COVERAGE_SWEEP
) -> dict[float, dict[int, float]]:
    """Defect-wise recall of each class present, for each share of an instance needed to count as detected."""
    classes = list(classes)
    return {float(c): recall_by_class(coverage, classes, c) for c in min_coverages}
