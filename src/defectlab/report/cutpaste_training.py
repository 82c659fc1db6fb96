"""Training curves of CutPaste networks: the step losses and accuracy, and the held-out loss early stopping
watches, with the step whose weights were kept (the thesis logs loss and accuracy to TensorBoard, §5.4.3)."""

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from defectlab.training import checkpoint as files  # noqa: E402


@dataclass(frozen=True)
class Run:
    label: str
    loss: list[float]  # per step, 1..n
    accuracy: list[float]
    validation_steps: list[int]
    validation: list[float]
    kept_step: int | None  # the step of the best validation (its weights are kept), None without validation


def read_run(path: str, label: str) -> Run:
    """The curves of a finished training run from its weights file."""
    record = files.read_record(path)
    payload = files.load(path)
    losses, validation = payload["losses"], payload["validation"]
    return Run(
        label,
        list(losses.get("loss", [])),
        list(losses.get("accuracy", [])),
        list(validation["step"]),
        list(validation["value"]),
        record["best_step"],
    )


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over `window` steps (shorter at the start), so noisy step losses read as a trend."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    lo = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (cumulative[1:] - cumulative[lo]) / (np.arange(1, len(values) + 1) - lo)


def training_figure(runs: Sequence[Run], window: int = 5) -> plt.Figure:
    """Left: loss per step (running mean) and held-out loss (markers, the kept step ringed); right: accuracy."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    for k, run in enumerate(runs):
        colour = f"C{k % 10}"
        steps = np.arange(1, len(run.loss) + 1)
        left.plot(steps, smooth(run.loss, window), color=colour, label=run.label)
        if run.validation:
            left.plot(run.validation_steps, run.validation, "o--", color=colour, markersize=4)
        if run.kept_step in run.validation_steps:
            best = run.validation[run.validation_steps.index(run.kept_step)]
            left.plot([run.kept_step], [best], "o", color=colour, markersize=11, markerfacecolor="none")
        right.plot(steps, smooth(run.accuracy, window), color=colour, label=run.label)
    left.axhline(np.log(2), color="0.6", linestyle=":", linewidth=1)
    left.set(xlabel="step", ylabel="cross-entropy", title="training (line) and held-out (markers) loss")
    right.set(xlabel="step", ylabel="accuracy", title="training accuracy, normal vs augmented", ylim=(0, 1.02))
    left.legend(fontsize=7, loc="upper right")
    return figure
