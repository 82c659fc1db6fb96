"""The vehicle paint defects of the latent-space study (Almhaithawi et al., J. Imaging 2025): the Roboflow
Universe project "final-year-car-paint-defect" (workspace poli-h7nww, version 1: 240/70/34 images), exported
as COCO JSON or YOLOv8, into the common layout, with a table of its objects and a report of repeated camera
stems.

The export's kind is told by its files (both in one folder, or neither, is refused, naming what is expected).
A Roboflow "COCO JSON" export, as extracted (Roboflow's export; documented by Datumaro's `roboflow_coco` format
page and RF-DETR's dataset formats page):

    train/_annotations.coco.json    COCO: images [{id, file_name, width, height}],
                                    annotations [{id, image_id, category_id, bbox [x, y, w, h],
                                    segmentation [[x1, y1, x2, y2, ...], ...] or [], area, iscrowd}],
                                    categories [{id, name, supercategory}] (Roboflow adds an umbrella
                                    category that no annotation uses)
    train/{file_name}               the images, beside their annotation file
    valid/ ...  test/ ...           the same for Roboflow's validation and test splits

A Roboflow "YOLOv8" export (the public copies: Kaggle alaskayang/final-year-car-paint-defect-v1i-yolov8,
GitHub Hacksutates/paint-defect-detection dataset22/; Ultralytics' dataset format):

    data.yaml                       names: a list (class i = names[i]) or a mapping {i: name}; its train/val/test
                                    paths ("../train/images") are not read: the folders below are
    train/images/{stem}.jpg         the images
    train/labels/{stem}.txt         one object a line, "c xc yc w h" (a box) or "c x1 y1 x2 y2 ..." (a polygon,
                                    3 points or more), normalised to [0, 1] by the image's width and height,
                                    both kinds mixed in one file (v1 is); no file or an empty one: no objects
    valid/ ...  test/ ...           the same (a label file without its image is refused: a misspelt name
                                    would drop its objects unseen)

The paper's copy: 344 images of 640x640, 240 train, 70 validation, 34 test, four kinds: dirt, drops
("named initially runs"), scratches and watermarks.
Annotations: a polygon segmentation is filled with cv2.fillPoly (annotation "polygon"); a box (a COCO
annotation with an empty segmentation, a YOLO box line), or a polygon whose only ring is its own bounding box
(Roboflow writes boxes so in segmentation exports), is a box: the mask is the filled box and the image's
annotation is "bbox" (it says so whenever one of its objects is a box; an image without objects takes the
export's kind). YOLO coordinates within PIXEL_SNAP of a whole pixel are that pixel, so both exports of one
version give the same masks. One instance per annotation; later ones drawn over earlier ones.
Splits: train, valid -> val, test. Ids: `{split}-{stem}`. Label: the category names of its objects.

Objects (`objects.parquet`, OBJECT_COLUMNS): one row per instance of the instance masks, because the class table
maps dirt and runs to one class: the image id, its instance id, the export's category name, the project class,
the bounding box (x0, y0 first pixel, x1, y1 one past the last, as COCO's x + w) and area (pixels) of the
instance in the mask (what a later object leaves visible), and the annotation's kind ("polygon" or "box"). An
object left without a pixel (drawn over entirely by later ones, or outside the image) has no instance and no row
(the log counts them).

Camera stems: Roboflow names a file `{original name, "." as "_"}.rf.{hash}.{extension}` (e.g.
`DSC_0013_JPG.rf.88e3....jpg`), and one photograph can appear twice in a split (augmented or re-cropped copies)
or in two splits (leakage between training and evaluation). The index's `camera_stem` is the text before the
first `.rf.` without the original extension (`DSC_0013`), else the file's stem; `camera_stems.parquet`
(STEM_COLUMNS) lists the stems in more than one split or more than once in one, and the log warns of them.
Both tables are written, atomically, before the index, which marks a complete conversion.

Class table (category name, lower case with spaces and "-" as "_" -> project class):

    scratch, scratches                                   -> scratch
    water_mark, water_marks, watermark, watermarks       -> water_stain (an impurity: dried drops)
    dirt                                                 -> other_defect (dirt inclusions in the coat)
    run, runs, drop, drops                               -> other_defect (runs of paint)

Other names go in through `classes`.
"""

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
    BACKGROUND,
    ClassTable,
    Item,
    Outline,
    Splits,
    converter_setup,
    image_files,
    image_size,
    join_labels,
    make_id,
    outline_annotation,
    require_dir,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema
