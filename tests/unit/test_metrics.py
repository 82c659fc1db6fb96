import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset
from sklearn.metrics import f1_score

from defectlab.maps import write_maps
from defectlab.metrics.defect_wise import detected, instance_coverage, recall_by_class
from defectlab.metrics.evaluation import SplitMaps, evaluate_split, fit_split_threshold, load_split
from defectlab.metrics.pixel import auroc, class_pixel_recall, precision_recall_f1
from defectlab.metrics.thresholds import fit_threshold

MAPS_ATTRS = {"model": "hand", "score": "hand-made values"}


def test_threshold_maximises_f1_on_a_hand_computed_case():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1])
    # t=0.8: P=1 R=.5 F1=.667; t=0.4: P=.5 R=.5; t=0.35: P=2/3 R=1 F1=.8; t=0.1: P=.5 R=1 F1=.667
    assert fit_threshold(scores, labels) == pytest.approx(0.35)


def test_threshold_is_the_best_among_all_candidates():
    rng = np.random.default_rng(1)
    labels = rng.random(500) < 0.2
    scores = rng.random(500) + labels * 0.3
    best = fit_threshold(scores, labels)
    f1 = {t: f1_score(labels, scores >= t) for t in np.unique(scores)}
    assert f1_score(labels, scores >= best) == pytest.approx(max(f1.values()))


def test_threshold_needs_a_positive_pixel():
    with pytest.raises(ValueError, match="has no positive"):
        fit_threshold(np.zeros(4), np.zeros(4))


def test_precision_recall_f1_by_hand():
    predicted = np.array([1, 1, 1, 0, 0], bool)
    labels = np.array([1, 0, 0, 1, 0], bool)
    p, r, f = precision_recall_f1(predicted, labels)
    assert (p, r) == pytest.approx((1 / 3, 1 / 2))
    assert f == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def test_auroc_by_hand_and_undefined_with_one_class():
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    with pytest.warns(UserWarning, match="only one class"):
        assert np.isnan(auroc(np.ones(3), np.ones(3)))


def test_class_pixel_recall():
    mask = np.array([[4, 4, 0], [1, 4, 4]])
    predicted = np.array([[1, 0, 1], [0, 1, 0]], bool)
    assert class_pixel_recall(predicted, mask, 4) == pytest.approx(0.5)
    assert np.isnan(class_pixel_recall(predicted, mask, 2))


def test_an_instance_covered_by_one_pixel_is_detected():
    instances = np.zeros((6, 6), np.uint16)
    mask = np.zeros((6, 6), np.uint8)
    instances[0:3, 0:3], mask[0:3, 0:3] = 1, 1  # scratch, 9 pixels
    instances[4:6, 4:6], mask[4:6, 4:6] = 2, 2  # dent, 4 pixels
    predicted = np.zeros((6, 6), bool)
    predicted[2, 2] = True
    coverage = instance_coverage("a", predicted, mask, instances)
    assert coverage[["instance", "class_index", "pixels", "covered"]].values.tolist() == [[1, 1, 9, 1], [2, 2, 4, 0]]
    assert detected(coverage).tolist() == [True, False]
    assert detected(coverage, min_coverage=0.2).tolist() == [False, False]
    assert recall_by_class(coverage, [1, 2, 3]) == {1: 1.0, 2: 0.0}


def test_instances_are_counted_per_image():
    a = pd.DataFrame(
        {"image": ["a", "b"], "instance": [1, 1], "class_index": [1, 1], "pixels": [4, 4], "covered": [0, 2]}
    )
    assert recall_by_class(a, [1]) == {1: 0.5}


def _split(maps, masks, instances):
    return SplitMaps(
        [f"i{k}" for k in range(len(maps))],
        np.asarray(maps, np.float32),
        np.asarray(masks, np.uint8),
        np.asarray(instances, np.uint16),
    )


