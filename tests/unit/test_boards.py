"""The kitchen-board generator (seed 002 §11.7): same seed same bytes; each anomaly kind's mask is where the
image changed (rendered with and without it); stickers and specks never in the defect mask; exclusions valid,
labels covering the stickers, borders inside the board; vertical stripes on the background; bad keys refused."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from defectlab.classes import DEFECT_INDICES, class_index
from defectlab.data.exclusions import read_exclusions
from defectlab.data.layout import check_dataset
from defectlab.synth.boards import KINDS, make, plan_board, settings_of, write_samples

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


def test_the_background_shows_vertical_stripes():
    sample = board(width=[512, 512], height=[512, 512])
    image = make(sample).image.astype(float).mean(axis=2)
    bx, by, bw, bh = sample.board
    background = image[: by - 4, :] if by >= 12 else image[by + bh + 4 :, :]  # away from the board's blur
    assert background.std(axis=0).size and background.mean(axis=0).std() >= 3 * background.mean(axis=1).std()
    assert background.mean() < 31  # dropped by the thesis's mean-intensity filter
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
