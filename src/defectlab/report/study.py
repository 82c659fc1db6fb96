"""The study tables and figure of the Sequential PatchCore paper, from a run's metrics and coresets.

Table I: per-class pixel-wise and defect-wise recall; Table II: pixel precision, recall, F1
and mean defect-wise recall per training scenario (plus AUROC and AUPRO, for the rest of the
field); Fig. 5: defect-wise recall against the share of an instance that must be covered;
and the provenance of every coreset (which datasets, and how synthetic, its points are).
"""

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from defectlab.classes import BY_NAME, CLASSES  # noqa: E402
from defectlab.report.figures import CLASS_COLOURS  # noqa: E402

PAPER_CLASSES = ("scratch", "bump", "dent", "water_stain", "fingerprint", "sticker")  # Table I's order
PER_CLASS_METRICS = {"R_PX": "class_pixel_recall", "R_DW": "defect_wise_recall"}
TABLE2_METRICS = {  # column: (metric, class)
    "P_PX": ("pixel_precision", "defect"),
    "R_PX": ("pixel_recall", "defect"),
    "F1_PX": ("pixel_f1", "defect"),
    "mR_DW": ("defect_wise_recall", "mean"),
    "AUROC_PX": ("pixel_auroc", "defect"),
    "AUPRO_0.3": ("aupro", "defect"),
    "AUROC_image": ("image_auroc", "defect"),
}


def _value(metrics: pd.DataFrame, experiment: str, metric: str, cls: str) -> float:
    rows = metrics[(metrics["experiment"] == experiment) & (metrics["metric"] == metric) & (metrics["class"] == cls)]
    return float(rows["value"].iloc[0]) if len(rows) else float("nan")


