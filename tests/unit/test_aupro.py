"""AUPRO (MVTec AD): the exact PRO curve against the FPR, integrated to FPR 0.3 and normalised."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from defectlab.classes import DEFECT_INDICES
from defectlab.metrics.defect_wise import instance_coverage
from defectlab.metrics.pro import aupro, pro_curve

BACKGROUND, SCRATCH, DENT, STAIN, FINGERPRINT = 0, 1, 2, 4, 5


def _reference(maps, masks, instances, limit=0.3):
    """Slow AUPRO: a loop over every distinct score, regions from `instance_coverage`, a loop of trapezoids."""
    regions = []  # (image, boolean mask of the region's defect pixels)
    for k in range(len(maps)):
        table = instance_coverage(str(k), np.zeros(masks[k].shape, bool), masks[k], instances[k])
        for instance, cls in zip(table["instance"], table["class_index"], strict=True):
            if cls in DEFECT_INDICES:
                regions.append((k, (instances[k] == instance) & np.isin(masks[k], DEFECT_INDICES)))
    negatives = ~np.isin(masks, DEFECT_INDICES)
    points = [(0.0, 0.0)]
    for t in sorted(np.unique(maps), reverse=True):
        fpr = np.count_nonzero(maps[negatives] >= t) / np.count_nonzero(negatives)
        pro = np.mean([np.count_nonzero(maps[k][r] >= t) / np.count_nonzero(r) for k, r in regions])
        points.append((fpr, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x1 >= limit:
            y = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            area += (limit - x0) * (y0 + y) / 2
            break
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def _random_case(seed: int, images: int = 3, shape=(7, 9), levels: int = 8):
    """Overlapping rectangles: instance ids and classes drawn apart, so some instances mix classes;
    scores on a coarse grid, so regions and negatives share scores (ties)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((images, *shape), np.uint8)
    instances = np.zeros((images, *shape), np.uint16)
    for k in range(images):
        for instance in range(1, rng.integers(1, 5) + 1):
            y, x = rng.integers(0, shape[0] - 1), rng.integers(0, shape[1] - 1)
            h, w = rng.integers(1, 4, 2)
            instances[k, y : y + h, x : x + w] = instance
            masks[k, y : y + h, x : x + w] = rng.choice([SCRATCH, DENT, 3, STAIN, FINGERPRINT, 6])
        stray = rng.random(shape) < 0.1  # classes painted over instances: mixed instances
        masks[k][stray] = rng.choice([BACKGROUND, DENT, STAIN], stray.sum())
    masks[instances == 0] = np.where(rng.random((instances == 0).sum()) < 0.05, STAIN, BACKGROUND)
    scores = rng.integers(0, levels, masks.shape) + 3 * np.isin(masks, DEFECT_INDICES) * rng.random(masks.shape)
    return np.round(scores).astype(np.float32), masks, instances


def _hand_case():
    """Image 0: a dent of 2 pixels (instance 1); image 1: a scratch of 4 pixels (also instance 1: regions are
    counted per image). The six background pixels are the negatives."""
    masks = np.array([[[DENT, DENT, 0, 0, 0, 0]], [[SCRATCH] * 4 + [0, 0]]], np.uint8)
    instances = np.array([[[1, 1, 0, 0, 0, 0]], [[1, 1, 1, 1, 0, 0]]], np.uint16)
    maps = np.array([[[0.9, 0.5, 0.7, 0.4, 0.0, 0.0]], [[0.8, 0.6, 0.6, 0.2, 0.3, 0.1]]])
    return maps, masks, instances


