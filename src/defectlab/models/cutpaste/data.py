"""CutPaste's training patches: tiles of the training images on a grid (the thesis: 224 pixels at stride 112,
the whole image, the > 31 mean filter), a seeded hold-out for early stopping, and the batches of a step drawn
from (seed, step), so a resumed run sees exactly the batches an uninterrupted one would.

Images stay in memory as uint8 and patches are cut when a batch is built (the full-scale White set, 185,875
patches of 224 pixels, would take 28 GB as tiles; its 168 images take 9.7 GB). A step takes `batch_pairs`
patches of the epoch's seeded order and their augmented views (`augment.views`); sample k of the run (its
index in the order of all steps) draws its augmentation from (seed, k), whatever the batching.
"""

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from defectlab.data.layout import check_files, load_sample
from defectlab.data.patch_store import PatchGrid, keeps
from defectlab.models.cutpaste.augment import AugmentSettings, views
from defectlab.seeds import derive_seed
from defectlab.training import step_generator


class TrainingPatches:
    """The kept tiles of the training images: `images` (uint8 (H, W, 3) each) and `corners` (image, x, y)."""

    def __init__(self, datasets: Sequence[str | Path], size: int, stride: int, edges: str, min_mean: float) -> None:
        if not datasets:
            raise ValueError("cutpaste: no training dataset given")
        grid = PatchGrid(size, stride, edges, scored=False)
        self.size = size
        self.images: list[np.ndarray] = []
        corners = []
        for dataset in datasets:
            for sample_id in check_files(dataset)["id"].astype(str):
                image = load_sample(dataset, sample_id).image
                k = len(self.images)
                self.images.append(image)
                height, width = image.shape[:2]
                for x, y in grid.positions(height, width):
                    if keeps(image[y : y + size, x : x + size], min_mean):
                        corners.append((k, x, y))
        if not corners:
            raise ValueError(
                f"cutpaste: no training patch of {size} pixels at stride {stride} passes the mean filter "
                f"(> {min_mean}) in {list(map(str, datasets))}"
            )
        self.corners = np.array(corners, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.corners)

    def cut(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), size, size, 3) uint8 tiles of the corners `rows`."""
        s = self.size
        return np.stack([self.images[k][y : y + s, x : x + s] for k, x, y in self.corners[rows]])


def hold_out(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): a seeded round(fraction·n) of the patches (at least 1) held out, at least one
    kept for training."""
    if n < 2:
        raise ValueError(f"cutpaste: early stopping needs at least 2 training patches, got {n}")
    order = np.random.default_rng(derive_seed(seed, "hold-out")).permutation(n)
    held = min(n - 1, max(1, round(fraction * n)))
    return np.sort(order[held:]), np.sort(order[:held])


def as_batch(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, 3) views and their labels as tensors (N, 3, H, W) uint8 and (N,) int64."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))), torch.from_numpy(labels)


class PairBatches:
    """batch(step): the patches of `rows` at positions (step - 1)·pairs .. step·pairs of the epoch's seeded order
    (an epoch is ceil(len(rows) / pairs) steps, its last batch shorter), and their augmented views."""

    def __init__(
        self,
        patches: TrainingPatches,
        rows: np.ndarray,
        pairs: int,
        variant: str,
        augment: AugmentSettings,
        seed: int,
    ) -> None:
        self.patches, self.rows, self.pairs = patches, rows, pairs
        self.variant, self.augment, self.seed = variant, augment, seed
        self.steps_per_epoch = math.ceil(len(rows) / pairs)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, within = divmod(step - 1, self.steps_per_epoch)
        order = torch.randperm(len(self.rows), generator=step_generator(derive_seed(self.seed, "order"), epoch)).numpy()
        chosen = self.rows[order[within * self.pairs : (within + 1) * self.pairs]]
        first = (step - 1) * self.pairs  # the run's index of the batch's first sample
        images, labels, _ = views(self.patches.cut(chosen), self.variant, self.seed, first, self.augment)
        return as_batch(images, labels)


def validation_batches(
    patches: TrainingPatches, rows: np.ndarray, size: int, variant: str, augment: AugmentSettings, seed: int
):
    """The held-out patches and their augmented views in batches of `size` pairs, the same views at every
    evaluation (drawn from (seed, "validation"), cut again each time instead of being kept in memory)."""
    fixed = derive_seed(seed, "validation")
    for first in range(0, len(rows), size):
        chunk = rows[first : first + size]
        images, labels, _ = views(patches.cut(chunk), variant, fixed, first, augment)
        yield as_batch(images, labels)
