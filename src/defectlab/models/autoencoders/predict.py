"""Residual maps of a trained autoencoder (seed 003 eq. 1): R = (x − x̃)², averaged over channels, no smoothing
(§4.1), one map per image, written through the maps contract without image scores (the evaluation takes each
map's maximum).

Images of the network's input size are reconstructed whole. Larger images are tiled: windows of the input size
at `tile_stride` along each axis, the last window of a row or column flush with the image's edge (so no pixel is
padded), each window reconstructed on its own and the residuals of overlapping windows averaged. An image
smaller than the input is padded by repeating its edge pixels, and the padding is cut from its map.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from defectlab.data.layout import listed
from defectlab.maps import write_maps
from defectlab.models.autoencoders.images import read_images
from defectlab.models.autoencoders.networks import Autoencoder
from defectlab.models.autoencoders.train import build_networks
from defectlab.runtime import resolve_device
from defectlab.seeds import derive_seed
from defectlab.training import checkpoint as files
from defectlab.training import load_weights

SCORE = "squared reconstruction residual, channel mean"
TILES_PER_BATCH = 16  # windows reconstructed at once: bounds memory whatever the image size


def stored_settings(weights: str | Path) -> dict[str, Any]:
    """The settings `train_autoencoder` stored with the weights."""
    return files.read_settings(weights, "model", "train_autoencoder")


def load_autoencoder(weights: str | Path, device: str = "auto") -> tuple[Autoencoder, dict[str, Any], dict]:
    """The trained autoencoder (eval mode, on `device`), its settings and the run's record."""
    settings = stored_settings(weights)
    networks = build_networks(settings["model"], settings)
    record = load_weights(weights, networks, resolve_device(device))
    return networks["autoencoder"], settings, record


def tile_starts(length: int, size: int, stride: int) -> list[int]:
    """Window starts along one axis: 0, stride, 2·stride, … and one flush with the end."""
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


@torch.no_grad()
def residual_map(
    autoencoder: Autoencoder, x: torch.Tensor, stride: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(x − x̃)² averaged over channels, (H, W), for one input image `x` (n_c, H, W) on the model's device."""
    size = autoencoder.size
    _, height, width = x.shape
    padded = F.pad(x[None], (0, max(0, size - width), 0, max(0, size - height)), mode="replicate")[0]
    corners = [
        (y, x0) for y in tile_starts(padded.shape[1], size, stride) for x0 in tile_starts(padded.shape[2], size, stride)
    ]
    total = torch.zeros(padded.shape[1:], device=x.device)
    count = torch.zeros(padded.shape[1:], device=x.device)
    for first in range(0, len(corners), TILES_PER_BATCH):
        chunk = corners[first : first + TILES_PER_BATCH]
        tiles = torch.stack([padded[:, y : y + size, x0 : x0 + size] for y, x0 in chunk])
        residuals = ((tiles - autoencoder(tiles, generator)) ** 2).mean(dim=1)
        for (y, x0), residual in zip(chunk, residuals, strict=True):
            total[y : y + size, x0 : x0 + size] += residual
            count[y : y + size, x0 : x0 + size] += 1
    return (total / count)[:height, :width]


def reconstruct(weights: str | Path, dataset: str | Path, output: str | Path, device: str = "auto") -> None:
    """Write the residual maps of every image of `dataset` (in its index order) under the weights' model to the
    maps file `output`. The VAE decodes μ unless it was trained with `test_latent: sample` (then ε is drawn from
    the run's seed and the image id)."""
    autoencoder, settings, record = load_autoencoder(weights, device)
    chosen = next(autoencoder.parameters()).device
    ids, images = read_images(dataset, settings["channels"])
    shapes = {tuple(x.shape[1:]) for x in images}
    if len(shapes) > 1:
        raise ValueError(
            f"{dataset}: images of sizes {listed(sorted(shapes))} cannot share one maps file (N, H, W); "
            "split the dataset by image size"
        )
    maps = []
    for image_id, x in zip(ids, images, strict=True):
        generator = None
        if settings["model"] == "vae" and settings["test_latent"] == "sample":
            generator = torch.Generator(chosen).manual_seed(derive_seed(record["seed"], "test_latent", image_id))
        maps.append(residual_map(autoencoder, x.to(chosen), settings["tile_stride"], generator).cpu().numpy())
    write_maps(
        output,
        ids,
        np.stack(maps).astype(np.float32),
        model=settings["model"],
        score=SCORE,
        made_from=f"{weights} on {dataset}",
        settings={**settings, "weights": str(weights), "fingerprint": record["fingerprint"]},
    )