def test_a_hand_computed_case():
    maps, masks, instances = _hand_case()
    # negatives (6): 0.7, 0.4, 0.3, 0.1, 0.0, 0.0; dent A: 0.9, 0.5 (weight 1/(2*2) = 1/4 a pixel);
    # scratch B: 0.8, 0.6, 0.6, 0.2 (weight 1/(4*2) = 1/8 a pixel). Descending scores:
    #   0.9 A     -> FPR 0,   PRO 1/4
    #   0.8 B     -> FPR 0,   PRO 3/8
    #   0.7 neg   -> FPR 1/6, PRO 3/8
    #   0.6 B, B  -> FPR 1/6, PRO 5/8   (a tie: both pixels enter together)
    #   0.5 A     -> FPR 1/6, PRO 7/8
    #   0.4 neg   -> FPR 2/6, PRO 7/8   (past 0.3)
    #   0.3 neg   -> FPR 3/6, PRO 7/8
    #   0.2 B     -> FPR 3/6, PRO 1
    #   0.1 neg   -> FPR 4/6, PRO 1
    #   0.0 2 neg -> FPR 1,   PRO 1
    # area to 0.3: 1/6 * 3/8 (flat at 3/8) + (0.3 - 1/6) * 7/8 (flat at 7/8) = 1/16 + 7/60 = 43/240
    # AUPRO = 43/240 / 0.3 = 43/72
    assert aupro(maps, masks, instances) == pytest.approx(43 / 72, abs=1e-12)
    fpr, pro = pro_curve(maps, masks, instances)
    expected_fpr = [0, 0, 0, 1 / 6, 1 / 6, 1 / 6, 2 / 6, 3 / 6, 3 / 6, 4 / 6, 1]
    expected_pro = [0, 1 / 4, 3 / 8, 3 / 8, 5 / 8, 7 / 8, 7 / 8, 7 / 8, 1, 1, 1]
    np.testing.assert_allclose(fpr, expected_fpr, atol=1e-12)
    np.testing.assert_allclose(pro, expected_pro, atol=1e-12)
    # (had the two instances 1 been merged into one region of 6 pixels: 1/6 * 2/6 + (0.3 - 1/6) * 5/6 = 1/6,
    # AUPRO 5/9.) Up to FPR 1: 1/6 * 3/8 + 2/6 * 7/8 + 3/6 * 1 = 3/48 + 14/48 + 24/48 = 41/48
    assert aupro(maps, masks, instances, fpr_limit=1.0) == pytest.approx(41 / 48, abs=1e-12)


def test_a_perfect_map_scores_one():
    maps, masks, instances = _random_case(0)
    perfect = np.isin(masks, DEFECT_INDICES).astype(float) + 0.01 * np.random.default_rng(0).random(masks.shape)
    assert aupro(perfect, masks, instances) == pytest.approx(1.0, abs=1e-12)


def test_ranking_every_negative_above_every_region_scores_zero():
    maps, masks, instances = _random_case(1)
    inverted = (~np.isin(masks, DEFECT_INDICES)).astype(float) + 0.5 * np.random.default_rng(1).random(masks.shape)
    assert aupro(inverted, masks, instances) == 0.0
    # the PRO rises only once FPR is 1: the full area is still 0
    assert aupro(inverted, masks, instances, fpr_limit=1.0) == 0.0


def test_the_limit_is_interpolated_when_one_step_jumps_past_it():
    # one dent region of 2 pixels, 2 background pixels; one region pixel at 0.9, then a tie at 0.5 of
    # the other region pixel and both negatives: the curve goes (0, 0) -> (0, 1/2) -> (1, 1).
    masks = np.array([[[DENT, DENT, 0, 0]]], np.uint8)
    instances = np.array([[[1, 1, 0, 0]]], np.uint16)
    maps = np.array([[[0.9, 0.5, 0.5, 0.5]]])
    # PRO at 0.3 = 1/2 + 0.3 * 1/2 = 13/20; area = 0.3 * (1/2 + 13/20) / 2; AUPRO = (10/20 + 13/20) / 2 = 23/40
    assert aupro(maps, masks, instances) == pytest.approx(23 / 40, abs=1e-12)
    # without the tie (the region pixel first) the value differs: the curve would be (0, 1) from the start
    assert aupro(np.array([[[0.9, 0.6, 0.5, 0.5]]]), masks, instances) == pytest.approx(1.0)
    fpr, pro = pro_curve(maps, masks, instances)
    np.testing.assert_allclose(fpr, [0, 0, 1])
    np.testing.assert_allclose(pro, [0, 0.5, 1])


