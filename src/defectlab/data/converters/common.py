"""What every converter shares: class tables, annotated regions, rendering, splits and the writer.

A converter only reads its dataset's own layout and describes every image as an `Item`: where the image
is, its split, its object, its own label and the annotated `regions` (a binary mask file, a run-length
string, a polygon, a box...) with the project class of each. It checks the whole plan (class names,
mask files, ids) before any file is written, then `write_dataset` renders the class and instance masks
one image at a time (memory bounded by one image), writes the common layout of `defectlab.data.layout`
and, last and atomically, `index.parquet`: a failed conversion leaves no index that looks complete.

Index columns (INDEX_COLUMNS):
    id           stable, unique, file-name safe (e.g. `{category}-{split}-{defect}-{stem}`)
    split        "train", "val" or "test": the dataset's own split, then a seeded validation carve (`Splits`)
    object       what is pictured (MVTec category, DAGM class, "plate", ...)
    view         0; light "unknown"; seed 0 (real data: no generator parameters)
    source       path of the original image, relative to the dataset root, with "/" separators
    annotation   "mask" (pixel masks or run-length strings), "polygon" (drawn outlines) or
                 "bbox" (boxes only: the masks are filled boxes, coarser than the defects)
    label        the dataset's own label of the image (its names joined by "|", sorted)
    n_instances  instances in the instance mask (0: nothing annotated)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import pandas as pd

from defectlab.classes import class_index
from defectlab.data.layout import image_size, listed, write_png
from defectlab.runtime import atomic_output
from defectlab.seeds import derive_seed

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SPLITS = ("train", "val", "test")
ANNOTATIONS = ("mask", "polygon", "bbox")
INDEX_COLUMNS = (
    "id",
    "split",
    "object",
    "view",
    "light",
    "seed",
    "source",
    "annotation",
    "label",
    "n_instances",
)
BACKGROUND = "background"  # a dataset class mapped here is not drawn (e.g. MVTec "good", an umbrella category)
LABELME_LINE_WIDTH = 10  # labelme's own rasterisation of "line"/"linestrip" shapes (labelme.utils.shape_to_mask)
LABELME_POINT_RADIUS = 5  # and of "point" shapes
BOX_KINDS = ("box", "rectangle")  # outlines that are bounding boxes


# ---------------------------------------------------------------- class tables


def normalise_name(name: str) -> str:
    """A dataset's class name as looked up in its table: lower case, runs of other characters as "_"."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


@dataclass(frozen=True)
class ClassTable:
    """One dataset's class names (normalised) mapped onto project class names (`defectlab.classes`)."""

    dataset: str
    names: Mapping[str, str]

    def with_overrides(self, overrides: Mapping[str, str] | None) -> ClassTable:
        """The table with extra or replaced entries, e.g. from config: {"marker": "sticker"}."""
        if not overrides:
            return self
        return ClassTable(self.dataset, {**self.names, **{normalise_name(k): v for k, v in overrides.items()}})

    def check(self) -> None:
        """Every target is a project class, checked when a conversion starts (the class map may grow)."""
        for name, target in self.names.items():
            try:
                class_index(target)
            except ValueError as error:
                raise ValueError(f"{self.dataset}: class {name!r} maps to {target!r}: {error}") from None

    def project_class(self, name: str, where: object) -> str:
        """The project class of one of the dataset's names; an unknown name is an error listing the known."""
        try:
            return self.names[normalise_name(name)]
        except KeyError:
            known = ", ".join(sorted(self.names))
            raise ValueError(f"{self.dataset}: unknown class {name!r} in {where}; known: {known}") from None


# ---------------------------------------------------------------- splits


