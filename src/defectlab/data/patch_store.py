"""HDF5 patch stores: the image tiles of one dataset shard, filtered by mean intensity.

Layout (one file per dataset x split x shard):
    patches    (N, P, P, 3) uint8, chunked one patch per chunk
    masks      (N, P, P)    uint8 class index
    instances  (N, P, P)    uint16 instance id
    source     (N,) compound: image id, x, y (top-left corner of the tile in the image)
    images     (K,) every image id of the shard, kept tiles or not
    attrs      patch_size, stride, edges, grid (image: the whole image; exclusions: the dataset's borders off
               its labels), min_mean_intensity, image_height, image_width,
               mean, std (per-channel statistics of the kept patches), code_version
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from defectlab import __version__
from defectlab.data.exclusions import Exclusion, border_positions, patch_positions
from defectlab.data.layout import load_sample
from defectlab.data.shards import shard_slice
from defectlab.hdf5 import open_h5
from defectlab.runtime import atomic_output

EDGES = ("flush", "none")
SOURCE_DTYPE = np.dtype([("image", h5py.string_dtype()), ("x", np.int32), ("y", np.int32)])


@dataclass(frozen=True)
class PatchGrid:
    """Tile geometry: top-left corners at x = s * i for i = 0 .. floor((W - P) / s), plus (`edges: flush`) a last
    column flush with the right edge at x = W - P when W - P is not a multiple of s; rows likewise (y, H).

    With flush edges and s <= P every pixel lies in a tile: the kitchen-board thesis' rule for its test
    patches (additional patches along the right and bottom edges "to ensure full coverage"), applied to the
    whole image (`defectlab.data.exclusions.border_positions`). The thesis' training grid has no flush column
    or row (`edges: none`) and a stride above the patch (512 or 448 for 224-pixel patches), which leaves
    pixels in no tile: fine for training, refused for a store whose tiles are scored (`scored`).
    """

    patch_size: int
    stride: int
    edges: str = "flush"
    scored: bool = True

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.stride < 1:
            raise ValueError(f"patches.size {self.patch_size} and patches.stride {self.stride} must be >= 1")
        if self.edges not in EDGES:
            raise ValueError(f"patches.edges must be one of {list(EDGES)}, got {self.edges!r}")
        if self.scored and self.stride > self.patch_size:
            raise ValueError(
                f"patches.stride {self.stride} is larger than patches.size {self.patch_size}: "
                f"{self.stride - self.patch_size} pixels between neighbouring tiles would never be scored"
            )
        if self.scored and self.edges != "flush":
            raise ValueError("patches.edges 'none' leaves the right and bottom edges in no tile: never scored")

    def positions(self, height: int, width: int) -> list[tuple[int, int]]:
        """(x, y) top-left corners, row by row."""
        if height < self.patch_size or width < self.patch_size:
            raise ValueError(f"image {height}x{width} is smaller than the patch size {self.patch_size}")
        return border_positions((0, 0, width, height), self.patch_size, self.stride, self.edges == "flush")


def keeps(patch: np.ndarray, min_mean_intensity: float) -> bool:
    """The thesis' filter: keep a patch whose mean grey intensity is above the threshold (31 there)."""
    return float(patch.mean()) > min_mean_intensity


def shard_images(index: pd.DataFrame, shard: int, shards: int, dataset: str | Path) -> list[str]:
    """The sorted image ids of one patch shard; a shard without images (more shards than images) is refused."""
    ids = shard_slice(sorted(index["id"]), shard, shards)
    if not ids:
        raise ValueError(
            f"{dataset}: patches.shards = {shards} is more than its {len(index)} images, so patch shard {shard} "
            f"would hold none; set patches.shards to at most {len(index)}"
        )
    return ids


@dataclass
class _Tiles:
    """The kept tiles of a shard, and the brightest tile mean seen (for the message when none is kept)."""

    patches: list[np.ndarray] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    instances: list[np.ndarray] = field(default_factory=list)
    sources: list[tuple[str, int, int]] = field(default_factory=list)
    shape: tuple[int, ...] | None = None
    brightest: float = -np.inf


