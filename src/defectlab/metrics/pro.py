"""AUPRO: the area under the per-region overlap (PRO) curve up to a false-positive rate (Bergmann et al., MVTec AD).

The curve is computed exactly, at every distinct score, not at sampled thresholds:

- regions are the defect instances, counted per image from the instance masks: an instance is a
  region when the majority of its pixels carry a defect class (the rule of `instance_coverage`,
  ties to the lowest class index); its pixels are those of its pixels that are defect pixels.
  Impurities are never regions;
- negatives are every pixel that is not a defect pixel (background and impurities), as in the
  binary task of `SplitMaps.defect_pixels`. A defect pixel outside every region (no instance, or an
  instance that is mostly an impurity) is neither a region pixel nor a negative;
- at a threshold t, FPR(t) = #negatives with score >= t / #negatives and PRO(t) is the mean over the
  regions of the share of their pixels with score >= t; pixels of equal score enter together.

AUPRO integrates the piecewise-linear curve from (0, 0) with trapezoids up to `fpr_limit`,
interpolating linearly at the limit, and divides by `fpr_limit`, so a perfect map scores 1.
"""

import warnings

import numpy as np

from defectlab.classes import DEFECT_INDICES

FPR_LIMIT = 0.3


def _as_images(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        return array[None]
    if array.ndim != 3:
        raise ValueError(f"expected (N, H, W) or (H, W) arrays, got shape {array.shape}")
    return array


def region_labels(masks: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel (flattened, image after image) the index of its region or -1, and the size of each region."""
    masks, instances = _as_images(masks), _as_images(instances)
    if masks.shape != instances.shape:
        raise ValueError(f"class masks {masks.shape} and instance masks {instances.shape} differ")
    pixels = masks[0].size if len(masks) else 0
    labels = np.full(masks.size, -1, np.int32)
    sizes: list[np.ndarray] = []
    found = 0
    defect = np.zeros(max(int(masks.max(initial=0)), *DEFECT_INDICES) + 1, bool)
    defect[list(DEFECT_INDICES)] = True
    for k, (mask, inst) in enumerate(zip(masks, instances, strict=True)):
        cls, ids = mask.ravel().astype(np.int64), inst.ravel().astype(np.int64)
        n_cls = len(defect)
        counts = np.bincount(ids * n_cls + cls, minlength=(int(ids.max(initial=0)) + 1) * n_cls).reshape(-1, n_cls)
        is_region = defect[counts.argmax(axis=1)]  # majority class; argmax breaks ties to the lowest index
        is_region[0] = False  # id 0 is no instance
        chosen = np.flatnonzero(is_region)
        lookup = np.full(len(counts), -1, np.int32)
        lookup[chosen] = found + np.arange(len(chosen), dtype=np.int32)
        labels[k * pixels : (k + 1) * pixels] = np.where(defect[cls], lookup[ids], -1)
        sizes.append(counts[chosen][:, defect].sum(axis=1))
        found += len(chosen)
    return labels, (np.concatenate(sizes) if sizes else np.zeros(0, np.int64))


def _curve(
    maps: np.ndarray,
    masks: np.ndarray,
    instances: np.ndarray,
    fpr_limit: float | None = None,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """(fpr, pro) at (0, 0) and after each distinct score in descending order, up to the first point at or
    past `fpr_limit` (all points without one); None when there is no region or no negative pixel. Pixels
    outside `valid` count neither as negatives nor in a region."""
    if valid is not None:
        valid = _as_images(valid).astype(bool)
        masks, instances = np.where(valid, _as_images(masks), 0), np.where(valid, _as_images(instances), 0)
    scores = _as_images(maps)
    if scores.shape != _as_images(masks).shape:
        raise ValueError(f"anomaly maps {scores.shape} and masks {_as_images(masks).shape} differ")
    scores = scores.ravel()
    if np.isnan(scores).any():
        raise ValueError("anomaly maps contain NaN scores")
    labels, sizes = region_labels(masks, instances)
    negatives = ~np.isin(_as_images(masks), DEFECT_INDICES).ravel()
    if valid is not None:
        negatives &= valid.ravel()
    n_negatives = int(negatives.sum())
    if len(sizes) == 0 or n_negatives == 0:
        return None
    order = np.argsort(scores, kind="stable")[::-1]  # descending; equal scores are grouped below
    ranked = scores[order]
    # the last pixel of each group of equal scores: the pixels after which the curve has a point
    ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1)
    del ranked
    count = np.int32 if len(scores) < 2**31 else np.int64
    fpr = np.cumsum(negatives[order], dtype=count)[ends] / n_negatives
    if fpr_limit is not None:  # the points past the first one at or beyond the limit are not needed
        stop = int(np.searchsorted(fpr, fpr_limit, side="left")) + 1
        ends, fpr = ends[:stop], fpr[:stop]
    ranked_labels = labels[order[: ends[-1] + 1]]
    del order, labels
    weights = np.zeros(len(ranked_labels))
    in_region = ranked_labels >= 0
    # each region's pixels weigh 1 / (its size * the number of regions): their running sum is the mean PRO
    weights[in_region] = (1.0 / (sizes.astype(np.float64) * len(sizes)))[ranked_labels[in_region]]
    pro = np.cumsum(weights, out=weights)[ends]
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], np.minimum(pro, 1.0)])


def pro_curve(maps: np.ndarray, masks: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact PRO curve: FPR and mean per-region overlap, starting at (0, 0), one point per distinct score
    (descending). Raises ValueError when there is no region or no negative pixel."""
    curve = _curve(maps, masks, instances)
    if curve is None:
        raise ValueError("PRO curve undefined: no defect region or no negative pixel")
    return curve


def area_under(fpr: np.ndarray, pro: np.ndarray, fpr_limit: float = FPR_LIMIT) -> float:
    """Trapezoidal area under a curve that starts at FPR 0, up to `fpr_limit` (interpolated), over `fpr_limit`."""
    if not 0 < fpr_limit <= 1:
        raise ValueError(f"fpr_limit must lie in (0, 1], got {fpr_limit}")
    fpr, pro = np.asarray(fpr, np.float64), np.asarray(pro, np.float64)
    stop = int(np.searchsorted(fpr, fpr_limit, side="left"))  # first point at or past the limit
    if stop == 0:
        raise ValueError("the curve must start below the FPR limit")
    if stop < len(fpr):
        share = (fpr_limit - fpr[stop - 1]) / (fpr[stop] - fpr[stop - 1])
        x = np.append(fpr[:stop], fpr_limit)
        y = np.append(pro[:stop], pro[stop - 1] + share * (pro[stop] - pro[stop - 1]))
    else:  # the curve ends before the limit: integrate what there is
        x, y = fpr, pro
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2 / fpr_limit)


def aupro(
    maps: np.ndarray,
    masks: np.ndarray,
    instances: np.ndarray,
    fpr_limit: float = FPR_LIMIT,
    valid: np.ndarray | None = None,
) -> float:
    """Normalised area under the PRO curve up to `fpr_limit` (1 = perfect); NaN with a warning when there is
    no defect region or no negative pixel.

    maps: (N, H, W) scores, masks: (N, H, W) class indices, instances: (N, H, W) instance ids (0 = none);
    valid: (N, H, W) bool, the pixels that count (None: all; the kitchen boards' exclusions leave some out).
    """
    if not 0 < fpr_limit <= 1:
        raise ValueError(f"fpr_limit must lie in (0, 1], got {fpr_limit}")
    curve = _curve(maps, masks, instances, fpr_limit, valid)
    if curve is None:
        warnings.warn("AUPRO undefined: no defect region or no negative pixel", stacklevel=2)
        return float("nan")
    return area_under(*curve, fpr_limit=fpr_limit)
