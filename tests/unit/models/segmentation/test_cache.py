from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset

from defectlab.classes import class_index
from defectlab.data.layout import load_sample
from defectlab.models.segmentation.cache import read_cache, write_cache


@pytest.fixture
def grey_dataset(tmp_path: Path) -> Path:
    """Two grey (R = G = B) images of a train and a test split, with a defect, an impurity and an insignificant
    defect (an impurity, never a defect)."""
    rng = np.random.default_rng(1)
    images = {}
    for k, (height, width) in enumerate(((16, 24), (20, 12))):
        grey = rng.integers(0, 256, (height, width), dtype=np.uint8)
        mask = np.zeros((height, width), np.uint8)
        mask[2:6, 2:6] = class_index("scratch")
        mask[8:10, 2:6] = class_index("water_stain")
        mask[10:12, 6:10] = class_index("insignificant_defect")
        images[f"g-{k}"] = (np.repeat(grey[..., None], 3, axis=2), mask, np.zeros((height, width), np.uint16))
    root = write_dataset(tmp_path / "grey", images, "train")
    index = pd.read_parquet(root / "index.parquet")
    index["split"] = ["train", "test"]
    index.to_parquet(root / "index.parquet")
    return root


def test_round_trip_equals_the_layout_images(tiny_dataset: Path, tmp_path: Path):
    write_cache(tiny_dataset, tmp_path / "cache.h5")
    cache = read_cache(tmp_path / "cache.h5")
    assert cache.ids == ["s-0", "s-1", "s-2"] and cache.scale == 1.0 and cache.split is None
    for k, sample_id in enumerate(cache.ids):
        sample = load_sample(tiny_dataset, sample_id)
        # tiny_dataset's images are coloured: the cache holds their luma
        np.testing.assert_array_equal(cache.greys[k], cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY))
        assert cache.targets[k].dtype == bool
        np.testing.assert_array_equal(cache.targets[k], sample.mask == class_index("scratch"))
    assert cache.targets[1].sum() == 10 * 20 and not cache.targets[0].any()


def test_grey_images_are_their_first_channel_and_impurities_are_never_defects(grey_dataset: Path, tmp_path: Path):
    write_cache(grey_dataset, tmp_path / "cache.h5")
    cache = read_cache(tmp_path / "cache.h5")
    for k, sample_id in enumerate(cache.ids):
        sample = load_sample(grey_dataset, sample_id)
        np.testing.assert_array_equal(cache.greys[k], sample.image[..., 0])
        np.testing.assert_array_equal(cache.targets[k], sample.mask == class_index("scratch"))
        np.testing.assert_array_equal(
            cache.impurities[k], np.isin(sample.mask, [4, class_index("insignificant_defect")])
        )
        assert not (cache.targets[k] & cache.impurities[k]).any()
    assert [g.shape for g in cache.greys] == [(16, 24), (20, 12)]  # images of several sizes


def test_scale_half_halves_the_sizes(tiny_dataset: Path, tmp_path: Path):
    write_cache(tiny_dataset, tmp_path / "half.h5", scale=0.5)
    cache = read_cache(tmp_path / "half.h5")
    assert cache.scale == 0.5
    assert {g.shape for g in cache.greys} == {t.shape for t in cache.targets} == {(32, 48)}
    assert cache.targets[1].sum() == 5 * 10  # the 10 x 20 scratch, nearest-resized
    grey = cv2.cvtColor(load_sample(tiny_dataset, "s-0").image, cv2.COLOR_RGB2GRAY)
    np.testing.assert_array_equal(cache.greys[0], cv2.resize(grey, (48, 32), interpolation=cv2.INTER_AREA))


def test_one_split_in_index_order(grey_dataset: Path, tmp_path: Path):
    write_cache(grey_dataset, tmp_path / "test.h5", split="test")
    cache = read_cache(tmp_path / "test.h5")
    assert cache.ids == ["g-1"] and cache.split == "test" and cache.dataset == str(grey_dataset)


def test_a_missing_split_is_refused_named(tiny_dataset: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"ds: no image of split 'val'.*splits: train"):
        write_cache(tiny_dataset, tmp_path / "val.h5", split="val")
    assert not (tmp_path / "val.h5").exists()


def test_a_file_that_is_no_cache_is_refused_named(tmp_path: Path):
    with h5py.File(tmp_path / "maps.h5", "w") as h5:
        h5.create_dataset("maps", data=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match=r"maps\.h5: not a segmentation image cache"):
        read_cache(tmp_path / "maps.h5")
