import cv2
import h5py
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from defectlab.patchcore.anomaly_map import MapAccumulator, gaussian_kernel_size, read_maps, write_maps


def test_tiles_are_upsampled_by_nearest_neighbour_and_overlaps_averaged():
    acc = MapAccumulator(["a"], 4, 6)
    acc.add("a", 0, 0, np.array([[1.0, 2.0], [3.0, 4.0]]), patch_size=4)
    acc.add("a", 2, 0, np.full((2, 2), 10.0), patch_size=4)
    m = acc.maps(sigma=0)[0]
    expected = np.array(
        [
            [1, 1, 6, 6, 10, 10],
            [1, 1, 6, 6, 10, 10],
            [3, 3, 7, 7, 10, 10],
            [3, 3, 7, 7, 10, 10],
        ],
        np.float32,
    )
    np.testing.assert_array_equal(m, expected)


def test_uncovered_pixels_score_zero_and_smoothing_is_the_gaussian():
    acc = MapAccumulator(["a"], 32, 32)
    grid = np.zeros((4, 4))
    grid[1, 2] = 5.0
    acc.add("a", 8, 8, grid, patch_size=16)
    raw = acc.maps(sigma=0)[0]
    assert raw[:8].sum() == 0 and raw[24:].sum() == 0
    smooth = acc.maps(sigma=2)[0]
    np.testing.assert_allclose(smooth, cv2.GaussianBlur(raw, (17, 17), 2, borderType=cv2.BORDER_REFLECT), atol=1e-6)
    assert smooth.sum() == np.float32(raw.sum()) or abs(smooth.sum() - raw.sum()) < 1e-2


def scipy_kernel_size(sigma: float) -> int:
    """The width of the kernel scipy.ndimage applies at truncate=4: the support of its impulse response."""
    impulse = np.zeros(401)
    impulse[200] = 1.0
    return int(np.count_nonzero(gaussian_filter1d(impulse, sigma, truncate=4.0, mode="constant")))


def test_kernel_truncates_at_four_sigma():
    assert gaussian_kernel_size(2) == 17
    assert gaussian_kernel_size(4) == 33


def test_kernel_is_the_one_scipy_uses():
    # 4 sigma = 2.5, 4.5, 8.5, 12.5: Python's round (half to even) would make these 2 px narrower
    for sigma in [0.625, 1.125, 2.125, 3.125, *np.arange(0.125, 12.01, 0.0625)]:
        assert gaussian_kernel_size(sigma) == scipy_kernel_size(sigma) == 2 * int(4 * sigma + 0.5) + 1, sigma


def test_maps_read_back_as_written(tmp_path):
    maps = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    write_maps(tmp_path / "m.h5", ["a", "b"], maps, {"sigma": 2}, made_from="coreset c.h5 and patch store p.h5")
    ids, back = read_maps([tmp_path / "m.h5", tmp_path / "m.h5"])
    assert ids == ["a", "b", "a", "b"]
    np.testing.assert_array_equal(back, np.concatenate([maps, maps]))


def test_maps_with_nan_are_refused_naming_the_coreset_and_the_patch_store(tmp_path):
    maps = np.zeros((3, 2, 2), np.float32)
    maps[1, 0, 0] = np.nan
    maps[2, 1, 1] = -np.inf
    message = (
        r"m.h5: refusing to write anomaly maps with NaN or inf values, of images \[b, c\]; "
        r"made from coreset results/coresets/x.h5 and patch store results/patches/d/shard-0.h5"
    )
    with pytest.raises(ValueError, match=message):
        write_maps(
            tmp_path / "m.h5",
            ["a", "b", "c"],
            maps,
            {},
            made_from="coreset results/coresets/x.h5 and patch store results/patches/d/shard-0.h5",
        )
    assert not list(tmp_path.iterdir())


def test_a_maps_file_with_nan_is_refused_when_read(tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as h5:
        h5["ids"] = np.array(["a"], dtype=h5py.string_dtype())
        h5["maps"] = np.full((1, 2, 2), np.nan, np.float32)
    with pytest.raises(ValueError, match=r"m.h5: anomaly maps hold NaN or inf; delete it and rerun"):
        read_maps([tmp_path / "m.h5"])
