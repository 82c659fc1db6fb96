"""Figures: test examples with ground truth and anomaly maps, and coreset convergence."""

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from defectlab.classes import CLASSES, class_index  # noqa: E402
from defectlab.data.windows import bounding_box, centred_window  # noqa: E402

CATEGORY_COLOURS = {"background": (0, 0, 0), "defect": (0.95, 0.35, 0.1), "impurity": (0.2, 0.55, 1.0)}
CLASS_CMAP = ListedColormap([CATEGORY_COLOURS[c.category] for c in CLASSES])
CLASS_COLOURS = {  # per class: defects in warm colours, impurities in cool ones
    "background": (0, 0, 0),
    "scratch": (0.95, 0.25, 0.1),
    "dent": (1.0, 0.6, 0.0),
    "bump": (1.0, 0.9, 0.15),
    "water_stain": (0.2, 0.55, 1.0),
    "fingerprint": (0.75, 0.35, 1.0),
    "sticker": (0.1, 0.85, 0.6),
    "other_defect": (0.85, 0.1, 0.45),
    "black_hole": (0.7, 0.0, 0.0),
    "splash": (1.0, 0.45, 0.55),
    "white_scar": (1.0, 0.75, 0.5),
    "black_scar": (0.6, 0.3, 0.0),
    "irregular": (0.95, 0.0, 0.75),
    "dirt": (0.65, 0.5, 0.2),
    "speck": (0.45, 0.75, 0.95),
    "insignificant_defect": (0.3, 0.95, 0.95),
}
CLASS_DETAIL_CMAP = ListedColormap([CLASS_COLOURS[c.name] for c in CLASSES])
EXCLUDED_CMAP = ListedColormap([(0.05, 0.1, 0.45)])  # the thesis's dark blue over background and labels


def pick_examples(ids: Sequence[str], masks: np.ndarray, count: int) -> list[int]:
    """Indices of the images with the most labelled pixels first, so the figure shows defects."""
    labelled = (masks > 0).reshape(len(masks), -1).sum(axis=1)
    return sorted(np.argsort(-labelled, kind="stable")[:count].tolist())


def example_figure(
    ids: Sequence[str],
    images: np.ndarray,
    masks: np.ndarray,
    maps: np.ndarray,
    threshold: float,
    title: str,
    score: str = "anomaly score",
    flagged: Sequence[Sequence[tuple[int, int]]] | None = None,
    patch_size: int = 0,
    excluded: np.ndarray | None = None,
) -> plt.Figure:
    """One row per image: input, ground truth, anomaly map over the input with the threshold contour; `score`
    says what a map value means (the maps file's `score`). For the patch unit, `flagged` gives each image's
    patches (x, y) at or above the threshold, drawn as squares of `patch_size` instead of the contour, and
    `excluded` (N, H, W) the pixels no metric counts, shaded dark blue as in the kitchen-board thesis."""
    figure, axes = plt.subplots(len(ids), 3, figsize=(9, 3 * len(ids) + 1), squeeze=False, layout="constrained")
    top = float(np.percentile(maps, 99.9)) if maps.size else 1.0
    for row, (image_id, image, mask, amap) in enumerate(zip(ids, images, masks, maps, strict=True)):
        axes[row, 0].imshow(image)
        axes[row, 0].set_ylabel(image_id, fontsize=8)
        axes[row, 1].imshow(mask, cmap=CLASS_CMAP, vmin=0, vmax=len(CLASSES) - 1, interpolation="nearest")
        axes[row, 2].imshow(image)
        shown = axes[row, 2].imshow(amap, cmap="inferno", alpha=0.55, vmin=0, vmax=top)
        if flagged is None:
            axes[row, 2].contour(amap >= threshold, levels=[0.5], colors="cyan", linewidths=0.8)
        else:
            for x, y in flagged[row]:
                axes[row, 2].add_patch(
                    Rectangle((x - 0.5, y - 0.5), patch_size, patch_size, fill=False, edgecolor="cyan", linewidth=0.6)
                )
        if excluded is not None:
            axes[row, 2].imshow(np.ma.masked_where(~excluded[row], excluded[row]), cmap=EXCLUDED_CMAP, alpha=0.8)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    for axis, name in zip(
        axes[0], ["input", "ground truth (defect / impurity)", "anomaly map, threshold"], strict=True
    ):
        axis.set_title(name, fontsize=9)
    figure.colorbar(shown, ax=axes, location="bottom", shrink=0.5, label=textwrap.fill(score, 110))
    legend = [Patch(color=CATEGORY_COLOURS[c], label=c) for c in ("defect", "impurity")]
    legend.append(Patch(edgecolor="cyan", facecolor="none", label="score >= threshold"))
    if excluded is not None:
        legend.append(Patch(color=EXCLUDED_CMAP(0), label="excluded (background, labels)"))
    figure.legend(handles=legend, loc="outside lower center", ncols=len(legend), fontsize=8)
    figure.suptitle(title)
    return figure


