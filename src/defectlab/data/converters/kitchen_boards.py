"""The real kitchen boards of the CutPaste thesis (seed 002 §2; Burger Küchenmöbel GmbH, proprietary) into the
common layout, with the dataset's `exclusions.json`.

The data is not public and no copy was seen: the layout below is read from the thesis's description (seed 002
§2.1-2.5, §3.3) and is a guess wherever the thesis is silent; each guess is marked [guess]. What the thesis says:
line-scan JPG images of about 4074 x 4730 px named like `231117_0302_1.jpg`; the categories studied are White and
White with edges; each category folder was "divided manually into two subfolders: anomaly-free and with
anomaly"; only anomaly-free boards train, the test boards are anomalous ones; one binary ground-truth image per
test image (white = anomaly), stored "as a separate image with a `groundtruth.png` suffix" (separator not given);
one JSON object of `borders` (active area) and `labels` (stickers) rectangles keyed by image file name.

    <root>/                                the dataset as placed (resources/extracted/kitchen_boards/)
        borders.json                       [guess: the name] the exclusions, for both categories, or ...
        white/                             category White      [guess: folder names as the workflow's
        white_with_edges/                  category White with edges  category wildcard takes them, no spaces]
            borders.json                   ... one per category (the category's own is taken first)
            anomaly-free/{stem}.jpg        boards without anomalies: split "train"
            with anomaly/{stem}.jpg        boards with anomalies: split "test"
            with anomaly/{stem}_groundtruth.png   their ground truth

Split folders [guess: spelling]: "anomaly-free", "anomaly_free" or "train" give the training boards; "with
anomaly", "with_anomaly", "with-anomaly" or "test" the test boards (case ignored; one folder per role). The JPGs
(`.jpg`, `.jpeg`) lie directly in a split folder or in its `images/` subfolder; other files there are not images.

Ground truth of a test image `{stem}.jpg`: `{stem}_groundtruth.png`, `{stem}groundtruth.png` or `{stem}.png`
(the same name), in the image's folder, in `ground_truth/` or `groundtruth/` of its split folder, or in
`ground_truth/` of the category. Exactly one must exist (two are refused: which is meant?). A ground-truth file
that matches no image is refused (a misspelt name would otherwise drop its board unseen). A board of "with
anomaly" without ground truth is, by default, left out with a line in the log (option `without_ground_truth:
skip`): the thesis drew ground truth only for its 11 and 9 test boards and left the other anomalous boards
unused; `error` refuses it instead. Training boards carry no ground truth (nothing is read for them).

Masks: a ground-truth pixel > 0 (any colour channel; alpha ignored) is class "other_defect": the thesis labels
a patch positive when its grey ground-truth crop has a mean > 0, i.e. any non-zero pixel (stricter than the
other converters' >= 128 of 0/255 masks). Instances: its 8-connected components. The kinds of anomaly are not
annotated (the stand-in's classes are the generator's, `defectlab.synth.boards`).

Exclusions: the JSON is validated whole (`defectlab.data.exclusions.parse_exclusions`: only `borders` and
`labels`, rectangles [x, y, width, height] of integers, w, h > 0, at least one border), the rectangles of every
converted image checked inside it (sizes read from the JPG headers before any file is written), and written as
`exclusions.json` of the converted folder, re-keyed by the converted file name `{id}.png`. Every test image
needs an entry (an error names the image and the JSON file); a training image's entry is taken where given.
Entries of files that are not converted (another category's, an unused board's) are left out. The JSON is the
category folder's only `*.json`, else its parent's (the dataset root's) only `*.json`; option `exclusions`
names the file where there are several. File names are unique within a category (the JSON is keyed by them).

Sizes: the boards differ in size (about 4074 x 4730 on average, varying; seed 002 §2.3), but a dataset's patch
stores and maps hold one image size. Option `pad: true` (the default) pads every image of a category at the right
and bottom to the largest width and height among that category's converted images (all splits): the image with
black (0, 0, 0), its masks with 0 (background, no instance). The boards lie on a black conveyor, so the padding
is background like the black around them, below the thesis's > 31 mean-intensity patch filter; and the JSON's
`borders` and `labels` keep their coordinates (checked against the original size; the test patches lie inside
the borders, never in the padding). The index records each image's size before padding in `original_width` and
`original_height` (pixels), so nothing is lost: `[:original_height, :original_width]` is the original. With
`pad: false` every image keeps its own size; the patch stores (`defectlab.data.patch_store`) then refuse a
dataset of mixed sizes ("shape ... differs from ..."), so it suits only other tools or boards of one size.

Ids: `{category}-{split}-{stem}`. Object: the category folder's name (`source.objects` selects by it). Label:
"normal" (anomaly-free) or "anomalous" (with anomaly), as the generator's stand-in boards. Splits: train and test
as above; the thesis has no validation split (`Splits(val_fraction=..., val_from="test")` carves one).

Class table (the one kind of the binary ground truth -> project class):

    anomaly   -> other_defect
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from defectlab.classes import OTHER_DEFECT
from defectlab.data.converters.common import (
    Canvas,
    ClassTable,
    Item,
    Splits,
    converter_setup,
    image_size,
    make_id,
    write_dataset,
)
from defectlab.data.converters.options import CLASSES_OPTION, SPLITS_OPTION, options_schema
from defectlab.data.exclusions import EXCLUSIONS, Exclusion, as_json, parse_exclusions
from defectlab.data.layout import listed
from defectlab.runtime import atomic_output

NAME = "kitchen_boards"
OPTIONS = options_schema(
    splits=SPLITS_OPTION,
    classes=CLASSES_OPTION,
    without_ground_truth={"enum": ["skip", "error"]},
    exclusions={"type": "string", "pattern": r"^[^/\\]+\.json$"},
    pad={"type": "boolean"},
)
CATEGORIES = ("white", "white_with_edges")  # the thesis's "White" and "White with edges"
SPLIT_FOLDERS = {
    "train": ("anomaly-free", "anomaly_free", "train"),
    "test": ("with anomaly", "with_anomaly", "with-anomaly", "test"),
}
LABELS = {"train": "normal", "test": "anomalous"}
JPEG_SUFFIXES = (".jpg", ".jpeg")
GROUND_TRUTH_NAMES = ("{stem}_groundtruth.png", "{stem}groundtruth.png", "{stem}.png")
GROUND_TRUTH_FOLDERS = ("ground_truth", "groundtruth")
CLASS_MAP = ClassTable(NAME, {"anomaly": OTHER_DEFECT})


@dataclass(frozen=True)
class NonZeroMask:
    """A ground-truth image whose every non-zero pixel is on (the thesis's patch label: mean > 0)."""

    path: Path
    cls: str
    connected: bool = True

    def pixels(self, size: tuple[int, int]) -> np.ndarray:
        data = cv2.imread(str(self.path), cv2.IMREAD_UNCHANGED)
        if data is None:
            raise FileNotFoundError(f"cannot read ground truth {self.path}")
        if data.ndim == 3:
            data = data[..., :3].max(axis=2)  # any colour channel; an alpha channel is no annotation
        if data.shape != tuple(size):
            raise ValueError(
                f"ground truth {self.path} is {data.shape[0]}x{data.shape[1]}, its image {size[0]}x{size[1]}"
            )
        return data > 0


def split_folders(category: Path) -> dict[str, Path]:
    """The category's training and test folders (either may be missing), by the names of SPLIT_FOLDERS."""
    found: dict[str, list[Path]] = {split: [] for split in SPLIT_FOLDERS}
    for folder in sorted(p for p in category.iterdir() if p.is_dir()):
        for split, names in SPLIT_FOLDERS.items():
            if folder.name.lower() in names:
                found[split].append(folder)
    for split, folders in found.items():
        if len(folders) > 1:
            raise ValueError(f"{NAME}: {category}: several {split} folders {[f.name for f in folders]}; keep one")
    return {split: folders[0] for split, folders in found.items() if folders}


def categories(source: Path) -> list[Path]:
    """The category folders: `source` itself when it holds split folders, else its subfolders that do."""
    if split_folders(source):
        return [source]
    found = sorted(p for p in source.iterdir() if p.is_dir() and split_folders(p))
    if not found:
        names = ", ".join(n for names in SPLIT_FOLDERS.values() for n in names)
        raise FileNotFoundError(f"{NAME}: no category (a folder with one of {names}) in {source}")
    return found


def image_folder(split_dir: Path) -> Path:
    """Where a split folder's JPGs lie: its images/ subfolder when it has one, else the folder itself."""
    return split_dir / "images" if (split_dir / "images").is_dir() else split_dir


def jpegs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in JPEG_SUFFIXES)


