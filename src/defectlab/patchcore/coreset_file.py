"""Coreset HDF5 files: features, where each point came from, and how the coreset was built.

features   (M, D) float32
origin     (M,) compound: dataset, image, x, y (pixel centre of the feature cell)
attrs      backbone, layers, pooling, size, epochs, replacements and d_m per epoch, seed
"""

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from defectlab import __version__
from defectlab.runtime import atomic_output

ORIGIN_DTYPE = np.dtype(
    [("dataset", h5py.string_dtype()), ("image", h5py.string_dtype()), ("x", np.int32), ("y", np.int32)]
)


@dataclass
class CoresetFile:
    features: np.ndarray
    origin: pd.DataFrame  # columns dataset, image, x, y; one row per feature
    attrs: dict = field(default_factory=dict)


def write_coreset(path: str | Path, coreset: CoresetFile) -> None:
    """Write atomically; the origin table must have one row per feature."""
    if len(coreset.origin) != len(coreset.features):
        raise ValueError(f"{len(coreset.origin)} origins for {len(coreset.features)} features")
    records = np.array(
        list(coreset.origin[["dataset", "image", "x", "y"]].itertuples(index=False, name=None)), dtype=ORIGIN_DTYPE
    )
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=coreset.features.astype(np.float32), track_times=False)
        h5.create_dataset("origin", data=records, track_times=False)
        h5.attrs.update({**coreset.attrs, "code_version": __version__})


def read_coreset(path: str | Path) -> CoresetFile:
    with h5py.File(path, "r") as h5:
        origin = pd.DataFrame(h5["origin"][:])
        for column in ("dataset", "image"):
            origin[column] = origin[column].map(lambda v: v.decode() if isinstance(v, bytes) else v)
        return CoresetFile(h5["features"][:], origin, dict(h5.attrs))
