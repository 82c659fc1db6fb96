"""Magnetic Tile Defects (Huang, Qiu, Yuan, "Surface defect saliency of magnetic tile", The Visual Computer
2020) into the common layout.

Layout, as in the authors' repository `abin24/Magnetic-tile-defect-datasets.` (its README; mirrored in
`Charmve/Surface-Defect-Detection/Magnetic-Tile-Defect`, and read the same way by public loaders, which
open `MT_{Class}/Imgs/{stem}.jpg` with the `{stem}.png` beside it):

    MT_Blowhole/Imgs/{stem}.jpg    grey images of one class, e.g. exp1_num_3667.jpg
    MT_Blowhole/Imgs/{stem}.png    its pixel-level ground truth (binary; black in MT_Free)
    MT_Break/Imgs/ ...  MT_Crack/Imgs/ ...  MT_Fray/Imgs/ ...  MT_Free/Imgs/ ...  MT_Uneven/Imgs/ ...

The MT_* folders may sit one level down (the repository's archive extracts into a folder of its own).
Splits: the dataset has none: everything is "train" unless `Splits.val_fraction` carves a validation set
from it (`Splits(val_fraction=0.2, val_from="train")`: the 004 study's 4:1, per class of tile, keeping
the share of defective images). Ids: `{class}-{stem}`. Label: the class of the folder ("Blowhole", ...,
"Free"). Instances: 8-connected components of the mask.

Class table (folder class -> project class): "Free" is the defect-free class, its masks are not read.

    Blowhole, Break, Crack, Fray, Uneven   -> other_defect
    Free                                   -> background (no defect)

`exclude` leaves whole folder classes out. The clutch study (seed 004 §5.2, spec R7) uses 1312 of the 1344
images: it drops fray ("not expected") and keeps uneven as defect-free, its masks ignored (1344 - 32 fray =
1312, defective : correct = 257 : 1055, the paper's 4:1), i.e. `exclude: [fray]` with
`classes: {uneven: background}`. Its tiles vary in size; `pad_to: {width: 640, height: 448}` zero-pads them
to the study's 640 x 448 (right and bottom; the index keeps each original size), so that their maps share one file.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
    BACKGROUND,
    BinaryMask,
    ClassTable,
    Item,
    Splits,
    converter_setup,
    fixed_canvas,
    make_id,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, PAD_TO_OPTION, SPLITS_OPTION, options_schema

NAME = "magnetic_tile"
EXCLUDE_OPTION = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION, exclude=EXCLUDE_OPTION, pad_to=PAD_TO_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
PREFIX = "MT_"
CLASS_MAP = ClassTable(
    NAME,
    {
        "blowhole": OTHER_DEFECT,
        "break": OTHER_DEFECT,
        "crack": OTHER_DEFECT,
        "fray": OTHER_DEFECT,
        "uneven": OTHER_DEFECT,
        "free": BACKGROUND,
    },
)


def class_folders(source: Path) -> list[Path]:
    """The MT_* folders of `source`, or of its only subfolder holding them."""
    for root in [source, *sorted(p for p in source.iterdir() if p.is_dir())]:
        found = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))
        if found:
            return found
    raise FileNotFoundError(f"{NAME}: no MT_* class folder in {source}")


def plan(source: Path, table: ClassTable, exclude: Sequence[str] = ()) -> list[Item]:
    unknown = sorted(set(exclude) - set(CLASS_MAP.names))
    if unknown:
        raise ValueError(
            f"{NAME}: exclude names unknown class(es) {unknown}; known: {', '.join(sorted(CLASS_MAP.names))}"
        )
    items = []
    for folder in class_folders(source):
        label = folder.name[len(PREFIX) :]
        cls = table.project_class(label, folder)
        if label.lower() in exclude:
            continue
        images = sorted(p for p in (folder / "Imgs").glob("*") if p.is_file() and p.suffix.lower() == ".jpg")
        for image in images:
            items.append(
                Item(
                    id=make_id(label.lower(), image.stem),
                    split="train",
                    object="magnetic_tile",
                    image=image,
                    label=label,
                    annotation="mask",
                    regions=(BinaryMask(image.with_suffix(".png"), cls),),
                )
            )
    return items


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
    exclude: Sequence[str] = (),
    pad_to: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Convert the Magnetic Tile Defects folders (but the classes of `exclude`, lower case) to the common layout
    (with `pad_to`, every image padded to that {width, height}); return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    items = plan(source, table, exclude)
    canvas = fixed_canvas(items, pad_to, NAME) if pad_to is not None else None
    return write_dataset(items, source, Path(out), NAME, splits, canvas)
