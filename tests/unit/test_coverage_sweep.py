"""Defect-wise recall against the share of an instance that must be predicted (001, Appendix C, Fig. 5)."""

import numpy as np
import pandas as pd
import pytest

from defectlab.classes import DEFECT_INDICES
from defectlab.metrics.defect_wise import (
    COVERAGE_COLUMNS,
    COVERAGE_SWEEP,
    detected,
    instance_coverage,
    recall_by_class,
    recall_sweep,
)
from defectlab.metrics.evaluation import METRIC_COLUMNS, SplitMaps, evaluate_split
from defectlab.metrics.pro import aupro

SCRATCH, DENT, STAIN, FINGERPRINT = 1, 2, 4, 5
PERCENT = (0, 1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100)  # Appendix C


def _coverage(pixels, covered, classes=None) -> pd.DataFrame:
    n = len(pixels)
    return pd.DataFrame(
        {
            "image": ["a"] * n,
            "instance": range(1, n + 1),
            "class_index": classes or [DENT] * n,
            "pixels": pixels,
            "covered": covered,
        },
        columns=COVERAGE_COLUMNS,
    )


def _split(maps, masks, instances) -> SplitMaps:
    return SplitMaps(
        [f"i{k}" for k in range(len(maps))],
        np.asarray(maps, np.float32),
        np.asarray(masks, np.uint8),
        np.asarray(instances, np.uint16),
    )


def test_the_sweep_is_the_papers():
    assert tuple(p / 100 for p in PERCENT) == COVERAGE_SWEEP


def test_an_instance_of_one_pixel_covered_is_detected_at_every_coverage_and_uncovered_at_none():
    coverage = _coverage([1, 1], [1, 0])
    for c in COVERAGE_SWEEP:
        assert detected(coverage, c).tolist() == [True, False], c


def test_an_instance_covered_by_one_pixel():
    # 10 pixels, 1 predicted: a share of 0.10, detected up to c = 0.10 and not from c = 0.15
    coverage = _coverage([10], [1])
    sweep = recall_sweep(coverage, DEFECT_INDICES)
    assert list(sweep) == list(COVERAGE_SWEEP)
    assert [sweep[c][DENT] for c in COVERAGE_SWEEP] == [1.0] * 6 + [0.0] * 6
    assert all(set(r) == {DENT} for r in sweep.values())  # absent classes are left out


def test_a_share_exactly_at_the_threshold_counts():
    # for every c of the sweep and every size n up to 400 where c * n is a whole number k >= 1:
    # k covered pixels reach c, k - 1 do not (the float share k / n must equal the decimal c exactly)
    for percent, c in zip(PERCENT, COVERAGE_SWEEP, strict=True):
        sizes = [n for n in range(1, 401) if percent * n % 100 == 0 and percent * n // 100 >= 1]
        edges = [percent * n // 100 for n in sizes]
        assert detected(_coverage(sizes, edges), c).all(), c
        below = _coverage(sizes, [k - 1 for k in edges])
        assert not detected(below, c).any(), c
    assert not detected(_coverage([5], [0]), 0.0).any()  # uncovered: never detected, not even at c = 0


def test_detection_matches_integer_arithmetic_on_random_coverage():
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 300, 3000)
    covered = np.minimum(pixels, rng.integers(0, 40, 3000) * rng.integers(0, 2, 3000))
    covered[:500] = (pixels[:500] * rng.choice(PERCENT, 500)) // 100  # many shares on or near an edge
    coverage = _coverage(pixels, covered)
    for percent, c in zip(PERCENT, COVERAGE_SWEEP, strict=True):
        expected = (covered > 0) & (100 * covered >= percent * pixels)
        assert (detected(coverage, c).to_numpy() == expected).all(), c


def test_recall_does_not_increase_with_the_coverage_needed():
    rng = np.random.default_rng(1)
    pixels = rng.integers(1, 50, 400)
    coverage = _coverage(pixels, rng.integers(0, pixels + 1), rng.choice([1, 2, 3, 4, 5, 6], 400).tolist())
    sweep = recall_sweep(coverage, range(1, 7))
    for index in range(1, 7):
        curve = [sweep[c][index] for c in COVERAGE_SWEEP]
        assert all(a >= b for a, b in zip(curve, curve[1:], strict=False)), index
        assert curve[0] > curve[-1]  # the data make it fall somewhere: a constant curve would prove little
        assert curve[0] == recall_by_class(coverage, [index])[index]


def test_coverage_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="min_coverage"):
        detected(_coverage([1], [1]), 5)  # a percentage passed for a share
    with pytest.raises(ValueError, match="min_coverage"):
        detected(_coverage([1], [1]), -0.01)


