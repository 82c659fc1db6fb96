"""Reconstructions over training (the autoencoder paper's Fig. 8): per trained model, its probe image, what the
model made of it at the recorded steps, and the reconstruction loss per step with those steps marked.

A model that has learnt nothing yet outputs the mean grey value everywhere (the paper's "averaging" on its
material 2); the row shows whether and when structure appears.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator  # noqa: E402


@dataclass
class TrainingRow:
    """One trained model: its label, the probe (H, W) grey levels, the snapshot steps and images (H, W) uint8,
    and the reconstruction loss of every step (step k at index k − 1)."""

    label: str
    probe: np.ndarray
    steps: Sequence[int]
    snapshots: Sequence[np.ndarray]
    loss: Sequence[float]


def training_figure(rows: Sequence[TrainingRow], title: str) -> plt.Figure:
    """One row per model: probe, reconstructions at the snapshot steps, loss curve (log scale)."""
    columns = 2 + max((len(r.steps) for r in rows), default=0)
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(1.8 * columns + 1.5, 1.9 * len(rows) + 0.6), squeeze=False, layout="constrained"
    )
    for row, axis_row in zip(rows, axes, strict=True):
        pictures = [(row.probe, "input")] + [(s, f"step {k}") for k, s in zip(row.steps, row.snapshots, strict=True)]
        for axis, (picture, name) in zip(axis_row, pictures, strict=False):
            axis.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axis.set_title(name, fontsize=8)
        for axis in axis_row[:-1]:
            axis.set_xticks([])
            axis.set_yticks([])
            if not axis.images:
                axis.set_axis_off()
        axis_row[0].set_ylabel(row.label, fontsize=8)
        curve = axis_row[-1]
        steps = np.arange(1, len(row.loss) + 1)
        curve.plot(steps, row.loss, linewidth=0.8)
        for k in row.steps:
            if 1 <= k <= len(row.loss):
                curve.axvline(k, color="grey", linewidth=0.5, linestyle=":")
        curve.set_yscale("log")
        curve.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5), numticks=6))  # 1, 2, 5 of each decade
        curve.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        curve.yaxis.set_minor_locator(NullLocator())
        curve.set_xlabel("step", fontsize=8)
        curve.set_title("reconstruction MSE", fontsize=8)
        curve.tick_params(which="both", labelsize=7)
    figure.suptitle(title, fontsize=10)
    return figure
