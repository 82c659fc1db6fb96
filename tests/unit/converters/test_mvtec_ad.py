"""MVTec AD: {category}/train/good, {category}/test/{defect}, {category}/ground_truth/{defect}/{n}_mask.png."""

import numpy as np
import pytest

from defectlab.classes import class_index
from defectlab.data.converters import INDEX_COLUMNS, mvtec_ad
from defectlab.data.layout import load_sample, read_index

from .builders import MVTEC_BENT, MVTEC_SCRATCH, MVTEC_SCRATCH_001, W, boxes, build_mvtec


def test_masks_land_on_their_images_with_mapped_classes(tmp_path, out):
    index = mvtec_ad.convert(build_mvtec(tmp_path / "mvtec"), out)
    assert tuple(index.columns) == INDEX_COLUMNS
    assert read_index(out).equals(index)
    row = index.set_index("id")
    # planted grey values say which original image each converted one is
    for sample_id, value in {
        "metal_nut-train-good-000": 10,
        "metal_nut-train-good-001": 11,
        "metal_nut-test-good-000": 20,
        "metal_nut-test-scratch-000": 30,
        "metal_nut-test-scratch-001": 31,
        "metal_nut-test-bent-000": 40,
        "tile-test-crack-000": 60,
    }.items():
        assert (load_sample(out, sample_id).image == value).all(), sample_id
    scratch = load_sample(out, "metal_nut-test-scratch-000")
    np.testing.assert_array_equal(scratch.mask, (boxes(MVTEC_SCRATCH) > 0) * class_index("scratch"))
    scratch_001 = load_sample(out, "metal_nut-test-scratch-001")
    np.testing.assert_array_equal(scratch_001.mask, (boxes(MVTEC_SCRATCH_001) > 0) * class_index("scratch"))
    assert row.loc["metal_nut-test-scratch-000", "source"] == "metal_nut/test/scratch/000.png"
    bent = load_sample(out, "metal_nut-test-bent-000")
    np.testing.assert_array_equal(bent.mask, (MVTEC_BENT > 0) * class_index("other_defect"))
    crack = load_sample(out, "tile-test-crack-000")
    assert (crack.mask[:2] == class_index("other_defect")).all() and not crack.mask[2:].any()
    assert row.loc["tile-test-crack-000", "object"] == "tile"
    assert set(row["annotation"]) == {"mask"} and set(row["light"]) == {"unknown"}
    assert set(row["view"]) == {0} and set(row["seed"]) == {0}


def test_instances_are_8_connected_components(tmp_path, out):
    index = mvtec_ad.convert(build_mvtec(tmp_path / "mvtec"), out).set_index("id")
    assert index.loc["metal_nut-test-bent-000", "n_instances"] == 3  # two blobs and a diagonal pair
    bent = load_sample(out, "metal_nut-test-bent-000")
    assert bent.instances[6, 6] == bent.instances[7, 7] != 0
    assert len(np.unique(bent.instances)) == 4
    assert index.loc["tile-test-crack-000", "n_instances"] == 1
    assert load_sample(out, "tile-test-crack-000").instances[:2, :W].min() == 1


def test_split_counts_and_good_images_have_empty_masks(tmp_path, out):
    index = mvtec_ad.convert(build_mvtec(tmp_path / "mvtec"), out)
    assert index["split"].value_counts().to_dict() == {"train": 3, "test": 5}
    good = index[index["label"] == "good"]
    assert len(good) == 4 and (good["n_instances"] == 0).all()
    for sample_id in good["id"]:
        sample = load_sample(out, sample_id)
        assert not sample.mask.any() and not sample.instances.any()


def test_one_category_folder_converts_on_its_own(tmp_path, out):
    build_mvtec(tmp_path / "mvtec")
    index = mvtec_ad.convert(tmp_path / "mvtec" / "tile", out)
    assert sorted(index["id"]) == ["tile-test-crack-000", "tile-train-good-000"]
    assert sorted(index["source"]) == ["tile/test/crack/000.png", "tile/train/good/000.png"]  # as in the whole


def test_validation_carved_from_test_keeps_ids_and_pixels(tmp_path, out):
    source = build_mvtec(tmp_path / "mvtec")
    plain = mvtec_ad.convert(source, tmp_path / "plain")
    index = mvtec_ad.convert(source, out, splits={"val_fraction": 0.5, "val_from": "test", "seed": 1})
    assert list(index["id"]) == list(plain["id"])
    # strata: metal_nut good (1 image) -> 1, metal_nut defective (3) -> 2, tile defective (1) -> 1
    assert index["split"].value_counts().to_dict() == {"train": 3, "val": 4, "test": 1}
    assert (index[plain["split"] == "train"]["split"] == "train").all()


def test_missing_mask_is_an_error_naming_it_before_anything_is_written(tmp_path, out):
    source = build_mvtec(tmp_path / "mvtec")
    (source / "metal_nut/ground_truth/bent/000_mask.png").unlink()
    with pytest.raises(FileNotFoundError, match="ground_truth/bent/000_mask.png"):
        mvtec_ad.convert(source, out)
    assert not out.exists()


def test_unknown_defect_folder_is_an_error_listing_the_known(tmp_path, out):
    source = build_mvtec(tmp_path / "mvtec")
    (source / "tile/test/crack").rename(source / "tile/test/rust_spot")
    with pytest.raises(ValueError, match="unknown class 'rust_spot' .*known: .*scratch, scratch_head"):
        mvtec_ad.convert(source, out)


def test_a_conversion_failing_midway_leaves_no_index(tmp_path, out):
    source = build_mvtec(tmp_path / "mvtec")
    mvtec_ad.convert(source, out)
    assert (out / "index.parquet").is_file()
    (source / "tile/test/crack/000.png").write_bytes(b"not a png")  # read after other images were written
    with pytest.raises(FileNotFoundError, match="cannot read image .*tile/test/crack/000.png"):
        mvtec_ad.convert(source, out)
    assert not (out / "index.parquet").exists()
