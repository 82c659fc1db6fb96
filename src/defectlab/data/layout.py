"""The common image-dataset layout shared by rendered and converted datasets.

{root}/images/{id}.png       RGB uint8
{root}/masks/{id}.png        uint8 class index (see defectlab.classes)
{root}/instances/{id}.png    uint16 instance id, 0 = none
{root}/index.parquet         one row per image: id, split, object, view, light, parameters, seed
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from defectlab.classes import CLASSES

INDEX_COLUMNS = ("id", "split", "object", "view", "light", "seed")
FOLDERS = ("images", "masks", "instances")


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
    check_mask(root / "masks" / f"{sample_id}.png", mask)
    instances = _read_png(root / "instances" / f"{sample_id}.png", cv2.IMREAD_UNCHANGED)
    if mask.shape != image.shape[:2] or instances.shape != image.shape[:2]:
        raise ValueError(
            f"{root}/{sample_id}: image {image.shape[:2]}, mask {mask.shape}, instances {instances.shape} differ"
        )
    return Sample(sample_id, image, mask.astype(np.uint8), instances.astype(np.uint16))


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image from its header (the pixels are read once, when needed)."""
    with Image.open(path) as image:
        return image.size


def image_shape(root: str | Path, sample_id: str) -> tuple[int, int]:
    """(height, width) of a sample from its mask's PNG header, so a stage can check sizes before decoding pixels."""
    path = Path(root) / "masks" / f"{sample_id}.png"
    try:
        width, height = image_size(path)
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not a PNG file") from None
    return height, width


def listed(items: Iterable[object], most: int = 5) -> str:
    """A short list for a message: the first `most` items, and how many there are in all when more."""
    items = list(items)
    shown = ", ".join(map(str, items[:most]))
    return f"[{shown}]" if len(items) <= most else f"[{shown}, ...] ({len(items)} in all)"


def check_mask(path: str | Path, mask: np.ndarray) -> None:
    """Refuse a class mask that is not one channel of class indices (e.g. a 0/255 mask, whose defects
    would all read as one unknown class and vanish from every metric)."""
    if mask.ndim != 2:
        raise ValueError(f"{path}: a class mask has one channel, this one has shape {mask.shape}")
    values = np.flatnonzero(np.bincount(mask.ravel())) if mask.dtype == np.uint8 else np.unique(mask)
    bad = [int(v) for v in values if int(v) >= len(CLASSES)]
    if bad:
        known = ", ".join(c.name for c in CLASSES)
        raise ValueError(
            f"{path} holds values {listed(bad)} that are not class indices (0..{len(CLASSES) - 1}: {known})"
        )


def check_dataset(root: str | Path) -> pd.DataFrame:
    """Refuse a dataset whose index and folders disagree (`check_files`) or whose masks are not class
    indices (each mask is read once); returns its index."""
    root = Path(root)
    index = check_files(root)
    for i in index["id"]:
        path = root / "masks" / f"{i}.png"
        check_mask(path, _read_png(path, cv2.IMREAD_UNCHANGED))
    return index


def check_files(root: str | Path) -> pd.DataFrame:
    """Refuse a dataset without images, with repeated ids, or whose index and folders disagree; returns
    its index.

    Every later stage trusts the index: an image without a row would silently drop out of the
    evaluation, a row without files would fail deep inside a job.
    """
    root = Path(root)
    index = read_index(root)
    ids = index["id"].astype(str)
    if ids.empty:
        raise ValueError(f"{root / 'index.parquet'}: the dataset has no image")
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise ValueError(f"{root / 'index.parquet'}: ids {listed(repeated)} occur more than once")
    expected = {f"{i}.png" for i in ids}
    for folder in FOLDERS:
        present = {p.name for p in (root / folder).iterdir()} if (root / folder).is_dir() else set()
        missing = sorted(name.removesuffix(".png") for name in expected - present)
        if missing:
            raise ValueError(f"{root / folder}: no PNG for ids {listed(missing)} of {root / 'index.parquet'}")
        extra = sorted(present - expected)
        if extra:
            raise ValueError(f"{root / 'index.parquet'}: no row for {listed(f'{folder}/{name}' for name in extra)}")
    return index


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
