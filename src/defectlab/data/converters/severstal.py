"""Severstal: Steel Defect Detection (Kaggle competition, 2019) into the common layout.

Layout, as downloaded from the competition's data page (its data description; the same files are read by
the public notebooks of the competition):

    train_images/{ImageId}.jpg   1600x256 images of the training set (12568)
    train.csv                    one row per image and defect class present: ImageId, ClassId (1-4),
                                 EncodedPixels; the first release had one column ImageId_ClassId
                                 ("{ImageId}_{ClassId}") and four rows per image, empty where a class
                                 is absent. Both are read.
    test_images/                 unlabelled (the competition's private test): not converted

EncodedPixels is run-length encoded: pairs "start length", starts 1-based, pixels numbered from top to
bottom, then left to right (`common.decode_rle`). Images without a row have no defect.
Splits: only "train" (its test set is private; the 004 study splits train 4:1: `Splits(val_fraction=0.2,
val_from="train")`). Ids: the image's stem. Label: its ClassIds joined by "|" ("" for none). Instances:
8-connected components, per class.

Class table: the four classes are numbered, not named; the 004 study merges them into one defect class.

    1, 2, 3, 4   -> other_defect
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
    ClassTable,
    Item,
    RunLength,
    Splits,
    converter_setup,
    image_files,
    join_labels,
    make_id,
    require_dir,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema

NAME = "severstal"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
CLASS_MAP = ClassTable(NAME, dict.fromkeys(("1", "2", "3", "4"), OTHER_DEFECT))


def read_runs(path: Path) -> pd.DataFrame:
    """train.csv as (ImageId, ClassId, EncodedPixels) rows with a run-length string, in either release."""
    if not path.is_file():
        raise FileNotFoundError(f"{NAME}: annotation table not found: {path}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if {"ImageId", "ClassId", "EncodedPixels"} <= set(table.columns):
        runs = table[["ImageId", "ClassId", "EncodedPixels"]]
    elif {"ImageId_ClassId", "EncodedPixels"} <= set(table.columns):
        parts = table["ImageId_ClassId"].str.rsplit("_", n=1, expand=True)
        runs = pd.DataFrame({"ImageId": parts[0], "ClassId": parts[1], "EncodedPixels": table["EncodedPixels"]})
    else:
        raise ValueError(
            f"{NAME}: {path}: expected columns ImageId, ClassId, EncodedPixels (or ImageId_ClassId, EncodedPixels), "
            f"got {list(table.columns)}"
        )
    return runs[runs["EncodedPixels"].str.strip() != ""].reset_index(drop=True)


def plan(source: Path, table: ClassTable) -> list[Item]:
    images_dir = require_dir(source / "train_images", NAME, "image folder train_images/")
    csv = source / "train.csv"
    runs = read_runs(csv)
    images = {p.name: p for p in image_files(images_dir)}
    missing = sorted(set(runs["ImageId"]) - set(images))
    if missing:
        raise FileNotFoundError(f"{NAME}: {csv} names images missing from {images_dir}: {', '.join(missing[:5])}")
    by_image = {name: rows for name, rows in runs.groupby("ImageId", sort=True)}
    items = []
    for name, image in images.items():
        rows = by_image.get(name)
        regions = ()
        labels: list[str] = []
        if rows is not None:
            regions = tuple(
                RunLength(r.EncodedPixels, table.project_class(r.ClassId, csv), f"{csv}: {name} class {r.ClassId}")
                for r in rows.sort_values("ClassId").itertuples()
            )
            labels = list(rows["ClassId"])
        items.append(
            Item(
                id=make_id(image.stem),
                split="train",
                object="steel_strip",
                image=image,
                label=join_labels(labels),
                annotation="mask",
                regions=regions,
            )
        )
    return items


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Convert the Severstal competition's training set to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    return write_dataset(plan(source, table), source, Path(out), NAME, splits)
