"""Shared fixtures: a tiny dataset in the common layout, written with real PNG files."""

from pathlib import Path

import numpy as np
import pytest
from layout_files import write_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Three 64x96 images: dark left third (to be filtered), a scratch instance on the second."""
    rng = np.random.default_rng(0)
    images = {}
    for i in range(3):
        image = rng.integers(60, 200, (64, 96, 3), dtype=np.uint8)
        image[:, :32] = 5
        mask = np.zeros((64, 96), np.uint8)
        instances = np.zeros((64, 96), np.uint16)
        if i == 1:
            mask[10:20, 40:60] = 1
            instances[10:20, 40:60] = 1
        images[f"s-{i}"] = (image, mask, instances)
    return write_dataset(tmp_path / "ds", images, "train")
