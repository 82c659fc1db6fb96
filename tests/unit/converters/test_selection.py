"""A dataset of the config from per-category conversions: the same images, splits and pixels as converting the
whole dataset, merged from the categories it names."""

import json

import numpy as np
import pandas as pd
import pytest

from defectlab.data.converters import mvtec_ad
from defectlab.data.converters.selection import select
from defectlab.data.layout import load_sample, read_index

from .builders import build_mvtec

SPLITS = {"val_fraction": 0.5, "val_from": "test", "seed": 1}


@pytest.fixture
def converted(tmp_path):
    """MVTec AD converted whole, and converted one category at a time (as the workflow does)."""
    source = build_mvtec(tmp_path / "mvtec")
    whole = tmp_path / "whole"
    mvtec_ad.convert(source, whole, splits=SPLITS)
    parts = {c: tmp_path / "parts" / c for c in ("metal_nut", "tile")}
    for category, out in parts.items():
        mvtec_ad.convert(source / category, out, splits=SPLITS)
    return whole, parts


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_merged_categories_equal_the_whole_conversion(tmp_path, converted, split):
    whole, parts = converted
    chosen = select(list(parts.values()), split, None, tmp_path / "dataset")
    expected = read_index(whole)
    expected = expected[expected["split"] == split].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        chosen.sort_values("id").reset_index(drop=True), expected.sort_values("id").reset_index(drop=True)
    )
    assert read_index(tmp_path / "dataset").equals(chosen)
    for image_id in chosen["id"]:
        a, b = load_sample(tmp_path / "dataset", image_id), load_sample(whole, image_id)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.instances, b.instances)


def test_objects_filter_and_unknown_ones_are_refused(tmp_path, converted):
    _, parts = converted
    chosen = select(list(parts.values()), "train", ["tile"], tmp_path / "tile")
    assert list(chosen["id"]) == ["tile-train-good-000"]
    with pytest.raises(ValueError, match=r"no object \['screw'\]; it has \['metal_nut', 'tile'\]"):
        select(list(parts.values()), "train", ["screw"], tmp_path / "screw")


def test_a_split_without_images_is_refused(tmp_path):
    plain = tmp_path / "tile-plain"
    mvtec_ad.convert(build_mvtec(tmp_path / "mvtec") / "tile", plain)  # no validation carve
    with pytest.raises(ValueError, match="no image of split 'val' and objects None"):
        select([plain], "val", None, tmp_path / "out")


def test_the_same_image_in_two_folders_is_refused(tmp_path, converted):
    _, parts = converted
    with pytest.raises(ValueError, match="image ids in more than one converted folder: tile-test-crack-000"):
        select([parts["tile"], parts["tile"]], "test", None, tmp_path / "out")


def test_the_chosen_images_exclusion_entries_come_along(tmp_path, converted):
    """The kitchen boards' borders and labels: each chosen image's entry, merged from its category's file."""
    _, parts = converted
    entries = {}
    for folder in parts.values():
        index = read_index(folder)
        areas = {f"{i}.png": {"borders": [[0, 0, 8, 8 + k]], "labels": []} for k, i in enumerate(index["id"])}
        (folder / "exclusions.json").write_text(json.dumps(areas))
        entries |= areas
    chosen = select(list(parts.values()), "test", None, tmp_path / "dataset")
    written = json.loads((tmp_path / "dataset/exclusions.json").read_text())
    assert written == {f"{i}.png": entries[f"{i}.png"] for i in chosen["id"]}
    select([parts["tile"]], "train", None, tmp_path / "plain")
    assert len(json.loads((tmp_path / "plain/exclusions.json").read_text())) == 1