def test_evaluation_counts_impurities_separately_from_defects():
    # image 0: a dent (class 2) on the left, a water stain (class 4) on the right; image 1: clean
    masks = np.zeros((2, 4, 4), np.uint8)
    instances = np.zeros((2, 4, 4), np.uint16)
    masks[0, :, 0], instances[0, :, 0] = 2, 1
    masks[0, :, 3], instances[0, :, 3] = 4, 2
    maps = np.zeros((2, 4, 4))
    maps[0, :2, 0] = 1.0  # half of the dent
    maps[0, :, 3] = 1.0  # the whole stain
    test = _split(maps, masks, instances)
    table = evaluate_split(test, threshold=0.5)
    # the coverage sweep repeats (metric, class) once per min_coverage: index the other rows only
    rows = table[table["min_coverage"].isna()].set_index(["metric", "class"])["value"]
    # predicted: 2 dent pixels + 4 stain pixels; positives: the 4 dent pixels only
    assert rows["pixel_precision", "defect"] == pytest.approx(2 / 6)
    assert rows["pixel_recall", "defect"] == pytest.approx(2 / 4)
    assert rows["defect_wise_recall", "dent"] == 1.0
    assert rows["defect_wise_recall", "mean"] == 1.0
    assert rows["defect_wise_recall", "water_stain"] == 1.0
    assert rows["class_pixel_recall", "water_stain"] == 1.0
    assert rows["class_pixel_recall", "dent"] == 0.5
    assert rows["image_auroc", "defect"] == 1.0
    assert ("defect_wise_recall", "scratch") not in rows.index


def test_validation_threshold_uses_defect_pixels_only():
    masks = np.zeros((1, 2, 2), np.uint8)
    masks[0, 0, 0] = 1  # scratch, scored 0.6
    masks[0, 0, 1] = 4  # water stain, scored 0.9: a positive only if impurities were defects
    maps = np.array([[[0.6, 0.9], [0.1, 0.1]]])
    assert fit_split_threshold(_split(maps, masks, masks.astype(np.uint16))) == pytest.approx(0.6)


def test_a_validation_dataset_without_defects_is_refused_naming_it():
    masks = np.zeros((2, 2, 2), np.uint8)
    masks[0, 0, 0] = 4  # a water stain is no defect
    val = SplitMaps(["a", "b"], np.zeros((2, 2, 2), np.float32), masks, masks.astype(np.uint16), "datasets/x-val")
    with pytest.raises(ValueError, match=r"datasets/x-val: the validation dataset has no defect pixel in its 2 images"):
        fit_split_threshold(val)


@pytest.mark.filterwarnings("ignore:AUROC undefined", "ignore:AUPRO undefined")
def test_a_test_dataset_without_defects_warns_naming_it_and_keeps_nan():
    masks = np.zeros((2, 2, 2), np.uint8)
    test = SplitMaps(["a", "b"], np.ones((2, 2, 2), np.float32), masks, masks.astype(np.uint16), "datasets/x-test")
    with pytest.warns(UserWarning, match=r"datasets/x-test: the test dataset has no defect pixel: pixel AUROC, image"):
        table = evaluate_split(test, threshold=0.5)
    rows = table[table["min_coverage"].isna()].set_index("metric")["value"]
    assert np.isnan(rows[["pixel_auroc", "image_auroc", "aupro"]]).all()


@pytest.fixture
def mapped(tmp_path):
    """A dataset of three images and the maps of its three images in one file."""
    images = {
        f"p-{i}": (np.full((4, 6, 3), 90, np.uint8), np.zeros((4, 6), np.uint8), np.zeros((4, 6), np.uint16))
        for i in range(3)
    }
    root = write_dataset(tmp_path / "ds", images, "test")
    write_maps(tmp_path / "m.h5", list(images), np.zeros((3, 4, 6), np.float32), **MAPS_ATTRS, made_from="test")
    return root, tmp_path / "m.h5"


def test_load_split_reads_maps_and_masks_in_map_order(mapped):
    root, maps = mapped
    split = load_split([maps], root)
    assert split.ids == ["p-0", "p-1", "p-2"] and split.masks.shape == (3, 4, 6) and split.dataset == str(root)


def test_maps_and_index_must_agree_exactly_naming_the_files(mapped, tmp_path):
    root, maps = mapped
    with pytest.raises(ValueError, match=r"m.h5, .*m.h5: images \[p-0, p-1, p-2\] have more than one anomaly map"):
        load_split([maps, maps], root)
    write_maps(tmp_path / "two.h5", ["p-0", "p-2"], np.zeros((2, 4, 6), np.float32), **MAPS_ATTRS, made_from="test")
    with pytest.raises(ValueError, match=r"ds/index.parquet lists images \[p-1\] that have no anomaly map in .*two.h5"):
        load_split([tmp_path / "two.h5"], root)
    write_maps(
        tmp_path / "four.h5", ["p-0", "p-1", "p-2", "q"], np.zeros((4, 4, 6), np.float32), **MAPS_ATTRS, made_from="t"
    )
    with pytest.raises(
        ValueError, match=r"four.h5: anomaly maps of images \[q\] that .*ds/index.parquet does not list"
    ):
        load_split([tmp_path / "four.h5"], root)


