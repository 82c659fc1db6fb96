"""Maps of a dataset from trained segmentation weights, through the maps contract: the defect probability (the
sigmoid of the logit) per pixel, predicted at the working scale with the paper's tiling and resized back to the
dataset's image size (bilinear), so the evaluation scores it against the dataset's own masks. No image scores:
the evaluation takes each map's maximum where it needs one.

The paper scores the halved images against halved masks (§5.1); scoring full-size masks against the upsampled
probability is the pipeline's one evaluation for every model, and differs from it only at defect borders.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from defectlab.data.layout import check_files, image_shape, listed, load_sample
from defectlab.maps import write_maps
from defectlab.models.segmentation.cache import cached_planes
from defectlab.models.segmentation.evaluate import probability_maps
from defectlab.models.segmentation.networks import build_network
from defectlab.models.segmentation.train import stored_settings
from defectlab.runtime import resolve_device
from defectlab.training import load_weights

SCORE = "defect probability (sigmoid of the network's logit)"


def load_segmentation(weights: str | Path, device: str = "auto") -> tuple[torch.nn.Module, dict[str, Any], dict]:
    """The trained network (eval mode, on `device`), its settings and the run's record."""
    settings = stored_settings(weights)
    network = build_network(settings["architecture"], settings["in_channels"])
    record = load_weights(weights, network, resolve_device(device))
    return network, settings, record


def segment(
    weights: str | Path,
    dataset: str | Path,
    output: str | Path,
    device: str = "auto",
    geometry: Mapping[str, Any] | None = None,
) -> None:
    """Write the probability maps of every image of `dataset` (in its index order) to the maps file `output`;
    `geometry` (scale, tile, pad_multiple) replaces the run's own where the dataset has another (a planar set's
    model predicting the clutch, settings.geometry)."""
    network, settings, record = load_segmentation(weights, device)
    settings = {**settings, **(geometry or {})}
    ids = check_files(dataset)["id"].astype(str).tolist()
    shapes: dict[tuple[int, int], str] = {}
    for image_id in ids:
        shapes.setdefault(image_shape(dataset, image_id), image_id)
    if len(shapes) > 1:
        raise ValueError(
            f"{dataset}: images of sizes {listed(sorted(shapes))} (e.g. {listed(shapes.values())}) cannot share one "
            "maps file (N, H, W); split the dataset by image size, or pad it to one size (the converters' pad_to)"
        )
    maps = []
    for image_id in ids:
        sample = load_sample(dataset, image_id)
        height, width = sample.mask.shape
        grey, _, _ = cached_planes(sample, settings["scale"])
        (probability,) = probability_maps(network, [grey], settings)
        maps.append(cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR))
    write_maps(
        output,
        ids,
        np.stack(maps).astype(np.float32),
        model=settings["architecture"],
        score=SCORE,
        made_from=f"{weights} on {dataset}",
        settings={**settings, "weights": str(weights), "fingerprint": record["fingerprint"]},
    )