def coreset_figure(histories: dict[str, dict], title: str) -> plt.Figure:
    """Replacements and d_m per epoch of each shard coreset: the rule converges when replacements reach 0."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    for name, history in histories.items():
        epochs = np.arange(1, len(history["replacements"]) + 1)
        left.plot(epochs, history["replacements"], marker="o", label=name)
        right.plot(epochs, history["min_distance"], marker="o", label=name)
    left.set(xlabel="epoch", ylabel="replacements", title="replacements per epoch")
    right.set(xlabel="epoch", ylabel="d_m", title="minimum pairwise distance")
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.legend(fontsize=7)
    figure.suptitle(title)
    return figure


def largest_instances(masks: np.ndarray, instances: np.ndarray, pad: int = 6) -> dict[str, tuple[int, slice, slice]]:
    """For each class present, the image index and square window of its largest instance (padded)."""
    best: dict[str, tuple[int, int, slice, slice]] = {}
    for k, (mask, inst) in enumerate(zip(masks, instances, strict=True)):
        for i in np.unique(inst[inst > 0]):
            pixels = inst == i
            box = bounding_box(pixels)
            name = CLASSES[int(mask[pixels][0])].name  # an instance has one class
            area = int(pixels.sum())
            if name not in best or area > best[name][0]:
                side = max(box[1] - box[0], box[3] - box[2], 24) + 2 * pad
                top, left, side = centred_window(box, side, *mask.shape)
                best[name] = (area, k, slice(top, top + side), slice(left, left + side))
    order = [c.name for c in CLASSES if c.name in best]
    return {name: best[name][1:] for name in order}


def _bare(axis: plt.Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def gallery_figure(
    lights: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    plates: Sequence[tuple[str, np.ndarray, np.ndarray]],
    details: dict[str, tuple[np.ndarray, np.ndarray]],
) -> plt.Figure:
    """The synthetic data at a glance, after the paper's Figs. 2-3.

    `lights`: per light variant, (clean image, image with water stains, stain mask) of one plate;
    `plates`: (id, image, class mask) of test plates; `details`: per class, (image, class mask) crops.
    """
    columns = max(len(lights), len(plates), len(details))
    figure = plt.figure(figsize=(2.2 * columns, 2.3 * 6), layout="constrained")
    rows = figure.subfigures(3, 1, height_ratios=[3, 2, 1.2])
    top = rows[0].subplots(3, len(lights), squeeze=False)
    for col, (light, (clean, stained, stains)) in enumerate(lights.items()):
        for row, (picture, label) in enumerate(
            [(clean, "clean"), (stained, "water stains"), (stains, "water-stain mask")]
        ):
            top[row, col].imshow(picture, cmap="gray" if picture.ndim == 2 else None, interpolation="nearest")
            top[row, 0].set_ylabel(label, fontsize=9)
            _bare(top[row, col])
        top[0, col].set_title(f"light: {light}", fontsize=9)
    rows[0].suptitle("one plate under the three lights (texture and stains fixed)", fontsize=10)
    middle = rows[1].subplots(2, len(plates), squeeze=False)
    for col, (plate_id, image, mask) in enumerate(plates):
        middle[0, col].imshow(image)
        middle[0, col].set_title(plate_id, fontsize=8)
        middle[1, col].imshow(mask, cmap=CLASS_DETAIL_CMAP, vmin=0, vmax=len(CLASSES) - 1, interpolation="nearest")
        for axis in middle[:, col]:
            _bare(axis)
    rows[1].suptitle("test plates with defects and impurities, and their class masks", fontsize=10)
    bottom = rows[2].subplots(1, max(len(details), 1), squeeze=False)[0]
    for axis, (name, (image, mask)) in zip(bottom, details.items(), strict=False):
        axis.imshow(image, interpolation="nearest")
        axis.contour(
            mask == class_index(name),
            levels=[0.5],
            colors=[CLASS_COLOURS[name]],
            linewidths=1.0,
        )
        axis.set_title(name.replace("_", " "), fontsize=9, color=CLASS_COLOURS[name] if name != "bump" else "goldenrod")
    for axis in bottom:
        _bare(axis)
    rows[2].suptitle("largest instance of each class in the test set (mask outline)", fontsize=10)
    shown = {int(v) for _, _, mask in plates for v in np.unique(mask)} | {class_index(name) for name in details}
    legend = [
        Patch(color=CLASS_COLOURS[c.name], label=c.name.replace("_", " ")) for c in CLASSES[1:] if c.index in shown
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=len(legend), fontsize=8)
    return figure