def _overlap_split() -> SplitMaps:
    """One image, 3 x 10.
    Instance 1 (row 0, 10 pixels): 7 dent pixels, then 3 water-stain pixels (a stain over a dent): a dent.
    Instance 2 (row 2, 6 pixels): 4 water-stain pixels, then 2 dent pixels: a water stain.
    Predicted: the first 2 pixels of instance 1 (share 2/10) and the 2 dent pixels of instance 2 (share 2/6)."""
    masks = np.zeros((1, 3, 10), np.uint8)
    instances = np.zeros((1, 3, 10), np.uint16)
    masks[0, 0, :7], masks[0, 0, 7:], instances[0, 0, :] = DENT, STAIN, 1
    masks[0, 2, :4], masks[0, 2, 4:6], instances[0, 2, :6] = STAIN, DENT, 2
    maps = np.zeros((1, 3, 10))
    maps[0, 0, :2] = maps[0, 2, 4:6] = 1.0
    return _split(maps, masks, instances)


@pytest.mark.filterwarnings("ignore:AUROC undefined")
def test_an_impurity_overlapping_a_defect():
    split = _overlap_split()
    coverage = instance_coverage("i0", split.maps[0] >= 0.5, split.masks[0], split.instances[0])
    assert coverage[["class_index", "pixels", "covered"]].values.tolist() == [[DENT, 10, 2], [STAIN, 6, 2]]
    table = evaluate_split(split, threshold=0.5)
    sweep = table[table["metric"] == "defect_wise_recall_sweep"]
    recall = sweep.set_index(["class", "min_coverage"])["value"]
    assert set(sweep["class"]) == {"dent", "water_stain", "mean"}
    # the dent: 2/10 covered, detected up to 20%; the stain: 2/6 covered, detected up to 25%. The stain's
    # predicted dent pixels make no dent detection of their own, and the stain never enters the mean.
    dent = [recall["dent", c] for c in COVERAGE_SWEEP]
    assert dent == [1.0] * 8 + [0.0] * 4
    assert [recall["water_stain", c] for c in COVERAGE_SWEEP] == [1.0] * 9 + [0.0] * 3
    assert [recall["mean", c] for c in COVERAGE_SWEEP] == dent
    assert set(sweep.loc[sweep["class"] == "water_stain", "category"]) == {"impurity"}


@pytest.mark.filterwarnings("ignore:AUROC undefined")
@pytest.mark.filterwarnings("ignore:.*the test dataset has no defect pixel")
def test_images_without_a_defect():
    # image 0: a fingerprint only; image 1: clean
    masks = np.zeros((2, 4, 4), np.uint8)
    instances = np.zeros((2, 4, 4), np.uint16)
    masks[0, 1:3, 1:3], instances[0, 1:3, 1:3] = FINGERPRINT, 1
    maps = np.zeros((2, 4, 4))
    maps[0, 1, 1] = 1.0  # 1 of 4 fingerprint pixels: detected up to 25%
    with pytest.warns(UserWarning, match="AUPRO undefined"):
        table = evaluate_split(_split(maps, masks, instances), threshold=0.5)
    sweep = table[table["metric"] == "defect_wise_recall_sweep"]
    assert set(sweep["class"]) == {"fingerprint"} and set(sweep["category"]) == {"impurity"}
    assert sweep["value"].tolist() == [1.0] * 9 + [0.0] * 3
    assert np.isnan(table.loc[table["metric"] == "aupro", "value"]).all()
    # no instance at all: no defect-wise row of either kind, and no crash
    with pytest.warns(UserWarning):
        table = evaluate_split(_split(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), np.zeros((1, 4, 4))), 0.5)
    assert not table["metric"].str.startswith("defect_wise_recall").any()
    assert table["metric"].tolist()[-2:] == ["aupro", "pixel_iou"]