def test_a_limit_met_exactly_by_a_point():
    # 10 negatives at distinct scores; the region (1 pixel) enters after 3 of them: FPR 0.3 exactly
    masks = np.zeros((1, 1, 11), np.uint8)
    masks[0, 0, 0] = SCRATCH
    instances = (masks > 0).astype(np.uint16)
    maps = np.array([[[0.75] + [1.0 - 0.1 * i for i in range(10)]]])  # negatives 1.0, 0.9, 0.8, 0.7, 0.6, ...
    # (0, 0) (0.1, 0) (0.2, 0) (0.3, 0) (0.3, 1) (0.4, 1) ...: no area up to 0.3; 0.1 * 1 up to 0.4
    assert aupro(maps, masks, instances) == 0.0
    assert aupro(maps, masks, instances, fpr_limit=0.4) == pytest.approx(0.1 / 0.4)


def test_a_monotone_transform_of_the_scores_changes_nothing():
    maps, masks, instances = _random_case(2, levels=16)
    maps = maps.astype(np.float64) / 16  # a grid of exactly representable values: no transform merges two
    value = aupro(maps, masks, instances)
    assert 0 < value < 1
    assert aupro(np.exp(4 * maps) - 7, masks, instances) == value
    assert aupro(maps**3, masks, instances) == value
    assert aupro(-maps, masks, instances) != value  # not monotone increasing: a different value


@pytest.mark.parametrize("seed", range(12))
def test_equals_a_slow_reference(seed):
    maps, masks, instances = _random_case(seed)
    if not np.isin(masks, DEFECT_INDICES).any():
        pytest.skip("no defect drawn")
    for limit in (0.3, 0.05, 1.0):
        assert aupro(maps, masks, instances, fpr_limit=limit) == pytest.approx(
            _reference(maps, masks, instances, limit), abs=1e-12
        )


@pytest.mark.parametrize("seed", range(4))
def test_with_regions_of_one_size_the_pro_curve_is_the_roc_curve(seed):
    # every region 2x2 and all defect pixels in regions: mean PRO = TPR, so AUPRO is scikit-learn's partial
    # ROC area (undoing its McClish standardisation) over the limit
    rng = np.random.default_rng(seed)
    masks = np.zeros((3, 8, 8), np.uint8)
    instances = np.zeros((3, 8, 8), np.uint16)
    for k in range(3):
        for n, (y, x) in enumerate([(0, 0), (4, 3), (1, 5)][: rng.integers(1, 4)], start=1):
            instances[k, y : y + 2, x : x + 2], masks[k, y : y + 2, x : x + 2] = n, rng.choice(DEFECT_INDICES)
    masks[2, 6:, :3], instances[2, 6:, :3] = STAIN, 9  # an impurity: negatives
    scores = np.round(rng.random(masks.shape) * 6 + 2 * (masks > 0) * (masks != STAIN)) / 6
    labels = np.isin(masks, DEFECT_INDICES).ravel()
    limit = 0.3
    standardised = roc_auc_score(labels, scores.ravel(), max_fpr=limit)
    low, high = 0.5 * limit**2, limit
    partial = low + (2 * standardised - 1) * (high - low)
    assert aupro(scores, masks, instances, fpr_limit=limit) == pytest.approx(partial / limit, abs=1e-12)
    assert aupro(scores, masks, instances, fpr_limit=1.0) == pytest.approx(
        roc_auc_score(labels, scores.ravel()), abs=1e-12
    )


def test_impurity_pixels_are_negatives_not_regions():
    # a dent of 1 pixel scored 0.5, a water stain of 1 pixel scored 0.9, a background pixel scored 0.1
    masks = np.array([[[DENT, STAIN, 0]]], np.uint8)
    instances = np.array([[[1, 2, 0]]], np.uint16)
    maps = np.array([[[0.5, 0.9, 0.1]]])
    # stain a negative: (0, 0) -> (1/2, 0) -> (1/2, 1) -> (1, 1): 0 up to 0.3 and 1/2 up to 1
    # (were the stain a region, the PRO would start at 1/2; were it ignored, the map would be perfect)
    assert aupro(maps, masks, instances) == 0.0
    assert aupro(maps, masks, instances, fpr_limit=1.0) == pytest.approx(0.5)


