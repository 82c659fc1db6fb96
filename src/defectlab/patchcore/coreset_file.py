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
from defectlab.data.layout import listed
from defectlab.hdf5 import open_h5
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
    """Write atomically; the origin table must have one row per feature.

    An empty coreset, or one with a NaN or inf feature, is refused: either would make every anomaly
    map scored against it undefined, and those maps would look finished.
    """
    if len(coreset.origin) != len(coreset.features):
        raise ValueError(f"{path}: {len(coreset.origin)} origins for {len(coreset.features)} features")
    if not len(coreset.features):
        raise ValueError(f"{path}: refusing to write a coreset without points")
    bad = np.flatnonzero(~np.isfinite(coreset.features).all(axis=1))
    if len(bad):
        first = coreset.origin.iloc[bad[0]]
        raise ValueError(
            f"{path}: refusing to write a coreset with NaN or inf in {len(bad)} of its {len(coreset.features)} "
            f"features (rows {listed(bad.tolist())}; row {bad[0]} came from dataset {first['dataset']}, "
            f"image {first['image']}, x {first['x']}, y {first['y']})"
        )
    records = np.array(
        list(coreset.origin[["dataset", "image", "x", "y"]].itertuples(index=False, name=None)), dtype=ORIGIN_DTYPE
    )
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=coreset.features.astype(np.float32), track_times=False)
        h5.create_dataset("origin", data=records, track_times=False)
        h5.attrs.update({**coreset.attrs, "code_version": __version__})


def read_coreset(path: str | Path) -> CoresetFile:
    """The coreset at `path`; an empty one, or one with NaN or inf features (from before they were refused
    at writing), is refused."""
    with open_h5(path) as h5:
        origin = pd.DataFrame(h5["origin"][:])
        for column in ("dataset", "image"):
            origin[column] = origin[column].map(lambda v: v.decode() if isinstance(v, bytes) else v)
        coreset = CoresetFile(h5["features"][:], origin, dict(h5.attrs))
    if not len(coreset.features):
        raise ValueError(f"{path}: the coreset holds no point; delete it and rerun the job that writes it")
    if not np.isfinite(coreset.features).all():
        raise ValueError(f"{path}: coreset features hold NaN or inf; delete it and rerun the job that writes it")
    return coreset
