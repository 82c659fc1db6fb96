"""What a trained autoencoder did over training, for the figure of reconstructions over training: its probe
image, the reconstructions of it the loop kept, and the reconstruction loss of every step."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from defectlab.models.autoencoders.images import probe, read_training_images
from defectlab.models.autoencoders.predict import stored_settings
from defectlab.report.training_figure import TrainingRow
from defectlab.training import checkpoint as files
from defectlab.training import read_snapshots


def as_picture(x: torch.Tensor) -> np.ndarray:
    """(n_c, H, W) grey levels as (H, W) for one channel, (H, W, 3) for three."""
    picture = x.numpy()
    return picture[0] if picture.shape[0] == 1 else np.moveaxis(picture, 0, -1)


def training_row(weights: str | Path, datasets: Sequence[str | Path], label: str) -> TrainingRow:
    """The row of `weights` (trained on `datasets`, the same folders in the same order) under `label`."""
    settings = stored_settings(weights)
    _, images = read_training_images(datasets, settings["channels"])
    shown = probe(images, settings["size"])[0]
    steps, snapshots = read_snapshots(weights)
    return TrainingRow(
        label=label,
        probe=as_picture((shown * 255).round().to(torch.uint8)),
        steps=steps,
        snapshots=[as_picture(s) for s in snapshots],
        loss=files.load(weights)["losses"]["mse"],
    )
