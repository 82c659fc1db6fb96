"""KolektorSDD2: {split}/{name}.png with {split}/{name}_GT.png."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import kolektorsdd2
from defectlab.data.layout import load_sample

from .builders import KSDD2_BLOBS, build_ksdd2


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
