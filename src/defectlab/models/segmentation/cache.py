"""The image cache of a segmentation dataset: every image of a dataset (or of one split) read once, as grey uint8
at the working scale with its binary defect target and impurity mask, in one HDF5 file that every grid point,
epoch and experiment then reads instead of the PNGs.

A cache file holds
- `ids`: the image ids, in the dataset's index order;
- groups `grey`, `target`, `impurity`, each with one (H_k, W_k) uint8 dataset per image, named by its position
  k ("0", "1", ...): images may differ in size. Targets are 1 on defect pixels, impurity 1 on impurity pixels
  (water stains, fingerprints, the clutch's insignificant defects: in the image, never a defect);
- attributes `kind`, `format`, `dataset` (its path), `scale`, `split` ("" for all) and `count`.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from defectlab.classes import DEFECT_INDICES, IMPURITY_INDICES
from defectlab.data.layout import Sample, check_files, load_sample
from defectlab.hdf5 import open_h5
from defectlab.runtime import atomic_output

KIND = "segmentation image cache"
FORMAT = 1
PLANES = ("grey", "target", "impurity")


@dataclass(frozen=True)
class Cache:
    """The images of a cache file, in the dataset's index order."""

    ids: list[str]
    greys: list[np.ndarray]  # (H, W) uint8
    targets: list[np.ndarray]  # (H, W) bool, defect pixels
    impurities: list[np.ndarray]  # (H, W) bool, impurity pixels
    scale: float
    dataset: str
    split: str | None


def cached_planes(sample: Sample, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey, defect target and impurity mask (uint8) of a sample at `scale`.

    Grey is the image's luma (OpenCV's RGB to grey, which returns the value itself for the layout's grey
    images stored as R = G = B, and converts colour sources such as KolektorSDD2 as the paper did); it is
    area-averaged when scaled, the masks take the nearest pixel so they stay binary."""
    grey = cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY)
    target = np.isin(sample.mask, DEFECT_INDICES).astype(np.uint8)
    impurity = np.isin(sample.mask, IMPURITY_INDICES).astype(np.uint8)
    if scale == 1:
        return grey, target, impurity
    height, width = grey.shape
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    return (
        cv2.resize(grey, size, interpolation=cv2.INTER_AREA),
        cv2.resize(target, size, interpolation=cv2.INTER_NEAREST),
        cv2.resize(impurity, size, interpolation=cv2.INTER_NEAREST),
    )


def write_cache(dataset: str | Path, output: str | Path, scale: float = 1.0, split: str | None = None) -> None:
    """Write the cache of a dataset (of one split, when given) atomically, one image in memory at a time;
    a selection without image is refused, naming the dataset, the split and the splits it has."""
    if scale <= 0:
        raise ValueError(f"{dataset}: the cache scale must be > 0, got {scale}")
    index = check_files(dataset)
    if split is not None:
        splits = sorted(index["split"].astype(str).unique())
        index = index[index["split"] == split]
        if index.empty:
            raise ValueError(f"{dataset}: no image of split {split!r} to cache (its splits: {', '.join(splits)})")
    ids = [str(i) for i in index["id"]]
    with atomic_output(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("ids", data=np.array(ids, dtype=h5py.string_dtype()), track_times=False)
        for k, sample_id in enumerate(ids):
            for plane, array in zip(PLANES, cached_planes(load_sample(dataset, sample_id), scale), strict=True):
                h5.create_dataset(f"{plane}/{k}", data=array, compression="gzip", compression_opts=1, track_times=False)
        h5.attrs.update(
            {
                "kind": KIND,
                "format": FORMAT,
                "dataset": str(dataset),
                "scale": float(scale),
                "split": split or "",
                "count": len(ids),
            }
        )


def read_cache(path: str | Path) -> Cache:
    """The cache at `path`; a file that is not a cache of this format is refused, named."""
    with open_h5(path) as h5:
        count = h5.attrs.get("count")
        if (
            h5.attrs.get("kind") != KIND
            or h5.attrs.get("format") != FORMAT
            or any(name not in h5 for name in ("ids", *PLANES))
            or any(len(h5[plane]) != count for plane in PLANES)
            or len(h5["ids"]) != count
        ):
            raise ValueError(
                f"{path}: not a segmentation image cache of format {FORMAT}; delete it and rerun the job that writes it"
            )
        ids = [s.decode() if isinstance(s, bytes) else s for s in h5["ids"][:]]
        greys, targets, impurities = ([h5[plane][str(k)][()] for k in range(count)] for plane in PLANES)
        return Cache(
            ids=ids,
            greys=greys,
            targets=[t.astype(bool) for t in targets],
            impurities=[m.astype(bool) for m in impurities],
            scale=float(h5.attrs["scale"]),
            dataset=str(h5.attrs["dataset"]),
            split=str(h5.attrs["split"]) or None,
        )
