"""Tiny chess-like datasets in the image layout (the chess generator lives elsewhere; these are made here)."""

from pathlib import Path

import numpy as np
import pytest
from layout_files import write_dataset


def chess(height: int, width: int, square: int = 8, phase: int = 0) -> np.ndarray:
    """A black and white board, grey repeated in 3 channels as the layout stores grey images."""
    y, x = np.mgrid[:height, :width]
    grey = ((((y + phase) // square + (x + phase) // square) % 2) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def chess_dataset(root: Path, ids: list[str], height: int, width: int, split: str = "train") -> Path:
    samples = {
        sample_id: (
            chess(height, width, phase=3 * k),
            np.zeros((height, width), np.uint8),
            np.zeros((height, width), np.uint16),
        )
        for k, sample_id in enumerate(ids)
    }
    return write_dataset(root, samples, split)


@pytest.fixture(scope="package")
def boards(tmp_path_factory) -> Path:
    """4 training boards of 32², the paper's regime (4 images, batch 4) at a test's size."""
    return chess_dataset(tmp_path_factory.mktemp("boards"), [f"board-{k}" for k in range(4)], 32, 32)


SMALL = {"steps": 3, "checkpoint_every": 2, "hidden": 64, "latent": 8}