from defectlab.data.layout import listed
from defectlab.runtime import atomic_output

NAME = "paint_defects"
OPTIONS = options_schema(splits=SPLITS_OPTION, classes=CLASSES_OPTION)
CATEGORIES: tuple[str, ...] = ()  # converted whole
ANNOTATION_FILE = "_annotations.coco.json"
DATA_YAML = "data.yaml"
SPLIT_FOLDERS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
BOX_TOLERANCE = 0.5  # px: a ring this close to its bounding box's corners is the box itself
PIXEL_SNAP = 1e-3  # px: normalised YOLO values carry float and 6-decimal rounding error; a box edge must not grow
NORMALISED_SLACK = 1e-3  # YOLO values this far outside [0, 1] are rounding; further, the labels are not normalised
OBJECTS = "objects.parquet"
OBJECT_COLUMNS = ("id", "instance", "category", "class", "x0", "y0", "x1", "y1", "area", "kind")
STEMS = "camera_stems.parquet"
STEM_COLUMNS = (
    "camera_stem",
    "splits",
    "n_images",
    "n_train",
    "n_val",
    "n_test",
    "across_splits",
    "within_split",
    "ids",
)
CAMERA_STEM = re.compile(r"^(.+?)(?:_(?:jpe?g|png|bmp|tiff?|webp))?\.rf\.", re.IGNORECASE)
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

log = logging.getLogger(__name__)
Planned = tuple[str, Path, list[Outline]]  # (split folder, image file, its objects in drawing order)


# ---------------------------------------------------------------- COCO export


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


def plan_coco(source: Path, table: ClassTable) -> list[Planned]:
    planned = []
    for folder in SPLIT_FOLDERS:
        path = source / folder / ANNOTATION_FILE
        if not path.is_file():
            continue
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
        for image in sorted(doc["images"], key=lambda i: str(i["file_name"])):
            planned.append((folder, path.parent / image["file_name"], outlines.get(image["id"], [])))
    return planned


# ---------------------------------------------------------------- YOLOv8 export


