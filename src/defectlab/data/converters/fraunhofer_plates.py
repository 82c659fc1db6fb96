"""The real aluminium plates of the Sequential PatchCore study (Mao, Fulir, Garth, Gospodnetic; Fraunhofer
ITWM) into the common layout.

What is known of the data, from the paper (Section V-A): 18 plates, 7 of them with bumps, dents and
scratches on both sides and water stains, fingerprints and numbered stickers on one side; 12 images of
2448x2050 per side from a grid of camera positions; "both defects and impurities were manually annotated
using LabelMe"; the split is by plate: 10 clean plates for training, 1 defective for the threshold
(validation), 1 clean and 6 defective for testing. No public archive documents the folder tree, so the
converter reads LabelMe's own layout, at any depth:

    {plate}/.../{image}.png|.jpg|.bmp|.tif    an image; one without a LabelMe file is clean
    {plate}/.../{image}.json                  LabelMe's file (labelme saves it beside the image):
        {"shapes": [{"label", "points": [[x, y], ...], "group_id", "shape_type"}, ...],
         "imagePath" (relative to the JSON file), "imageHeight", "imageWidth", ...}

Shapes are rasterised as labelme's `shape_to_mask` does, with OpenCV: polygon (cv2.fillPoly), rectangle
(corners included; a bounding box: the image's annotation is then "bbox"), circle, line/linestrip (10 px
wide), point (radius 5); one instance per shape, or per (label, group_id) where shapes share a group.
Later shapes are drawn over earlier ones.
Splits: a folder named train/val/valid/validation/test on the path, else the plate's top-level folder in
`Splits.by_group` (e.g. {"plate_01": "train", "plate_17": "val", ...}); a plate with neither is an error.
Ids: the image's path below the root without suffix, "/" as "-". Label: its shape labels joined by "|".

Class table (LabelMe label, compared lower case with spaces and "-" as "_" -> project class):

    scratch, scratches                                  -> scratch
    dent, dents                                         -> dent
    bump, bumps                                         -> bump
    water_stain, water_stains, waterstain, waterstains  -> water_stain
    fingerprint, fingerprints, finger_print             -> fingerprint
    sticker, stickers                                   -> sticker

Other labels the real files may use go in through `classes` (e.g. {"marker": "sticker"}); map one to
"background" to leave its shapes out.
"""

import json
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath

import pandas as pd

from defectlab.data.converters.common import (
    IMAGE_SUFFIXES,
    ClassTable,
    Item,
    Outline,
    Splits,
    converter_setup,
    join_labels,
    make_id,
    outline_annotation,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_BY_GROUP_OPTION, options_schema

NAME = "fraunhofer_plates"
OPTIONS = options_schema(splits=SPLITS_BY_GROUP_OPTION, classes=CLASSES_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
CLASS_MAP = ClassTable(
    NAME,
    {
        "scratch": "scratch",
        "scratches": "scratch",
        "dent": "dent",
        "dents": "dent",
        "bump": "bump",
        "bumps": "bump",
        "water_stain": "water_stain",
        "water_stains": "water_stain",
        "waterstain": "water_stain",
        "waterstains": "water_stain",
        "fingerprint": "fingerprint",
        "fingerprints": "fingerprint",
        "finger_print": "fingerprint",
        "sticker": "sticker",
        "stickers": "sticker",
    },
)
SPLIT_FOLDERS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
LABELME_KINDS = {"polygon": "polygon", "rectangle": "rectangle", "circle": "circle", "line": "polyline"}
LABELME_KINDS |= {"linestrip": "polyline", "point": "point"}
MIN_POINTS = {"polygon": 3, "rectangle": 2, "circle": 2, "polyline": 2, "point": 1}


def labelme_outlines(doc: Mapping, table: ClassTable, where: Path) -> list[Outline]:
    """The shapes of a LabelMe file as outlines of project classes, in drawing order."""
    outlines = []
    for number, shape in enumerate(doc.get("shapes") or [], start=1):
        kind_name = shape.get("shape_type") or "polygon"
        if kind_name not in LABELME_KINDS:
            known = ", ".join(LABELME_KINDS)
            raise ValueError(f"{NAME}: {where}, shape {number}: unsupported shape_type {kind_name!r}; known: {known}")
        kind = LABELME_KINDS[kind_name]
        points = tuple((float(x), float(y)) for x, y in shape.get("points") or [])
        if len(points) < MIN_POINTS[kind]:
            raise ValueError(f"{NAME}: {where}, shape {number}: a {kind_name} needs {MIN_POINTS[kind]} points")
        if kind == "rectangle":  # two corners; some tools write all four
            xs, ys = zip(*points, strict=True)
            points = ((min(xs), min(ys)), (max(xs), max(ys)))
        cls = table.project_class(shape.get("label", ""), where)
        outlines.append(Outline(cls, kind, (points,), group=shape.get("group_id"), label=shape.get("label", "")))
    return outlines


def labelme_image(doc: Mapping, path: Path) -> Path:
    """The image a LabelMe file annotates: its imagePath (relative to the file, Windows separators allowed),
    else the image beside it with the same stem."""
    image_path = doc.get("imagePath") or ""
    if image_path:
        candidate = path.parent / PureWindowsPath(image_path).as_posix()
        if candidate.is_file():
            return candidate.resolve()
    for suffix in IMAGE_SUFFIXES:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate.resolve()
    raise FileNotFoundError(f"{NAME}: image of {path} not found (imagePath {image_path!r}, nor beside it)")


def read_labelme(source: Path) -> dict[Path, tuple[Path, dict]]:
    """Every LabelMe file under `source` by the image it annotates (JSON files without shapes are skipped)."""
    found: dict[Path, tuple[Path, dict]] = {}
    for path in sorted(source.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{NAME}: {path} is not valid JSON: {error}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
            continue
        image = labelme_image(doc, path)
        if image in found:
            raise ValueError(f"{NAME}: {image} is annotated twice: {found[image][0]} and {path}")
        found[image] = (path, doc)
    return found


def split_of(relative: Path, splits: Splits) -> str | None:
    for part in relative.parts[:-1]:
        if part.lower() in SPLIT_FOLDERS:
            return SPLIT_FOLDERS[part.lower()]
    group = relative.parts[0] if len(relative.parts) > 1 else ""
    return splits.by_group.get(group)


def plan(source: Path, table: ClassTable, splits: Splits) -> list[Item]:
    annotated = read_labelme(source)
    images = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    items, ungrouped = [], set()
    for image in images:
        relative = image.relative_to(source)
        split = split_of(relative, splits)
        if split is None:
            ungrouped.add(relative.parts[0] if len(relative.parts) > 1 else "")
            continue
        json_path, doc = annotated.get(image.resolve(), (None, {}))
        outlines = labelme_outlines(doc, table, json_path) if json_path else []
        items.append(
            Item(
                id=make_id(*relative.with_suffix("").parts),
                split=split,
                object="plate",
                image=image,
                label=join_labels(o.label for o in outlines),
                annotation=outline_annotation(outlines, "polygon"),
                regions=tuple(outlines),
            )
        )
    if ungrouped:
        names = sorted(ungrouped)
        raise ValueError(
            f"{NAME}: no split for the plate folders {names} of {source}: name them in splits.by_group, "
            f"e.g. {{{names[0]!r}: 'test'}}, or put them under train/, val/ or test/"
        )
    return items


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Convert the LabelMe-annotated real plates to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    splits = Splits.of(splits)
    return write_dataset(plan(source, table, splits), source, Path(out), NAME, splits)
