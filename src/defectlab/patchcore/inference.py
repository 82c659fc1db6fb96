"""Anomaly maps of a patch store against a coreset: the scoring loop shared by the pipeline and the benchmarks."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from defectlab.data.patch_store import store_attrs, store_images
from defectlab.features.backbones import FeatureExtractor
from defectlab.features.patch_features import store_cells
from defectlab.patchcore.anomaly_map import MapAccumulator
from defectlab.patchcore.reweight import reweighted_scores
from defectlab.patchcore.scoring import nearest_points

PATCH_SCORES = ("map", "reweighted")


def score_store(
    extractor: FeatureExtractor,
    store: str | Path,
    coreset: torch.Tensor,
    chunk_size: int,
    batch_size: int,
    sigma: float,
    progress: bool = False,
    patch_score: str = "map",
    upsample: str = "nearest",
    reweight_k: int = 3,
) -> tuple[list[str], np.ndarray, pd.DataFrame | None]:
    """Image ids of the store, their (N, H, W) anomaly maps (patch cells scored by nearest coreset distance),
    and with `patch_score` "reweighted" each stored patch's own score (`patchcore.reweight`) as a table
    image, x, y, score (None with "map": the evaluation then takes the map's maximum over a patch)."""
    if patch_score not in PATCH_SCORES:
        raise ValueError(f"patch_score must be one of {list(PATCH_SCORES)}, got {patch_score!r}")
    attrs = store_attrs(store)
    patch_size = int(attrs["patch_size"])
    images = store_images(store)
    maps = MapAccumulator(images, int(attrs["image_height"]), int(attrs["image_width"]), upsample)
    rows: list[tuple[str, int, int, float]] = []
    for batch, cells in store_cells(extractor, store, batch_size):
        b, h, w, d = cells.shape
        distances, nearest = nearest_points(cells.reshape(-1, d), coreset, chunk_size)
        scores = distances.reshape(b, h, w).cpu().numpy()
        for image, x, y, grid in zip(batch.images, batch.xs, batch.ys, scores, strict=True):
            maps.add(image, int(x), int(y), grid, patch_size)
        if patch_score == "reweighted":
            patch = reweighted_scores(
                distances.reshape(b, h * w), nearest.reshape(b, h * w), cells.reshape(b, h * w, d), coreset, reweight_k
            )
            rows += zip(
                batch.images, map(int, batch.xs), map(int, batch.ys), patch.cpu().double().tolist(), strict=True
            )
        if progress:
            print(f"scored patches {batch.start}..{batch.start + b}", flush=True)
    table = pd.DataFrame(rows, columns=["image", "x", "y", "score"]) if patch_score == "reweighted" else None
    return images, maps.maps(sigma), table
