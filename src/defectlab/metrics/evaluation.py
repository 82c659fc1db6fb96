"""The evaluation of one experiment: a threshold fitted (on val, or on test as an oracle), metrics on test, as
tidy rows. It reads maps through the maps contract only, whatever model made them.

The unit says what is scored: `pixel` (the maps against the defect masks: P/R/F1/IoU at the threshold,
AUROC, AUPRO, defect-wise recall), `image` (each image's score against "has a defect": P/R/F1, FPR, AUROC) or
`patch` (the kitchen-board thesis's test patches, `metrics.patch`: the confusion matrix and its ratios, AUROC).
"""

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from defectlab.classes import BY_INDEX, DEFECT_INDICES, IMPURITY_INDICES
from defectlab.data.exclusions import EXCLUSIONS, Exclusion, excluded_pixels, read_exclusions
from defectlab.metrics.defect_wise import COVERAGE_SWEEP, instance_coverage, recall_by_class
from defectlab.metrics.patch import Patches, PatchGrid, board_metrics, kind_recall, patch_metrics, split_patches
from defectlab.metrics.pixel import auroc, class_pixel_recall, precision_recall_f1
from defectlab.metrics.pro import aupro
from defectlab.metrics.thresholds import fit_threshold, iou

UNITS = ("pixel", "image", "patch")

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
    scores: np.ndarray | None = None  # (N,) image scores of the model; None: each map's maximum
    model: str = "unnamed model"  # the maps' model
    score: str = "anomaly score"  # what a map value means
    patch_grid: PatchGrid | None = None  # the test patches of the patch unit
    exclusions: Mapping[str, Exclusion] | None = None  # by image id: borders and labels of the patch unit
    patch_scores: pd.DataFrame | None = None  # the model's own patch scores (image, x, y, score), if any

    @property
    def defect_pixels(self) -> np.ndarray:
        """Positives of the binary task: defect pixels only; impurities are never defects."""
        return np.isin(self.masks, DEFECT_INDICES)

    @cached_property
    def valid_pixels(self) -> np.ndarray | None:
        """(N, H, W) bool: the pixels every metric counts, inside the borders and off the labels of the
        dataset's exclusions (the kitchen boards' background and stickers); None without exclusions: all."""
        if self.exclusions is None:
            return None
        height, width = self.maps.shape[1:]
        return np.stack([~excluded_pixels(self.exclusions[i], height, width) for i in self.ids])

    @property
    def defect_images(self) -> np.ndarray:
        """Positives of the image unit: images holding a defect pixel (a counted one)."""
        defects = self.defect_pixels if self.valid_pixels is None else self.defect_pixels & self.valid_pixels
        return defects.reshape(len(self.ids), -1).any(axis=1)

    @property
    def image_scores(self) -> np.ndarray:
        """The model's image scores, else each map's maximum over the counted pixels."""
        if self.scores is not None:
            return self.scores
        maps = self.maps if self.valid_pixels is None else np.where(self.valid_pixels, self.maps, -np.inf)
        return maps.reshape(len(self.maps), -1).max(axis=1)

    @cached_property
    def patches(self) -> Patches:
        """The test patches of the patch unit, scored and labelled (computed once)."""
        if self.patch_grid is None:
            raise ValueError(f"{self.dataset}: the patch unit needs a patch grid (experiment key `patch`)")
        return split_patches(
            self.ids, self.maps, self.defect_pixels, self.patch_grid, self.exclusions, self.patch_scores
        )


