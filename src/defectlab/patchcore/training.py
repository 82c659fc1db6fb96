"""Coreset building over patch stores: features streamed batch by batch, epochs until no change.

Only the coreset is held in memory; the stream is re-read from the HDF5 stores every epoch.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from defectlab.data.layout import listed
from defectlab.features.backbones import FeatureExtractor
from defectlab.features.patch_features import PatchTransform, store_cells, store_grid
from defectlab.hdf5 import open_h5
from defectlab.patchcore.augment import Augmentation, augment_patches
from defectlab.patchcore.sequential import SequentialCoreset


@dataclass
class EpochLog:
    """Replacements and minimum pairwise distance d_m after each epoch."""

    replacements: list[int] = field(default_factory=list)
    min_distance: list[float] = field(default_factory=list)


def stream_rows(extractor: FeatureExtractor, stores: Sequence[Path]) -> int:
    """The number of feature rows the stores stream; none at all is refused, naming the stores."""
    total = sum(patches * grid * grid for grid, patches in (store_grid(s, extractor) for s in stores))
    if not total:
        raise ValueError(
            f"patch stores {listed(map(str, stores))} hold no patch, so there is no feature to build a coreset "
            f"from (every tile darker than patches.min_mean_intensity?)"
        )
    return total


def stream(
    extractor: FeatureExtractor,
    stores: Sequence[Path],
    batch_size: int,
    augmentation: Augmentation | None = None,
    seed: int = 0,
    epoch: int = 0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Feature rows and their stream ids, in store, patch and cell order.

    A stream id numbers every feature cell of the stores in order, so the origin of any
    coreset point can be recovered after training without keeping the stream.

    With an `augmentation`, each batch of patches is augmented before feature extraction; a
    patch's random draws come from (seed, epoch, its index over all the stores), so the
    augmented stream of an epoch does not depend on the batch size. Ids are unchanged: they
    name the stored patch cell an augmented row came from.
    """
    offset = 0
    patch_offset = 0
    for store in stores:
        grid, patches = store_grid(store, extractor)
        per_patch = grid * grid
        augment = _augmenter(augmentation, seed, epoch, patch_offset)
        for batch, cells in store_cells(extractor, store, batch_size, augment):
            if cells.shape[1:3] != (grid, grid):
                raise ValueError(f"{store}: feature grid {tuple(cells.shape[1:3])}, expected {grid}x{grid}")
            first = offset + batch.start * per_patch
            yield cells.reshape(-1, cells.shape[-1]), torch.arange(first, first + len(batch.patches) * per_patch)
        offset += patches * per_patch
        patch_offset += patches


def _augmenter(augmentation: Augmentation | None, seed: int, epoch: int, patch_offset: int) -> PatchTransform | None:
    """A store's patch transform for `store_cells`: its patch i is patch `patch_offset + i` of the stream."""
    if augmentation is None:
        return None
    return lambda patches, start: augment_patches(patches, augmentation, seed, epoch, patch_offset + start)


def fit_coreset(
    extractor: FeatureExtractor,
    stores: Sequence[Path],
    size: int,
    max_epochs: int,
    batch_size: int,
    device: str,
    augmentation: Augmentation | None = None,
    seed: int = 0,
    pretrained: torch.Tensor | None = None,
) -> tuple[SequentialCoreset, EpochLog]:
    """Epochs over the stores until one makes no replacement or `max_epochs` is reached.

    With an `augmentation`, every epoch sees new patches (epoch e is augmented with seed, e),
    so an epoch without replacement is unlikely and training usually runs to `max_epochs`
    (the paper trains 5 epochs); the stop at zero replacements is kept all the same.

    Fine-tuning: with `pretrained` (K, D) coreset features, the coreset starts from those points,
    in order (their ids are `pretrained_ids(K)`), and the rule continues on the new stores.
    """
    stream_rows(extractor, stores)
    coreset = SequentialCoreset(size=size, device=device)
    if pretrained is not None:
        coreset.update(pretrained.to(device), ids=pretrained_ids(len(pretrained)))
    log = EpochLog()
    for epoch in range(max_epochs):
        batches = stream(extractor, stores, batch_size, augmentation=augmentation, seed=seed, epoch=epoch)
        replacements = sum(coreset.update(rows.to(device), ids=ids) for rows, ids in batches)
        log.replacements.append(int(replacements))
        log.min_distance.append(float(coreset.min_distance))
        print(f"epoch {epoch + 1}: {replacements} replacements, d_m = {coreset.min_distance:.4f}", flush=True)
        if replacements == 0:
            break
    return coreset, log


def pretrained_ids(count: int) -> torch.Tensor:
    """Ids of the points of a pretrained coreset: -1 - k for its point k, apart from every stream id (>= 0)."""
    return -1 - torch.arange(count)


def stream_origins(
    ids: np.ndarray,
    stores: Sequence[Path],
    datasets: Sequence[str],
    extractor: FeatureExtractor,
    pretrained: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Dataset, image and pixel centre of the feature cells with the given stream ids, in id order given.

    Negative ids are points of a pretrained coreset (see `pretrained_ids`): their origin is the
    row of that coreset's `pretrained` origin table, so provenance survives fine-tuning.
    """
    found: dict[int, tuple] = {}
    if (ids < 0).any():
        rows = pretrained[["dataset", "image", "x", "y"]].itertuples(index=False, name=None)
        found.update({-1 - k: row for k, row in enumerate(rows)})
    offset = 0
    for store, dataset in zip(stores, datasets, strict=True):
        grid, patches = store_grid(store, extractor)
        with open_h5(store) as h5:
            source = h5["source"][:]
        for stream_id in ids[(ids >= offset) & (ids < offset + patches * grid * grid)]:
            patch, within = divmod(int(stream_id - offset), grid * grid)
            cy, cx = divmod(within, grid)
            image, x, y = source[patch]
            image = image.decode() if isinstance(image, bytes) else image
            found[int(stream_id)] = (
                dataset,
                image,
                int(x) + extractor.cell_centre(cx),
                int(y) + extractor.cell_centre(cy),
            )
        offset += patches * grid * grid
    return pd.DataFrame([found[int(i)] for i in ids], columns=["dataset", "image", "x", "y"])
