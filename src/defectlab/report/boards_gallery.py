"""Gallery of the kitchen boards (seed 002, after the thesis's Figs. 3.3 and 6.5): per category a normal and an
anomalous board, each with its class mask over it (defects boxed, as they are small beside a board) and its
exclusion areas (`borders`, the active area; `labels`, the stickers left out), and below a crop of each anomaly
kind, the largest instance of that kind found, with its mask's outline."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from scipy import ndimage  # noqa: E402

from defectlab.classes import CLASSES, DEFECT_INDICES, class_index  # noqa: E402
from defectlab.data.exclusions import Exclusion  # noqa: E402
from defectlab.report.figures import CLASS_COLOURS  # noqa: E402
from defectlab.synth.boards import KINDS  # noqa: E402

BORDER_COLOUR = (0.0, 0.85, 1.0)
LABEL_COLOUR = (1.0, 0.25, 0.9)
SHOWN = 720  # a board's longer side as drawn, pixels (before the figure's own scaling)
BOARD_SIZE = (3.0, 3.7)  # inches per board panel
CROP_HEIGHT = 2.2  # inches of the row of crops
DPI = 110


@dataclass(frozen=True)
class Board:
    """One board as the gallery shows it."""

    title: str
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) class index
    instances: np.ndarray  # (H, W) instance id
    exclusion: Exclusion


def instance_boxes(mask: np.ndarray, instances: np.ndarray) -> list[tuple[int, str, tuple[slice, slice], int]]:
    """(instance id, class name, its box, its pixel count) of every instance, in id order."""
    boxes = []
    for number, box in enumerate(ndimage.find_objects(instances), start=1):
        if box is None:
            continue
        pixels = instances[box] == number
        classes = mask[box][pixels]
        boxes.append((number, CLASSES[int(np.bincount(classes).argmax())].name, box, int(pixels.sum())))
    return boxes


def kind_crops(
    boards: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], pad: int = 12, smallest: int = 48
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per anomaly kind, in the order of KINDS, a square crop (image, the kind's bool mask) around the largest
    instance of that kind in `boards` ((image, class mask, instance mask) each, read one at a time)."""
    best: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
    for image, mask, instances in boards:
        height, width = mask.shape
        for _number, name, (rows, cols), pixels in instance_boxes(mask, instances):
            if name not in KINDS or (name in best and best[name][0] >= pixels):
                continue
            side = min(max(rows.stop - rows.start, cols.stop - cols.start) + 2 * pad, smallest * 8)
            side = min(max(side, smallest), height, width)
            top = int(np.clip((rows.start + rows.stop - side) // 2, 0, height - side))
            left = int(np.clip((cols.start + cols.stop - side) // 2, 0, width - side))
            area = (slice(top, top + side), slice(left, left + side))
            best[name] = (pixels, image[area].copy(), mask[area] == class_index(name))
    return {name: best[name][1:] for name in KINDS if name in best}


def overlay(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The class mask as an RGBA layer of `shape` (rows, columns): every class the reduced pixel holds any of, in
    its colour, defects over impurities (so a defect of a few pixels still shows)."""
    layer = np.zeros((*shape, 4), np.float32)
    present = [int(v) for v in np.unique(mask) if v]
    for index in sorted(present, key=lambda v: (v in DEFECT_INDICES, v)):
        share = cv2.resize((mask == index).astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        layer[share > 0] = (*CLASS_COLOURS[CLASSES[index].name], 0.55 if index in DEFECT_INDICES else 0.35)
    return layer


def draw_board(axis: plt.Axes, board: Board) -> set[int]:
    """The board reduced to SHOWN pixels on its longer side, its mask over it, its defects boxed, its borders and
    labels drawn; returns the classes shown."""
    height, width = board.mask.shape
    scale = SHOWN / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    extent = (0, width, height, 0)  # the axes in image pixels, whatever the reduction
    axis.imshow(cv2.resize(board.image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA), extent=extent)
    axis.imshow(overlay(board.mask, shape), extent=extent, interpolation="nearest")
    least = 0.03 * max(height, width)  # a defect's box at least this big, so it is seen
    for _number, name, (rows, cols), _pixels in instance_boxes(board.mask, board.instances):
        if class_index(name) not in DEFECT_INDICES:
            continue
        w, h = max(cols.stop - cols.start, least), max(rows.stop - rows.start, least)
        cx, cy = (cols.start + cols.stop) / 2, (rows.start + rows.stop) / 2
        axis.add_patch(Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, edgecolor=CLASS_COLOURS[name], lw=1.2))
    for x, y, w, h in board.exclusion.borders:
        axis.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=BORDER_COLOUR, lw=1.0))
    for x, y, w, h in board.exclusion.labels:
        axis.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=LABEL_COLOUR, lw=1.0, ls="--"))
    axis.set_xlim(0, width)
    axis.set_ylim(height, 0)
    axis.set_title(board.title, fontsize=8)
    bare(axis)
    return {int(v) for v in np.unique(board.mask) if v}


def bare(axis: plt.Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def boards_gallery_figure(boards: Sequence[Board], crops: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """The boards side by side (a normal and an anomalous one per category) above a row of crops, one per anomaly
    kind (`kind_crops`; a kind not found says so). The figure's size depends on the number of boards only."""
    columns = max(1, len(boards))
    size = (max(BOARD_SIZE[0] * columns, 1.6 * len(KINDS)), BOARD_SIZE[1] + CROP_HEIGHT + 0.6)
    figure = plt.figure(figsize=size, dpi=DPI, layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[BOARD_SIZE[1], CROP_HEIGHT])
    shown: set[int] = set()
    for axis, board in zip(top.subplots(1, columns, squeeze=False)[0], boards, strict=False):
        shown |= draw_board(axis, board)
    top.suptitle("boards with their class masks (defects boxed), borders and labels", fontsize=10)
    for axis, kind in zip(bottom.subplots(1, len(KINDS), squeeze=False)[0], KINDS, strict=True):
        if kind in crops:
            image, mask = crops[kind]
            axis.imshow(image, interpolation="nearest")
            if mask.any():
                axis.contour(mask, levels=[0.5], colors=[CLASS_COLOURS[kind]], linewidths=1.0)
            shown.add(class_index(kind))
        else:
            axis.text(0.5, 0.5, "none here", ha="center", va="center", fontsize=8, transform=axis.transAxes)
        axis.set_title(kind.replace("_", " "), fontsize=9)
        bare(axis)
    bottom.suptitle("the largest instance of each anomaly kind (mask outline)", fontsize=10)
    legend = [
        Line2D([], [], color=BORDER_COLOUR, lw=1.0, label="borders (active area)"),
        Line2D([], [], color=LABEL_COLOUR, lw=1.0, ls="--", label="labels (left out)"),
        *(Patch(color=CLASS_COLOURS[c.name], label=c.name.replace("_", " ")) for c in CLASSES[1:] if c.index in shown),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=min(len(legend), 6), fontsize=8)
    return figure