def table2(metrics: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per experiment (in `labels` order, indexed by label), the Table II columns in percent.

    Rows are built per experiment name, so two experiments that share a label keep a row each.
    """
    rows = [[100 * _value(metrics, name, *key) for key in TABLE2_METRICS.values()] for name in labels]
    return _by_label(rows, list(TABLE2_METRICS), labels, "training scenario")


def table1_classes(metrics: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The classes with a per-class recall for any of the experiments `names`: those present in their test
    data. Defects first, then impurities; the paper's classes in its order, others in class-map order."""
    rows = metrics[metrics["experiment"].isin(names) & metrics["metric"].isin(PER_CLASS_METRICS.values())]
    present = [name for name in set(rows["class"]) if name in BY_NAME]

    def order(name: str) -> tuple[bool, int]:
        paper = PAPER_CLASSES.index(name) if name in PAPER_CLASSES else len(PAPER_CLASSES) + BY_NAME[name].index
        return BY_NAME[name].category != "defect", paper

    return sorted(present, key=order)


def table1(metrics: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """Per-class pixel-wise (R_PX) and defect-wise (R_DW) recall in percent, two columns per class present in
    the experiments' test data, one row per experiment (indexed by label)."""
    columns = pd.MultiIndex.from_product([table1_classes(metrics, list(labels)), list(PER_CLASS_METRICS)])
    rows = [[100 * _value(metrics, name, PER_CLASS_METRICS[kind], cls) for cls, kind in columns] for name in labels]
    return _by_label(rows, columns, labels, "trainset")


def _by_label(
    rows: list[list[float]], columns: pd.Index | list[str], labels: Mapping[str, str], axis: str
) -> pd.DataFrame:
    """Rows in experiment order, indexed by their labels (repeated labels stay two rows)."""
    return pd.DataFrame(rows, index=pd.Index(list(labels.values()), name=axis), columns=columns, dtype=float)


def markdown(table: pd.DataFrame, title: str) -> str:
    """A table as markdown with one decimal, flattening two-level columns as `class R_PX`."""
    flat = table.copy()
    if isinstance(flat.columns, pd.MultiIndex):
        flat.columns = [f"{cls.replace('_', ' ')} {kind}" for cls, kind in flat.columns]
    return f"{title}\n\n{flat.round(1).to_markdown(floatfmt='.1f')}\n"


def coverage_sweep(metrics: pd.DataFrame) -> pd.DataFrame:
    """The sweep rows: experiment, class, min_coverage (%), defect-wise recall (%)."""
    sweep = metrics[metrics["metric"] == "defect_wise_recall_sweep"]
    return pd.DataFrame(
        {
            "experiment": sweep["experiment"],
            "class": sweep["class"],
            "coverage": 100 * sweep["min_coverage"],
            "recall": 100 * sweep["value"],
        }
    ).reset_index(drop=True)


def coverage_figure(sweep: pd.DataFrame, experiment: str, labels: Mapping[str, str]) -> plt.Figure:
    """Fig. 5 redrawn: per-class defect-wise recall of one experiment against the coverage needed (left),
    and the mean over defect classes of every experiment (right)."""
    own = sweep[sweep["experiment"] == experiment]
    if own.empty:
        drawn = sorted(set(sweep["experiment"]))
        raise ValueError(
            f"report.sweep: experiment {experiment!r} has no coverage-sweep rows; experiments with rows: {drawn}"
        )
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for cls in [c.name for c in CLASSES[1:]] + ["mean"]:
        curve = own[own["class"] == cls].sort_values("coverage")
        if len(curve):
            style = {"color": "black", "linewidth": 2.2} if cls == "mean" else {"color": CLASS_COLOURS[cls]}
            left.plot(
                curve["coverage"],
                curve["recall"],
                marker="o",
                markersize=3,
                alpha=0.85,
                label=cls.replace("_", " "),
                **style,
            )
    left.set_title(f"{labels.get(experiment, experiment)}: per class", fontsize=10)
    colours = plt.get_cmap("tab20")(np.arange(len(labels)) % 20)
    for k, (colour, (name, label)) in enumerate(zip(colours, labels.items(), strict=True)):
        curve = sweep[(sweep["experiment"] == name) & (sweep["class"] == "mean")].sort_values("coverage")
        style = "-" if k < 10 else "--"  # halves of the scenario list apart
        right.plot(curve["coverage"], curve["recall"], style, color=colour, linewidth=1.2, label=label)
    right.set_title("mean defect-wise recall over defect classes, every scenario", fontsize=10)
    for axis in (left, right):
        axis.set_xscale("symlog", linthresh=5)
        axis.set_xticks([0, 1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100])
        axis.set_xticklabels(["0", "1", "2", "3", "5", "10", "15", "20", "25", "50", "75", "100"], fontsize=7)
        axis.set_xlabel("share of an instance that must be predicted to count as detected [%]")
        axis.set_ylabel("defect-wise recall [%]")
        axis.set_ylim(-3, 103)
        axis.grid(alpha=0.3)
    left.legend(fontsize=7)
    right.legend(fontsize=6, ncols=2)
    return figure


def provenance(origins: Mapping[str, pd.DataFrame], domains: Mapping[str, str]) -> pd.DataFrame:
    """Per coreset: its size, the share of its points from synthetic datasets, and the share per dataset (%)."""
    rows = []
    for experiment, origin in origins.items():
        shares = origin["dataset"].value_counts(normalize=True)
        synthetic = sum(share for dataset, share in shares.items() if domains.get(dataset, "synthetic") == "synthetic")
        rows.append(
            {"experiment": experiment, "points": len(origin), "synthetic_share": 100 * synthetic}
            | {f"share:{dataset}": 100 * share for dataset, share in sorted(shares.items())}
        )
    return pd.DataFrame(rows).fillna(0.0)


def labelled(experiments: Mapping[str, Mapping], names: Sequence[str] | None = None) -> dict[str, str]:
    """Experiment name -> display label (its `label`, else the name), for `names` or every experiment."""
    return {name: experiments[name].get("label", name) for name in (names or list(experiments))}
