"""The patch unit: the thesis's Table 6.1 rows from their confusion matrices (to ±1e-4, as it prints them),
patch scores and labels against a brute-force reference, exclusions honoured, bad settings refused."""

import numpy as np
import pytest

from defectlab.data.exclusions import Exclusion
from defectlab.metrics.patch import (
    Patches,
    PatchGrid,
    board_metrics,
    confusion,
    from_confusion,
    kind_recall,
    patch_metrics,
    split_patches,
)
from defectlab.metrics.thresholds import fit_threshold

# Table 6.1 (accuracy, precision, recall) and spec §8.6 (F1, FPR, Youden's J, balanced accuracy)
THESIS_ROWS = {
    "PC1": ((5511, 2212, 34, 106), (0.7143, 0.0457, 0.7571, 0.0862, 0.2864, 0.4707, 0.7354)),
    "PC2": ((6757, 966, 32, 108), (0.8730, 0.1005, 0.7714, 0.1779, 0.1251, 0.6463, 0.8232)),
    "PC3": ((8618, 308, 51, 193), (0.9608, 0.3852, 0.7909, 0.5181, 0.0345, 0.7565, 0.8782)),
    "PC4": ((7718, 1208, 67, 177), (0.8609, 0.1277, 0.7254, 0.2173, 0.1353, 0.5901, 0.7950)),
    "PC6": ((7484, 1442, 95, 149), (0.8323, 0.0936, 0.6106, 0.1624, 0.1616, 0.4491, 0.7246)),
}
NAMES = ("accuracy", "precision", "recall", "f1", "fpr", "youden_j", "balanced_accuracy")


@pytest.mark.parametrize("row", sorted(THESIS_ROWS))
def test_the_thesis_rows_follow_from_their_confusion_matrices(row):
    counts, printed = THESIS_ROWS[row]
    derived = from_confusion(*counts)
    for name, value in zip(NAMES, printed, strict=True):
        assert derived[name] == pytest.approx(value, abs=1.2e-4), name  # the thesis truncates to 4 decimals


def test_the_confusion_matrix_is_in_scikit_learns_orientation():
    labels = np.array([0, 0, 0, 1, 1, 0, 1], bool)
    predicted = np.array([1, 0, 0, 1, 0, 0, 1], bool)
    assert confusion(labels, predicted) == (3, 1, 1, 2)  # TN, FP, FN, TP


def reference_patches(amap, defects, size, stride, min_positive=1):
    """Brute force: every window of the grid with the flush column and row, its maximum and defect count."""
    height, width = amap.shape
    xs = sorted({*range(0, width - size + 1, stride), width - size})
    ys = sorted({*range(0, height - size + 1, stride), height - size})
    return [
        ((x, y), amap[y : y + size, x : x + size].max(), defects[y : y + size, x : x + size].sum() >= min_positive)
        for y in ys
        for x in xs
    ]


def test_patch_scores_are_the_window_maxima_and_labels_count_defect_pixels():
    rng = np.random.default_rng(3)
    maps = rng.random((2, 23, 30)).astype(np.float32)
    defects = np.zeros((2, 23, 30), bool)
    defects[0, 5, 7] = defects[1, 20:23, 25:30] = True
    patches = split_patches(["a", "b"], maps, defects, PatchGrid(size=8, stride=5, min_positive_pixels=1))
    expected = [(k, *r) for k in range(2) for r in reference_patches(maps[k], defects[k], 8, 5)]
    assert [(int(i), tuple(c)) for i, c in zip(patches.image, patches.corners, strict=True)] == [
        (k, c) for k, c, _, _ in expected
    ]
    assert np.array_equal(patches.scores, [s for _, _, s, _ in expected])
    assert np.array_equal(patches.labels, [label for _, _, _, label in expected])
    strict = split_patches(["a", "b"], maps, defects, PatchGrid(size=8, stride=5, min_positive_pixels=2))
    assert strict.labels.sum() < patches.labels.sum() and strict.labels[patches.image == 0].sum() == 0


def test_exclusions_keep_patches_inside_the_borders_and_off_the_labels():
    maps, defects = np.zeros((1, 20, 20)), np.zeros((1, 20, 20), bool)
    exclusions = {"a": Exclusion(borders=((2, 2, 12, 8),), labels=((10, 2, 2, 2),))}
    patches = split_patches(["a"], maps, defects, PatchGrid(size=4, stride=4), exclusions)
    assert [tuple(c) for c in patches.corners] == [(2, 2), (6, 2), (2, 6), (6, 6), (10, 6)]
    with pytest.raises(ValueError, match="image b has no exclusion entry"):
        split_patches(["a", "b"], np.zeros((2, 20, 20)), np.zeros((2, 20, 20), bool), PatchGrid(4, 4), exclusions)
    with pytest.raises(ValueError, match="no patch of 32 pixels fits"):
        split_patches(["a"], maps, defects, PatchGrid(32, 4))


def test_patch_metrics_at_the_youden_threshold_of_the_patches():
    maps = np.zeros((1, 4, 8))
    maps[0, :, 2:4], maps[0, :, 4:6], maps[0, :2, 6:8], maps[0, 2:, 6:8] = 0.9, 0.6, 0.3, 0.1
    defects = np.zeros((1, 4, 8), bool)
    defects[0, 0, 2] = defects[0, 0, 6] = True
    patches = split_patches(["a"], maps, defects, PatchGrid(size=2, stride=2))  # 2 rows x 4 columns
    assert np.array_equal(patches.scores, [0, 0.9, 0.6, 0.3, 0, 0.9, 0.6, 0.1])
    assert patches.labels.tolist() == [0, 1, 0, 1, 0, 0, 0, 0]
    # J = TPR - FPR: >= 0.9: 1/2 - 1/6; >= 0.6: 1/2 - 3/6; >= 0.3: 1 - 3/6 (the best); >= 0.1: 1 - 4/6
    assert fit_threshold(patches.scores, patches.labels, "youden") == pytest.approx(0.3)
    metrics = patch_metrics(patches, 0.3)
    assert (metrics["tn"], metrics["fp"], metrics["fn"], metrics["tp"]) == (3, 3, 0, 2)
    assert metrics["recall"] == 1 and metrics["fpr"] == 0.5 and metrics["youden_j"] == 0.5
    # positive 0.9 beats 5 negatives and ties one, 0.3 beats 3: (5.5 + 3) / (2 * 6)
    assert metrics["auroc"] == pytest.approx(8.5 / 12)


