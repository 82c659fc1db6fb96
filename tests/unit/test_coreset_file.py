"""Coreset files: written atomically, never empty or with NaN or inf features."""

import h5py
import numpy as np
import pandas as pd
import pytest

from defectlab.patchcore.coreset_file import CoresetFile, read_coreset, write_coreset


def _coreset(count: int = 4) -> CoresetFile:
    origin = pd.DataFrame({"dataset": "ds", "image": [f"s-{i}" for i in range(count)], "x": 4, "y": range(count)})
    return CoresetFile(np.arange(count * 3, dtype=np.float32).reshape(count, 3), origin, {"size": count})


def test_a_coreset_reads_back_as_written(tmp_path):
    write_coreset(tmp_path / "c.h5", _coreset())
    back = read_coreset(tmp_path / "c.h5")
    np.testing.assert_array_equal(back.features, _coreset().features)
    assert back.origin.values.tolist() == _coreset().origin.values.tolist() and back.attrs["size"] == 4


def test_a_coreset_with_nan_is_refused_naming_the_file_and_the_source(tmp_path):
    coreset = _coreset()
    coreset.features[2, 1] = np.nan
    coreset.features[3, 0] = np.inf
    message = (
        r"c.h5: refusing to write a coreset with NaN or inf in 2 of its 4 features \(rows \[2, 3\]; "
        r"row 2 came from dataset ds, image s-2, x 4, y 2\)"
    )
    with pytest.raises(ValueError, match=message):
        write_coreset(tmp_path / "c.h5", coreset)
    assert not list(tmp_path.iterdir())


def test_an_empty_coreset_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"c.h5: refusing to write a coreset without points"):
        write_coreset(tmp_path / "c.h5", _coreset(0))


def test_a_coreset_file_with_nan_is_refused_when_read(tmp_path):
    write_coreset(tmp_path / "c.h5", _coreset())
    with h5py.File(tmp_path / "c.h5", "r+") as h5:
        h5["features"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"c.h5: coreset features hold NaN or inf; delete it and rerun"):
        read_coreset(tmp_path / "c.h5")


def test_an_empty_coreset_file_is_refused_when_read(tmp_path):
    with h5py.File(tmp_path / "c.h5", "w") as h5:
        h5["features"] = np.zeros((0, 3), np.float32)
        h5["origin"] = np.zeros(0, [("dataset", "S1"), ("image", "S1"), ("x", "i4"), ("y", "i4")])
    with pytest.raises(ValueError, match=r"c.h5: the coreset holds no point"):
        read_coreset(tmp_path / "c.h5")
