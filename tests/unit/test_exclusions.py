"""The thesis's exclusion areas: its worked example of the border grid (870 positions, 762 kept), refusals of bad
JSON naming the file, image and key, and the excluded pixels."""

import json

import numpy as np
import pytest

from defectlab.data.exclusions import (
    Exclusion,
    as_json,
    border_positions,
    excluded_pixels,
    intersects,
    parse_exclusions,
    patch_positions,
    read_exclusions,
)

THESIS = {
    "231117_0302_1.jpg": {
        "labels": [[659, 2231, 600, 1239], [2064, 1792, 404, 294]],
        "borders": [[617, 161, 3279, 3424]],
    }
}
SIZE = {"231117_0302_1.jpg": (4074, 4730)}


def test_the_thesis_example_gives_870_positions_and_keeps_762():
    exclusion = read_exclusions_of(THESIS)["231117_0302_1.jpg"]
    grid = border_positions(exclusion.borders[0], 224, 112)
    assert len(grid) == 29 * 30 == 870
    xs, ys = sorted({x for x, _ in grid}), sorted({y for _, y in grid})
    assert xs[:3] == [617, 729, 841] and xs[-3:] == [3529, 3641, 3672]
    assert ys[:3] == [161, 273, 385] and ys[-3:] == [3185, 3297, 3361]
    first, second = exclusion.labels
    assert sum(intersects(window(p), first) for p in grid) == 78
    assert sum(intersects(window(p), second) for p in grid) == 30
    kept = patch_positions(exclusion, 224, 112)
    assert len(kept) == 762 and kept == [
        p for p in grid if not (intersects(window(p), first) or intersects(window(p), second))
    ]
    regular = [(x, y) for x, y in kept if x != 3672 and y != 3361]
    assert len(regular) == 710  # without the flush column and row


def window(position: tuple[int, int]) -> tuple[int, int, int, int]:
    return (*position, 224, 224)


def read_exclusions_of(data: dict, sizes=SIZE, required=True):
    return parse_exclusions(data, "boards.json", sizes, required)


def test_the_grid_of_a_border_the_stride_fits_has_no_extra_column_and_too_small_has_none():
    assert border_positions((10, 20, 8, 6), 4, 2) == [(x, y) for y in (20, 22) for x in (10, 12, 14)]
    assert border_positions((0, 0, 5, 4), 4, 2) == [(0, 0), (1, 0)]  # 5 - 4 = 1: a flush column at x = 1
    assert border_positions((0, 0, 3, 10), 4, 2) == []


def test_touching_edges_do_not_intersect_and_several_borders_keep_a_position_once():
    assert not intersects((0, 0, 4, 4), (4, 0, 2, 2)) and intersects((0, 0, 4, 4), (3, 3, 2, 2))
    twice = Exclusion(borders=((0, 0, 8, 4), (4, 0, 8, 4)))
    assert patch_positions(twice, 4, 4) == [(0, 0), (4, 0), (8, 0)]


def test_excluded_pixels_are_outside_every_border_or_inside_a_label():
    mask = excluded_pixels(Exclusion(borders=((1, 1, 4, 3),), labels=((2, 2, 1, 1),)), 5, 6)
    expected = np.ones((5, 6), bool)
    expected[1:4, 1:5] = False
    expected[2, 2] = True
    assert np.array_equal(mask, expected)


def test_a_json_file_round_trips(tmp_path):
    path = tmp_path / "exclusions.json"
    path.write_text(json.dumps(THESIS))
    exclusions = read_exclusions(path, SIZE)
    assert as_json(exclusions) == THESIS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "boards.json: expected an object keyed by image file name"),
        (
            {"a.jpg": {"borders": [[0, 0, 10, 10]], "stickers": []}},
            r"boards.json: a.jpg: unknown key\(s\) \['stickers'\]",
        ),
        ({"a.jpg": {"labels": []}}, "boards.json: a.jpg: no 'borders'"),
        ({"a.jpg": {"borders": []}}, "boards.json: a.jpg: borders: empty"),
        ({"a.jpg": {"borders": [[0, 0, 10]]}}, r"boards.json: a.jpg: borders\[0\]: expected \[x, y, width, height\]"),
        (
            {"a.jpg": {"borders": [[0, 0, 10.5, 10]]}},
            r"borders\[0\]: expected \[x, y, width, height\] as four integers",
        ),
        ({"a.jpg": {"borders": [[0, 0, 0, 10]]}}, r"borders\[0\]: width and height must be > 0"),
        (
            {"a.jpg": {"borders": [[0, 0, 10, 10]], "labels": [[95, 0, 10, 10]]}},
            r"labels\[0\]: \[95, 0, 10, 10\] reaches outside the image of 100 x 50",
        ),
        (
            {"a.jpg": {"borders": [[0, 0, 10, 10]]}, "c.jpg": {"borders": [[0, 0, 1, 1]]}},
            "boards.json: c.jpg: no such image",
        ),
        ({}, r"boards.json: no entry for image\(s\) a.jpg, b.jpg"),
    ],
)
def test_bad_exclusions_are_refused_naming_file_image_and_key(data, message):
    with pytest.raises(ValueError, match=message):
        parse_exclusions(data, "boards.json", {"a.jpg": (100, 50), "b.jpg": (100, 50)})


def test_a_missing_entry_is_allowed_when_not_required_and_bad_json_is_named(tmp_path):
    assert parse_exclusions({}, "x.json", {"a.jpg": (10, 10)}, required=False) == {}
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(ValueError, match="broken.json: not valid JSON"):
        read_exclusions(path)
