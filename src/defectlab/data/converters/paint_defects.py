"""The vehicle paint defects of the latent-space study (Almhaithawi et al., J. Imaging 2025): the Roboflow
Universe project "final-year-car-paint-defect" (workspace
poli-h7nww), exported as COCO JSON, into the common layout.

Layout of a Roboflow "COCO JSON" export, as extracted (Roboflow's export; documented by Datumaro's
`roboflow_coco` format page and RF-DETR's dataset formats page):

    train/_annotations.coco.json    COCO: images [{id, file_name, width, height}],
                                    annotations [{id, image_id, category_id, bbox [x, y, w, h],
                                    segmentation [[x1, y1, x2, y2, ...], ...] or [], area, iscrowd}],
                                    categories [{id, name, supercategory}] (Roboflow adds an umbrella
                                    category that no annotation uses)
    train/{file_name}               the images, beside their annotation file
    valid/ ...  test/ ...           the same for Roboflow's validation and test splits

The paper's copy: 344 images of 640x640, 240 train, 70 validation, 34 test, four kinds: dirt, drops
("named initially runs"), scratches and watermarks.
Annotations: a polygon segmentation is filled with cv2.fillPoly (annotation "polygon"); an annotation with
an empty segmentation, or one whose only ring is its own bounding box, is a box: the mask is the filled
box and the image's annotation is "bbox" (it says so whenever one of its objects is a box; an image
without objects takes the export's kind). One instance per annotation; later ones drawn over earlier ones.
Splits: train, valid -> val, test. Ids: `{split}-{stem}`. Label: the category names of its objects.

Class table (category name, lower case with spaces and "-" as "_" -> project class):

    scratch, scratches                                   -> scratch
    water_mark, water_marks, watermark, watermarks       -> water_stain (an impurity: dried drops)
    dirt                                                 -> other_defect (dirt inclusions in the coat)
    run, runs, drop, drops                               -> other_defect (runs of paint)

Other names go in through `classes`.
"""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
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
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema

NAME = "paint_defects"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
ANNOTATION_FILE = "_annotations.coco.json"
SPLIT_FOLDERS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
BOX_TOLERANCE = 0.5  # px: a ring this close to its bounding box's corners is the box itself
CLASS_MAP = ClassTable(
    NAME,
    {
        "scratch": "scratch",
        "scratches": "scratch",
        "water_mark": "water_stain",
        "water_marks": "water_stain",
        "watermark": "water_stain",
        "watermarks": "water_stain",
        "dirt": OTHER_DEFECT,
        "run": OTHER_DEFECT,
        "runs": OTHER_DEFECT,
        "drop": OTHER_DEFECT,
        "drops": OTHER_DEFECT,
    },
)


def read_coco(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{NAME}: {path} is not valid JSON: {error}") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(doc.get(key), list)]
    if missing:
        raise ValueError(f"{NAME}: {path} is not a COCO file: no {', '.join(missing)}")
    return doc


def is_own_box(rings: Sequence[Sequence[tuple[float, float]]], bbox: Sequence[float] | None) -> bool:
    """Whether the segmentation is a single ring on the corners of the bounding box (a box, not an outline)."""
    if bbox is None or len(bbox) != 4 or len(rings) != 1:
        return False
    x, y, w, h = (float(v) for v in bbox)
    corners = np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
    ring = np.asarray(rings[0], dtype=np.float64)
    if len(ring) not in (4, 5):
        return False
    near = np.abs(ring[:, None, :] - corners[None, :, :]).max(axis=2) <= BOX_TOLERANCE
    return bool(near.any(axis=1).all() and near.any(axis=0).all())


def coco_outline(annotation: Mapping, cls: str, label: str, where: str) -> Outline:
    """One COCO annotation as an outline: its polygons, else its box."""
    segmentation = annotation.get("segmentation")
    bbox = annotation.get("bbox")
    if isinstance(segmentation, dict):
        raise ValueError(f"{NAME}: {where}: run-length segmentations (iscrowd) are not supported")
    rings = []
    for flat in segmentation or []:
        values = [float(v) for v in flat]
        if len(values) >= 6:
            rings.append(tuple(zip(values[0::2], values[1::2], strict=False)))
    if rings and not is_own_box(rings, bbox):
        return Outline(cls, "polygon", tuple(rings), label=label)
    if bbox is None or len(bbox) != 4 or float(bbox[2]) <= 0 or float(bbox[3]) <= 0:
        raise ValueError(f"{NAME}: {where}: neither a polygon nor a box ({bbox!r})")
    x, y, w, h = (float(v) for v in bbox)
    return Outline(cls, "box", (((x, y), (x + w, y + h)),), label=label)


def plan(source: Path, table: ClassTable) -> list[Item]:
    exports = [(folder, source / folder / ANNOTATION_FILE) for folder in SPLIT_FOLDERS]
    exports = [(folder, path) for folder, path in exports if path.is_file()]
    if not exports:
        raise FileNotFoundError(f"{NAME}: no {{train,valid,test}}/{ANNOTATION_FILE} in {source}")
    parsed = []
    for folder, path in exports:
        doc = read_coco(path)
        names = {c["id"]: c["name"] for c in doc["categories"]}
        outlines: dict[object, list[Outline]] = {}
        for annotation in doc["annotations"]:
            where = f"{path}, annotation {annotation.get('id')}"
            if annotation.get("category_id") not in names:
                raise ValueError(f"{NAME}: {where}: unknown category_id {annotation.get('category_id')!r}")
            label = names[annotation["category_id"]]
            outline = coco_outline(annotation, table.project_class(label, path), label, where)
            outlines.setdefault(annotation.get("image_id"), []).append(outline)
        parsed.append((folder, path, doc, outlines))
    kinds = {o.kind for *_, outlines in parsed for objects in outlines.values() for o in objects}
    default = "bbox" if kinds == {"box"} else "polygon"
    items = []
    for folder, path, doc, outlines in parsed:
        split = SPLIT_FOLDERS[folder]
        for image in sorted(doc["images"], key=lambda i: str(i["file_name"])):
            objects = outlines.get(image["id"], [])
            file = path.parent / image["file_name"]
            items.append(
                Item(
                    id=make_id(split, Path(image["file_name"]).stem),
                    split=split,
                    object="car_body",
                    image=file,
                    label=join_labels(o.label for o in objects),
                    annotation=outline_annotation(objects, default),
                    regions=tuple(objects),
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
    """Convert an extracted Roboflow COCO export of the paint defects to the common layout; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    return write_dataset(plan(source, table), source, Path(out), NAME, splits)
