"""The paint defects: a Roboflow COCO export, {train,valid,test}/_annotations.coco.json beside the images, or a
YOLOv8 export, data.yaml + {train,valid,test}/{images,labels}; its objects table and camera-stem report."""

import logging

import numpy as np
import pandas as pd
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import paint_defects
from defectlab.data.layout import load_sample

from .builders import build_paint, build_paint_yolo


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


def test_objects_are_the_instances_of_each_mask_with_the_export_category(tmp_path, out, caplog):
    with caplog.at_level(logging.WARNING, logger=paint_defects.__name__):
        index = paint_defects.convert(build_paint(tmp_path / "paint", repeats=True), out)
    objects = pd.read_parquet(out / "objects.parquet")
    assert tuple(objects.columns) == paint_defects.OBJECT_COLUMNS
    assert set(objects["id"]) <= set(index["id"])
    for image_id, count in zip(index["id"], index["n_instances"], strict=True):
        instances = load_sample(out, image_id).instances
        rows = objects[objects["id"] == image_id]
        assert sorted(rows["instance"]) == sorted(set(np.unique(instances)) - {0}) == list(range(1, count + 1))
        for row in rows.itertuples():
            ys, xs = np.nonzero(instances == row.instance)
            box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # x1, y1: one past the last pixel
            assert (row.x0, row.y0, row.x1, row.y1, row.area) == (*box, len(xs))
    table = objects.set_index(["id", "instance"])
    assert table.loc[("train-t1_jpg.rf.aa11", 1)].tolist() == ["dirt", "other_defect", 2, 3, 7, 7, 20, "box"]
    assert table.loc[("val-v1_jpg.rf.cc33", 1)].tolist() == ["runs", "other_defect", 3, 2, 10, 9, 40, "polygon"]
    assert table.loc[("train-t2_jpg.rf.bb22", 2)].tolist() == ["water marks", "water_stain", 10, 1, 14, 4, 12, "box"]
    # the dirt box under the scratch has no instance; the runs box takes the scratch's pixel (3, 3)
    covered = table.loc["train-DSC_0013_JPG.rf.c92d"]
    assert covered["category"].tolist() == ["scratch", "runs"]
    assert covered["area"].tolist() == [23, 16]
    assert "1 object(s) with no pixel of their own" in caplog.text


@pytest.mark.parametrize("names", ["list", "mapping"])
def test_a_yolo_export_converts_to_the_masks_and_ids_of_the_coco_export(tmp_path, names):
    coco = paint_defects.convert(build_paint(tmp_path / "coco", repeats=True), tmp_path / "from_coco")
    yolo = paint_defects.convert(build_paint_yolo(tmp_path / "yolo", names, repeats=True), tmp_path / "from_yolo")
    assert yolo["source"].iloc[0].startswith("train/images/")
    pd.testing.assert_frame_equal(yolo.drop(columns="source"), coco.drop(columns="source"))
    for image_id in coco["id"]:
        a, b = load_sample(tmp_path / "from_coco", image_id), load_sample(tmp_path / "from_yolo", image_id)
        np.testing.assert_array_equal(b.mask, a.mask)
        np.testing.assert_array_equal(b.instances, a.instances)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "from_yolo/objects.parquet"), pd.read_parquet(tmp_path / "from_coco/objects.parquet")
    )


def test_a_yolo_image_without_a_label_file_has_no_objects(tmp_path, out):
    source = build_paint_yolo(tmp_path / "paint")
    (source / "train/labels/t1_jpg.rf.aa11.txt").unlink()
    index = paint_defects.convert(source, out).set_index("id")
    assert index.loc["train-t1_jpg.rf.aa11", "n_instances"] == 0 and index.loc["train-t1_jpg.rf.aa11", "label"] == ""