def test_impurity_pixels_inside_a_defect_instance_are_negatives_too():
    # instance 1 is mostly dent (3 pixels) with one pixel labelled water stain: a dent region of 3 pixels;
    # the stain pixel, scored highest, is one of the 2 negatives
    masks = np.array([[[DENT, DENT, DENT, STAIN, 0]]], np.uint8)
    instances = np.array([[[1, 1, 1, 1, 0]]], np.uint16)
    maps = np.array([[[0.8, 0.7, 0.6, 0.9, 0.1]]])
    fpr, pro = pro_curve(maps, masks, instances)
    np.testing.assert_allclose(fpr, [0, 0.5, 0.5, 0.5, 0.5, 1])
    np.testing.assert_allclose(pro, [0, 0, 1 / 3, 2 / 3, 1, 1])
    # an instance that is mostly an impurity is no region, even with a defect pixel in it (that pixel is a
    # positive of the binary task, so no negative either)
    masks = np.array([[[STAIN, STAIN, DENT, DENT, 0, 0]]], np.uint8)
    instances = np.array([[[1, 1, 1, 2, 0, 0]]], np.uint16)
    maps = np.array([[[0.9, 0.1, 0.95, 0.5, 0.6, 0.2]]])
    fpr, pro = pro_curve(maps, masks, instances)  # regions: instance 2 only; negatives: 2 stain + 2 background
    np.testing.assert_allclose(fpr, [0, 0, 0.25, 0.5, 0.5, 0.75, 1])
    np.testing.assert_allclose(pro, [0, 0, 0, 0, 1, 1, 1])


def test_undefined_without_a_region_or_without_a_negative():
    masks = np.array([[[STAIN, 0]]], np.uint8)
    with pytest.warns(UserWarning, match="AUPRO undefined"):
        assert np.isnan(aupro(np.array([[[0.3, 0.1]]]), masks, (masks > 0).astype(np.uint16)))
    masks = np.array([[[DENT, SCRATCH]]], np.uint8)
    with pytest.warns(UserWarning, match="AUPRO undefined"):
        assert np.isnan(aupro(np.array([[[0.3, 0.1]]]), masks, np.array([[[1, 2]]], np.uint16)))
    with pytest.raises(ValueError, match="undefined"):
        pro_curve(np.array([[[0.3, 0.1]]]), masks, np.array([[[1, 2]]], np.uint16))


def test_bad_inputs_are_refused():
    maps, masks, instances = _hand_case()
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro(maps, masks, instances, fpr_limit=0)
    with pytest.raises(ValueError, match="NaN"):
        aupro(np.where(maps > 0.85, np.nan, maps), masks, instances)
    with pytest.raises(ValueError, match="differ"):
        aupro(maps[:, :, :4], masks, instances)


def test_pixels_outside_valid_count_nowhere_as_if_cut_away():
    """The kitchen boards' exclusions: AUPRO over the valid pixels equals AUPRO of the images cut to them, though
    an excluded defect region and high excluded scores would change it."""
    rng = np.random.default_rng(4)
    maps = rng.random((2, 12, 20))
    masks = np.zeros((2, 12, 20), np.uint8)
    instances = np.zeros((2, 12, 20), np.uint16)
    masks[0, 2:5, 2:6], instances[0, 2:5, 2:6] = SCRATCH, 1
    masks[1, 6:9, 8:11], instances[1, 6:9, 8:11] = DENT, 1
    masks[1, 1:4, 15:19], instances[1, 1:4, 15:19] = DENT, 2  # under the excluded right part
    maps[:, :, 14:] += 1.0
    valid = np.zeros(maps.shape, bool)
    valid[:, :, :14] = True
    cut = aupro(maps[:, :, :14], masks[:, :, :14], instances[:, :, :14])
    assert aupro(maps, masks, instances, valid=valid) == pytest.approx(cut, abs=1e-12)
    assert aupro(maps, masks, instances) != pytest.approx(cut, abs=1e-3)
