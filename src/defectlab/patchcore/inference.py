"""Anomaly maps of a patch store against a coreset: the scoring loop shared by the pipeline and the benchmarks."""

from pathlib import Path

import numpy as np
import torch

from defectlab.data.patch_store import store_attrs, store_images
from defectlab.features.backbones import FeatureExtractor
from defectlab.features.patch_features import store_cells
from defectlab.patchcore.anomaly_map import MapAccumulator
from defectlab.patchcore.scoring import nearest_distances


def score_store(
    extractor: FeatureExtractor,
    store: str | Path,
    coreset: torch.Tensor,
    chunk_size: int,
    batch_size: int,
    sigma: float,
    progress: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Image ids of the store and their (N, H, W) anomaly maps: patch cells scored by nearest coreset distance."""
    attrs = store_attrs(store)
    patch_size = int(attrs["patch_size"])
    images = store_images(store)
    maps = MapAccumulator(images, int(attrs["image_height"]), int(attrs["image_width"]))
    for batch, cells in store_cells(extractor, store, batch_size):
        b, h, w, d = cells.shape
        scores = nearest_distances(cells.reshape(-1, d), coreset, chunk_size).reshape(b, h, w).cpu().numpy()
        for image, x, y, grid in zip(batch.images, batch.xs, batch.ys, scores, strict=True):
            maps.add(image, int(x), int(y), grid, patch_size)
        if progress:
            print(f"scored patches {batch.start}..{batch.start + b}", flush=True)
    return images, maps.maps(sigma)
