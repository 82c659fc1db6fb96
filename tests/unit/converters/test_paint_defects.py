"""The paint defects: a Roboflow COCO export, {train,valid,test}/_annotations.coco.json beside the images."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import paint_defects
from defectlab.data.layout import load_sample

from .builders import build_paint


def test_boxes_are_filled_and_marked_bbox(tmp_path, out):
    index = paint_defects.convert(build_paint(tmp_path / "paint"), out).set_index("id")
    t1 = load_sample(out, "train-t1_jpg.rf.aa11")
    expected = np.zeros(t1.mask.shape, np.uint8)
    expected[3:7, 2:7] = class_index("other_defect")  # dirt, bbox [2, 3, 5, 4]
    np.testing.assert_array_equal(t1.mask, expected)
    assert index.loc["train-t1_jpg.rf.aa11", "annotation"] == "bbox"
    assert index.loc["train-t1_jpg.rf.aa11", "label"] == "dirt"


def test_classes_instances_and_a_polygon_on_its_own_box(tmp_path, out):
    index = paint_defects.convert(build_paint(tmp_path / "paint"), out).set_index("id")
    t2 = load_sample(out, "train-t2_jpg.rf.bb22")
    expected = np.zeros(t2.mask.shape, np.uint8)
    expected[8:10, 1:7] = class_index("scratch")
    expected[1:4, 10:14] = class_index("water_stain")  # its polygon is its bbox: a box, filled as one
    np.testing.assert_array_equal(t2.mask, expected)
    assert index.loc["train-t2_jpg.rf.bb22", "n_instances"] == 2
    assert index.loc["train-t2_jpg.rf.bb22", "annotation"] == "bbox"
    assert index.loc["train-t2_jpg.rf.bb22", "label"] == "scratch|water marks"
    assert np.abs(t2.image.astype(int) - 20).max() <= 2  # JPEG


def test_polygons_are_rasterised_and_splits_follow_the_export(tmp_path, out):
    index = paint_defects.convert(build_paint(tmp_path / "paint"), out).set_index("id")
    assert index["split"].to_dict() == {
        "train-t1_jpg.rf.aa11": "train",
        "train-t2_jpg.rf.bb22": "train",
        "val-v1_jpg.rf.cc33": "val",
        "test-e1_jpg.rf.dd44": "test",
    }
    v1 = load_sample(out, "val-v1_jpg.rf.cc33")
    expected = np.zeros(v1.mask.shape, np.uint8)
    expected[2:6, 3:10] = expected[5:9, 6:10] = class_index("other_defect")  # runs: an L polygon, edges included
    np.testing.assert_array_equal(v1.mask, expected)
    assert index.loc["val-v1_jpg.rf.cc33", "annotation"] == "polygon"
    assert index.loc["val-v1_jpg.rf.cc33", "source"] == "valid/v1_jpg.rf.cc33.jpg"


def test_an_image_without_objects_has_empty_masks(tmp_path, out):
    index = paint_defects.convert(build_paint(tmp_path / "paint"), out).set_index("id")
    empty = load_sample(out, "test-e1_jpg.rf.dd44")
    assert not empty.mask.any() and not empty.instances.any()
    assert index.loc["test-e1_jpg.rf.dd44", "n_instances"] == 0 and index.loc["test-e1_jpg.rf.dd44", "label"] == ""


def test_unknown_category_is_an_error_listing_the_known(tmp_path, out):
    with pytest.raises(ValueError, match="unknown class 'rust' .*known: dirt, drop, drops, run, runs, scratch"):
        paint_defects.convert(build_paint(tmp_path / "paint", unknown_category=True), out)


def test_missing_image_is_an_error(tmp_path, out):
    source = build_paint(tmp_path / "paint")
    (source / "valid/v1_jpg.rf.cc33.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="v1_jpg.rf.cc33.jpg"):
        paint_defects.convert(source, out)
