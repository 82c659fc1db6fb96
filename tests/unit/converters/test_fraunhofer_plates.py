"""The real plates: LabelMe JSON files beside the images, one folder per plate, split by plate."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import fraunhofer_plates
from defectlab.data.layout import load_sample

from .builders import build_plates

SPLITS = {"by_group": {"plate01": "test", "plate02": "train"}}


def test_polygons_are_rasterised_where_drawn_with_mapped_classes(tmp_path, out):
    fraunhofer_plates.convert(build_plates(tmp_path / "plates"), out, splits=SPLITS)
    sample = load_sample(out, "plate01-side_a-img_000")
    assert (sample.image == 50).all()
    expected = np.zeros(sample.mask.shape, np.uint8)
    expected[3:8, 2:9] = class_index("scratch")  # square (2,3)-(8,7): rows 3-7, columns 2-8, edges included
    expected[2:6, 12:17] = class_index("water_stain")
    expected[12:15, 12:16] = class_index("water_stain")
    np.testing.assert_array_equal(sample.mask, expected)


def test_shapes_of_one_group_are_one_instance(tmp_path, out):
    index = fraunhofer_plates.convert(build_plates(tmp_path / "plates"), out, splits=SPLITS).set_index("id")
    assert index.loc["plate01-side_a-img_000", "n_instances"] == 2  # the scratch, the stain in two parts
    sample = load_sample(out, "plate01-side_a-img_000")
    assert sample.instances[2, 12] == sample.instances[12, 12] != sample.instances[3, 2] != 0
    assert index.loc["plate01-side_a-img_000", "label"] == "scratch|water stain"
    assert index.loc["plate01-side_a-img_000", "annotation"] == "polygon"
    assert index.loc["plate01-side_a-img_000", "source"] == "plate01/side_a/img_000.png"


def test_rectangles_are_marked_as_boxes(tmp_path, out):
    index = fraunhofer_plates.convert(build_plates(tmp_path / "plates"), out, splits=SPLITS).set_index("id")
    assert index.loc["plate01-side_a-img_001", "annotation"] == "bbox"
    sample = load_sample(out, "plate01-side_a-img_001")
    expected = np.zeros(sample.mask.shape, np.uint8)
    expected[10:17, 4:11] = class_index("sticker")  # corners (4,10), (10,16) included, as labelme draws
    np.testing.assert_array_equal(sample.mask, expected)
    assert index.loc["plate01-side_a-img_001", "label"] == "Sticker"


def test_plates_split_by_folder_and_clean_images_have_empty_masks(tmp_path, out):
    index = fraunhofer_plates.convert(build_plates(tmp_path / "plates"), out, splits=SPLITS).set_index("id")
    assert index["split"].to_dict() == {
        "plate01-side_a-img_000": "test",
        "plate01-side_a-img_001": "test",
        "plate02-img_000": "train",
    }
    clean = load_sample(out, "plate02-img_000")
    assert (clean.image == 70).all() and not clean.mask.any() and not clean.instances.any()
    assert index.loc["plate02-img_000", "n_instances"] == 0 and index.loc["plate02-img_000", "label"] == ""


def test_a_plate_without_a_split_is_an_error_naming_the_config_key(tmp_path, out):
    with pytest.raises(ValueError, match="no split for the plate folders \\['plate02'\\].*splits.by_group"):
        fraunhofer_plates.convert(build_plates(tmp_path / "plates"), out, splits={"by_group": {"plate01": "test"}})


def test_unknown_label_is_an_error_listing_the_known(tmp_path, out):
    source = build_plates(tmp_path / "plates", extra_label="rust")
    with pytest.raises(ValueError, match="unknown class 'rust' in .*labelme/img_000.json; known: .*water_stain"):
        fraunhofer_plates.convert(source, out, splits=SPLITS)


def test_extra_names_come_in_through_classes(tmp_path, out):
    source = build_plates(tmp_path / "plates", extra_label="Marker")
    fraunhofer_plates.convert(source, out, splits=SPLITS, classes={"marker": "sticker"})
    assert (load_sample(out, "plate01-side_a-img_000").mask[12:15, 12:16] == class_index("sticker")).all()


def test_a_labelme_file_whose_image_is_missing_is_an_error(tmp_path, out):
    source = build_plates(tmp_path / "plates")
    (source / "plate01/side_a/img_001.png").unlink()
    with pytest.raises(FileNotFoundError, match="image of .*img_001.json not found"):
        fraunhofer_plates.convert(source, out, splits=SPLITS)