def unit_scores(split: SplitMaps, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores, binary labels) of a split in an evaluation unit (pixels: the counted ones)."""
    if unit == "pixel":
        if split.valid_pixels is not None:
            return split.maps[split.valid_pixels], split.defect_pixels[split.valid_pixels]
        return split.maps, split.defect_pixels
    if unit == "image":
        return split.image_scores, split.defect_images
    if unit == "patch":
        return split.patches.scores, split.patches.labels
    raise ValueError(f"unknown evaluation unit {unit!r}; known: {', '.join(UNITS)}")


def fit_split_threshold(split: SplitMaps, rule: str = "f1", unit: str = "pixel", role: str = "validation") -> float:
    """The threshold of `rule` on a split's scores in `unit`; the split (`role`: validation or test) needs a
    defect, and for Youden's J a defect-free pixel or image as well."""
    scores, labels = unit_scores(split, unit)
    if not labels.any():
        raise ValueError(
            f"{split.dataset}: the {role} dataset has no defect pixel in its {len(split.ids)} images, so the "
            f"{rule}-maximising {unit} threshold is undefined; fit it on a dataset with defects"
        )
    if rule == "youden" and labels.all():
        raise ValueError(f"{split.dataset}: every {unit} of the {role} dataset is defective: Youden's J is undefined")
    return fit_threshold(scores, labels, rule)


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


def evaluate_split(test: SplitMaps, threshold: float, unit: str = "pixel") -> pd.DataFrame:
    """The metrics of `unit` at `threshold`: `pixel_metrics`, `image_metrics` or `patch_rows`."""
    if unit == "image":
        return image_metrics(test, threshold)
    if unit == "patch":
        return patch_rows(test, threshold)
    unit_scores(test, unit)  # refuses an unknown unit
    return pixel_metrics(test, threshold)