def read_names(path: Path) -> dict[int, str]:
    """The class names of a data.yaml by class number, from a list or a mapping."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{NAME}: {path} is not valid YAML: {error}") from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, list):
        return {i: str(name) for i, name in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(key): str(name) for key, name in names.items()}
        except ValueError:
            raise ValueError(f"{NAME}: {path}: names keys must be class numbers, got {sorted(names)}") from None
    raise ValueError(f"{NAME}: {path}: no names (a list, or a mapping of class number to name)")


def snapped(values: np.ndarray) -> np.ndarray:
    """Pixel coordinates with those within PIXEL_SNAP of a whole pixel set to it."""
    whole = np.round(values)
    return np.where(np.abs(values - whole) <= PIXEL_SNAP, whole, values)


def yolo_outline(values: Sequence[float], size: tuple[int, int], cls: str, label: str, where: str) -> Outline:
    """One YOLO label line's coordinates (normalised; size is the image's (width, height)) as an outline."""
    coords = np.asarray(values, dtype=np.float64)
    if len(coords) != 4 and (len(coords) < 6 or len(coords) % 2):
        raise ValueError(f"{NAME}: {where}: {len(coords)} coordinates; expected 4 (xc yc w h) or 3 or more x y pairs")
    if coords.min() < -NORMALISED_SLACK or coords.max() > 1 + NORMALISED_SLACK:
        raise ValueError(f"{NAME}: {where}: coordinates outside [0, 1]: YOLO labels are normalised")
    scale = np.resize(np.asarray(size, dtype=np.float64), len(coords))
    if len(coords) == 4:
        xc, yc, w, h = coords * scale
        if w <= 0 or h <= 0:
            raise ValueError(f"{NAME}: {where}: a box of width {w} and height {h}")
        (x0, y0), (x1, y1) = snapped(np.array([(xc - w / 2, yc - h / 2), (xc + w / 2, yc + h / 2)]))
        return Outline(cls, "box", (((x0, y0), (x1, y1)),), label=label)
    ring = snapped(coords * scale).reshape(-1, 2)
    (x0, y0), (x1, y1) = ring.min(axis=0), ring.max(axis=0)
    points = tuple(map(tuple, ring.tolist()))
    if is_own_box([points], (x0, y0, x1 - x0, y1 - y0)):
        return Outline(cls, "box", (((x0, y0), (x1, y1)),), label=label)
    return Outline(cls, "polygon", (points,), label=label)


def yolo_outlines(path: Path, size: tuple[int, int], names: Mapping[int, str], table: ClassTable) -> list[Outline]:
    outlines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{path}, line {number}"
        try:
            index, values = int(tokens[0]), [float(v) for v in tokens[1:]]
        except ValueError:
            raise ValueError(f"{NAME}: {where}: not 'class x y ...' numbers: {line!r}") from None
        if index not in names:
            raise ValueError(f"{NAME}: {where}: class {index} is not in the names {dict(sorted(names.items()))}")
        label = names[index]
        outlines.append(yolo_outline(values, size, table.project_class(label, path), label, where))
    return outlines


def plan_yolo(source: Path, table: ClassTable) -> list[Planned]:
    names = read_names(source / DATA_YAML)
    folders = [folder for folder in SPLIT_FOLDERS if (source / folder / "images").is_dir()]
    if not folders:
        raise FileNotFoundError(f"{NAME}: {source / DATA_YAML} but no {{train,valid,test}}/images/ beside it")
    planned = []
    for folder in folders:
        images = image_files(source / folder / "images")
        labels = require_dir(source / folder / "labels", NAME, "YOLO labels folder")
        orphans = sorted({p.stem for p in labels.glob("*.txt")} - {p.stem for p in images})
        if orphans:
            raise ValueError(f"{NAME}: {labels}: label files without an image: {listed(f'{s}.txt' for s in orphans)}")
        for image in images:
            label_file = labels / f"{image.stem}.txt"
            objects = yolo_outlines(label_file, image_size(image), names, table) if label_file.is_file() else []
            planned.append((folder, image, objects))
    return planned


# ---------------------------------------------------------------- both


def export_kind(source: Path) -> str:
    """Which export `source` holds ("coco" or "yolo"), told by its own files."""
    coco = any((source / folder / ANNOTATION_FILE).is_file() for folder in SPLIT_FOLDERS)
    yolo = (source / DATA_YAML).is_file()
    if coco and yolo:
        raise ValueError(f"{NAME}: {source} holds both a COCO export and a YOLO {DATA_YAML}: keep one of them")
    if not (coco or yolo):
        found = listed(sorted(p.name for p in source.iterdir()))
        raise FileNotFoundError(
            f"{NAME}: {source} is not a Roboflow export: expected {{train,valid,test}}/{ANNOTATION_FILE} (COCO JSON) "
            f"or {DATA_YAML} with {{train,valid,test}}/images/ and labels/ (YOLOv8); found {found}"
        )
    return "coco" if coco else "yolo"


def plan(source: Path, table: ClassTable) -> list[Item]:
    planned = plan_coco(source, table) if export_kind(source) == "coco" else plan_yolo(source, table)
    kinds = {o.kind for *_, objects in planned for o in objects}
    default = "bbox" if kinds == {"box"} else "polygon"
    items = []
    for folder, file, objects in planned:
        split = SPLIT_FOLDERS[folder]
        items.append(
            Item(
                id=make_id(split, file.stem),
                split=split,
                object="car_body",
                image=file,
                label=join_labels(o.label for o in objects),
                annotation=outline_annotation(objects, default),
                regions=tuple(objects),
            )
        )
    return items


def camera_stem(file_name: str) -> str:
    """The photograph's name before Roboflow's `.rf.{hash}` (and the original extension it folds in)."""
    found = CAMERA_STEM.match(file_name)
    return found.group(1) if found else Path(file_name).stem


def object_rows(item: Item, instances: np.ndarray) -> tuple[list[tuple], int]:
    """The rows of an image's instances, matched to its outlines by the pixels each leaves visible to the later
    ones, and how many are left without a pixel; a mismatch with the mask is an error."""
    drawn = [o for o in item.regions if o.cls != BACKGROUND]
    covered = np.zeros(instances.shape, dtype=bool)
    rows, hidden = [], 0
    for outline in reversed(drawn):
        on = outline.pixels(instances.shape)
        visible = on & ~covered
        covered |= on
        if not visible.any():
            hidden += 1
            continue
        found = np.unique(instances[visible])
        if len(found) != 1 or found[0] == 0:
            raise ValueError(f"{NAME}: {item.id}: a {outline.label!r} object has instance ids {found.tolist()}")
        ys, xs = np.nonzero(instances == found[0])
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        rows.append((item.id, int(found[0]), outline.label, outline.cls, *box, len(xs), outline.kind))
    rows.sort(key=lambda row: row[1])
    if [row[1] for row in rows] != list(range(1, int(instances.max(initial=0)) + 1)):
        raise ValueError(f"{NAME}: {item.id}: instances {[row[1] for row in rows]} of its objects differ from the mask")
    return rows, hidden


def stem_report(index: pd.DataFrame) -> pd.DataFrame:
    """The camera stems in more than one split or more than once in one, with their images."""
    rows = []
    for stem, group in index.groupby("camera_stem", sort=True):
        counts = group["split"].value_counts()
        across, within = len(counts) > 1, bool((counts > 1).any())
        if across or within:
            splits = "|".join(s for s in ("train", "val", "test") if s in counts)
            n = [int(counts.get(s, 0)) for s in ("train", "val", "test")]
            rows.append((stem, splits, len(group), *n, across, within, "|".join(sorted(group["id"]))))
    return pd.DataFrame(rows, columns=list(STEM_COLUMNS))


def finish(index: pd.DataFrame, items: Sequence[Item], out: Path) -> pd.DataFrame:
    """After the masks are written and before the index: the objects table from the written instance masks, the
    index's camera stems and their report."""
    rows, hidden = [], 0
    for item in items:
        instances = cv2.imread(str(out / "instances" / f"{item.id}.png"), cv2.IMREAD_UNCHANGED)
        found, lost = object_rows(item, instances)
        rows += found
        hidden += lost
    if hidden:
        log.warning(
            "%s: %d object(s) with no pixel of their own (drawn over by later ones, or outside the image): no "
            "instance, no row in %s",
            NAME,
            hidden,
            OBJECTS,
        )
    with atomic_output(out / OBJECTS) as tmp:
        pd.DataFrame(rows, columns=list(OBJECT_COLUMNS)).to_parquet(tmp, index=False)
    stems = {item.id: camera_stem(item.image.name) for item in items}
    index = index.assign(camera_stem=index["id"].map(stems))
    report = stem_report(index)
    with atomic_output(out / STEMS) as tmp:
        report.to_parquet(tmp, index=False)
    if not report.empty:
        across, within = report[report["across_splits"]], report[report["within_split"]]
        log.warning(
            "%s: camera stems in more than one split: %d %s; more than once in one split: %d %s "
            "(near-duplicate photographs; see %s)",
            NAME,
            len(across),
            listed(f"{s} ({p})" for s, p in zip(across["camera_stem"], across["splits"], strict=True)),
            len(within),
            listed(within["camera_stem"]),
            STEMS,
        )
    return index


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Convert an extracted Roboflow COCO or YOLOv8 export of the paint defects to the common layout with its
    objects table and camera-stem report; return the index."""
    source, table = converter_setup(source, CLASS_MAP, classes)
    items, out = plan(source, table), Path(out)
    return write_dataset(items, source, out, NAME, splits, amend=lambda index: finish(index, items, out))
