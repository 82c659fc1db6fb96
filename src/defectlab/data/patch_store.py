"""HDF5 patch stores: the image tiles of one dataset shard, filtered by mean intensity.

Layout (one file per dataset x split x shard):
    patches    (N, P, P, 3) uint8, chunked one patch per chunk
    masks      (N, P, P)    uint8 class index
    instances  (N, P, P)    uint16 instance id
    source     (N,) compound: image id, x, y (top-left corner of the tile in the image)
    images     (K,) every image id of the shard, kept tiles or not
    attrs      patch_size, stride, min_mean_intensity, image_height, image_width,
               mean, std (per-channel statistics of the kept patches), code_version
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from defectlab import __version__
from defectlab.data.layout import load_sample
from defectlab.runtime import atomic_output

SOURCE_DTYPE = np.dtype([("image", h5py.string_dtype()), ("x", np.int32), ("y", np.int32)])


@dataclass(frozen=True)
class PatchGrid:
    """Tile geometry of the kitchen-board thesis: floor((W - P) / s) + 1 tiles per row, top-left at s * i."""

    patch_size: int
    stride: int

    def positions(self, height: int, width: int) -> list[tuple[int, int]]:
        if height < self.patch_size or width < self.patch_size:
            raise ValueError(f"image {height}x{width} is smaller than the patch size {self.patch_size}")
        xs = range(0, (width - self.patch_size) // self.stride * self.stride + 1, self.stride)
        ys = range(0, (height - self.patch_size) // self.stride * self.stride + 1, self.stride)
        return [(x, y) for y in ys for x in xs]


def keeps(patch: np.ndarray, min_mean_intensity: float) -> bool:
    """The thesis' filter: keep a patch whose mean grey intensity is above the threshold (31 there)."""
    return float(patch.mean()) > min_mean_intensity


def write_patch_store(
    path: str | Path,
    dataset_root: str | Path,
    image_ids: Sequence[str],
    grid: PatchGrid,
    min_mean_intensity: float,
) -> int:
    """Cut every image into tiles, keep the bright enough ones and write them atomically; returns N kept."""
    patches, masks, instances, sources = [], [], [], []
    shape = None
    for image_id in image_ids:
        sample = load_sample(dataset_root, image_id)
        if shape is not None and sample.image.shape != shape:
            raise ValueError(f"{dataset_root}/{image_id}: shape {sample.image.shape} differs from {shape}")
        shape = sample.image.shape
        p = grid.patch_size
        for x, y in grid.positions(*shape[:2]):
            tile = sample.image[y : y + p, x : x + p]
            if keeps(tile, min_mean_intensity):
                patches.append(tile)
                masks.append(sample.mask[y : y + p, x : x + p])
                instances.append(sample.instances[y : y + p, x : x + p])
                sources.append((image_id, x, y))
    p = grid.patch_size
    stack = np.stack(patches) if patches else np.zeros((0, p, p, 3), np.uint8)
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as h5:
        chunks = (1, p, p, 3) if len(stack) else None
        h5.create_dataset("patches", data=stack, chunks=chunks, track_times=False)
        h5.create_dataset("masks", data=np.stack(masks) if masks else np.zeros((0, p, p), np.uint8), track_times=False)
        h5.create_dataset(
            "instances", data=np.stack(instances) if instances else np.zeros((0, p, p), np.uint16), track_times=False
        )
        h5.create_dataset("source", data=np.array(sources, dtype=SOURCE_DTYPE), track_times=False)
        h5.create_dataset("images", data=np.array(list(image_ids), dtype=h5py.string_dtype()), track_times=False)
        pixels = stack.reshape(-1, 3).astype(np.float64) if len(stack) else np.zeros((1, 3))
        h5.attrs.update(
            patch_size=p,
            stride=grid.stride,
            min_mean_intensity=min_mean_intensity,
            image_height=shape[0] if shape else 0,
            image_width=shape[1] if shape else 0,
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
    with h5py.File(path, "r") as h5:
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
    with h5py.File(path, "r") as h5:
        return dict(h5.attrs)


def store_images(path: str | Path) -> list[str]:
    """Every image id of the shard, including images none of whose tiles were kept."""
    with h5py.File(path, "r") as h5:
        return [s.decode() if isinstance(s, bytes) else s for s in h5["images"][:]]