@dataclass(frozen=True)
class Splits:
    """How a converted dataset is split.

    The dataset's own train/test split is kept. `val_fraction` of the images of the split `val_from`
    then move to "val": per stratum (object x defective or not), sorted by id, a seeded permutation picks
    round(fraction x stratum size) of them, so the carve is the same on every run and every machine and
    keeps the share of defective images. `by_group` gives the split of each top-level folder for a dataset
    that has no split of its own (the Fraunhofer plates: one folder per plate).
    """

    val_fraction: float = 0.0
    val_from: str = "test"
    seed: int = 0
    by_group: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"splits.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.val_from not in ("train", "test"):
            raise ValueError(f"splits.val_from must be 'train' or 'test', got {self.val_from!r}")
        bad = {k: v for k, v in self.by_group.items() if v not in SPLITS}
        if bad:
            raise ValueError(f"splits.by_group: unknown splits {bad}; known: {', '.join(SPLITS)}")

    @classmethod
    def of(cls, value: Splits | Mapping[str, object] | None) -> Splits:
        """Splits from None (defaults), a Splits or a config mapping with its field names."""
        if value is None:
            return cls()
        if isinstance(value, Splits):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"splits: unknown keys {unknown}; known: {', '.join(sorted(known))}")
        return cls(**value)  # type: ignore[arg-type]


def carve_validation(index: pd.DataFrame, splits: Splits, dataset: str) -> pd.DataFrame:
    """The index with the seeded validation carve of `splits` applied to its split column."""
    if splits.val_fraction == 0.0:
        return index
    pool = index[index["split"] == splits.val_from]
    if pool.empty:
        raise ValueError(
            f"{dataset}: no {splits.val_from!r} images to carve a validation split from; "
            f"splits: {sorted(set(index['split']))} (set splits.val_from)"
        )
    index = index.copy()
    defective = pool["n_instances"] > 0
    for (obj, flag), stratum in pool.groupby([pool["object"], defective], sort=True):
        ids = np.sort(stratum["id"].to_numpy())
        count = int(np.floor(splits.val_fraction * len(ids) + 0.5))
        rng = np.random.default_rng(derive_seed(splits.seed, dataset, obj, bool(flag)))
        chosen = ids[rng.permutation(len(ids))[:count]]
        index.loc[index["id"].isin(chosen), "split"] = "val"
    return index


# ---------------------------------------------------------------- images and masks


