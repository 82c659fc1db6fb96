"""Magnetic Tile Defects: MT_{Class}/Imgs/{stem}.jpg with the {stem}.png beside it."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import magnetic_tile
from defectlab.data.layout import load_sample

from .builders import MT_BLOWHOLE, MT_CRACK, boxes, build_magnetic_tile, grey, save


def test_masks_land_on_their_images_with_mapped_classes(tmp_path, out):
    index = magnetic_tile.convert(build_magnetic_tile(tmp_path / "mt"), out).set_index("id")
    blowhole = load_sample(out, "blowhole-exp1_num_2")
    assert np.abs(blowhole.image.astype(int) - 110).max() <= 2  # JPEG
    np.testing.assert_array_equal(blowhole.mask, (MT_BLOWHOLE > 0) * class_index("other_defect"))
    crack = load_sample(out, "crack-exp2_num_1")
    np.testing.assert_array_equal(crack.mask, (MT_CRACK > 0) * class_index("other_defect"))
    assert index.loc["crack-exp2_num_1", "n_instances"] == 2
    assert index.loc["crack-exp2_num_1", "label"] == "Crack"
    assert (
        index.loc["crack-exp2_num_1", "source"] == "Magnetic-tile-defect-datasets.-master/MT_Crack/Imgs/exp2_num_1.jpg"
    )


def test_free_tiles_have_empty_masks_even_if_their_mask_is_not(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    save(
        source / "Magnetic-tile-defect-datasets.-master/MT_Free/Imgs/exp3_num_0.png", boxes((slice(0, 4), slice(0, 4)))
    )
    index = magnetic_tile.convert(source, out).set_index("id")
    free = load_sample(out, "free-exp3_num_0")
    assert np.abs(free.image.astype(int) - 140).max() <= 2
    assert not free.mask.any() and not free.instances.any()
    assert index.loc["free-exp3_num_0", "label"] == "Free" and index.loc["free-exp3_num_0", "n_instances"] == 0


def test_no_split_of_its_own_and_a_seeded_validation_from_train(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    plain = magnetic_tile.convert(source, tmp_path / "plain")
    assert plain["split"].value_counts().to_dict() == {"train": 8}
    splits = {"val_fraction": 0.5, "val_from": "train", "seed": 11}
    first = magnetic_tile.convert(source, out, splits=splits)
    second = magnetic_tile.convert(source, tmp_path / "again", splits=splits)
    assert first.equals(second)
    val = first[first["split"] == "val"]
    assert len(val) == 4 and (val["n_instances"] > 0).sum() == 2  # 2 of 4 defective, 2 of 4 free
    with pytest.raises(ValueError, match="no 'test' images"):
        magnetic_tile.convert(source, tmp_path / "bad", splits={"val_fraction": 0.5})


def test_unknown_class_folder_is_an_error_listing_the_known(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    (source / "Magnetic-tile-defect-datasets.-master/MT_Crack").rename(
        source / "Magnetic-tile-defect-datasets.-master/MT_Rust"
    )
    with pytest.raises(ValueError, match="unknown class 'Rust' .*known: blowhole, break, crack, fray, free, uneven"):
        magnetic_tile.convert(source, out)


def test_missing_mask_is_an_error(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    (source / "Magnetic-tile-defect-datasets.-master/MT_Blowhole/Imgs/exp1_num_1.png").unlink()
    with pytest.raises(FileNotFoundError, match="exp1_num_1.png"):
        magnetic_tile.convert(source, out)


def test_the_clutch_studys_selection_drops_fray_and_keeps_uneven_as_defect_free(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    base = source / "Magnetic-tile-defect-datasets.-master"
    for folder in ("MT_Fray", "MT_Uneven"):
        save(base / f"{folder}/Imgs/exp4_num_1.jpg", grey(90))
        save(base / f"{folder}/Imgs/exp4_num_1.png", MT_CRACK)
    index = magnetic_tile.convert(source, out, classes={"uneven": "background"}, exclude=["fray"]).set_index("id")
    assert "fray-exp4_num_1" not in index.index and len(index) == 8 + 1
    uneven = load_sample(out, "uneven-exp4_num_1")
    assert not uneven.mask.any() and index.loc["uneven-exp4_num_1", "label"] == "Uneven"
    with pytest.raises(ValueError, match=r"exclude names unknown class\(es\) \['rust'\]"):
        magnetic_tile.convert(source, tmp_path / "bad", exclude=["rust"])


def test_tiles_of_several_sizes_are_padded_to_the_studys_canvas(tmp_path, out):
    source = build_magnetic_tile(tmp_path / "mt")
    save(source / "Magnetic-tile-defect-datasets.-master/MT_Crack/Imgs/exp2_num_3.jpg", grey(125, h=9, w=11))
    save(source / "Magnetic-tile-defect-datasets.-master/MT_Crack/Imgs/exp2_num_3.png", MT_CRACK[:9, :11])
    index = magnetic_tile.convert(source, out, pad_to={"width": 16, "height": 12}).set_index("id")
    small = load_sample(out, "crack-exp2_num_3")
    assert small.image.shape == (12, 16, 3) and not small.image[9:].any() and not small.image[:, 11:].any()
    np.testing.assert_array_equal(small.mask[:9, :11] > 0, MT_CRACK[:9, :11] > 0)
    assert index.loc["crack-exp2_num_3", ["original_width", "original_height"]].tolist() == [11, 9]
    assert load_sample(out, "crack-exp2_num_1").mask.shape == (12, 16)
