"""Exclusion areas of the kitchen-board thesis (seed 002 §3.2.3): per image, `borders` (the active board area,
without the black background) and `labels` (paper stickers on the board, left out), as one JSON object keyed by
image file name:

    {"231117_0302_1.jpg": {"labels": [[659, 2231, 600, 1239]], "borders": [[617, 161, 3279, 3424]]}}

Rectangles are [x, y, width, height] in pixels from the top-left corner (the thesis's example only reads so:
its second label would have x2 < x1 as [x1, y1, x2, y2]). Test patches lie on a grid inside each border, with
an extra column and row flush with the border's right and bottom edges; a patch overlapping a label by a
positive area is dropped. Pixels outside every border or inside a label are excluded from every metric.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Rect = tuple[int, int, int, int]  # x, y, width, height
KEYS = ("borders", "labels")
EXCLUSIONS = "exclusions.json"  # a dataset's exclusion areas, beside its index.parquet, keyed by image file name


@dataclass(frozen=True)
class Exclusion:
    """The active area (union of `borders`) and the stickers (`labels`) of one image."""

    borders: tuple[Rect, ...]
    labels: tuple[Rect, ...] = ()


def checked_rect(value: object, where: str, size: tuple[int, int] | None) -> Rect:
    """A rectangle [x, y, w, h] of integers, w and h > 0, inside the image of `size` (width, height) if given."""
    if not (isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)):
        raise ValueError(f"{where}: expected [x, y, width, height] as four integers, got {value!r}")
    x, y, w, h = value
    if w <= 0 or h <= 0:
        raise ValueError(f"{where}: width and height must be > 0, got {value!r}")
    if size is not None and (x < 0 or y < 0 or x + w > size[0] or y + h > size[1]):
        raise ValueError(f"{where}: {value!r} reaches outside the image of {size[0]} x {size[1]} pixels")
    return x, y, w, h


def parse_exclusions(
    data: object, source: str, sizes: Mapping[str, tuple[int, int]] | None = None, required: bool = True
) -> dict[str, Exclusion]:
    """The exclusions of a parsed JSON object; `sizes` (image name -> (width, height)) checks that every box lies
    inside its image and, with `required`, that every image has an entry. Errors name `source`, image and key."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected an object keyed by image file name, got {type(data).__name__}")
    exclusions = {}
    for image, entry in data.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: {image}: expected an object with 'borders' and 'labels'")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ValueError(f"{source}: {image}: unknown key(s) {unknown}; the keys are {list(KEYS)}")
        if "borders" not in entry:
            raise ValueError(f"{source}: {image}: no 'borders' (the active area)")
        size = None if sizes is None else sizes.get(image)
        if sizes is not None and size is None:
            raise ValueError(f"{source}: {image}: no such image in the dataset")
        boxes = {}
        for key in KEYS:
            items = entry.get(key, [])
            if not isinstance(items, list):
                raise ValueError(f"{source}: {image}: {key}: expected a list of rectangles")
            boxes[key] = tuple(checked_rect(v, f"{source}: {image}: {key}[{k}]", size) for k, v in enumerate(items))
        if not boxes["borders"]:
            raise ValueError(f"{source}: {image}: borders: empty; at least one rectangle is needed")
        exclusions[image] = Exclusion(boxes["borders"], boxes["labels"])
    if required and sizes is not None:
        missing = sorted(set(sizes) - set(exclusions))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise ValueError(f"{source}: no entry for image(s) {shown}")
    return exclusions


def read_exclusions(
    path: str | Path, sizes: Mapping[str, tuple[int, int]] | None = None, required: bool = True
) -> dict[str, Exclusion]:
    """The exclusions of a JSON file (see `parse_exclusions`)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    return parse_exclusions(data, str(path), sizes, required)


def border_positions(border: Rect, size: int, stride: int, flush: bool = True) -> list[tuple[int, int]]:
    """Top-left corners (x, y) of the patches of one border, row-major: every `stride` pixels, plus (`flush`) a
    column and a row flush with the right and bottom edges where the stride does not reach them (the thesis's
    test patches; its training grid has none); none if the border is smaller than a patch."""
    x0, y0, w, h = border
    if w < size or h < size:
        return []
    xs = [x0 + stride * i for i in range((w - size) // stride + 1)]
    ys = [y0 + stride * j for j in range((h - size) // stride + 1)]
    if flush and (w - size) % stride:
        xs.append(x0 + w - size)
    if flush and (h - size) % stride:
        ys.append(y0 + h - size)
    return [(x, y) for y in ys for x in xs]


def intersects(a: Rect, b: Rect) -> bool:
    """Positive-area overlap of two half-open rectangles (touching edges do not count)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def patch_positions(exclusion: Exclusion, size: int, stride: int) -> list[tuple[int, int]]:
    """The test patches of an image: the grids of its borders (a position in several kept once, first order),
    without the patches overlapping a label."""
    positions = dict.fromkeys(p for border in exclusion.borders for p in border_positions(border, size, stride))
    return [
        (x, y) for x, y in positions if not any(intersects((x, y, size, size), label) for label in exclusion.labels)
    ]


def excluded_pixels(exclusion: Exclusion, height: int, width: int) -> np.ndarray:
    """(H, W) bool: True outside every border or inside a label: pixels no metric counts."""
    active = np.zeros((height, width), bool)
    for x, y, w, h in exclusion.borders:
        active[y : y + h, x : x + w] = True
    for x, y, w, h in exclusion.labels:
        active[y : y + h, x : x + w] = False
    return ~active


def as_json(exclusions: Mapping[str, Exclusion]) -> dict[str, dict[str, list[list[int]]]]:
    """The JSON object of `exclusions` (what a generator writes beside its images)."""
    return {
        image: {"labels": [list(r) for r in e.labels], "borders": [list(r) for r in e.borders]}
        for image, e in exclusions.items()
    }
