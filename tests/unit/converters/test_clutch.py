"""RealClutch / SynthClutch in the converter's guessed layout: one folder per object, LabelMe files or per-class
mask files per view, object-wise splits from splits.csv or drawn as in the paper."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import clutch
from defectlab.data.layout import load_sample

from .builders import boxes, grey, save, write

H, W = 24, 32
DENT = [[2, 3], [8, 3], [8, 7], [2, 7]]  # x, y: fills rows 3-7, columns 2-8 (edges included)
SCRATCH = [[12, 10], [20, 10], [20, 12], [12, 12]]  # rows 10-12, columns 12-20
SYNTH_DENT = (slice(2, 6), slice(3, 10))
SYNTH_SCRATCHES = ((slice(15, 17), slice(1, 12)), (slice(20, 22), slice(20, 30)))  # two apart: two instances
RAW_16 = 257 * 100 + 129  # round(v / 257) = 101, where v >> 8 would give 100


def labelme(shapes: list[tuple[str, list[list[int]]]]) -> str:
    listed = [{"label": label, "points": points, "group_id": None, "shape_type": "polygon"} for label, points in shapes]
    return json.dumps({"version": "5.5.0", "shapes": listed, "imagePath": "x.png", "imageHeight": H, "imageWidth": W})


def build_real(root, extra_label=None):
    """6 objects x 2 views: r1-r3 defect-free (no LabelMe file), r4-r6 with a dent and a scratch on view 000."""
    part = root / "real"
    for k in range(1, 7):
        for view in (0, 1):
            save(part / f"r{k}/images/{view:03d}.png", grey(10 * k + view, H, W))
        if k > 3:
            shapes = [("dent", DENT), ("Scratch", SCRATCH)] + ([(extra_label, DENT)] if extra_label else [])
            write(part / f"r{k}/images/000.json", labelme(shapes))
    return root


def build_synthetic(root):
    """20 objects x 2 views: s01-s10 with empty mask files, s11-s20 with a dent and two scratches on view 000."""
    part = root / "synthetic"
    for k in range(1, 21):
        for view in (0, 1):
            save(part / f"s{k:02d}/images/{view:03d}.png", grey(100 + k, H, W))
        on = k > 10
        save(part / f"s{k:02d}/masks/000_dent.png", boxes(SYNTH_DENT, h=H, w=W) if on else boxes(h=H, w=W))
        save(part / f"s{k:02d}/masks/000_scratch.png", boxes(*SYNTH_SCRATCHES, h=H, w=W) if on else boxes(h=H, w=W))
    save(part / "s20/images/001.png", np.full((H, W), RAW_16, np.uint16))
    return root


def objects_by_split(index: pd.DataFrame) -> dict[str, set[str]]:
    return {split: set(group["clutch"]) for split, group in index.groupby("split")}


def test_polygons_are_rasterised_with_their_classes_and_shapes_as_instances(tmp_path, out):
    index = clutch.convert(build_real(tmp_path / "clutch") / "real", out).set_index("id")
    sample = load_sample(out, "real-r4-000")
    assert (sample.image == 40).all()
    expected = np.zeros((H, W), np.uint8)
    expected[3:8, 2:9] = class_index("dent")
    expected[10:13, 12:21] = class_index("scratch")
    np.testing.assert_array_equal(sample.mask, expected)
    assert sorted(np.unique(sample.instances)) == [0, 1, 2]
    row = index.loc["real-r4-000"]
    assert (row["object"], row["clutch"], row["view"], row["n_instances"]) == ("real", "r4", 0, 2)
    assert (row["label"], row["annotation"], row["source"]) == ("Scratch|dent", "polygon", "real/r4/images/000.png")
    clean = index.loc["real-r1-001"]
    assert (clean["view"], clean["n_instances"], clean["label"], clean["annotation"]) == (1, 0, "negative", "polygon")
    assert not load_sample(out, "real-r1-001").mask.any()


def test_mask_files_are_read_per_class_with_components_as_instances(tmp_path, out):
    index = clutch.convert(build_synthetic(tmp_path / "clutch") / "synthetic", out).set_index("id")
    sample = load_sample(out, "synthetic-s15-000")
    expected = np.zeros((H, W), np.uint8)
    expected[SYNTH_DENT] = class_index("dent")
    for rows, cols in SYNTH_SCRATCHES:
        expected[rows, cols] = class_index("scratch")
    np.testing.assert_array_equal(sample.mask, expected)
    row = index.loc["synthetic-s15-000"]
    assert (row["n_instances"], row["label"], row["annotation"]) == (3, "positive", "mask")
    assert not load_sample(out, "synthetic-s05-000").mask.any()  # an empty mask file marks nothing


def test_a_16_bit_image_becomes_8_bit_by_rounding_v_over_257(tmp_path, out):
    source = build_synthetic(tmp_path / "clutch") / "synthetic"
    assert cv2.imread(str(source / "s20/images/001.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    clutch.convert(source, out)
    image = load_sample(out, "synthetic-s20-001").image
    assert image.dtype == np.uint8 and (image == 101).all()


def test_real_objects_split_two_to_four_each_half_defective(tmp_path, out):
    index = clutch.convert(build_real(tmp_path / "clutch") / "real", out, splits={"seed": 3})
    assert index.groupby("clutch")["split"].nunique().eq(1).all()  # no object in two splits
    defective = index.groupby("clutch")["defective"].first()
    assert defective.to_dict() == {f"r{k}": k > 3 for k in range(1, 7)}
    by_split = objects_by_split(index)
    assert set(by_split) == {"train", "test"}
    assert [sum(defective[o] for o in by_split[s]) for s in ("train", "test")] == [1, 2]
    assert [len(by_split[s]) for s in ("train", "test")] == [2, 4]


def test_synthetic_objects_split_28_4_8_balanced_and_seeded(tmp_path):
    source = build_synthetic(tmp_path / "clutch") / "synthetic"
    index = clutch.convert(source, tmp_path / "a", splits={"seed": 5})
    defective = index.groupby("clutch")["defective"].first()
    assert defective.sum() == 10 and not defective["s01"]  # empty mask files: defect-free
    by_split = objects_by_split(index)
    assert {s: len(o) for s, o in by_split.items()} == {"train": 14, "val": 2, "test": 4}
    assert {s: sum(defective[o] for o in objects) for s, objects in by_split.items()} == {
        "train": 7,
        "val": 1,
        "test": 2,
    }
    assert clutch.convert(source, tmp_path / "b", splits={"seed": 5}).equals(index)
    assert objects_by_split(clutch.convert(source, tmp_path / "c", splits={"seed": 6})) != by_split


def test_the_image_carve_takes_real_training_images_and_leaves_synthetic_validation_objects_whole(tmp_path, out):
    source = build_real(build_synthetic(tmp_path / "clutch"))
    drawn = clutch.convert(source, tmp_path / "drawn")
    index = clutch.convert(source, out, splits={"val_fraction": 0.25, "val_from": "train"})
    real, synthetic = (index[index["object"] == part] for part in clutch.CATEGORIES)
    train_objects = set(drawn.loc[(drawn["object"] == "real") & (drawn["split"] == "train"), "clutch"])
    assert set(real.loc[real["split"] == "val", "clutch"]) <= train_objects
    assert real["split"].value_counts().to_dict() == {"test": 8, "train": 3, "val": 1}
    assert synthetic["split"].tolist() == drawn.loc[drawn["object"] == "synthetic", "split"].tolist()


def test_each_part_converts_on_its_own_as_in_the_whole(tmp_path):
    source = build_real(build_synthetic(tmp_path / "clutch"))
    whole = clutch.convert(source, tmp_path / "whole")
    for part in clutch.CATEGORIES:
        alone = clutch.convert(source / part, tmp_path / part)
        assert alone.equals(whole[whole["object"] == part].reset_index(drop=True))


def test_a_splits_file_gives_the_object_split(tmp_path, out):
    source = build_real(tmp_path / "clutch")
    rows = [f"r{k},{'test' if k % 2 else 'train'}" for k in range(1, 7)]
    write(source / "real/splits.csv", "object,split\n" + "\n".join(rows) + "\n")
    index = clutch.convert(source / "real", out)
    assert index.groupby("clutch")["split"].first().to_dict() == {
        f"r{k}": "test" if k % 2 else "train" for k in range(1, 7)
    }


def test_a_splits_file_missing_an_object_or_naming_a_stranger_is_refused(tmp_path, out):
    source = build_real(tmp_path / "clutch")
    write(
        source / "real/splits.csv", "object,split\n" + "\n".join(f"r{k},train" for k in range(1, 6)) + "\nr9,holdout\n"
    )
    expected = (
        r"splits.csv: object folders not listed: \[r6\]; no such object folder: \[r9\]; unknown splits .*\[holdout\]"
    )
    with pytest.raises(ValueError, match=expected):
        clutch.convert(source / "real", out)


@pytest.mark.parametrize("where", ["labelme", "mask"])
def test_an_unknown_label_is_refused_naming_it_and_the_known(tmp_path, out, where):
    if where == "labelme":
        source = build_real(tmp_path / "clutch", extra_label="rust") / "real"
        match = r"unknown class 'rust' in .*r4/images/000.json; known: .*dent"
    else:
        source = build_synthetic(tmp_path / "clutch") / "synthetic"
        save(source / "s11/masks/001_rust.png", boxes(h=H, w=W))
        match = r"unknown class 'rust' in .*s11/masks/001_rust.png; known: .*scratch"
    with pytest.raises(ValueError, match=match):
        clutch.convert(source, out)
    assert not (out / "index.parquet").exists()


def test_missing_folders_are_refused_saying_which(tmp_path, out):
    with pytest.raises(FileNotFoundError, match="clutch: dataset folder not found"):
        clutch.convert(tmp_path / "nowhere", out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no part folder \(real/, synthetic/\) in .*empty"):
        clutch.convert(tmp_path / "empty", out)
    source = build_real(tmp_path / "clutch")
    (source / "real/r7/masks").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"images/ of object r7 not found: .*r7/images"):
        clutch.convert(source, out)


def test_annotation_files_of_no_image_are_refused(tmp_path, out):
    source = build_synthetic(tmp_path / "clutch") / "synthetic"
    save(source / "s11/masks/002_dent.png", boxes(h=H, w=W))
    with pytest.raises(ValueError, match=r"mask files of no image in .*s11/masks: \[002_dent.png\]"):
        clutch.convert(source, out)
    source = build_real(tmp_path / "clutch") / "real"
    write(source / "r4/images/005.json", labelme([]))
    with pytest.raises(ValueError, match=r"LabelMe files of no image in .*r4/images: \[005.json\]"):
        clutch.convert(source, out)
