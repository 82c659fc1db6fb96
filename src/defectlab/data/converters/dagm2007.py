"""DAGM 2007 ("Weakly Supervised Learning for Industrial Optical Inspection", DAGM/GNSS competition 2007;
Heidelberg Collaboratory for Image Processing) into the common layout.

Layout, as extracted from the ten `Class{k}.zip` archives (the HCI dataset page; read the same way by
NVIDIA's DAGM2007 preprocessing script of the UNet_Industrial example and by `Levigty/DAGM2007-to-VOC`,
which open `Class{k}/{Train,Test}/*.PNG` with `Label/{n}_label.PNG`):

    Class{k}/Train/{nnnn}.PNG                 512x512 grey textures
    Class{k}/Train/Label/Labels.txt           first line: the class number; then one tab-separated row per
                                              image: index, defect flag (0/1), image file, 0, label file
                                              (or 0 when there is none)
    Class{k}/Train/Label/{nnnn}_label.PNG     binary label of a defective image
    Class{k}/Test/...                         the same for the test split

A class folder may sit one level deeper (`Class1/Class1/Train`, as some archives extract); `source` is the
extracted root or one Class{k} folder (the workflow converts each class on its own). Labels.txt is
the authority: every listed image is converted, and a listed image or label file that is missing is an
error. Splits: Train -> train, Test -> test. Ids: `{Class}-{split}-{nnnn}`. Label: the defect flag of
Labels.txt ("1" or "0"). Instances: 8-connected components of the label.

The labels are weak: ellipses around the defect, not its outline (the 004 study calls it weak supervision),
kept as annotation "mask" since they are pixel masks; pixel metrics on DAGM measure the ellipses.

Class table: DAGM names no defect kinds; every defect -> "other_defect".
"""

import re
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
    make_id,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema

NAME = "dagm2007"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
CATEGORIES = tuple(f"Class{k}" for k in range(1, 11))  # one archive and one top-level folder each
SPLIT_FOLDERS = {"Train": "train", "Test": "test"}
CLASS_FOLDER = re.compile(r"Class\d+")
CLASS_MAP = ClassTable(NAME, {"defect": OTHER_DEFECT})


def class_folders(source: Path) -> list[Path]:
    """Folders named Class{k} holding Train/ or Test/: `source`, or up to two levels below it."""
    levels = [[source]]
    for _ in range(2):
        levels.append(sorted(c for p in levels[-1] for c in p.iterdir() if c.is_dir()))
    found: dict[str, Path] = {}
    for folder in (p for level in levels for p in level):
        if CLASS_FOLDER.fullmatch(folder.name) and any((folder / s).is_dir() for s in SPLIT_FOLDERS):
            if folder.name in found:
                raise ValueError(f"{NAME}: {folder.name} found twice: {found[folder.name]} and {folder}")
            found[folder.name] = folder
    if not found:
        raise FileNotFoundError(f"{NAME}: no Class{{k}} folder with Train/ or Test/ in {source}")
    return sorted(found.values(), key=lambda p: int(p.name[5:]))


def read_labels(path: Path) -> list[tuple[str, bool, str]]:
    """Rows of a Labels.txt: (image file, defective, label file or "")."""
    if not path.is_file():
        raise FileNotFoundError(f"{NAME}: label list not found: {path}")
    rows = []
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or (number == 1 and len(fields) == 1):  # blank, or the header: the class number
            continue
        if len(fields) < 3 or fields[1] not in ("0", "1"):
            raise ValueError(f"{NAME}: {path}, line {number}: expected 'index flag image 0 label', got {line!r}")
        label = fields[4] if len(fields) >= 5 and fields[4] != "0" else ""
        rows.append((fields[2], fields[1] == "1", label))
    return rows


def plan(source: Path, table: ClassTable) -> list[Item]:
    cls = table.project_class("defect", source)
    items = []
    for folder in class_folders(source):
        for split_folder, split in SPLIT_FOLDERS.items():
            split_dir = folder / split_folder
            if not split_dir.is_dir():
                continue
            for image_name, defective, label_name in read_labels(split_dir / "Label" / "Labels.txt"):
                image = split_dir / image_name
                regions = ()
                if defective:
                    label = split_dir / "Label" / (label_name or f"{image.stem}_label.PNG")
                    regions = (BinaryMask(label, cls),)
                items.append(
                    Item(
                        id=make_id(folder.name, split, image.stem),
                        split=split,
                        object=folder.name,
                        image=image,
                        label="1" if defective else "0",
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
    """Convert an extracted DAGM 2007 (all Class{k} folders found, or one) to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    root = source.parent if CLASS_FOLDER.fullmatch(source.name) else source  # `source` paths start at Class{k}
    return write_dataset(plan(source, table), root, Path(out), NAME, splits)