def ground_truth_folders(category: Path, split_dir: Path) -> list[Path]:
    """Where the test images' ground truth may lie: the images' folder, ground_truth/ or groundtruth/ of the
    split folder, ground_truth/ of the category (those that exist)."""
    folders = [image_folder(split_dir), *(split_dir / name for name in GROUND_TRUTH_FOLDERS), category / "ground_truth"]
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def ground_truth_of(image: Path, folders: list[Path]) -> Path | None:
    """The one ground-truth file of a test image (GROUND_TRUTH_NAMES in `folders`), None if it has none."""
    found = [f / n.format(stem=image.stem) for f in folders for n in GROUND_TRUTH_NAMES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise ValueError(f"{NAME}: {image}: several ground-truth files {[str(p) for p in found]}; keep one")
    return found[0] if found else None


def ground_truth_files(folders: list[Path], images: Path) -> set[Path]:
    """The files that read as ground truth: every PNG of a ground-truth folder, and the `*groundtruth.png` beside
    the images (another PNG there may be anything)."""
    return {
        p
        for f in folders
        for p in f.glob("*.png")
        if p.is_file() and (f != images or p.name.lower().endswith("groundtruth.png"))
    }


def exclusions_file(category: Path, name: str | None) -> Path | None:
    """The JSON of a category: `name` (or the only *.json) in the category folder, else in its parent; None if
    there is none."""
    for folder in (category, category.parent):
        if name is not None:
            if (folder / name).is_file():
                return folder / name
            continue
        found = sorted(p for p in folder.glob("*.json") if p.is_file() and p.name != EXCLUSIONS)
        if len(found) > 1:
            raise ValueError(
                f"{NAME}: several JSON files in {folder}: {', '.join(p.name for p in found)}; name the one with the "
                f"borders and labels in the option `exclusions`"
            )
        if found:
            return found[0]
    return None


def plan_category(
    category: Path, table: ClassTable, without_ground_truth: str
) -> tuple[list[Item], dict[str, Path], list[Path]]:
    """The items of one category, the original image of each id, and the anomalous boards left out (no ground
    truth, `without_ground_truth: skip`)."""
    cls = table.project_class("anomaly", category)
    items, originals, skipped = [], {}, []
    names: dict[str, Path] = {}
    for split, split_dir in split_folders(category).items():
        folders = ground_truth_folders(category, split_dir) if split == "test" else []
        claimed = set()
        for image in jpegs(image_folder(split_dir)):
            if image.name in names:
                raise ValueError(
                    f"{NAME}: {image} and {names[image.name]} share a file name, by which the JSON is keyed; rename one"
                )
            names[image.name] = image
            regions = ()
            if split == "test":
                truth = ground_truth_of(image, folders)
                if truth is None and without_ground_truth == "error":
                    tried = ", ".join(n.format(stem=image.stem) for n in GROUND_TRUTH_NAMES)
                    raise FileNotFoundError(
                        f"{NAME}: no ground truth for test image {image} (one of {tried} in "
                        f"{', '.join(map(str, folders))})"
                    )
                if truth is None:
                    skipped.append(image)
                    continue
                claimed.add(truth)
                regions = (NonZeroMask(truth, cls),)
            sample_id = make_id(category.name, split, image.stem)
            items.append(Item(sample_id, split, category.name, image, LABELS[split], "mask", regions))
            originals[sample_id] = image
        orphans = sorted(ground_truth_files(folders, image_folder(split_dir)) - claimed)
        if orphans:
            raise ValueError(
                f"{NAME}: ground truth without its test image (a .jpg of the same stem in {image_folder(split_dir)}): "
                f"{listed(map(str, orphans))}"
            )
    return items, originals, skipped


def plan_exclusions(
    category: Path,
    items: list[Item],
    originals: Mapping[str, Path],
    name: str | None,
    sizes: Mapping[str, tuple[int, int]],
):
    """The exclusions of the converted images, keyed `{id}.png`, read and checked from the category's JSON (a
    category without test images may have none) against each image's original (width, height) in `sizes` (by
    id): padding at the right and bottom moves no rectangle."""
    path = exclusions_file(category, name)
    if path is None:
        if not any(item.split == "test" for item in items):
            return {}
        wanted = name or "*.json"
        raise FileNotFoundError(
            f"{NAME}: no {wanted} with the borders and labels of the test images of {category.name} in {category} "
            f"or {category.parent}"
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    parse_exclusions(data, str(path))  # every entry well formed, converted or not
    missing = [originals[item.id] for item in items if item.split == "test" and originals[item.id].name not in data]
    if missing:
        raise ValueError(
            f"{path}: no entry for test image(s) {listed(str(p) for p in missing)}: the patch unit places the test "
            f"patches inside each image's borders (key: the file name, e.g. {missing[0].name!r})"
        )
    given = {item.id: originals[item.id] for item in items if originals[item.id].name in data}
    by_name = {image.name: sizes[i] for i, image in given.items()}
    checked = parse_exclusions({n: data[n] for n in by_name}, str(path), by_name)
    return {f"{i}.png": checked[image.name] for i, image in given.items()}


def convert(
    source: Path | str,
    out: Path | str,
    *,
    splits: Splits | Mapping | None = None,
    classes: Mapping[str, str] | None = None,
    without_ground_truth: str = "skip",
    exclusions: str | None = None,
    pad: bool = True,
) -> pd.DataFrame:
    """Convert the kitchen boards (the dataset root, or one category folder) to the common layout with its
    exclusions.json, each category's images padded to one size unless `pad` is false; return the index."""
    if without_ground_truth not in ("skip", "error"):
        raise ValueError(f"{NAME}: without_ground_truth must be 'skip' or 'error', got {without_ground_truth!r}")
    source, table = converter_setup(source, CLASS_MAP, classes)
    items: list[Item] = []
    areas: dict[str, Exclusion] = {}
    sizes: dict[str, tuple[int, int]] = {}  # (width, height) by id, from the JPG headers
    canvas: dict[str, tuple[int, int]] = {}  # (width, height) by category, with `pad`
    for category in categories(source):
        found, originals, skipped = plan_category(category, table, without_ground_truth)
        if skipped:
            print(
                f"{NAME}: {category.name}: {len(skipped)} board(s) with anomalies have no ground truth and are left "
                f"out: {listed(p.name for p in skipped)}"
            )
        own = {item.id: image_size(originals[item.id]) for item in found}
        areas |= plan_exclusions(category, found, originals, exclusions, own)
        sizes |= own
        items += found
        if pad and own:
            canvas[category.name] = (max(w for w, _ in own.values()), max(h for _, h in own.values()))
            padded = sum(size != canvas[category.name] for size in own.values())
            if padded:
                print(
                    f"{NAME}: {category.name}: {padded} of {len(own)} images padded (right and bottom, black) to "
                    f"{canvas[category.name][0]} x {canvas[category.name][1]}, the category's largest width and height"
                )
    root = source.parent if categories(source) == [source] else source  # `source` paths start at the category
    out = Path(out)
    (out / "index.parquet").unlink(missing_ok=True)  # no index beside a new exclusions.json until all is written
    with atomic_output(out / EXCLUSIONS) as tmp:
        tmp.write_text(json.dumps(as_json(dict(sorted(areas.items()))), indent=1) + "\n")
    return write_dataset(items, root, out, NAME, splits, Canvas(sizes, canvas))
