"""Denoised twins of datasets: the kitchen-board thesis's "blur" preprocessing (seed 002 §6).

A dataset with `denoise_of: X` is dataset X (generated or converted, any layout-conforming folder) with every
image passed through OpenCV's non-local means filter for colour images,

    cv2.fastNlMeansDenoisingColored(bgr, None, h, hColor, templateWindowSize, searchWindowSize)

applied to the whole image (never per patch, whose edges would be treated differently), for every split alike.
Images are stored and handled as RGB (`defectlab.data.layout`) while OpenCV's colour functions take BGR: the
filter converts BGR to CIELab and smooths the luminance with `h` and the colour components with `hColor`, so
the channel order is not neutral; each image is converted RGB -> BGR, denoised, and converted BGR -> RGB.

Everything else is the source's, byte for byte: masks/, instances/, exclusions.json and any other file or folder
of the source dataset are copied unchanged (denoising moves no pixel, so the ground truth and the exclusion
areas still hold). The index keeps every row and column of the source's and gains the columns

    denoise_of         the source dataset's name
    denoise_h          h           (filter strength of the luminance)
    denoise_h_color    hColor      (filter strength of the colour components)
    denoise_template   templateWindowSize (odd, pixels)
    denoise_search     searchWindowSize   (odd, pixels)
    denoise_opencv     the OpenCV version that filtered (the bytes depend on it)

(one value per dataset, repeated on every row, so a table built from the index carries them). A denoised twin of
a denoised dataset records its own step; the earlier one stays in its source's index (follow `denoise_of`).

Deterministic: the filter has no random choice, the PNG writer none, so the same source and parameters give the
same bytes (on one machine and OpenCV version; the thread count does not change the result). Memory: one image.
"""

import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from defectlab.data.layout import check_files, load_sample, write_png
from defectlab.runtime import atomic_output

REWRITTEN = ("images", "index.parquet")  # the rest of a source dataset is copied as it is
COLUMNS = ("denoise_of", "denoise_h", "denoise_h_color", "denoise_template", "denoise_search", "denoise_opencv")


@dataclass(frozen=True)
class Denoise:
    """The parameters of cv2.fastNlMeansDenoisingColored (the defaults: the OpenCV tutorial's, seed 002 §6;
    OpenCV's own 3/3/7/21 are too weak to explain the thesis's effects)."""

    h: float = 10  # filter strength of the luminance (h)
    h_color: float = 10  # of the colour components (hColor)
    template: int = 7  # templateWindowSize, odd
    search: int = 21  # searchWindowSize, odd

    def __post_init__(self) -> None:
        for name in ("h", "h_color"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"denoise.{name} must be a number > 0, got {value!r}")
        for name in ("template", "search"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
                raise ValueError(f"denoise.{name} must be an odd integer >= 1 (a window size), got {value!r}")

    @classmethod
    def of(cls, value: "Denoise | Mapping[str, object] | None") -> "Denoise":
        """Parameters from None (defaults), a Denoise or the config's `denoise` mapping."""
        if value is None:
            return cls()
        if isinstance(value, Denoise):
            return value
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"denoise: unknown keys {unknown}; known: {', '.join(known)}")
        return cls(**value)  # type: ignore[arg-type]


def denoise_image(image: np.ndarray, params: Denoise) -> np.ndarray:
    """An RGB uint8 image (H, W, 3) denoised: RGB -> BGR, cv2.fastNlMeansDenoisingColored, BGR -> RGB."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    out = cv2.fastNlMeansDenoisingColored(
        bgr, None, float(params.h), float(params.h_color), int(params.template), int(params.search)
    )
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def denoise_dataset(
    source: str | Path, out: str | Path, params: Denoise | Mapping | None = None, *, name: str | None = None
) -> pd.DataFrame:
    """Write the denoised twin of the dataset folder `source` into `out` (see the module docstring): images
    denoised one at a time, everything else copied, the index (with the parameters, `name` the source's name,
    default its folder's) written last and atomically. Returns that index.

    The source is checked first (`layout.check_files`: index and folders agree), so a broken source fails before
    any image is filtered. `out` must not hold a dataset yet (the workflow gives a fresh temporary folder)."""
    source, out = Path(source), Path(out)
    params = Denoise.of(params)
    index = check_files(source)
    if (out / "index.parquet").exists():
        raise FileExistsError(f"{out} already holds a dataset (index.parquet)")
    out.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.name in REWRITTEN:
            continue
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, dirs_exist_ok=True)
        else:
            shutil.copyfile(entry, out / entry.name)
    for sample_id in index["id"].astype(str):
        image = load_sample(source, sample_id).image
        write_png(out / "images" / f"{sample_id}.png", denoise_image(image, params))
    index = index.copy()
    recorded = {"denoise_of": name or source.name, **{f"denoise_{k}": v for k, v in asdict(params).items()}}
    recorded["denoise_opencv"] = cv2.__version__
    for column in COLUMNS:
        index[column] = recorded[column]
    with atomic_output(out / "index.parquet") as tmp:
        index.to_parquet(tmp, index=False)
    return index


def parameters(index: pd.DataFrame) -> dict[str, object] | None:
    """The denoise parameters a dataset's index records (`COLUMNS` without the prefix), or None for a dataset
    that was not denoised."""
    if "denoise_of" not in index.columns:
        return None
    first = index.iloc[0]
    return {column.removeprefix("denoise_"): _plain(first[column]) for column in COLUMNS}


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value it holds (a Parquet column gives NumPy scalars)."""
    return value.item() if isinstance(value, np.generic) else value
