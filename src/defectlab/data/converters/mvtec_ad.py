"""MVTec AD (Bergmann et al., CVPR 2019 / IJCV 2021; CC BY-NC-SA 4.0) into the common layout.

Layout, as extracted from `mvtec_anomaly_detection.tar.xz` (the dataset's readme; the same tree is read
by anomalib's `anomalib/data/image/mvtec.py`, which pairs `test/{defect}/{n}.png` with
`ground_truth/{defect}/{n}_mask.png`):

    {category}/train/good/{nnn}.png                  defect-free training images
    {category}/test/good/{nnn}.png                   defect-free test images (no mask)
    {category}/test/{defect}/{nnn}.png               defective test images, one folder per defect type
    {category}/ground_truth/{defect}/{nnn}_mask.png  binary masks (0/255) of those

`source` is the extracted root (its folders with train/ or test/ are the categories) or one category (the
workflow converts each category on its own; the index's `source` paths still start at the category folder).
Splits: the dataset's own train/test. Ids: `{category}-{split}-{defect}-{nnn}` (test/good/000 and
train/good/000 both exist). Label: the defect folder name ("good" for none). Instances: 8-connected
components of the mask.

Class table (defect folder -> project class): MVTec counts every type as an anomaly, so none becomes an
impurity (not even contamination, oil or liquid); the scratches are scratches, every other type is
"other_defect".

    scratch, scratch_head, scratch_neck                                     -> scratch
    bent, bent_lead, bent_wire, broken, broken_large, broken_small,
    broken_teeth, cable_swap, color, combined, contamination, crack,
    cut, cut_inner_insulation, cut_lead, cut_outer_insulation,
    damaged_case, defective, fabric_border, fabric_interior,
    faulty_imprint, flip, fold, glue, glue_strip, gray_stroke, hole,
    liquid, manipulated_front, metal_contamination, misplaced,
    missing_cable, missing_wire, oil, pill_type, poke, poke_insulation,
    print, rough, split_teeth, squeeze, squeezed_teeth, thread,
    thread_side, thread_top                                                  -> other_defect
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
    image_files,
    make_id,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema

NAME = "mvtec_ad"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
# The 15 categories of the archive (the dataset's readme), each a top-level folder.
CATEGORIES = (
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
)
GOOD = "good"
SCRATCHES = ("scratch", "scratch_head", "scratch_neck")
OTHER = (
    "bent",
    "bent_lead",
    "bent_wire",
    "broken",
    "broken_large",
    "broken_small",
    "broken_teeth",
    "cable_swap",
    "color",
    "combined",
    "contamination",
    "crack",
    "cut",
    "cut_inner_insulation",
    "cut_lead",
    "cut_outer_insulation",
    "damaged_case",
    "defective",
    "fabric_border",
    "fabric_interior",
    "faulty_imprint",
    "flip",
    "fold",
    "glue",
    "glue_strip",
    "gray_stroke",
    "hole",
    "liquid",
    "manipulated_front",
    "metal_contamination",
    "misplaced",
    "missing_cable",
    "missing_wire",
    "oil",
    "pill_type",
    "poke",
    "poke_insulation",
    "print",
    "rough",
    "split_teeth",
    "squeeze",
    "squeezed_teeth",
    "thread",
    "thread_side",
    "thread_top",
)
CLASS_MAP = ClassTable(NAME, {**dict.fromkeys(SCRATCHES, "scratch"), **dict.fromkeys(OTHER, OTHER_DEFECT)})


def categories(source: Path) -> list[Path]:
    """The category folders: `source` itself when it is one, else its subfolders with train/ or test/."""
    if (source / "train").is_dir() or (source / "test").is_dir():
        return [source]
    found = sorted(p for p in source.iterdir() if p.is_dir() and ((p / "train").is_dir() or (p / "test").is_dir()))
    if not found:
        raise FileNotFoundError(f"{NAME}: no category (a folder with train/ or test/) in {source}")
    return found


def plan(source: Path, table: ClassTable) -> list[Item]:
    items = []
    for category in categories(source):
        for split in ("train", "test"):
            split_dir = category / split
            if not split_dir.is_dir():
                continue
            for defect_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
                defect = defect_dir.name
                cls = None if defect == GOOD else table.project_class(defect, defect_dir)
                for image in image_files(defect_dir):
                    regions = ()
                    if cls is not None:
                        mask = category / "ground_truth" / defect / f"{image.stem}_mask.png"
                        regions = (BinaryMask(mask, cls),)
                    items.append(
                        Item(
                            id=make_id(category.name, split, defect, image.stem),
                            split=split,
                            object=category.name,
                            image=image,
                            label=defect,
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
    """Convert an extracted MVTec AD (or one category of it) to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    root = source.parent if categories(source) == [source] else source  # `source` paths start at the category
    return write_dataset(plan(source, table), root, Path(out), NAME, splits)
