"""The kitchen-board generator (seed 002 §11.7): same seed same bytes; each anomaly kind's mask is where the
image changed (rendered with and without it); stickers and specks never in the defect mask; exclusions valid,
labels covering the stickers, borders inside the board; vertical stripes on the black and on the belt; bad keys
refused. Calibration at full scale against the thesis: the category mean and std of the training patches, the
kept share of training positions, the positive share of the test patches, two kinds on most anomalous boards."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from defectlab.classes import DEFECT_INDICES, class_index
from defectlab.data.exclusions import patch_positions, read_exclusions
from defectlab.data.layout import check_dataset
from defectlab.data.patch_store import PatchGrid, keeps
from defectlab.synth.boards import (
    CATEGORY_DEFAULTS,
    DEFAULTS,
    KINDS,
    TEST_ANOMALIES,
    calibration,
    make,
    plan_board,
    positive_patches,
    settings_of,
    training_sums,
    write_samples,
)

TINY = {
    "count": 2,
    "width": [320, 352],
    "height": [384, 400],
    "stickers": {"width": [40, 80], "height": [30, 120]},
    "frame": {"ramp": [8, 16]},
}


def board(seed: int = 7, i: int = 0, **keys):
    return plan_board("kb", {**TINY, **keys}, seed, i)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_board(tmp_path):
    spec = {**TINY, "anomalies": {"min": 2, "max": 4}, "category": "edges"}
    first = write_samples([plan_board("kb", spec, 7, i) for i in range(2)], tmp_path / "a", "test")
    write_samples([plan_board("kb", spec, 7, i) for i in range(2)], tmp_path / "b", "test")
    for name in [
        "index.parquet",
        "exclusions.json",
        *(f"{d}/{i}.png" for d in ("images", "masks", "instances") for i in first["id"]),
    ]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not np.array_equal(make(board(seed=7)).image, make(board(seed=8)).image)
    assert len(check_dataset(tmp_path / "a")) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_each_kinds_mask_is_where_the_image_changed(kind):
    nothing = {"min": 0, "max": 0}
    sample = board(anomalies={"min": 1, "max": 1, "kinds": [kind]}, category="edges", stickers=nothing, specks=nothing)
    assert len(sample.anomalies) == 1
    clean = dataclasses.replace(sample, anomalies=())
    with_it, without = make(sample, jpeg=False), make(clean, jpeg=False)
    mask = with_it.mask == class_index(kind)
    changed = np.abs(with_it.image.astype(int) - without.image.astype(int)).max(axis=2) > 0
    assert mask.any() and changed[mask].mean() > 0.5, "the anomaly is visible"
    near = ndimage.binary_dilation(mask, structure=np.ones((3, 3)), iterations=3)  # 3 px: shading slope, blur
    assert not (changed & ~near).any(), "and nothing changes away from it"
    assert np.array_equal(with_it.mask[~mask], without.mask[~mask])
    assert np.unique(with_it.instances[mask]).size == 1


def test_stickers_and_specks_are_impurities_covered_by_the_labels_never_defects(tmp_path):
    spec = {
        **TINY,
        "anomalies": {"min": 3, "max": 5},
        "specks": {"min": 4, "max": 6},
        "stickers": {**TINY["stickers"], "min": 2, "max": 2},
    }
    samples = [plan_board("kb", spec, 3, i) for i in range(3)]
    write_samples(samples, tmp_path, "test")
    sizes = {f"{s.id}.png": (s.width, s.height) for s in samples}
    exclusions = read_exclusions(tmp_path / "exclusions.json", sizes)  # valid by the thesis's rules
    for sample in samples:
        picture = make(sample)
        exclusion = exclusions[f"{sample.id}.png"]
        assert json.loads((tmp_path / "exclusions.json").read_text())[f"{sample.id}.png"]["borders"] == [
            list(sample.border)
        ]
        sticker = picture.mask == class_index("sticker")
        covered = np.zeros_like(sticker)
        for x, y, w, h in exclusion.labels:
            covered[y : y + h, x : x + w] = True
        assert sticker.any() and not (sticker & ~covered).any()
        assert (picture.mask == class_index("speck")).sum() > 0
        defects = np.isin(picture.mask, DEFECT_INDICES)
        assert not (defects & covered).any()  # no anomaly on a sticker
        bx, by, bw, bh = sample.board
        ((x, y, w, h),) = exclusion.borders
        assert bx <= x and by <= y and x + w <= bx + bw and y + h <= by + bh


def test_the_black_and_the_belt_show_vertical_stripes_and_only_the_black_is_dropped():
    sample = board(width=[512, 512], height=[512, 512])
    image = make(sample).image.astype(float).mean(axis=2)
    bx, by, bw, bh = sample.board
    rows = slice(0, by - 4) if by >= 512 - by - bh else slice(by + bh + 4, None)  # away from the board's blur
    belt_x, belt_width = sample.belt
    left, right = slice(0, belt_x - 4), slice(belt_x + belt_width + 4, None)
    black = image[rows, left] if belt_x >= 512 - belt_x - belt_width else image[rows, right]
    belt = image[rows, belt_x + 4 : belt_x + belt_width - 4]
    for background in (black, belt):
        assert min(background.shape) >= 32
        assert background.mean(axis=0).std() >= 3 * background.mean(axis=1).std()
    assert black.mean() < 31 < belt.mean()  # the thesis's mean-intensity filter drops the black, keeps the belt
    board_pixels = image[by + 10 : by + bh - 10, bx + 10 : bx + bw - 10]
    assert 150 < board_pixels.mean() < 220


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"category": "black"}, r"category must be one of \['white', 'edges'\]"),
        ({"anomalies": {"kinds": ["crack"]}}, "anomalies.kinds must name some of"),
        ({"anomalies": {"min": 3, "max": 1}}, "anomalies: need 0 <= min <= max"),
        ({"width": [32, 40]}, "width and height must be at least 64 pixels"),
    ],
)
def test_bad_settings_are_refused_by_name(keys, message):
    with pytest.raises(ValueError, match=message):
        settings_of({**TINY, **keys})


def test_a_test_dataset_of_normal_boards_is_refused_saying_how_to_give_it_anomalies():
    from defectlab.config.checks import evaluation_problems

    config = {
        "seed": 1,
        "datasets": {"kb": {"generator": "boards", "split": "test", "count": 2, **TINY}},
        "experiments": {"x": {"model": "intensity", "test": "kb", "threshold": {"rule": "f1", "fit_on": "test"}}},
    }
    assert list(evaluation_problems(config)) == [
        (
            ("experiments", "x", "test"),
            "dataset 'kb' renders no defect (AUROC, AUPRO and recall need defect pixels): set its `anomalies`",
        )
    ]


def test_the_category_sets_the_board_defaults_and_the_spec_overrides_them():
    assert settings_of({})["board"] == DEFAULTS["board"]
    assert settings_of({"category": "edges"})["board"] == CATEGORY_DEFAULTS["edges"]["board"]
    assert settings_of({"category": "edges", "board": {"width": [0.5, 0.6]}})["board"] == {
        **CATEGORY_DEFAULTS["edges"]["board"],
        "width": [0.5, 0.6],
    }


@pytest.mark.parametrize(("size", "stride"), [(64, 32), (50, 30), (64, 96)])
def test_the_training_sums_are_those_of_the_patch_stores_tiles(size, stride):
    image = make(board(anomalies={"min": 2, "max": 3}, category="edges")).image
    grid = PatchGrid(size, stride, edges="none", scored=False)
    tiles = [image[y : y + size, x : x + size] for x, y in grid.positions(*image.shape[:2])]
    kept = np.stack([tile for tile in tiles if keeps(tile, 31)]).reshape(-1, 3).astype(np.int64)
    sums = training_sums(image, size, stride)
    assert (sums.positions, sums.kept, sums.pixels) == (len(tiles), len(kept) // size**2, len(kept))
    assert sums.sums == tuple(kept.sum(axis=0)) and sums.squares == tuple((kept**2).sum(axis=0))
    mean, std = sums.mean_std()
    assert np.allclose(mean, kept.mean(axis=0) / 255, atol=1e-12) and np.allclose(std, kept.std(axis=0) / 255)


def test_the_positive_test_patches_are_those_holding_a_defect_pixel_of_the_mask():
    for i in range(3):
        sample = board(i=i, anomalies={"min": 3, "max": 5}, specks={"min": 4, "max": 6})
        picture = make(sample)
        defects = np.isin(picture.mask, DEFECT_INDICES)
        positions = patch_positions(picture.exclusion, 64, 32)
        expected = sum(bool(defects[y : y + 64, x : x + 64].any()) for x, y in positions)
        assert positive_patches(sample, 64, 32) == (expected, len(positions)) and expected > 0


def test_a_board_with_two_anomalies_has_two_kinds():
    samples = [board(i=i, anomalies={"min": 1, "max": 6}) for i in range(40)]
    assert all(len({a.kind for a in s.anomalies}) >= min(2, len(s.anomalies)) for s in samples)
    assert sum(len(s.anomalies) >= 3 for s in samples) >= 10
    single = board(anomalies={"min": 3, "max": 3, "kinds": ["black_hole"]})  # one kind allowed: all of it
    assert [a.kind for a in single.anomalies] == ["black_hole"] * 3


# Calibration at the thesis's full scale (seed 002 §11.7): patches of 224 px at stride 112, the > 31 filter.
THESIS = {  # §3.2: per-channel mean and std of the training patches on [0, 1]; §3.5: the test patches' positive share
    "white": {"mean": (0.5815, 0.5940, 0.5015), "std": (0.2716, 0.2812, 0.2710), "positive_share": 0.027},
    "edges": {"mean": (0.6384, 0.6557, 0.5500), "std": (0.2846, 0.2897, 0.2772), "positive_share": 0.018},
}
SAMPLE = 3  # normal training boards rendered per category (about 2 s each)


@pytest.fixture(scope="module")
def training_boards():
    """The calibration numbers of a few normal full-scale training boards per category (rendered, JPEG and all)."""
    numbers = {}
    for category in THESIS:
        samples = [plan_board(f"kb-{category}-train", {"category": category}, 7, i) for i in range(SAMPLE)]
        numbers[category] = calibration(samples, (make(s) for s in samples))
    return numbers


@pytest.mark.parametrize("category", THESIS)
def test_the_category_statistics_are_the_thesiss_within_003(training_boards, category):
    numbers = training_boards[category]
    for key in ("mean", "std"):
        assert np.abs(numbers[key] - np.array(THESIS[category][key])).max() <= 0.03, (key, numbers[key])


@pytest.mark.parametrize("category", THESIS)
def test_71_to_81_percent_of_the_training_positions_are_kept(training_boards, category):
    assert 0.71 <= training_boards[category]["kept"] <= 0.81, training_boards[category]["kept_per_image"]


@pytest.mark.parametrize(("category", "count"), [("white", 11), ("edges", 9)])  # the thesis's test images
def test_the_full_scale_test_patches_are_positive_as_often_as_the_thesiss(category, count):
    spec = {"category": category, "anomalies": TEST_ANOMALIES[category]}
    samples = [plan_board(f"kb-{category}-test", spec, 7, i) for i in range(count)]
    numbers = calibration(samples)
    assert abs(numbers["positive_share"] - THESIS[category]["positive_share"]) <= 0.01, numbers
    assert 500 <= numbers["patches_per_image"] <= 900  # the thesis: about 834 and 874


@pytest.mark.parametrize("category", THESIS)
def test_most_anomalous_boards_carry_two_kinds(category):
    spec = {"category": category, "anomalies": TEST_ANOMALIES[category]}
    samples = [plan_board(f"kb-{category}-test", spec, 7, i) for i in range(50)]
    assert calibration(samples)["two_kinds"] >= 0.7
