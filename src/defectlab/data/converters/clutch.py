"""RealClutch and SynthClutch (Fulir, Bosnar, Hagen, Gospodnetić, "Synthetic data for defect segmentation on
complex metal surfaces", CVPR Workshops 2023) into the common layout.

What the paper says of the data (§3.2, §3.3, §5.1, §5.3): one machined aluminium clutch part, seen from
predefined views. RealClutch: 3 defect-free and 3 defective parts ("objects") x 86 views = 516 grayscale images
(2448x2050; the printed 2448x1025 reads as the halved size), labelme polygons of dents and scratches rasterised
to masks, one channel per class, "collapsed" for single-class segmentation. SynthClutch: 20 defect-free and 20
defective rendered objects x 106 views = 4240 images, masks from an emission render. Splits are by object:
RealClutch 2 training / 4 test objects, 1:1 defect-free:defective in each, validation a random 4:1 carve of the
training images; SynthClutch 28 / 4 / 8 training / validation / test objects, balanced.

The archives (realclutch.zip, synthclutch.zip on the paper's ownCloud share) were never seen and their layout is
described nowhere. The converter reads the layout below, a guess throughout; each assumption is marked [guess]:

    <root>/real/                           RealClutch  [guess: each part extracted to (or placed as) a folder
    <root>/synthetic/                      SynthClutch  named after it, as the categories of this converter]
        splits.csv                         optional [guess]: columns `object`, `split` (train, val, test), a row
                                           per object folder
        {object}/images/{view}.png         one view of an object [guess: PNG; any of IMAGE_SUFFIXES is read],
                                           8- or 16-bit grayscale
        {object}/images/{view}.json        its LabelMe file, where labelme saves it: beside the image [guess]
        {object}/masks/{view}_{class}.png  or one binary mask per class [guess: the "mask channels" as files]

`source` is the root (its real/ and synthetic/ that exist are converted) or one part (the workflow converts
each on its own; the index's `source` paths still start at the root). Every folder of a part is an object;
one without images/ is refused. The view number is the number the image's stem ends with [guess: views are
numbered files, e.g. `012.png`, the same number for the same pose on every object].

Annotations [guess: real views come with LabelMe files, synthetic ones with mask files; either part may hold
either]: a view's LabelMe file where it has one (paired by stem, its imagePath not read), its shapes rasterised
as the Fraunhofer plates' are (`fraunhofer_plates.labelme_outlines`: one instance per shape, or per label and
group_id); else its mask files (on at >= 128 in 0/255 masks, at 1 in 0/1 masks; instances: 8-connected
components per class; drawn in file-name order, a later class over an earlier one); else nothing (a defect-free
view). A LabelMe or mask file of no image is refused: a misspelt name would drop its annotation unseen.

16-bit images [guess: full 16-bit range, as PNG stores it]: read as every converter reads them
(`common.read_rgb`), v -> round(v / 257), so 0 and 65535 stay black and white. A 12-bit camera's values stored
in 16 bits would come out 16 times too dark: rescale such a copy before converting.

Splits: `splits.csv` where the part has one (every object folder listed once, no other name); else the paper's
object-wise split, drawn. Defect-free and defective objects are split apart (defective: a view has a pixel of a
defect class of `defectlab.classes`; an insignificant defect is no defect, an empty mask file marks nothing),
each shared out in the paper's proportions (real 2:4 train:test, synthetic 28:4:8 train:val:test) by largest
remainder, ties to the earlier of train, val, test; which objects go where is a permutation of their sorted
names seeded with `derive_seed(splits.seed, "clutch", part, defective)`. The validation carve of `splits`
(`val_fraction` of `val_from`, `common.Splits`) applies only to a part without validation objects: it is
RealClutch's 4:1 image carve (`splits: {val_fraction: 0.2, val_from: train}`), while SynthClutch's 4 validation
objects stay whole.

Index: `object` is the part ("real", "synthetic": `source.objects` selects by it, as by the categories of the
other datasets), `view` the view number; two more columns, `clutch` (the object folder's name) and `defective`
(the object's, as above), let the object-wise split be checked. Ids: `{part}-{object}-{view stem}`. Label: the
LabelMe labels joined by "|", else "positive" or "negative" (mask files name no label; KolektorSDD2's terms).

Class table (LabelMe label or mask-file class, lower case with other characters as "_" -> project class):

    dent, dents                                       -> dent
    scratch, scratches                                -> scratch
    defect, defects                                   -> other_defect  [guess: a collapsed mask {view}_defect.png]
    insignificant, insignificant_defect(s)            -> insignificant_defect  [guess: the paper keeps them out
                                                                                of its masks; should a copy mark them]

Not read [guess: unknown whether the share has them]: one multi-channel mask file per view (its channel order
would be one more guess), camera poses, the texture variant of an object, which views are the 20 of the
non-examined surfaces. The paper's counts (516 = 6 x 86, 4240 = 40 x 106) are not enforced: a partial copy
converts.
"""

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from defectlab.classes import BY_NAME, OTHER_DEFECT
from defectlab.data.converters.common import (
    INDEX_COLUMNS,
    SPLITS,
    BinaryMask,
    ClassTable,
    Item,
    Outline,
    Region,
    Splits,
    carve_validation,
    converter_setup,
    image_files,
    join_labels,
    make_id,
    outline_annotation,
    require_dir,
    write_dataset,
)
from defectlab.data.converters.fraunhofer_plates import labelme_outlines
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema
from defectlab.data.layout import listed
from defectlab.seeds import derive_seed

