"""Fixtures of the unit tests: tiny patch stores to stream features from."""

from pathlib import Path

import numpy as np
import pytest

from defectlab.data.layout import write_png
from defectlab.data.patch_store import PatchGrid, write_patch_store


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> list[Path]:
    """Two tiny stores (5 and 3 patches of 32 px), so patch indices run across a store boundary."""
    root = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    paths = []
    for k, count in enumerate((5, 3)):
        dataset = root / f"ds{k}"
        ids = [f"s-{i}" for i in range(count)]
        for sample in ids:
            write_png(dataset / "images" / f"{sample}.png", rng.integers(60, 200, (32, 32, 3), dtype=np.uint8))
            write_png(dataset / "masks" / f"{sample}.png", np.zeros((32, 32), np.uint8))
            write_png(dataset / "instances" / f"{sample}.png", np.zeros((32, 32), np.uint16))
        path = root / f"store{k}.h5"
        assert write_patch_store(path, dataset, ids, PatchGrid(32, 32), 31) == count
        paths.append(path)
    return paths