def _mixed_split() -> SplitMaps:
    rng = np.random.default_rng(3)
    masks = np.zeros((3, 16, 16), np.uint8)
    instances = np.zeros((3, 16, 16), np.uint16)
    for k in range(2):  # image 2 stays clean
        for n, cls in enumerate(rng.choice([SCRATCH, DENT, 3, STAIN, FINGERPRINT, 6], 5), start=1):
            y, x = rng.integers(0, 12, 2)
            masks[k, y : y + 4, x : x + 3], instances[k, y : y + 4, x : x + 3] = cls, n
    maps = rng.random(masks.shape) + 0.4 * (masks > 0)
    return _split(maps, masks, instances)


def test_evaluate_split_rows():
    split = _mixed_split()
    table = evaluate_split(split, threshold=0.9)
    assert list(table.columns) == METRIC_COLUMNS == ["metric", "class", "category", "value", "min_coverage"]
    sweep = table[table["metric"] == "defect_wise_recall_sweep"]
    old = table[table["metric"] != "defect_wise_recall_sweep"]
    # every row but the sweep's has no coverage, and is one of a kind by (metric, class)
    assert old["min_coverage"].isna().all() and sweep["min_coverage"].notna().all()
    assert not old.duplicated(["metric", "class"]).any()
    assert set(old["metric"]) == {
        "pixel_precision",
        "pixel_recall",
        "pixel_f1",
        "pixel_iou",
        "image_auroc",
        "pixel_auroc",
        "defect_wise_recall",
        "class_pixel_recall",
        "aupro",
    }
    # the sweep: every class of the defect-wise rows (and the mean) once per coverage, with its category
    classes = old.loc[old["metric"] == "defect_wise_recall", ["class", "category"]]
    assert len(classes) >= 4 and "mean" in set(classes["class"])
    expected = {(cls, cat, c) for cls, cat in classes.itertuples(index=False) for c in COVERAGE_SWEEP}
    assert set(sweep[["class", "category", "min_coverage"]].itertuples(index=False, name=None)) == expected
    assert len(sweep) == len(expected)
    # at c = 0 the sweep is the defect-wise recall
    at_zero = sweep[sweep["min_coverage"] == 0].set_index("class")["value"]
    pd.testing.assert_series_equal(
        at_zero, old[old["metric"] == "defect_wise_recall"].set_index("class")["value"], check_names=False
    )
    assert (sweep.groupby("class")["value"].apply(lambda v: v.is_monotonic_decreasing)).all()
    assert not (sweep.groupby("class")["value"].nunique() == 1).all()  # something falls as c grows
    # the AUPRO row: the category "defect", the value of the function
    row = old[old["metric"] == "aupro"]
    assert row[["class", "category"]].values.tolist() == [["defect", "defect"]]
    assert row["value"].item() == pytest.approx(aupro(split.maps, split.masks, split.instances))


def test_the_rows_from_before_are_unchanged():
    # evaluate_split's rows before AUPRO and the sweep were added (its output for this split then, values
    # printed with repr): the same rows come first, in the same order, with min_coverage NaN
    before = [
        ("pixel_precision", "defect", "defect", 0.3137254901960784),
        ("pixel_recall", "defect", "defect", 0.42105263157894735),
        ("pixel_f1", "defect", "defect", 0.3595505617977528),
        ("image_auroc", "defect", "defect", 1.0),
        ("pixel_auroc", "defect", "defect", 0.7932195010648007),
        ("defect_wise_recall", "scratch", "defect", 1.0),
        ("defect_wise_recall", "dent", "defect", 1.0),
        ("defect_wise_recall", "fingerprint", "impurity", 1.0),
        ("defect_wise_recall", "mean", "defect", 1.0),
        ("class_pixel_recall", "scratch", "defect", 0.4),
        ("class_pixel_recall", "dent", "defect", 0.4444444444444444),
        ("class_pixel_recall", "fingerprint", "impurity", 0.5),
    ]
    table = evaluate_split(_mixed_split(), threshold=0.9)
    head = table.iloc[: len(before)]
    assert head[["metric", "class", "category", "value"]].values.tolist() == [list(row) for row in before]
    assert head["min_coverage"].isna().all()
    assert table["metric"].iloc[len(before)] == "aupro"
    assert set(table["metric"].iloc[len(before) + 1 : -1]) == {"defect_wise_recall_sweep"}
    assert table["metric"].iloc[-1] == "pixel_iou"  # added last, so every earlier row keeps its place