def read_rgb(path: Path) -> np.ndarray:
    """An image as (H, W, 3) uint8 RGB: grey is repeated over 3 channels, alpha dropped, 16 bit scaled."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if data.dtype == np.uint16:
        data = ((data.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif data.dtype != np.uint8:
        raise ValueError(f"{path}: unsupported pixel type {data.dtype}")
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    if data.ndim == 2:
        return cv2.cvtColor(data, cv2.COLOR_GRAY2RGB)
    if data.shape[2] == 4:
        return cv2.cvtColor(data, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def read_binary_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A binary mask file as bool (H, W): 0/1 masks are on where 1, 0/255 masks (or any with values
    above 1) where >= 128, so resampling or compression noise near 0 is not a defect. Colour masks count
    their brightest channel."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise FileNotFoundError(f"cannot read mask {path}")
    if data.ndim == 3:
        data = data.max(axis=2)
    if data.shape != tuple(size):
        raise ValueError(f"mask {path} is {data.shape[0]}x{data.shape[1]}, its image {size[0]}x{size[1]}")
    return data > 0 if data.max() <= 1 else data >= 128


def decode_rle(encoded: str, height: int, width: int, where: object = "run-length string") -> np.ndarray:
    """Kaggle run-length encoding (Severstal) as bool (H, W): pairs "start length", starts 1-based,
    pixels numbered from top to bottom, then left to right (column-major)."""
    tokens = str(encoded).split()
    if len(tokens) % 2:
        raise ValueError(f"{where}: odd number of run-length values ({len(tokens)})")
    try:
        pairs = np.asarray(tokens, dtype=np.int64).reshape(-1, 2)
    except ValueError:
        raise ValueError(f"{where}: run-length values are not integers") from None
    flat = np.zeros(height * width, dtype=bool)
    for start, length in pairs:
        if start < 1 or length < 1 or start - 1 + length > height * width:
            raise ValueError(f"{where}: run {start} {length} is outside the {height}x{width} image")
        flat[start - 1 : start - 1 + length] = True
    return flat.reshape(width, height).T


class Region(Protocol):
    """One annotated region of an image, of one project class."""

    cls: str
    connected: bool  # instances are its 8-connected components (masks) rather than the region itself

    def pixels(self, size: tuple[int, int]) -> np.ndarray: ...


@dataclass(frozen=True)
class BinaryMask:
    """A binary mask file (MVTec, KSDD2, DAGM, Magnetic Tile): one class, instances = 8-connected components."""

    path: Path
    cls: str
    connected: bool = True

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        return read_binary_mask(self.path, size)


@dataclass(frozen=True)
class RunLength:
    """One class of an image as a Kaggle run-length string (Severstal); instances = 8-connected components."""

    encoded: str
    cls: str
    where: str
    connected: bool = True

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        return decode_rle(self.encoded, size[0], size[1], self.where)


@dataclass(frozen=True)
class Outline:
    """A drawn object, one instance (shared by outlines of the same `group`).

    kind: "polygon" (parts: one or more rings of (x, y), filled with cv2.fillPoly, edges included), "box"
    (parts: one pair of corners, the far one excluded: every pixel a COCO [x, y, w, h] box overlaps),
    "rectangle" (a pair of corners, both included, as labelme draws its rectangles), "circle" (centre and a
    point on the circle), "polyline" (a line of `LABELME_LINE_WIDTH` px) or "point" (a disc of
    `LABELME_POINT_RADIUS` px). Coordinates are pixels, x right and y down, as LabelMe and COCO give them.
    "box" and "rectangle" are bounding boxes: an image with one has annotation "bbox".
    """

    cls: str
    kind: str
    parts: tuple[tuple[tuple[float, float], ...], ...]
    group: object = None
    label: str = ""  # the dataset's own name of it
    connected: bool = False

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        canvas = np.zeros(size, dtype=np.uint8)
        rings = [np.round(np.asarray(p, dtype=np.float64).reshape(-1, 2)).astype(np.int32) for p in self.parts]
        if self.kind == "polygon":
            cv2.fillPoly(canvas, rings, 1)
        elif self.kind == "box":
            (x0, y0), (x1, y1) = np.asarray(self.parts[0], dtype=np.float64).reshape(2, 2)
            x0, x1 = sorted((x0, x1))
            y0, y1 = sorted((y0, y1))
            c0, c1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), size[1])
            r0, r1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)), size[0])
            canvas[r0:r1, c0:c1] = 1
        elif self.kind == "rectangle":
            (x0, y0), (x1, y1) = np.round(np.asarray(self.parts[0], dtype=np.float64).reshape(2, 2)).astype(int)
            corners = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.int32)
            cv2.fillPoly(canvas, [corners], 1)
        elif self.kind == "circle":
            (cx, cy), (px, py) = np.asarray(self.parts[0], dtype=np.float64).reshape(2, 2)
            radius = int(round(float(np.hypot(px - cx, py - cy))))
            cv2.circle(canvas, (int(round(cx)), int(round(cy))), radius, 1, thickness=-1)
        elif self.kind == "polyline":
            cv2.polylines(canvas, rings, False, 1, thickness=LABELME_LINE_WIDTH)
        elif self.kind == "point":
            x, y = rings[0][0]
            cv2.circle(canvas, (int(x), int(y)), LABELME_POINT_RADIUS, 1, thickness=-1)
        else:
            raise ValueError(f"unknown outline kind {self.kind!r}")
        return canvas.astype(bool)


def render(regions: Iterable[Region], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Class mask (uint8) and instance mask (uint16, 1..n in drawing order) of an image's regions.

    Regions are drawn in order, a later one over an earlier one. A region of class "background" is not
    drawn. Mask regions give one instance per 8-connected component; outlines one per outline, or one per
    (class, group) when they share a group (LabelMe's group_id).
    """
    mask = np.zeros(size, dtype=np.uint8)
    instances = np.zeros(size, dtype=np.int64)
    next_id = 1
    groups: dict[tuple[str, object], int] = {}
    for region in regions:
        if region.cls == BACKGROUND:
            continue
        index = class_index(region.cls)
        on = region.pixels(size)
        if not on.any():
            continue
        mask[on] = index
        if region.connected:
            count, labels = cv2.connectedComponents(on.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
            instances[on] = labels[on] + (next_id - 1)
            next_id += count - 1
        else:
            group = getattr(region, "group", None)
            key = (region.cls, group if group is not None else object())
            if key not in groups:
                groups[key] = next_id
                next_id += 1
            instances[on] = groups[key]
    present, compact = np.unique(instances, return_inverse=True)
    if present[0] != 0:  # every pixel annotated: ids start at 1
        compact = compact + 1
    if compact.max(initial=0) > np.iinfo(np.uint16).max:
        raise ValueError(f"more than {np.iinfo(np.uint16).max} instances in one image")
    return mask, compact.reshape(size).astype(np.uint16)


# ---------------------------------------------------------------- items and the writer


@dataclass(frozen=True)
class Item:
    """One image of a dataset, as its converter found it.

    label None: the dataset names no label, and the index says "positive" or "negative" after whether the
    ground truth marks anything (KolektorSDD2's terms).
    """

    id: str
    split: str
    object: str
    image: Path
    label: str | None
    annotation: str
    regions: tuple[Region, ...] = ()


def outline_annotation(outlines: Sequence[Outline], default: str) -> str:
    """The annotation kind of an image drawn from outlines: "bbox" if any is a box (its mask is then coarser
    than its defects), "polygon" if there are outlines, else `default` (the kind of the dataset)."""
    if not outlines:
        return default
    return "bbox" if any(o.kind in BOX_KINDS for o in outlines) else "polygon"


def make_id(*parts: object) -> str:
    """An id from its parts joined by "-", characters outside [A-Za-z0-9._-] replaced by "_"."""
    return "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", str(p)) for p in parts if str(p) != "")


