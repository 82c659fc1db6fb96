"""KolektorSDD2: {split}/{name}.png with {split}/{name}_GT.png."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import kolektorsdd2
from defectlab.data.layout import load_sample

from .builders import KSDD2_BLOBS, boxes, build_ksdd2, colour, save


def test_masks_land_on_their_images_in_rgb_order(tmp_path, out):
    index = kolektorsdd2.convert(build_ksdd2(tmp_path / "KolektorSDD2"), out).set_index("id")
    positive = load_sample(out, "train-10000")
    assert positive.image[0, 0].tolist() == [30, 20, 10]  # written as BGR (10, 20, 30)
    np.testing.assert_array_equal(positive.mask, (KSDD2_BLOBS > 0) * class_index("other_defect"))
    assert load_sample(out, "test-20000").image[0, 0].tolist() == [120, 110, 100]
    assert (load_sample(out, "test-20000").mask[5:7] == class_index("other_defect")).all()
    assert index.loc["train-10000", "source"] == "train/10000.png"


def test_labels_instances_and_splits(tmp_path, out):
    index = kolektorsdd2.convert(build_ksdd2(tmp_path / "KolektorSDD2"), out).set_index("id")
    assert index["split"].value_counts().to_dict() == {"train": 3, "test": 2}
    assert index["n_instances"].to_dict() == {
        "train-10000": 2,
        "train-10001": 0,
        "train-10002": 0,
        "test-20000": 1,
        "test-20001": 0,
    }
    assert index.loc["train-10000", "label"] == "positive" and index.loc["test-20001", "label"] == "negative"
    negative = load_sample(out, "train-10001")
    assert not negative.mask.any() and not negative.instances.any()


def test_validation_from_train_as_the_004_study_splits_it(tmp_path, out):
    index = kolektorsdd2.convert(
        build_ksdd2(tmp_path / "KolektorSDD2"), out, splits={"val_fraction": 0.5, "val_from": "train"}
    )
    # train strata: defective (1 image) -> 1, defect-free (2) -> 1
    assert index["split"].value_counts().to_dict() == {"train": 1, "val": 2, "test": 2}


def test_missing_ground_truth_is_an_error(tmp_path, out):
    source = build_ksdd2(tmp_path / "KolektorSDD2")
    (source / "test/20001_GT.png").unlink()
    with pytest.raises(FileNotFoundError, match="20001_GT.png"):
        kolektorsdd2.convert(source, out)


def test_a_folder_without_splits_is_an_error(tmp_path, out):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="split folder train/"):
        kolektorsdd2.convert(tmp_path / "empty", out)


def test_images_of_several_sizes_are_padded_to_one_keeping_their_original_size(tmp_path, out):
    source = build_ksdd2(tmp_path / "KolektorSDD2")
    save(source / "test/20001.png", colour(130, 140, 150, h=10, w=14))
    save(source / "test/20001_GT.png", boxes((slice(8, 10), slice(12, 14)), h=10, w=14))
    index = kolektorsdd2.convert(source, out, pad_to={"width": 20, "height": 14}).set_index("id")
    for sample_id in index.index:
        sample = load_sample(out, sample_id)
        assert sample.image.shape == (14, 20, 3) and sample.mask.shape == sample.instances.shape == (14, 20)
    small = load_sample(out, "test-20001")
    assert small.image[:10, :14].tolist() == colour(150, 140, 130, h=10, w=14).tolist()  # RGB of the BGR file
    assert not small.image[10:].any() and not small.image[:, 14:].any()
    assert (small.mask[8:10, 12:14] == class_index("other_defect")).all() and small.mask.sum() == 4 * small.mask.max()
    assert index.loc["test-20001", ["original_width", "original_height"]].tolist() == [14, 10]
    assert index.loc["train-10000", ["original_width", "original_height"]].tolist() == [16, 12]


def test_a_canvas_smaller_than_an_image_is_refused_naming_it(tmp_path, out):
    source = build_ksdd2(tmp_path / "KolektorSDD2")
    save(source / "test/20001.png", colour(130, 140, 150, h=20, w=16))
    save(source / "test/20001_GT.png", boxes(h=20, w=16))
    with pytest.raises(ValueError, match=r"pad_to 16x12 is smaller than 1 image\(s\): \[20001.png \(16x20\)\]"):
        kolektorsdd2.convert(source, out, pad_to={"width": 16, "height": 12})
    assert not (out / "images").exists()
