"""The common image-dataset layout shared by rendered and converted datasets.

{root}/images/{id}.png       RGB uint8
{root}/masks/{id}.png        uint8 class index (see defectlab.classes)
{root}/instances/{id}.png    uint16 instance id, 0 = none
{root}/index.parquet         one row per image: id, split, object, view, light, parameters, seed
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

INDEX_COLUMNS = ("id", "split", "object", "view", "light", "seed")


@dataclass(frozen=True)
class Sample:
    id: str
    image: np.ndarray  # (H, W, 3) uint8, RGB
    mask: np.ndarray  # (H, W) uint8 class index
    instances: np.ndarray  # (H, W) uint16 instance id


def read_index(root: str | Path) -> pd.DataFrame:
    """The dataset's index, checked for the columns every stage relies on."""
    path = Path(root) / "index.parquet"
    if not path.exists():
        raise FileNotFoundError(f"dataset index missing: {path}")
    index = pd.read_parquet(path)
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}")
    return index


def _read_png(path: Path, flags: int) -> np.ndarray:
    array = cv2.imread(str(path), flags)
    if array is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return array


def load_sample(root: str | Path, sample_id: str) -> Sample:
    """Image, class mask and instance mask of one sample, with their shapes checked against each other."""
    root = Path(root)
    image = cv2.cvtColor(_read_png(root / "images" / f"{sample_id}.png", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    mask = _read_png(root / "masks" / f"{sample_id}.png", cv2.IMREAD_UNCHANGED)
    instances = _read_png(root / "instances" / f"{sample_id}.png", cv2.IMREAD_UNCHANGED)
    if mask.shape != image.shape[:2] or instances.shape != image.shape[:2]:
        raise ValueError(
            f"{root}/{sample_id}: image {image.shape[:2]}, mask {mask.shape}, instances {instances.shape} differ"
        )
    return Sample(sample_id, image, mask.astype(np.uint8), instances.astype(np.uint16))


def write_png(path: str | Path, array: np.ndarray) -> None:
    """Write a PNG atomically (RGB arrays are given in RGB order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    if not cv2.imwrite(str(tmp), array):
        raise OSError(f"cannot write {path}")
    tmp.replace(path)
