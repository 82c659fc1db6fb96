"""Figures: test examples with ground truth and anomaly maps, and coreset convergence."""

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from defectlab.classes import CLASSES  # noqa: E402

CATEGORY_COLOURS = {"background": (0, 0, 0), "defect": (0.95, 0.35, 0.1), "impurity": (0.2, 0.55, 1.0)}
CLASS_CMAP = ListedColormap([CATEGORY_COLOURS[c.category] for c in CLASSES])


def pick_examples(ids: Sequence[str], masks: np.ndarray, count: int) -> list[int]:
    """Indices of the images with the most labelled pixels first, so the figure shows defects."""
    labelled = (masks > 0).reshape(len(masks), -1).sum(axis=1)
    return sorted(np.argsort(-labelled, kind="stable")[:count].tolist())


def example_figure(
    ids: Sequence[str], images: np.ndarray, masks: np.ndarray, maps: np.ndarray, threshold: float, title: str
) -> plt.Figure:
    """One row per image: input, ground truth, anomaly map over the input with the threshold contour."""
    figure, axes = plt.subplots(len(ids), 3, figsize=(9, 3 * len(ids) + 1), squeeze=False, layout="constrained")
    top = float(np.percentile(maps, 99.9)) if maps.size else 1.0
    for row, (image_id, image, mask, amap) in enumerate(zip(ids, images, masks, maps, strict=True)):
        axes[row, 0].imshow(image)
        axes[row, 0].set_ylabel(image_id, fontsize=8)
        axes[row, 1].imshow(mask, cmap=CLASS_CMAP, vmin=0, vmax=len(CLASSES) - 1, interpolation="nearest")
        axes[row, 2].imshow(image)
        shown = axes[row, 2].imshow(amap, cmap="inferno", alpha=0.55, vmin=0, vmax=top)
        axes[row, 2].contour(amap >= threshold, levels=[0.5], colors="cyan", linewidths=0.8)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    for axis, name in zip(
        axes[0], ["input", "ground truth (defect / impurity)", "anomaly map, threshold"], strict=True
    ):
        axis.set_title(name, fontsize=9)
    figure.colorbar(shown, ax=axes, location="bottom", shrink=0.5, label="anomaly score (patch distance)")
    legend = [Patch(color=CATEGORY_COLOURS[c], label=c) for c in ("defect", "impurity")]
    legend.append(Patch(edgecolor="cyan", facecolor="none", label="score >= threshold"))
    figure.legend(handles=legend, loc="outside lower center", ncols=3, fontsize=8)
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
