"""Severstal: train_images/{ImageId}.jpg with run-length strings in train.csv (either release's columns)."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import severstal
from defectlab.data.layout import load_sample

from .builders import build_severstal, severstal_expected


@pytest.mark.parametrize("old_format", [False, True], ids=["ImageId-ClassId", "ImageId_ClassId"])
def test_runs_land_on_their_images(tmp_path, out, old_format):
    index = severstal.convert(build_severstal(tmp_path / "severstal", old_format), out).set_index("id")
    for stem in ("a1", "b2", "c3"):
        sample = load_sample(out, stem)
        expected = np.zeros(sample.mask.shape, bool)
        for on in severstal_expected(f"{stem}.jpg").values():
            expected |= on
        np.testing.assert_array_equal(sample.mask, expected * class_index("other_defect"), err_msg=stem)
    assert index["label"].to_dict() == {"a1": "1|3", "b2": "", "c3": "4"}
    assert index["n_instances"].to_dict() == {"a1": 2, "b2": 0, "c3": 2}
    assert set(index["split"]) == {"train"} and index.loc["c3", "source"] == "train_images/c3.jpg"
    assert not load_sample(out, "b2").instances.any()


def test_validation_from_train(tmp_path, out):
    index = severstal.convert(
        build_severstal(tmp_path / "severstal"), out, splits={"val_fraction": 0.5, "val_from": "train"}
    )
    # defective a1, c3 -> 1; defect-free b2 -> 1
    assert index["split"].value_counts().to_dict() == {"train": 1, "val": 2}


def test_run_outside_the_image_is_an_error_naming_image_and_class(tmp_path, out):
    source = build_severstal(tmp_path / "severstal")
    (source / "train.csv").write_text("ImageId,ClassId,EncodedPixels\na1.jpg,2,190 5\n")
    with pytest.raises(ValueError, match="a1.jpg class 2: run 190 5 is outside the 12x16 image"):
        severstal.convert(source, out)


def test_rows_of_missing_images_and_unknown_classes_are_errors(tmp_path, out):
    source = build_severstal(tmp_path / "severstal")
    (source / "train.csv").write_text("ImageId,ClassId,EncodedPixels\nzz.jpg,1,1 3\n")
    with pytest.raises(FileNotFoundError, match="missing from .*train_images: zz.jpg"):
        severstal.convert(source, out)
    (source / "train.csv").write_text("ImageId,ClassId,EncodedPixels\na1.jpg,5,1 3\n")
    with pytest.raises(ValueError, match="unknown class '5' .*known: 1, 2, 3, 4"):
        severstal.convert(source, out)
