"""Datasets in the common layout written file by file, for tests that need images of their own."""

from pathlib import Path

import numpy as np
import pandas as pd

from defectlab.data.layout import write_png


def write_dataset(root: Path, images: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], split: str) -> Path:
    """(image, class mask, instance mask) per id, and an index with a row per id."""
    for sample_id, (image, mask, instances) in images.items():
        write_png(root / "images" / f"{sample_id}.png", image)
        write_png(root / "masks" / f"{sample_id}.png", mask)
        write_png(root / "instances" / f"{sample_id}.png", instances)
    pd.DataFrame(
        {"id": list(images), "split": split, "object": "plate", "view": 0, "light": "hex", "seed": range(len(images))}
    ).to_parquet(root / "index.parquet")
    return root
