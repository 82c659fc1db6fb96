"""The shared parts: run-length decoding, rendering of regions, the validation carve, the registry."""

import numpy as np
import pandas as pd
import pytest

from defectlab.classes import BY_NAME, class_index
from defectlab.data.converters import CLASS_MAPS, CONVERTERS, convert
from defectlab.data.converters.common import (
    INDEX_COLUMNS,
    Outline,
    RunLength,
    Splits,
    carve_validation,
    decode_rle,
    make_id,
    read_binary_mask,
    read_rgb,
    render,
)

from .builders import save


def test_rle_decodes_a_hand_made_case_column_major_and_one_based():
    # 4 x 3 image, pixels numbered down the columns: 1-4 | 5-8 | 9-12
    decoded = decode_rle("2 3 10 2", 4, 3)
    expected = np.array([[0, 0, 0], [1, 0, 1], [1, 0, 1], [1, 0, 0]], bool)
    np.testing.assert_array_equal(decoded, expected)
    np.testing.assert_array_equal(decode_rle("", 4, 3), np.zeros((4, 3), bool))
    np.testing.assert_array_equal(decode_rle("1 12", 4, 3), np.ones((4, 3), bool))


@pytest.mark.parametrize(
    ("encoded", "message"),
    [("1 13", "outside the 4x3 image"), ("0 2", "outside"), ("3", "odd number"), ("1 x", "not integers")],
)
def test_rle_refuses_bad_strings(encoded, message):
    with pytest.raises(ValueError, match=message):
        decode_rle(encoded, 4, 3, where="train.csv: a.jpg class 1")


def test_binary_masks_of_either_convention_and_their_noise(tmp_path):
    ones = np.zeros((4, 5), np.uint8)
    ones[1, 2] = 1
    np.testing.assert_array_equal(read_binary_mask(save(tmp_path / "ones.png", ones), (4, 5)), ones > 0)
    bytes_ = np.zeros((4, 5), np.uint8)
    bytes_[2, 1:4] = 255
    bytes_[0, 0] = 3  # compression or resampling noise: not a defect
    bytes_[3, 4] = 127
    np.testing.assert_array_equal(read_binary_mask(save(tmp_path / "bytes.png", bytes_), (4, 5)), bytes_ == 255)
    with pytest.raises(ValueError, match="bytes.png is 4x5, its image 5x4"):
        read_binary_mask(tmp_path / "bytes.png", (5, 4))
    with pytest.raises(FileNotFoundError, match="cannot read mask .*none.png"):
        read_binary_mask(tmp_path / "none.png", (4, 5))


