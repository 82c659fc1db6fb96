"""KolektorSDD2 (Bozic, Tabernik, Skocaj, Computers in Industry 2021; CC BY-NC-SA 4.0) into the common layout.

Layout, as extracted from `KolektorSDD2.zip` (the dataset page of ViCoS Ljubljana; the same pairing is
read by the authors' `mixed-segdec-net-comind2021` and by public loaders that open `{name}.png` with
`{name}_GT.png`):

    train/{name}.png       images of the training split (2331 in the 004 study)
    train/{name}_GT.png    its ground truth, a binary mask (black for a defect-free image)
    test/{name}.png        images of the test split (1004)
    test/{name}_GT.png

Splits: the dataset's own train/test (the 004 study carves 1/5 of train for validation:
`Splits(val_fraction=0.2, val_from="train")`). Ids: `{split}-{name}`. Label: KSDD2 names no class, so
"positive" (the mask marks something) or "negative". Instances: 8-connected components of the mask.

Class table: the one kind of defect -> "other_defect".

Its images vary in size (about 230 x 630); `pad_to: {width: 256, height: 672}` zero-pads them to the 004 study's
256 x 672 (right and bottom; the index keeps each original size), so that their maps share one file.
"""

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
    BinaryMask,
    ClassTable,
    Item,
    Splits,
    converter_setup,
    fixed_canvas,
    image_files,
    make_id,
    require_dir,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, PAD_TO_OPTION, SPLITS_OPTION, options_schema

NAME = "kolektorsdd2"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION, pad_to=PAD_TO_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
GT_SUFFIX = "_GT"
CLASS_MAP = ClassTable(NAME, {"defect": OTHER_DEFECT})


def plan(source: Path, table: ClassTable) -> list[Item]:
    cls = table.project_class("defect", source)
    if not (source / "train").is_dir() and not (source / "test").is_dir():
        require_dir(source / "train", NAME, "split folder train/ (or test/)")
    items = []
    for split in ("train", "test"):
        for image in image_files(source / split):
            if image.stem.endswith(GT_SUFFIX):
                continue
            items.append(
                Item(
                    id=make_id(split, image.stem),
                    split=split,
                    object="kolektor_part",
                    image=image,
                    label=None,
                    annotation="mask",
                    regions=(BinaryMask(image.with_name(f"{image.stem}{GT_SUFFIX}.png"), cls),),
                )
            )
    return items


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
    pad_to: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Convert an extracted KolektorSDD2 to the common layout (with `pad_to`, every image padded to that
    {width, height}); return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    items = plan(source, table)
    canvas = fixed_canvas(items, pad_to, NAME) if pad_to is not None else None
    return write_dataset(items, source, Path(out), NAME, splits, canvas)
