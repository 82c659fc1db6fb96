"""Maps without a model: the reference rows a learned model must beat.

- `intensity`: the grey value itself (channel mean, in [0, 1]), as thresholding the raw image would:
  on the noise dataset's bright line this alone nearly finds the anomaly.
- `deviation`: (x - m)^2, channel mean, with m the pixel-wise mean of the training images: what an
  autoencoder that reconstructs only the average normal image would score.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from defectlab.data.layout import check_files, load_sample
from defectlab.maps import write_maps

MODELS = ("intensity", "deviation")
SCORES = {
    "intensity": "grey value (channel mean, 0..1)",
    "deviation": "squared difference to the mean training image, channel mean",
}


def load_images(root: str | Path) -> tuple[list[str], np.ndarray]:
    """Ids and (N, H, W, C) float32 images in [0, 1] of a dataset; all images must share one size."""
    ids = list(check_files(root)["id"])
    images = [load_sample(root, i).image for i in ids]
    shapes = {image.shape for image in images}
    if len(shapes) > 1:
        raise ValueError(f"{root}: images of different sizes {sorted(shapes)}: a baseline map needs one size")
    return ids, np.stack(images).astype(np.float32) / 255


def mean_image(datasets: Sequence[str | Path]) -> np.ndarray:
    """The pixel-wise mean (H, W, C) of every image of the training datasets."""
    stacks = [load_images(root)[1] for root in datasets]
    shapes = {stack.shape[1:] for stack in stacks}
    if len(shapes) > 1:
        raise ValueError(f"training datasets {', '.join(map(str, datasets))} hold images of sizes {sorted(shapes)}")
    return np.concatenate(stacks).mean(axis=0)


def baseline_maps(model: str, images: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W) maps of (N, H, W, C) images in [0, 1]."""
    if model == "intensity":
        return images.mean(axis=-1)
    if model == "deviation":
        if mean is None or mean.shape != images.shape[1:]:
            got = None if mean is None else mean.shape
            raise ValueError(f"the mean training image {got} does not fit the images {images.shape[1:]}")
        return ((images - mean) ** 2).mean(axis=-1)
    raise ValueError(f"unknown baseline {model!r}; known: {', '.join(MODELS)}")


def write_baseline_maps(model: str, dataset: str | Path, train: Sequence[str | Path], output: str | Path) -> None:
    """The maps file of a baseline on a dataset (`train`: the datasets of the mean image, for `deviation`)."""
    ids, images = load_images(dataset)
    mean = mean_image(train) if model == "deviation" else None
    write_maps(
        output,
        ids,
        baseline_maps(model, images, mean),
        model=model,
        score=SCORES[model],
        settings={"train": [str(t) for t in train]} if model == "deviation" else {},
        made_from=f"dataset {dataset}",
    )