@pytest.mark.parametrize("bad", [{"size": 0}, {"stride": 1.5}, {"min_positive_pixels": True}])
def test_bad_patch_settings_are_refused_by_name(bad):
    with pytest.raises(ValueError, match=f"patch unit: {next(iter(bad))} must be an integer >= 1"):
        PatchGrid(**bad)


def test_the_evaluation_of_the_patch_unit_reads_the_datasets_exclusions(tmp_path):
    import json

    from layout_files import write_dataset

    from defectlab.maps import write_maps
    from defectlab.metrics.evaluation import evaluate_split, fit_split_threshold, load_split

    image = np.zeros((16, 24, 3), np.uint8)
    mask = np.zeros((16, 24), np.uint8)
    mask[2, 2] = mask[12, 20] = 1  # scratch pixels: one in the active area, one under a label
    root = write_dataset(tmp_path / "boards", {"a": (image, mask, mask.astype(np.uint16))}, "test")
    (root / "exclusions.json").write_text(
        json.dumps({"a.png": {"borders": [[0, 0, 24, 16]], "labels": [[16, 8, 8, 8]]}})
    )
    amap = np.zeros((1, 16, 24), np.float32)
    amap[0, :8, :8], amap[0, 8:, 16:] = 0.8, 0.9
    write_maps(tmp_path / "maps.h5", ["a"], amap, model="m", score="s", made_from="test")
    split = load_split([tmp_path / "maps.h5"], root, PatchGrid(size=8, stride=8))
    assert [tuple(c) for c in split.patches.corners] == [(0, 0), (8, 0), (16, 0), (0, 8), (8, 8)]  # (16, 8): label
    assert split.patches.labels.tolist() == [True, False, False, False, False]
    threshold = fit_split_threshold(split, "youden", "patch", role="test")
    assert threshold == pytest.approx(0.8)
    rows = evaluate_split(split, threshold, "patch").set_index("metric")["value"]
    assert rows[["patch_tn", "patch_fp", "patch_fn", "patch_tp"]].tolist() == [4, 0, 0, 1]
    assert rows["patch_auroc"] == 1 and rows["patch_youden_j"] == 1
    assert sum(name.startswith("patch_") and "kind" not in name for name in rows.index) == 12
    assert rows[["board_recall", "board_count", "board_clean"]].tolist() == [1, 1, 0]  # no clean board: FPR NaN
    # the pixel unit leaves the label's pixels out: the defect pixel at (12, 20) and the 0.9 scores under it
    no_grid = load_split([tmp_path / "maps.h5"], root)
    pixel = evaluate_split(no_grid, 0.8, "pixel").set_index("metric")["value"]
    assert pixel["pixel_recall"] == 1 and pixel["pixel_precision"] == pytest.approx(1 / 64)
    assert pixel["pixel_auroc"] == pytest.approx((256 + 63 / 2) / 319)  # 320 counted pixels, one positive
    assert no_grid.image_scores.tolist() == [pytest.approx(0.8)]
    with pytest.raises(ValueError, match="the patch unit needs a patch grid"):
        evaluate_split(no_grid, 0.5, "patch")
    (root / "exclusions.json").write_text(json.dumps({"a.png": {"borders": [[0, 0, 30, 16]]}}))
    with pytest.raises(ValueError, match=r"exclusions.json: a.png: borders\[0\]: \[0, 0, 30, 16\] reaches outside"):
        load_split([tmp_path / "maps.h5"], root, PatchGrid(size=8, stride=8))


def test_kind_recall_counts_patches_and_instances_of_each_class_on_a_hand_case():
    # one 8 x 16 image, two patches of 8: a hole (class 8) spans both, a scar (11) lies in the right one only
    masks = np.zeros((1, 8, 16), np.uint8)
    instances = np.zeros((1, 8, 16), np.uint16)
    masks[0, 2:4, 6:10], instances[0, 2:4, 6:10] = 8, 1
    masks[0, 5:7, 12:14], instances[0, 5:7, 12:14] = 11, 2
    patches = Patches(np.array([0, 0]), np.array([[0, 0], [8, 0]]), np.array([0.9, 0.1]), np.array([True, True]))
    kinds = kind_recall(patches, np.array([True, False]), masks, instances, 8, [8, 11, 12])
    assert kinds == {8: (0.5, 1.0), 11: (0.0, 0.0)}  # class 12 is absent: no entry


def test_board_decisions_take_each_boards_highest_patch_score():
    patches = Patches(
        image=np.array([0, 0, 1, 1, 2]),
        corners=np.zeros((5, 2), int),
        scores=np.array([0.2, 0.9, 0.3, 0.4, 0.7]),
        labels=np.array([False, True, False, False, False]),
    )
    boards = board_metrics(patches, 0.5, boards=4)  # board 3 has no patch: left out
    assert boards["recall"] == 1.0 and boards["fpr"] == 0.5 and boards["auroc"] == 1.0
    assert (boards["boards"], boards["clean_boards"]) == (3, 2)
