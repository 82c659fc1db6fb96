"""Gaussian smoothing of anomaly maps, one rule for every model that smooths its maps (PatchCore's maps,
CutPaste's Grad-CAM maps).

The Sequential PatchCore paper blurs with a Gaussian of standard deviation 2 and "kernel size 16"; OpenCV needs
an odd kernel, so the kernel is 2 * int(4 * sigma + 0.5) + 1 pixels, 17 for sigma = 2: the Gaussian truncated
at four standard deviations with scipy's radius rule (scipy.ndimage.gaussian_filter: radius
int(truncate * sigma + 0.5)), which anomalib uses too. Borders reflect.
"""

import cv2
import numpy as np


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel size that truncates the Gaussian at four standard deviations, rounding half up as scipy does
    (Python's round would take 4 * sigma = 2.5 down to 2)."""
    return 2 * int(4 * sigma + 0.5) + 1


def smooth_maps(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W) float32 maps, each blurred with the Gaussian of standard deviation `sigma` pixels (unchanged for
    sigma <= 0)."""
    maps = np.asarray(maps, np.float32)
    if sigma <= 0 or not len(maps):
        return maps
    k = gaussian_kernel_size(sigma)
    return np.stack([cv2.GaussianBlur(m, (k, k), sigmaX=sigma, borderType=cv2.BORDER_REFLECT) for m in maps])
