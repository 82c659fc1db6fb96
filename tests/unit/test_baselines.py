"""Baselines without a model: maps by hand on tiny datasets, through the maps contract."""

import numpy as np
import pytest
from layout_files import write_dataset

from defectlab.maps import read_maps
from defectlab.models.baselines import baseline_maps, write_baseline_maps


def _dataset(root, values: dict[str, int]):
    images = {
        i: (np.full((2, 3, 3), v, np.uint8), np.zeros((2, 3), np.uint8), np.zeros((2, 3), np.uint16))
        for i, v in values.items()
    }
    return write_dataset(root, images, "test")


def test_deviation_is_the_squared_difference_to_the_mean_training_image(tmp_path):
    train = _dataset(tmp_path / "train", {"a": 0, "b": 102})  # mean 51 / 255 = 0.2
    test = _dataset(tmp_path / "test", {"c": 153, "d": 51})  # 0.6 and 0.2
    write_baseline_maps("deviation", test, [train], tmp_path / "m.h5")
    maps = read_maps([tmp_path / "m.h5"])
    assert maps.ids == ["c", "d"] and maps.model == "deviation" and maps.maps.shape == (2, 2, 3)
    np.testing.assert_allclose(maps.maps[0], (0.6 - 0.2) ** 2, rtol=1e-6)
    np.testing.assert_allclose(maps.maps[1], 0, atol=1e-7)


def test_intensity_is_the_grey_value():
    images = np.zeros((1, 1, 2, 3), np.float32)
    images[0, 0, 1] = [0.3, 0.6, 0.9]
    np.testing.assert_allclose(baseline_maps("intensity", images), [[[0.0, 0.6]]])


def test_sizes_that_do_not_fit_are_refused(tmp_path):
    train = _dataset(tmp_path / "train", {"a": 0})
    with pytest.raises(ValueError, match=r"the mean training image \(2, 3, 3\) does not fit the images \(4, 4, 3\)"):
        baseline_maps("deviation", np.zeros((1, 4, 4, 3), np.float32), np.zeros((2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="unknown baseline 'median'; known: intensity, deviation"):
        baseline_maps("median", np.zeros((1, 2, 2, 3)))
    assert train.exists()
