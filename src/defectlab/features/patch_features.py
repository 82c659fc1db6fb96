"""Patch stores streamed as feature cells, batch by batch, for any model that reads patch features.

Memory is one batch of patches and its cells, whatever the store's size. A NaN or inf cell is refused
at once, naming the store and the patch: one such row makes every distance or score computed from it
NaN, and the cause (a corrupt weights file) is far from where it would show.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from defectlab.data.patch_store import PatchBatch, iter_patches
from defectlab.features.backbones import FeatureExtractor
from defectlab.hdf5 import open_h5

# (patches (B, P, P, 3) uint8, row of the first patch in the store) -> patches of the same shape
PatchTransform = Callable[[np.ndarray, int], np.ndarray]


def cell_features(extractor: FeatureExtractor, patches: np.ndarray) -> torch.Tensor:
    """(B, h, w, D) feature cells of a batch of uint8 patches."""
    return extractor(patches).permute(0, 2, 3, 1).contiguous()


def check_finite(cells: torch.Tensor, store: str | Path, batch: PatchBatch) -> None:
    """Refuse NaN or inf feature cells, naming the store and the first patch that gave them."""
    finite = torch.isfinite(cells).flatten(1).all(1)
    if not bool(finite.all()):
        k = int(torch.nonzero(~finite)[0, 0])
        raise ValueError(
            f"{store}: the backbone gives NaN or inf features for patch {batch.start + k} "
            f"(image {batch.images[k]}, x {batch.xs[k]}, y {batch.ys[k]}); check backbone.weights"
        )


def store_grid(store: str | Path, extractor: FeatureExtractor) -> tuple[int, int]:
    """(feature cells per patch side, patches) of a patch store."""
    with open_h5(store) as h5:
        return extractor.grid(int(h5.attrs["patch_size"])), len(h5["patches"])


def store_cells(
    extractor: FeatureExtractor,
    store: str | Path,
    batch_size: int,
    transform: PatchTransform | None = None,
) -> Iterator[tuple[PatchBatch, torch.Tensor]]:
    """Each batch of the store, in row order, with its (B, h, w, D) finite feature cells.

    A `transform` (e.g. augmentation) changes the patches before extraction; it is given the
    store row of the batch's first patch, so its random draws need not depend on the batch size.
    The batch is yielded as read (its patches untransformed).
    """
    for batch in iter_patches(store, batch_size):
        patches = batch.patches if transform is None else transform(batch.patches, batch.start)
        cells = cell_features(extractor, patches)
        check_finite(cells, store, batch)
        yield batch, cells
