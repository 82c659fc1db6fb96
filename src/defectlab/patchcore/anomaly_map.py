"""Anomaly maps from patch scores: tiles reassembled into the image, upsampled and smoothed.

The paper blurs with a Gaussian of standard deviation 2 and "kernel size 16"; OpenCV needs
an odd kernel, so the kernel is 2 * round(4 * sigma) + 1 = 17 pixels for sigma = 2
(truncated at four standard deviations, as scipy and anomalib do).
"""

import cv2
import numpy as np


def gaussian_kernel_size(sigma: float) -> int:
    """Odd kernel size that truncates the Gaussian at four standard deviations."""
    return 2 * round(4 * sigma) + 1


class MapAccumulator:
    """Per-image sums of tile score maps; overlapping tiles are averaged, uncovered pixels score 0.

    Pixels never covered by a kept tile (dropped by the intensity filter: dark background)
    keep the score 0.
    """

    def __init__(self, ids: list[str], height: int, width: int) -> None:
        self.ids = list(ids)
        self._row = {image: i for i, image in enumerate(self.ids)}
        self.sums = np.zeros((len(ids), height, width), np.float64)
        self.counts = np.zeros((len(ids), height, width), np.uint16)

    def add(self, image: str, x: int, y: int, tile_scores: np.ndarray, patch_size: int) -> None:
        """Upsample a tile's (h, w) score grid with nearest neighbour to the patch size and add it."""
        up = cv2.resize(tile_scores.astype(np.float32), (patch_size, patch_size), interpolation=cv2.INTER_NEAREST)
        i = self._row[image]
        self.sums[i, y : y + patch_size, x : x + patch_size] += up
        self.counts[i, y : y + patch_size, x : x + patch_size] += 1

    def maps(self, sigma: float) -> np.ndarray:
        """The (N, H, W) float32 anomaly maps, smoothed with the Gaussian of standard deviation `sigma`."""
        mean = np.divide(self.sums, self.counts, out=np.zeros_like(self.sums), where=self.counts > 0)
        if sigma <= 0:
            return mean.astype(np.float32)
        k = gaussian_kernel_size(sigma)
        return (
            np.stack(
                [
                    cv2.GaussianBlur(m.astype(np.float32), (k, k), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
                    for m in mean
                ]
            )
            if len(mean)
            else mean.astype(np.float32)
        )


def read_maps(paths: list[str]) -> tuple[list[str], np.ndarray]:
    """Image ids and (N, H, W) anomaly maps of several shard files, concatenated in order."""
    import h5py

    ids, maps = [], []
    for path in paths:
        with h5py.File(path, "r") as h5:
            ids += [s.decode() if isinstance(s, bytes) else s for s in h5["ids"][:]]
            maps.append(h5["maps"][:])
    return ids, np.concatenate(maps)