def image_metrics(test: SplitMaps, threshold: float) -> pd.DataFrame:
    """Image P/R/F1 and false-positive rate at the threshold, and image AUROC; an image is positive when it
    holds a defect pixel, its score the model's image score (else its map's maximum)."""
    scores, labels = unit_scores(test, "image")
    predicted = scores >= threshold
    precision, recall, f1 = precision_recall_f1(predicted, labels)
    negatives = int((~labels).sum())
    fpr = float((predicted & ~labels).sum() / negatives) if negatives else float("nan")
    rows = [
        _row("image_precision", precision),
        _row("image_recall", recall),
        _row("image_f1", f1),
        _row("image_fpr", fpr),
        _row("image_auroc", auroc(scores, labels)),
    ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def patch_rows(test: SplitMaps, threshold: float) -> pd.DataFrame:
    """The patch metrics at the threshold as rows `patch_<name>`: AUROC, accuracy, precision, recall, F1, FPR,
    Youden's J, balanced accuracy, and the confusion matrix counts patch_tn, patch_fp, patch_fn, patch_tp; per
    defect class, `patch_kind_recall` (patches touching it predicted anomalous) and `patch_kind_detected`
    (instances under a predicted patch); then the board-level decisions `board_recall`, `board_fpr`,
    `board_auroc`, `board_count`, `board_clean` (a board's score: its highest patch score)."""
    patches = test.patches
    metrics = patch_metrics(patches, threshold)
    rows = [_row(f"patch_{name}", float(value)) for name, value in metrics.items()]
    predicted = patches.scores >= threshold
    kinds = kind_recall(patches, predicted, test.masks, test.instances, test.patch_grid.size, DEFECT_INDICES)
    for index, (recall, detected) in kinds.items():
        cls = BY_INDEX[index]
        rows += [_row("patch_kind_recall", recall, cls.name, cls.category)]
        rows += [_row("patch_kind_detected", detected, cls.name, cls.category)]
    boards = board_metrics(patches, threshold, len(test.ids))
    names = {"recall": "board_recall", "fpr": "board_fpr", "auroc": "board_auroc", "boards": "board_count"}
    rows += [_row(names.get(name, "board_clean"), value) for name, value in boards.items()]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def pixel_metrics(test: SplitMaps, threshold: float) -> pd.DataFrame:
    """Pixel P/R/F1/IoU, image and pixel AUROC, per-class pixel recall and defect-wise recall, then
    AUPRO (FPR <= 0.3) and the defect-wise recall sweep over the coverage needed for a detection.

    One row per metric and class (METRIC_COLUMNS); the sweep rows, metric "defect_wise_recall_sweep",
    repeat each class (and "mean") once per `min_coverage` in COVERAGE_SWEEP, so select rows by metric
    (or `min_coverage.isna()`) before indexing by (metric, class). Every other row has min_coverage NaN.
    """
    valid = test.valid_pixels
    counted = slice(None) if valid is None else valid  # pixels outside the exclusions' areas count nowhere
    masks = test.masks if valid is None else np.where(valid, test.masks, 0)
    instances = test.instances if valid is None else np.where(valid, test.instances, 0)
    predicted = test.maps >= threshold
    if valid is not None:
        predicted &= valid
    labels = np.isin(masks, DEFECT_INDICES)
    if not labels.any():
        warnings.warn(
            f"{test.dataset}: the test dataset has no defect pixel: pixel AUROC, image AUROC and AUPRO are "
            f"undefined (NaN), pixel recall and F1 are 0",
            stacklevel=2,
        )
    precision, recall, f1 = precision_recall_f1(predicted[counted], labels[counted])
    rows = [
        _row("pixel_precision", precision),
        _row("pixel_recall", recall),
        _row("pixel_f1", f1),
        _row("image_auroc", auroc(test.image_scores, test.defect_images)),
        _row("pixel_auroc", auroc(test.maps[counted], labels[counted])),
    ]
    coverage = pd.concat(
        [instance_coverage(i, p, m, s) for i, p, m, s in zip(test.ids, predicted, masks, instances, strict=True)],
        ignore_index=True,
    )
    rows += _defect_wise_rows("defect_wise_recall", coverage, 0.0, float("nan"))
    for index in DEFECT_INDICES + IMPURITY_INDICES:
        value = class_pixel_recall(predicted[counted], masks[counted], index)
        if not np.isnan(value):
            cls = BY_INDEX[index]
            rows.append(_row("class_pixel_recall", value, cls.name, cls.category))
    rows.append(_row("aupro", aupro(test.maps, masks, instances, valid=valid)))
    for min_coverage in COVERAGE_SWEEP:
        rows += _defect_wise_rows("defect_wise_recall_sweep", coverage, min_coverage, min_coverage)
    # last: the rows of earlier versions keep their places
    rows.append(_row("pixel_iou", iou(predicted[counted], labels[counted])))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def load_split(
    map_paths: Sequence[str | Path], dataset_root: str | Path, patch_grid: PatchGrid | None = None
) -> SplitMaps:
    """Anomaly maps of a dataset with its masks; the dataset's index, its folders and the maps' ids must agree
    exactly, or an image left out of the maps would silently leave the evaluation. The dataset's exclusions.json
    (when it has one; an entry for every image) places the patch unit's test patches (`patch_grid`) and leaves
    the pixels outside its borders or under its labels out of every pixel and image metric."""
    from defectlab.data.layout import check_files, load_sample
    from defectlab.maps import read_maps

    read = read_maps(map_paths)
    ids, maps = read.ids, read.maps
    _check_ids(ids, list(check_files(dataset_root)["id"]), map_paths, Path(dataset_root) / "index.parquet")
    samples = [load_sample(dataset_root, i) for i in ids]
    if maps.shape[1:] != samples[0].mask.shape:
        raise ValueError(
            f"{', '.join(map(str, map_paths))}: anomaly maps {maps.shape[1:]} do not match the masks "
            f"{samples[0].mask.shape} of {dataset_root}"
        )
    exclusions = None
    if (Path(dataset_root) / EXCLUSIONS).exists():
        sizes = {f"{i}.png": (s.mask.shape[1], s.mask.shape[0]) for i, s in zip(ids, samples, strict=True)}
        by_file = read_exclusions(Path(dataset_root) / EXCLUSIONS, sizes)
        exclusions = {i: by_file[f"{i}.png"] for i in ids}
    return SplitMaps(
        ids=ids,
        maps=maps,
        masks=np.stack([s.mask for s in samples]),
        instances=np.stack([s.instances for s in samples]),
        dataset=str(dataset_root),
        scores=read.scores,
        patch_scores=read.patch_scores,
        model=read.model,
        score=read.score,
        patch_grid=patch_grid,
        exclusions=exclusions,
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