def test_an_index_missing_a_row_is_refused_where_evaluation_loads_the_dataset(mapped):
    root, maps = mapped
    index = pd.read_parquet(root / "index.parquet")
    index[index["id"] != "p-2"].to_parquet(root / "index.parquet")
    with pytest.raises(ValueError, match=r"ds/index.parquet: no row for \[images/p-2.png\]"):
        load_split([maps], root)


@pytest.fixture
def hand_made(tmp_path):
    """Three 2x2 test images and their maps, written with the maps contract (no model).

    a: a scratch at (0, 0) scored 0.9; b: a scratch at (1, 1) scored 0.5; c: clean. The ten clean pixels
    score 0.8 (c), 0.7, 0.65, 0.6 and lower. Pixel unit: t = 0.9 gives P 1, R 1/2, F1 2/3, IoU 1/2,
    J 1/2; t = 0.5 gives P 1/3, R 1, F1 1/2, IoU 1/3, J = 1 - 4/10. Image unit (scores: the maxima
    a 0.9, b 0.7 defective, c 0.8 clean): t = 0.7 gives F1 4/5, FPR 1; t = 0.9 gives F1 2/3, J 1/2.
    """
    masks = {"a": [[1, 0], [0, 0]], "b": [[0, 0], [0, 1]], "c": [[0, 0], [0, 0]]}
    maps = {"a": [[0.9, 0.6], [0.2, 0.1]], "b": [[0.7, 0.65], [0.2, 0.5]], "c": [[0.8, 0], [0, 0]]}
    images = {
        i: (np.full((2, 2, 3), 90, np.uint8), np.array(m, np.uint8), np.array(m, np.uint16)) for i, m in masks.items()
    }
    root = write_dataset(tmp_path / "ds", images, "test")
    write_maps(tmp_path / "m.h5", list(maps), np.array(list(maps.values()), np.float32), **MAPS_ATTRS, made_from="t")
    return load_split([tmp_path / "m.h5"], root)


@pytest.mark.parametrize(
    ("rule", "threshold", "expected"),
    [
        ("f1", 0.9, (1, 1 / 2, 2 / 3, 1 / 2)),
        ("iou", 0.9, (1, 1 / 2, 2 / 3, 1 / 2)),
        ("youden", 0.5, (1 / 3, 1, 1 / 2, 1 / 3)),
    ],
)
def test_pixel_evaluation_of_a_hand_made_maps_file_for_each_rule(hand_made, rule, threshold, expected):
    fitted = fit_split_threshold(hand_made, rule, "pixel")
    assert fitted == pytest.approx(threshold)
    table = evaluate_split(hand_made, fitted, "pixel")
    rows = table[table["min_coverage"].isna()].set_index(["metric", "class"])["value"]
    got = [rows[m, "defect"] for m in ("pixel_precision", "pixel_recall", "pixel_f1", "pixel_iou")]
    assert got == pytest.approx(expected)
    assert hand_made.model == "hand"


@pytest.mark.parametrize(
    ("rule", "threshold", "expected"), [("f1", 0.7, (2 / 3, 1, 4 / 5, 1)), ("youden", 0.9, (1, 1 / 2, 2 / 3, 0))]
)
def test_image_evaluation_of_a_hand_made_maps_file(hand_made, rule, threshold, expected):
    fitted = fit_split_threshold(hand_made, rule, "image")
    assert fitted == pytest.approx(threshold)
    rows = evaluate_split(hand_made, fitted, "image").set_index("metric")["value"]
    assert [rows[m] for m in ("image_precision", "image_recall", "image_f1", "image_fpr")] == pytest.approx(expected)
    assert rows["image_auroc"] == pytest.approx(0.5)  # (0.9 > 0.8), (0.7 < 0.8)
    assert set(rows.index) == {"image_precision", "image_recall", "image_f1", "image_fpr", "image_auroc"}


def test_image_scores_of_the_model_replace_the_maxima(hand_made):
    scored = SplitMaps(**{**hand_made.__dict__, "scores": np.array([0.9, 0.7, 0.1])})
    assert fit_split_threshold(scored, "f1", "image") == pytest.approx(0.7)
    rows = evaluate_split(scored, 0.7, "image").set_index("metric")["value"]
    assert rows["image_fpr"] == 0 and rows["image_auroc"] == 1


def test_an_unknown_unit_is_refused(hand_made):
    with pytest.raises(ValueError, match="unknown evaluation unit 'region'; known: pixel, image, patch"):
        evaluate_split(hand_made, 0.5, "region")