NAME = "clutch"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
CATEGORIES = ("real", "synthetic")  # RealClutch, SynthClutch: one archive and one folder each
CLASS_MAP = ClassTable(
    NAME,
    {
        "dent": "dent",
        "dents": "dent",
        "scratch": "scratch",
        "scratches": "scratch",
        "defect": OTHER_DEFECT,
        "defects": OTHER_DEFECT,
        "insignificant": "insignificant_defect",
        "insignificant_defect": "insignificant_defect",
        "insignificant_defects": "insignificant_defect",
    },
)
PAPER_SPLITS = {"real": {"train": 2, "test": 4}, "synthetic": {"train": 28, "val": 4, "test": 8}}  # objects
SPLITS_FILE = "splits.csv"
EXTRA_COLUMNS = ("clutch", "defective")
VIEW_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Shot:
    """One view of one object: its image as a converter item, with what the index adds to it."""

    clutch: str
    view: int
    item: Item
    defective: bool = False  # the object's, known once all its views are planned


# ---------------------------------------------------------------- reading one part


def parts(source: Path) -> list[Path]:
    """The part folders to convert: `source` itself when it is one, else its real/ and synthetic/."""
    if source.name in CATEGORIES:
        return [source]
    found = [source / part for part in CATEGORIES if (source / part).is_dir()]
    if not found:
        raise FileNotFoundError(
            f"{NAME}: no part folder ({', '.join(f'{p}/' for p in CATEGORIES)}) in {source}: place RealClutch as "
            "real/ and SynthClutch as synthetic/ (one folder per object in each)"
        )
    return found


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{NAME}: {path} is not valid JSON: {error}") from None


def view_number(image: Path) -> int:
    match = VIEW_NUMBER.search(image.stem)
    if match is None:
        raise ValueError(f"{NAME}: {image}: the file name ends in no view number (expected e.g. 012.png)")
    return int(match.group(1))


def mask_files(folder: Path, stems: Sequence[str]) -> dict[str, list[tuple[str, Path]]]:
    """The mask files `{view}_{class}.png` of each view stem, as (class, path); a file of no view is refused."""
    found: dict[str, list[tuple[str, Path]]] = {}
    orphans = []
    for path in image_files(folder):
        stem = max((s for s in stems if path.stem.startswith(f"{s}_")), key=len, default=None)
        if stem is None:
            orphans.append(path.name)
        else:
            found.setdefault(stem, []).append((path.stem[len(stem) + 1 :], path))
    if orphans:
        raise ValueError(f"{NAME}: mask files of no image in {folder}: {listed(orphans)} (expected {{view}}_{{class}})")
    return found


def view_regions(image: Path, masks: Sequence[tuple[str, Path]], table: ClassTable) -> tuple[Region, ...]:
    """A view's LabelMe shapes where it has a LabelMe file, else its mask files, in drawing order."""
    labelme = image.with_suffix(".json")
    if labelme.is_file():
        return tuple(labelme_outlines(read_json(labelme), table, labelme))
    return tuple(BinaryMask(path, table.project_class(name, path)) for name, path in masks)


def view_item(image: Path, regions: tuple[Region, ...], part: str, default: str) -> Item:
    outlines = [r for r in regions if isinstance(r, Outline)]
    return Item(
        id=make_id(part, image.parents[1].name, image.stem),
        split="train",  # the object's split replaces it
        object=part,
        image=image,
        label=join_labels(o.label for o in outlines) or None,
        annotation="mask" if any(isinstance(r, BinaryMask) for r in regions) else outline_annotation(outlines, default),
        regions=regions,
    )


def plan_object(folder: Path, part: str, table: ClassTable, default: str) -> list[Shot]:
    images_dir = require_dir(folder / "images", NAME, f"images/ of object {folder.name}")
    images = image_files(images_dir)
    if not images:
        raise FileNotFoundError(f"{NAME}: no image in {images_dir}")
    stems = [image.stem for image in images]
    stray = [p.name for p in sorted(images_dir.glob("*.json")) if p.stem not in stems]
    if stray:
        raise ValueError(f"{NAME}: LabelMe files of no image in {images_dir}: {listed(stray)}")
    masks = mask_files(folder / "masks", stems)
    shots: list[Shot] = []
    for image in images:
        view = view_number(image)
        twin = next((s.item.image for s in shots if s.view == view), None)
        if twin is not None:
            raise ValueError(f"{NAME}: {twin.name} and {image.name} in {images_dir} are both view {view}")
        regions = view_regions(image, masks.get(image.stem, []), table)
        shots.append(Shot(folder.name, view, view_item(image, regions, part, default)))
    return shots


