import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from defectlab.patchcore.anomaly_map import MapAccumulator
from defectlab.smoothing import gaussian_kernel_size


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