def join_labels(names: Iterable[str]) -> str:
    """The dataset's own names of an image, sorted, unique, joined by "|" ("" for none)."""
    return "|".join(sorted(set(names)))


def image_files(folder: Path) -> list[Path]:
    """The image files directly in a folder, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def require_dir(path: Path, dataset: str, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{dataset}: {what} not found: {path}")
    return path


def check_plan(items: Sequence[Item], dataset: str) -> None:
    """Before any file is written: at least one image, unique ids, known splits and annotation kinds,
    every image and mask file present."""
    if not items:
        raise ValueError(f"{dataset}: no images found")
    seen: dict[str, Path] = {}
    for item in items:
        if item.id in seen:
            raise ValueError(f"{dataset}: id {item.id!r} of {item.image} is also the id of {seen[item.id]}")
        seen[item.id] = item.image
        if item.split not in SPLITS:
            raise ValueError(f"{dataset}: {item.image}: unknown split {item.split!r}; known: {', '.join(SPLITS)}")
        if item.annotation not in ANNOTATIONS:
            raise ValueError(f"{dataset}: {item.image}: unknown annotation kind {item.annotation!r}")
        if not item.image.is_file():
            raise FileNotFoundError(f"{dataset}: image not found: {item.image}")
        for region in item.regions:
            if isinstance(region, BinaryMask) and not region.path.is_file():
                raise FileNotFoundError(f"{dataset}: mask of {item.image} not found: {region.path}")


ORIGINAL_SIZE_COLUMNS = ("original_width", "original_height")  # an image's size before padding (`Canvas`)


@dataclass(frozen=True)
class Canvas:
    """One image size per object (the real kitchen boards differ in size; the patch stores and maps hold one):
    `sizes` (id -> (width, height)) each image's size as planned, e.g. from its file header, which the decoded
    image must have; `by_object` (object -> (width, height)) the size its images and masks are padded to with 0
    at the right and bottom (an object without one keeps its sizes). The index records `sizes` in
    ORIGINAL_SIZE_COLUMNS."""

    sizes: Mapping[str, tuple[int, int]]
    by_object: Mapping[str, tuple[int, int]]


def fixed_canvas(items: Sequence[Item], pad_to: Mapping[str, int], dataset: str) -> Canvas:
    """One size for every item (a converter's `pad_to` option: {width, height}), for datasets whose images vary in
    size (KolektorSDD2, Magnetic Tile) but must share one maps file; sizes come from the headers before any file is
    written, and an image larger than the canvas is refused, naming it."""
    width, height = pad_to["width"], pad_to["height"]
    sizes = {item.id: image_size(item.image) for item in items}
    larger = sorted(
        f"{item.image.name} ({w}x{h})" for item in items for w, h in [sizes[item.id]] if w > width or h > height
    )
    if larger:
        raise ValueError(f"{dataset}: pad_to {width}x{height} is smaller than {len(larger)} image(s): {listed(larger)}")
    return Canvas(sizes, {item.object: (width, height) for item in items})


def pad_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """`array` (H, W[, C]) padded with 0 at the bottom and right to (height, width[, C])."""
    extra = ((0, height - array.shape[0]), (0, width - array.shape[1])) + ((0, 0),) * (array.ndim - 2)
    return np.pad(array, extra) if any(after for _, after in extra) else array


def write_dataset(
    items: Sequence[Item],
    source: Path,
    out: Path,
    dataset: str,
    splits: Splits | Mapping | None,
    canvas: Canvas | None = None,
    amend: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Write the items in the common layout under `out` (with a `canvas`, padded to its object's size), then its
    index (atomically, after `amend` adds a dataset's own columns to it); return the index."""
    splits = Splits.of(splits)
    check_plan(items, dataset)
    out = Path(out)
    (out / "index.parquet").unlink(missing_ok=True)  # a stale index must not outlive a failed rerun
    rows = []
    for item in items:
        image = read_rgb(item.image)
        height, width = image.shape[:2]
        if canvas is not None and canvas.sizes[item.id] != (width, height):  # the canvas was planned from them
            planned = "x".join(map(str, canvas.sizes[item.id]))
            raise ValueError(f"{dataset}: {item.image}: decodes to {width}x{height}, its header says {planned}")
        try:
            mask, instances = render(item.regions, (height, width))
        except (ValueError, FileNotFoundError) as error:
            raise type(error)(f"{dataset}: {item.image}: {error}") from None
        padded = (width, height) if canvas is None else canvas.by_object.get(item.object, (width, height))
        for folder, array in (("images", image), ("masks", mask), ("instances", instances)):
            write_png(out / folder / f"{item.id}.png", pad_to(array, padded[1], padded[0]))
        count = int(instances.max(initial=0))
        label = item.label if item.label is not None else ("positive" if count else "negative")
        source_path = item.image.relative_to(source).as_posix()
        row = (item.id, item.split, item.object, 0, "unknown", 0, source_path, item.annotation, label, count)
        rows.append(row if canvas is None else row + (width, height))
    columns = list(INDEX_COLUMNS) if canvas is None else [*INDEX_COLUMNS, *ORIGINAL_SIZE_COLUMNS]
    index = pd.DataFrame(rows, columns=columns)
    index = carve_validation(index, splits, dataset)
    if amend is not None:
        index = amend(index)
    with atomic_output(out / "index.parquet") as tmp:
        index.to_parquet(tmp, index=False)
    return index


def converter_setup(
    source: Path | str, table: ClassTable, classes: Mapping[str, str] | None
) -> tuple[Path, ClassTable]:
    """The dataset root (checked) and the class table with overrides (checked against the class map)."""
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{table.dataset}: dataset folder not found: {source}")
    table = table.with_overrides(classes)
    table.check()
    return source, table


Converter = Callable[..., pd.DataFrame]
