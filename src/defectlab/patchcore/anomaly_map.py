"""Anomaly maps from patch scores: tiles reassembled into the image, upsampled and smoothed (the paper's
Gaussian of standard deviation 2: `defectlab.smoothing`).
"""

import cv2
import numpy as np

from defectlab.smoothing import smooth_maps

# tile grid to patch pixels: nearest (each cell a block) or bilinear (the kitchen-board thesis, ind_knn_ad)
UPSAMPLING = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR}


class MapAccumulator:
    """Per-image sums of tile score maps; overlapping tiles are averaged, uncovered pixels score 0.

    The patch grid covers every pixel, so the only pixels no tile covers are those under tiles
    dropped by the intensity filter (dark background): they keep the score 0.
    """

    def __init__(self, ids: list[str], height: int, width: int, upsample: str = "nearest") -> None:
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {list(UPSAMPLING)}, got {upsample!r}")
        self.interpolation = UPSAMPLING[upsample]
        self.ids = list(ids)
        self._row = {image: i for i, image in enumerate(self.ids)}
        self.sums = np.zeros((len(ids), height, width), np.float64)
        self.counts = np.zeros((len(ids), height, width), np.uint16)

    def add(self, image: str, x: int, y: int, tile_scores: np.ndarray, patch_size: int) -> None:
        """Upsample a tile's (h, w) score grid to the patch size (nearest neighbour or bilinear) and add it."""
        up = cv2.resize(tile_scores.astype(np.float32), (patch_size, patch_size), interpolation=self.interpolation)
        i = self._row[image]
        self.sums[i, y : y + patch_size, x : x + patch_size] += up
        self.counts[i, y : y + patch_size, x : x + patch_size] += 1

    def maps(self, sigma: float) -> np.ndarray:
        """The (N, H, W) float32 anomaly maps, smoothed with the Gaussian of standard deviation `sigma`."""
        mean = np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)
        return smooth_maps(mean, sigma)