def _cut(
    dataset_root: str | Path,
    image_ids: Sequence[str],
    grid: PatchGrid,
    min_mean_intensity: float,
    areas: Mapping[str, Exclusion] | None = None,
) -> _Tiles:
    """The tiles of every image that pass the intensity filter, in image and grid order; with `areas` (by image
    id) the tiles of each image's borders off its labels, as the patch unit places its test patches."""
    tiles = _Tiles()
    p = grid.patch_size
    for image_id in image_ids:
        sample = load_sample(dataset_root, image_id)
        if tiles.shape is not None and sample.image.shape != tiles.shape:
            raise ValueError(f"{dataset_root}/{image_id}: shape {sample.image.shape} differs from {tiles.shape}")
        tiles.shape = sample.image.shape
        positions = (
            grid.positions(*tiles.shape[:2])
            if areas is None
            else patch_positions(areas[image_id], grid.patch_size, grid.stride)
        )
        for x, y in positions:
            tile = sample.image[y : y + p, x : x + p]
            tiles.brightest = max(tiles.brightest, float(tile.mean()))
            if keeps(tile, min_mean_intensity):
                tiles.patches.append(tile)
                tiles.masks.append(sample.mask[y : y + p, x : x + p])
                tiles.instances.append(sample.instances[y : y + p, x : x + p])
                tiles.sources.append((image_id, x, y))
    return tiles


def write_patch_store(
    path: str | Path,
    dataset_root: str | Path,
    image_ids: Sequence[str],
    grid: PatchGrid,
    min_mean_intensity: float,
    training: bool = False,
    areas: Mapping[str, Exclusion] | None = None,
) -> int:
    """Cut every image into tiles (with `areas`, by image id, only inside the borders and off the labels), keep
    the bright enough ones and write them atomically; returns N kept.

    A training store must keep a tile: an empty one would make an empty coreset several jobs later.
    """
    if not image_ids:
        raise ValueError(f"{path}: no image of {dataset_root} to cut into patches")
    tiles = _cut(dataset_root, image_ids, grid, min_mean_intensity, areas)
    if training and not tiles.patches:
        raise ValueError(
            f"{path}: patches.min_mean_intensity = {min_mean_intensity} drops every tile of the {len(image_ids)} "
            f"training images of {dataset_root} in this shard (the brightest tile's mean is {tiles.brightest:.1f})"
        )
    p = grid.patch_size
    stack = np.stack(tiles.patches) if tiles.patches else np.zeros((0, p, p, 3), np.uint8)
    masks = np.stack(tiles.masks) if tiles.masks else np.zeros((0, p, p), np.uint8)
    instances = np.stack(tiles.instances) if tiles.instances else np.zeros((0, p, p), np.uint16)
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as h5:
        chunks = (1, p, p, 3) if len(stack) else None
        h5.create_dataset("patches", data=stack, chunks=chunks, track_times=False)
        h5.create_dataset("masks", data=masks, track_times=False)
        h5.create_dataset("instances", data=instances, track_times=False)
        h5.create_dataset("source", data=np.array(tiles.sources, dtype=SOURCE_DTYPE), track_times=False)
        h5.create_dataset("images", data=np.array(list(image_ids), dtype=h5py.string_dtype()), track_times=False)
        pixels = stack.reshape(-1, 3).astype(np.float64) if len(stack) else np.zeros((1, 3))
        h5.attrs.update(
            patch_size=p,
            stride=grid.stride,
            edges=grid.edges,
            grid="image" if areas is None else "exclusions",
            min_mean_intensity=min_mean_intensity,
            image_height=tiles.shape[0],
            image_width=tiles.shape[1],
            mean=pixels.mean(axis=0),
            std=pixels.std(axis=0),
            code_version=__version__,
        )
    return len(stack)


@dataclass(frozen=True)
class PatchBatch:
    patches: np.ndarray  # (B, P, P, 3) uint8
    images: list[str]
    xs: np.ndarray
    ys: np.ndarray
    start: int  # row of the first patch in the store


def iter_patches(path: str | Path, batch_size: int) -> Iterator[PatchBatch]:
    """Read a patch store in row order, `batch_size` patches at a time, so memory stays bounded."""
    with open_h5(path) as h5:
        n = len(h5["patches"])
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            source = h5["source"][start:stop]
            yield PatchBatch(
                patches=h5["patches"][start:stop],
                images=[s.decode() if isinstance(s, bytes) else s for s in source["image"]],
                xs=source["x"].astype(np.int64),
                ys=source["y"].astype(np.int64),
                start=start,
            )


def store_attrs(path: str | Path) -> dict:
    """The attributes of a patch store (patch size, stride, image shape...)."""
    with open_h5(path) as h5:
        return dict(h5.attrs)


def store_images(path: str | Path) -> list[str]:
    """Every image id of the shard, including images none of whose tiles were kept."""
    with open_h5(path) as h5:
        return [s.decode() if isinstance(s, bytes) else s for s in h5["images"][:]]