def test_images_become_rgb_uint8(tmp_path):
    bgra = np.zeros((2, 3, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 200, 10, 255
    assert read_rgb(save(tmp_path / "bgra.png", bgra))[0, 0].tolist() == [10, 0, 200]
    deep = np.full((2, 3), 65535, np.uint16)
    deep[0, 0] = 257 * 100
    rgb = read_rgb(save(tmp_path / "deep.png", deep))
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    assert rgb[0, 0].tolist() == [100, 100, 100] and rgb[1, 1].tolist() == [255, 255, 255]


def test_render_counts_components_of_masks_and_groups_of_outlines():
    size = (10, 12)
    runs = RunLength("1 2 " + f"{5 * 10 + 6} 3", "scratch", "x")  # two separate runs: two instances
    square = ((1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0))
    far = ((8.0, 6.0), (10.0, 6.0), (10.0, 8.0), (8.0, 8.0))
    outlines = [
        Outline("water_stain", "polygon", (square,), group=7),
        Outline("water_stain", "polygon", (far,), group=7),  # same group: the same instance
        Outline("dent", "box", (((4.0, 0.0), (6.0, 2.0)),)),
    ]
    mask, instances = render([runs, *outlines], size)
    assert mask.dtype == np.uint8 and instances.dtype == np.uint16
    assert instances.max() == 4
    assert len(np.unique(instances[mask == class_index("water_stain")])) == 1
    np.testing.assert_array_equal(mask[1:4, 1:4], class_index("water_stain"))
    np.testing.assert_array_equal(mask[0:2, 4:6], class_index("dent"))  # a box covers [x0, x1) x [y0, y1)
    assert mask[2, 4] == 0 and mask[0, 6] == 0
    assert mask[0, 0] == mask[1, 0] == class_index("scratch")


def test_labelme_circles_lines_and_points_are_drawn_as_labelme_draws_them():
    circle = Outline("dent", "circle", (((10.0, 10.0), (13.0, 10.0)),)).pixels((21, 21))
    distance = np.hypot(*np.mgrid[-10:11, -10:11])  # from the centre: radius 3, the point given on it
    assert circle[distance <= 2.5].all() and not circle[distance >= 3.5].any() and circle[10, 13]
    line = Outline("scratch", "polyline", (((2.0, 10.0), (18.0, 10.0)),)).pixels((21, 21))
    assert line[10, 2:19].all() and line[6, 10] and not line[0, 10]  # 10 px wide
    point = Outline("bump", "point", (((10.0, 10.0),),)).pixels((21, 21))
    assert point[10, 15] and point[5, 10] and not point[10, 16] and not point[4, 10]


def test_render_draws_later_regions_over_earlier_ones_and_skips_background():
    whole = ((0.0, 0.0), (5.0, 0.0), (5.0, 5.0), (0.0, 5.0))
    corner = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    mask, instances = render(
        [
            Outline("scratch", "polygon", (whole,)),
            Outline("background", "polygon", (whole,)),
            Outline("sticker", "polygon", (corner,)),
        ],
        (8, 8),
    )
    assert mask[0, 0] == class_index("sticker") and mask[4, 4] == class_index("scratch")
    assert sorted(np.unique(instances).tolist()) == [0, 1, 2]


def carve_pool() -> pd.DataFrame:
    rows = [(f"a-good-{i}", "test", "a", 0) for i in range(10)]
    rows += [(f"a-bad-{i}", "test", "a", 2) for i in range(6)]
    rows += [(f"b-bad-{i}", "test", "b", 1) for i in range(3)]
    rows += [(f"a-train-{i}", "train", "a", 0) for i in range(5)]
    return pd.DataFrame(rows, columns=["id", "split", "object", "n_instances"])


def test_validation_carve_is_seeded_stratified_and_leaves_the_other_split_alone():
    index = carve_pool()
    carved = carve_validation(index, Splits(val_fraction=0.5, val_from="test", seed=3), "ds")
    val = carved[carved["split"] == "val"]
    assert val["id"].str.startswith("a-good").sum() == 5
    assert val["id"].str.startswith("a-bad").sum() == 3
    assert val["id"].str.startswith("b-bad").sum() == 2  # round(1.5) half up
    assert (carved[carved["id"].str.startswith("a-train")]["split"] == "train").all()
    again = carve_validation(index, Splits(val_fraction=0.5, val_from="test", seed=3), "ds")
    pd.testing.assert_frame_equal(carved, again)
    other = carve_validation(index, Splits(val_fraction=0.5, val_from="test", seed=4), "ds")
    assert set(other.loc[other["split"] == "val", "id"]) != set(val["id"])
    assert carve_validation(index, Splits(), "ds").equals(index)


def test_validation_carve_needs_images_in_the_split_it_carves_from():
    train_only = carve_pool().assign(split="train")
    with pytest.raises(ValueError, match="no 'test' images .*set splits.val_from"):
        carve_validation(train_only, Splits(val_fraction=0.2), "ds")


def test_splits_from_config_mappings_are_checked():
    assert Splits.of({"val_fraction": 0.2, "val_from": "train", "seed": 5}) == Splits(0.2, "train", 5)
    assert Splits.of(None) == Splits()
    with pytest.raises(ValueError, match="unknown keys \\['fraction'\\]"):
        Splits.of({"fraction": 0.2})
    with pytest.raises(ValueError, match="val_from"):
        Splits(val_fraction=0.2, val_from="val")
    with pytest.raises(ValueError, match="val_fraction"):
        Splits(val_fraction=1.0)
    with pytest.raises(ValueError, match="by_group"):
        Splits(by_group={"plate01": "holdout"})


def test_ids_are_file_name_safe():
    assert make_id("metal nut", "test", "scratch/head", "000") == "metal_nut-test-scratch_head-000"


def test_registry_names_every_converter_and_refuses_unknown_ones(tmp_path):
    expected = {"mvtec_ad", "kolektorsdd2", "dagm2007", "magnetic_tile", "fraunhofer_plates", "paint_defects"}
    expected |= {"kitchen_boards", "clutch"}
    assert expected | {"severstal"} == set(CONVERTERS)
    assert all(callable(c) for c in CONVERTERS.values())
    with pytest.raises(ValueError, match="no converter for dataset 'kaggle'; known: mvtec_ad"):
        convert("kaggle", tmp_path, tmp_path / "out")
    assert INDEX_COLUMNS[:6] == ("id", "split", "object", "view", "light", "seed")


def test_tables_name_only_project_classes():
    for table in CLASS_MAPS.values():
        for name, target in table.names.items():
            assert target in BY_NAME, (table.dataset, name, target)
