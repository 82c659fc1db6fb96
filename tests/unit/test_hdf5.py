"""Patch stores, coresets and maps cut short or foreign are refused with their path."""

import h5py
import numpy as np
import pytest

from defectlab.data.patch_store import iter_patches, store_attrs
from defectlab.hdf5 import open_h5
from defectlab.maps import read_maps
from defectlab.patchcore.coreset_file import read_coreset


@pytest.fixture
def truncated(tmp_path):
    path = tmp_path / "shard-0.h5"
    with h5py.File(path, "w") as h5:
        h5["patches"] = np.zeros((64, 32, 32, 3), np.uint8)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def test_a_truncated_file_is_refused_with_its_path(truncated):
    message = rf"{truncated}: not a complete HDF5 file \(truncated file: eof = .*\); delete it and rerun"
    with pytest.raises(OSError, match=message):
        open_h5(truncated)
    for read in (lambda p: next(iter_patches(p, 4)), store_attrs, read_coreset, lambda p: read_maps([p])):
        with pytest.raises(OSError, match=message):
            read(truncated)


def test_a_file_that_is_not_hdf5_or_missing_is_refused_with_its_path(tmp_path):
    other = tmp_path / "maps.h5"
    other.write_text("not hdf5")
    with pytest.raises(OSError, match=rf"{other}: not a complete HDF5 file \(file signature not found\)"):
        open_h5(other)
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'none.h5'}: no such HDF5 file"):
        open_h5(tmp_path / "none.h5")


def test_a_complete_file_opens_read_only(tmp_path):
    path = tmp_path / "ok.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.arange(3)
    with open_h5(path) as h5:
        assert h5.mode == "r" and h5["x"][:].tolist() == [0, 1, 2]
