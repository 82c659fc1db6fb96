"""DAGM 2007: Class{k}/{Train,Test}/{n}.PNG with Label/Labels.txt and Label/{n}_label.PNG."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import dagm2007
from defectlab.data.layout import load_sample

from .builders import DAGM_TEST_LABEL, DAGM_TRAIN_LABEL, build_dagm, labels_txt


def test_labels_land_on_their_images_and_grey_becomes_rgb(tmp_path, out):
    index = dagm2007.convert(build_dagm(tmp_path / "DAGM"), out).set_index("id")
    train = load_sample(out, "Class1-train-0001")
    assert train.image.shape[2] == 3 and (train.image == 10).all()
    np.testing.assert_array_equal(train.mask, (DAGM_TRAIN_LABEL > 0) * class_index("other_defect"))
    test = load_sample(out, "Class1-test-0001")
    assert (test.image == 30).all()
    np.testing.assert_array_equal(test.mask, (DAGM_TEST_LABEL > 0) * class_index("other_defect"))
    assert index.loc["Class1-test-0001", "source"] == "Class1/Test/0001.PNG"
    assert index.loc["Class1-test-0001", "n_instances"] == 1


def test_flags_splits_and_nested_class_folders(tmp_path, out):
    index = dagm2007.convert(build_dagm(tmp_path / "DAGM"), out).set_index("id")
    assert sorted(index.index) == ["Class1-test-0001", "Class1-train-0001", "Class1-train-0002", "Class2-train-0001"]
    assert index["split"].value_counts().to_dict() == {"train": 3, "test": 1}
    assert index["label"].to_dict() == {
        "Class1-train-0001": "1",
        "Class1-train-0002": "0",
        "Class1-test-0001": "1",
        "Class2-train-0001": "0",
    }
    assert index.loc["Class2-train-0001", "object"] == "Class2"
    clean = load_sample(out, "Class1-train-0002")
    assert (clean.image == 20).all() and not clean.mask.any() and not clean.instances.any()


def test_missing_label_file_is_an_error(tmp_path, out):
    source = build_dagm(tmp_path / "DAGM")
    (source / "Class1/Test/Label/0001_label.PNG").unlink()
    with pytest.raises(FileNotFoundError, match="0001_label.PNG"):
        dagm2007.convert(source, out)


def test_listed_image_missing_is_an_error(tmp_path, out):
    source = build_dagm(tmp_path / "DAGM")
    labels = source / "Class1/Train/Label/Labels.txt"
    labels.write_text(labels_txt(1, [("0001.PNG", 1, "0001_label.PNG"), ("0009.PNG", 0, "")]))
    with pytest.raises(FileNotFoundError, match="0009.PNG"):
        dagm2007.convert(source, out)


def test_malformed_label_row_is_an_error_naming_the_line(tmp_path, out):
    source = build_dagm(tmp_path / "DAGM")
    (source / "Class1/Train/Label/Labels.txt").write_text("1\n1\tyes\t0001.PNG\t0\t0\n")
    with pytest.raises(ValueError, match="Labels.txt, line 2"):
        dagm2007.convert(source, out)


def test_each_class_converts_on_its_own_as_in_the_whole(tmp_path, out):
    """The workflow converts Class{k} folders one at a time: same ids, rows and source paths as the whole."""
    source = build_dagm(tmp_path / "DAGM")
    whole = dagm2007.convert(source, out).set_index("id")
    for k, folder in enumerate(("Class1", "Class2")):
        part = dagm2007.convert(source / folder, tmp_path / f"part-{k}").set_index("id")
        assert part.equals(whole[whole["object"] == folder])
    assert part.loc["Class2-train-0001", "source"] == "Class2/Class2/Train/0001.PNG"