def plan_part(part: Path, table: ClassTable) -> list[Shot]:
    """Every view of every object of a part, split "train" until the objects' split is known."""
    objects = sorted(p for p in part.iterdir() if p.is_dir())
    if not objects:
        raise FileNotFoundError(f"{NAME}: no object folder in {part}")
    default = "polygon" if any(part.glob("*/images/*.json")) else "mask"  # what a view without annotation is
    return [shot for folder in objects for shot in plan_object(folder, part.name, table, default)]


# ---------------------------------------------------------------- object-wise splits


def marks_defect(item: Item) -> bool:
    """Whether an image's annotation has a pixel of a defect class (not an impurity, not background)."""
    regions = [r for r in item.regions if BY_NAME[r.cls].category == "defect"]
    if not regions:
        return False
    with Image.open(item.image) as image:
        width, height = image.size
    return any(r.pixels((height, width)).any() for r in regions)


def defective_objects(shots: Sequence[Shot]) -> dict[str, bool]:
    """Each object's defectiveness: any of its views marks a defect (its other views are then not read)."""
    flags: dict[str, bool] = {}
    for shot in shots:
        flags[shot.clutch] = flags.get(shot.clutch, False) or marks_defect(shot.item)
    return flags


def share_out(count: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`count` objects shared out in proportion to `weights` by largest remainder (ties: the earlier split)."""
    exact = {split: count * weight / sum(weights.values()) for split, weight in weights.items()}
    counts = {split: math.floor(value) for split, value in exact.items()}
    for split in sorted(exact, key=lambda s: counts[s] - exact[s])[: count - sum(counts.values())]:
        counts[split] += 1
    return counts


def draw_splits(part: str, defective: Mapping[str, bool], seed: int) -> dict[str, str]:
    """The paper's object-wise split of a part, defect-free and defective objects shared out apart."""
    splits: dict[str, str] = {}
    for flag in (False, True):
        names = sorted(name for name, value in defective.items() if value == flag)
        rng = np.random.default_rng(derive_seed(seed, NAME, part, flag))
        order = [names[i] for i in rng.permutation(len(names))]
        start = 0
        for split, count in share_out(len(order), PAPER_SPLITS[part]).items():
            splits.update(dict.fromkeys(order[start : start + count], split))
            start += count
    return splits


def read_splits(path: Path, objects: Sequence[str]) -> dict[str, str]:
    """The object-wise split a part's splits.csv gives: every object once, a known split each, no other name."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"object", "split"} <= set(table.columns):
        raise ValueError(f"{NAME}: {path}: expected columns object, split; found {', '.join(table.columns)}")
    names, splits = table["object"].str.strip(), table["split"].str.strip()
    problems = [
        (sorted(set(objects) - set(names)), "object folders not listed"),
        (sorted(set(names) - set(objects)), "no such object folder"),
        (sorted(set(names[names.duplicated()])), "listed twice"),
        (sorted(set(splits) - set(SPLITS)), f"unknown splits (known: {', '.join(SPLITS)})"),
    ]
    found = [f"{what}: {listed(which)}" for which, what in problems if which]
    if found:
        raise ValueError(f"{NAME}: {path}: " + "; ".join(found))
    return dict(zip(names, splits, strict=True))


def plan(source: Path, table: ClassTable, seed: int) -> list[Shot]:
    shots = []
    for part in parts(source):
        found = plan_part(part, table)
        defective = defective_objects(found)
        listed_splits = part / SPLITS_FILE
        if listed_splits.is_file():
            split_of = read_splits(listed_splits, sorted(defective))
        else:
            split_of = draw_splits(part.name, defective, seed)
        for shot in found:
            item = replace(shot.item, split=split_of[shot.clutch])
            shots.append(replace(shot, item=item, defective=defective[shot.clutch]))
    return shots


def with_objects(index: pd.DataFrame, shots: Sequence[Shot], splits: Splits) -> pd.DataFrame:
    """The index `write_dataset` built, with each image's view number, object and its defectiveness, and the
    validation carve of `splits` applied to the parts without validation objects."""
    added = pd.DataFrame(
        [(s.item.id, s.view, s.clutch, s.defective) for s in shots], columns=["id", "view", *EXTRA_COLUMNS]
    )
    index = index.drop(columns="view").merge(added, on="id", validate="one_to_one")[[*INDEX_COLUMNS, *EXTRA_COLUMNS]]
    pool = index[~index["object"].isin(index.loc[index["split"] == "val", "object"])]
    if not pool.empty:
        index.loc[pool.index, "split"] = carve_validation(pool, splits, NAME)["split"]
    return index


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Convert RealClutch and SynthClutch (or one of them) to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    splits, out = Splits.of(splits), Path(out)
    shots = plan(source, table, splits.seed)
    root = source.parent if source.name in CATEGORIES else source  # `source` paths start at the root
    return write_dataset(
        [s.item for s in shots], root, out, NAME, None, amend=lambda index: with_objects(index, shots, splits)
    )
