"""Per-channel patch statistics of a dataset, to normalise a backbone's inputs with a study's own mean and std
(the kitchen-board thesis, §3.2.2: per category, over its patches of 224 pixels at stride 112).

The thesis does not say which patches or how the std is pooled; here: the training grid of the dataset's
images (whole image, no flush edges), the patches kept by the mean-intensity filter, and the mean and std
pooled over their pixels. The counts, sums and sums of squares are integers (uint8 pixels), so the statistics
of several datasets combine exactly, whatever the order.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from defectlab.data.exclusions import border_positions
from defectlab.data.layout import load_sample
from defectlab.data.patch_store import keeps
from defectlab.runtime import atomic_output


@dataclass(frozen=True)
class ChannelSums:
    """Pixel count and per-channel sums and sums of squares of uint8 values (exact integers)."""

    pixels: int
    sums: tuple[int, int, int]
    squares: tuple[int, int, int]
    patches: int = 0

    def __add__(self, other: "ChannelSums") -> "ChannelSums":
        return ChannelSums(
            self.pixels + other.pixels,
            tuple(a + b for a, b in zip(self.sums, other.sums, strict=True)),
            tuple(a + b for a, b in zip(self.squares, other.squares, strict=True)),
            self.patches + other.patches,
        )

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) per RGB channel on the [0, 1] scale, pooled over every pixel (population std)."""
        if not self.pixels:
            raise ValueError("no patch kept: the statistics are undefined")
        n = self.pixels
        mean = tuple(s / n / 255 for s in self.sums)
        var = ((q * n - s * s) / (n * n) for s, q in zip(self.sums, self.squares, strict=True))
        return mean, tuple(max(v, 0.0) ** 0.5 / 255 for v in var)


def patch_sums(
    root: str | Path, image_ids: Sequence[str], size: int, stride: int, min_mean_intensity: float
) -> ChannelSums:
    """The channel sums of the patches of `size` every `stride` pixels (no flush edges) kept by the filter."""
    total = ChannelSums(0, (0, 0, 0), (0, 0, 0))
    for image_id in image_ids:
        image = load_sample(root, image_id).image
        height, width = image.shape[:2]
        for x, y in border_positions((0, 0, width, height), size, stride, flush=False):
            patch = image[y : y + size, x : x + size]
            if keeps(patch, min_mean_intensity):
                values = patch.reshape(-1, 3).astype(np.int64)
                total += ChannelSums(
                    len(values),
                    tuple(int(v) for v in values.sum(axis=0)),
                    tuple(int(v) for v in (values * values).sum(axis=0)),
                    1,
                )
    return total


def write_statistics(path: str | Path, sums: ChannelSums, settings: dict) -> None:
    """The sums, the mean and std they give, and how they were made, as JSON (written atomically)."""
    mean, std = sums.mean_std()
    data = {
        "mean": list(mean),
        "std": list(std),
        "pixels": sums.pixels,
        "patches": sums.patches,
        "sums": list(sums.sums),
        "squares": list(sums.squares),
        "method": "pooled per-pixel mean and population std of the kept training-grid patches, [0, 1] scale",
        **settings,
    }
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1) + "\n")


def read_sums(path: str | Path) -> ChannelSums:
    data = json.loads(Path(path).read_text())
    return ChannelSums(data["pixels"], tuple(data["sums"]), tuple(data["squares"]), data["patches"])


def pooled_statistics(paths: Sequence[str | Path]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """(mean, std) pooled over the statistics files of several datasets; None for no file (the weights' own)."""
    if not paths:
        return None
    total = read_sums(paths[0])
    for path in paths[1:]:
        total += read_sums(path)
    return total.mean_std()


def patch_counts(
    root: str | Path, image_ids: Sequence[str], size: int, stride: int, min_mean_intensity: float
) -> tuple[int, int]:
    """(positions, patches kept by the filter) of the training grid (no flush edges) over the images: the
    thesis's Table 5.2 "data length" is the second."""
    positions = kept = 0
    for image_id in image_ids:
        image = load_sample(root, image_id).image
        height, width = image.shape[:2]
        grid = border_positions((0, 0, width, height), size, stride, flush=False)
        positions += len(grid)
        kept += sum(keeps(image[y : y + size, x : x + size], min_mean_intensity) for x, y in grid)
    return positions, kept