@pytest.mark.parametrize(
    ("file", "line", "message"),
    [
        ("train/labels/t1_jpg.rf.aa11.txt", "4 0.5 0.5 0.1 0.1", "line 1: class 4 is not in the names"),
        ("train/labels/t1_jpg.rf.aa11.txt", "0 8 6 5 4", "line 1: coordinates outside \\[0, 1\\]"),
        ("train/labels/t1_jpg.rf.aa11.txt", "0 0.5 0.5 0.1", "3 coordinates; expected 4"),
        ("train/labels/t1_jpg.rf.aa11.txt", "0", "0 coordinates; expected 4"),
        ("train/labels/t1_jpg.rf.aa11.txt", "dirt 0.5 0.5 0.1 0.1", "not 'class x y ...' numbers"),
        (
            "valid/labels/v9_jpg.rf.ee55.txt",
            "0 0.5 0.5 0.1 0.1",
            "label files without an image: \\[v9_jpg.rf.ee55.txt\\]",
        ),
    ],
)
def test_bad_yolo_labels_are_refused_with_file_and_line(tmp_path, out, file, line, message):
    source = build_paint_yolo(tmp_path / "paint")
    (source / file).write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        paint_defects.convert(source, out)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("DSC_0013_JPG.rf.88e3c1.jpg", "DSC_0013"),
        ("t1_jpg.rf.aa11.jpg", "t1"),
        ("IMG_5_png.rf.0f.jpg", "IMG_5"),
        ("plain.rf.abc.jpg", "plain"),
        ("x_jpg.rf.a1_jpg.rf.b2.jpg", "x"),  # exported twice
        ("photo_jpg.jpg", "photo_jpg"),  # not Roboflow's: the file's stem
    ],
)
def test_camera_stem_is_the_name_before_roboflows_suffix(name, stem):
    assert paint_defects.camera_stem(name) == stem


def test_camera_stems_in_two_splits_or_twice_in_one_are_reported(tmp_path, out, caplog):
    with caplog.at_level(logging.WARNING, logger=paint_defects.__name__):
        index = paint_defects.convert(build_paint(tmp_path / "paint", repeats=True), out).set_index("id")
    assert index.loc["train-t1_jpg.rf.aa11", "camera_stem"] == "t1"
    assert index.loc["val-DSC_0021_JPG.rf.3c4d", "camera_stem"] == "DSC_0021"
    report = pd.read_parquet(out / "camera_stems.parquet")
    assert tuple(report.columns) == paint_defects.STEM_COLUMNS
    assert report.values.tolist() == [
        ["DSC_0013", "train", 2, 2, 0, 0, False, True, "train-DSC_0013_JPG.rf.88e3|train-DSC_0013_JPG.rf.c92d"],
        ["DSC_0021", "train|val", 2, 1, 1, 0, True, False, "train-DSC_0021_JPG.rf.1a2b|val-DSC_0021_JPG.rf.3c4d"],
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "more than one split: 1 [DSC_0021 (train|val)]" in w and "one split: 1 [DSC_0013]" in w for w in warnings
    )


def test_no_repeated_stem_writes_an_empty_report_and_no_warning(tmp_path, out, caplog):
    with caplog.at_level(logging.WARNING, logger=paint_defects.__name__):
        paint_defects.convert(build_paint(tmp_path / "paint"), out)
    report = pd.read_parquet(out / "camera_stems.parquet")
    assert report.empty and tuple(report.columns) == paint_defects.STEM_COLUMNS
    assert not [r for r in caplog.records if "camera stems" in r.getMessage()]


def test_an_unknown_layout_is_refused_naming_both_exports(tmp_path, out):
    source = tmp_path / "paint"
    (source / "train").mkdir(parents=True)
    (source / "README.txt").write_text("not an export\n")
    expected = r"not a Roboflow export: expected \{train,valid,test\}/_annotations.coco.json .*or data.yaml with"
    with pytest.raises(FileNotFoundError, match=expected):
        paint_defects.convert(source, out)


def test_coco_and_yolo_in_one_folder_are_refused(tmp_path, out):
    source = build_paint_yolo(build_paint(tmp_path / "paint"))
    with pytest.raises(ValueError, match="both a COCO export and a YOLO data.yaml"):
        paint_defects.convert(source, out)
