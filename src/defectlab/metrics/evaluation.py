"""The evaluation of one experiment: threshold fitted on validation, metrics on test, as tidy rows."""

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from defectlab.classes import BY_INDEX, DEFECT_INDICES, IMPURITY_INDICES
from defectlab.metrics.defect_wise import COVERAGE_SWEEP, instance_coverage, recall_by_class
from defectlab.metrics.pixel import auroc, class_pixel_recall, fit_threshold, precision_recall_f1
from defectlab.metrics.pro import aupro

# min_coverage: the share of an instance that must be predicted to count as detected, set on the
# rows of the coverage sweep only (NaN elsewhere)
METRIC_COLUMNS = ["metric", "class", "category", "value", "min_coverage"]


@dataclass(frozen=True)
class SplitMaps:
    """Anomaly maps of a split beside their ground truth, image by image."""

    ids: list[str]
    maps: np.ndarray  # (N, H, W) float32
    masks: np.ndarray  # (N, H, W) uint8 class index
    instances: np.ndarray  # (N, H, W) uint16
    dataset: str = "unnamed dataset"  # named in messages: the dataset folder

    @property
    def defect_pixels(self) -> np.ndarray:
        """Positives of the binary task: defect pixels only; impurities are never defects."""
        return np.isin(self.masks, DEFECT_INDICES)


def fit_split_threshold(val: SplitMaps) -> float:
    """The pixel threshold maximising F1 of defect pixels on the validation split, which needs a defect pixel."""
    labels = val.defect_pixels
    if not labels.any():
        raise ValueError(
            f"{val.dataset}: the validation dataset has no defect pixel in its {len(val.ids)} images, so the "
            f"F1-maximising pixel threshold is undefined; give the experiment a `val` dataset with defects"
        )
    return fit_threshold(val.maps, labels)


def _row(
    metric: str, value: float, cls: str = "defect", category: str = "defect", min_coverage: float = float("nan")
) -> tuple:
    return metric, cls, category, value, min_coverage


def _defect_wise_rows(metric: str, coverage: pd.DataFrame, min_coverage: float, column: float) -> list[tuple]:
    """Defect-wise recall of each class present (defects, then impurities) and the mean over defect classes."""
    defect_recall = recall_by_class(coverage, DEFECT_INDICES, min_coverage)
    impurity_recall = recall_by_class(coverage, IMPURITY_INDICES, min_coverage)
    rows = []
    for index, value in (defect_recall | impurity_recall).items():
        cls = BY_INDEX[index]
        rows.append(_row(metric, value, cls.name, cls.category, column))
    if defect_recall:
        rows.append(_row(metric, float(np.mean(list(defect_recall.values()))), "mean", "defect", column))
    return rows


def evaluate_split(test: SplitMaps, threshold: float) -> pd.DataFrame:
    """Pixel P/R/F1, image and pixel AUROC, per-class pixel recall and defect-wise recall, then
    AUPRO (FPR <= 0.3) and the defect-wise recall sweep over the coverage needed for a detection.

    One row per metric and class (METRIC_COLUMNS); the sweep rows, metric "defect_wise_recall_sweep",
    repeat each class (and "mean") once per `min_coverage` in COVERAGE_SWEEP, so select rows by metric
    (or `min_coverage.isna()`) before indexing by (metric, class). Every other row has min_coverage NaN.
    """
    predicted = test.maps >= threshold
    labels = test.defect_pixels
    if not labels.any():
        warnings.warn(
            f"{test.dataset}: the test dataset has no defect pixel: pixel AUROC, image AUROC and AUPRO are "
            f"undefined (NaN), pixel recall and F1 are 0",
            stacklevel=2,
        )
    precision, recall, f1 = precision_recall_f1(predicted, labels)
    image_labels = labels.reshape(len(labels), -1).any(axis=1)
    image_scores = test.maps.reshape(len(test.maps), -1).max(axis=1)
    rows = [
        _row("pixel_precision", precision),
        _row("pixel_recall", recall),
        _row("pixel_f1", f1),
        _row("image_auroc", auroc(image_scores, image_labels)),
        _row("pixel_auroc", auroc(test.maps, labels)),
    ]
    coverage = pd.concat(
        [
            instance_coverage(i, p, m, s)
            for i, p, m, s in zip(test.ids, predicted, test.masks, test.instances, strict=True)
        ],
        ignore_index=True,
    )
    rows += _defect_wise_rows("defect_wise_recall", coverage, 0.0, float("nan"))
    for index in DEFECT_INDICES + IMPURITY_INDICES:
        value = class_pixel_recall(predicted, test.masks, index)
        if not np.isnan(value):
            cls = BY_INDEX[index]
            rows.append(_row("class_pixel_recall", value, cls.name, cls.category))
    rows.append(_row("aupro", aupro(test.maps, test.masks, test.instances)))
    for min_coverage in COVERAGE_SWEEP:
        rows += _defect_wise_rows("defect_wise_recall_sweep", coverage, min_coverage, min_coverage)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def load_split(map_paths: Sequence[str | Path], dataset_root: str | Path) -> SplitMaps:
    """Anomaly maps of a dataset with its masks; the dataset's index, its folders and the maps' ids must agree
    exactly, or an image left out of the maps would silently leave the evaluation."""
    from defectlab.data.layout import check_files, load_sample
    from defectlab.patchcore.anomaly_map import read_maps

    ids, maps = read_maps(map_paths)
    _check_ids(ids, list(check_files(dataset_root)["id"]), map_paths, Path(dataset_root) / "index.parquet")
    samples = [load_sample(dataset_root, i) for i in ids]
    if maps.shape[1:] != samples[0].mask.shape:
        raise ValueError(
            f"{', '.join(map(str, map_paths))}: anomaly maps {maps.shape[1:]} do not match the masks "
            f"{samples[0].mask.shape} of {dataset_root}"
        )
    return SplitMaps(
        ids=ids,
        maps=maps,
        masks=np.stack([s.mask for s in samples]),
        instances=np.stack([s.instances for s in samples]),
        dataset=str(dataset_root),
    )


def _check_ids(ids: list[str], index_ids: list[str], map_paths: Sequence[str | Path], index: Path) -> None:
    from defectlab.data.layout import listed

    files = ", ".join(map(str, map_paths))
    if not ids:
        raise ValueError(f"{files}: no anomaly map")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(f"{files}: images {listed(repeated)} have more than one anomaly map")
    unmapped = sorted(set(index_ids) - set(ids))
    if unmapped:
        raise ValueError(f"{index} lists images {listed(unmapped)} that have no anomaly map in {files}")
    unlisted = sorted(set(ids) - set(index_ids))
    if unlisted:
        raise ValueError(f"{files}: anomaly maps of images {listed(unlisted)} that {index} does not list")
