"""The latent study's report (seed 000): Tables 1 and 2 beside the paper's, the summary of every other number the
paper gives (anomaly counts, ARI, the ambiguous share, the test items routed), the 2 x 3 figure grids of its
Tables 3 and 4 and the review sheet (its Fig. A1: the images an operator is asked to look at)."""

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from defectlab.data.layout import load_sample  # noqa: E402

# Table 1 (§5.1): silhouette of the pre-trained training latent with K-means labels, per metric cell
PAPER_TABLE1 = {
    "euclidean/l2": 0.12, "cosine": 0.18, "cityblock/l1/manhattan": 0.11, "braycurtis": 0.11, "canberra": 0.066,
    "chebyshev": 0.095, "correlation": 0.18, "dice": -0.057, "hamming": 0.0064, "jaccard": -0.056,
    "minkowski": 0.12, "rogerstanimoto/sokalmichener": -0.052, "russellrao": -0.084, "seuclidean": 0.074,
    "sokalsneath": -0.052, "squeuclidean": 0.205, "yule": 0.053, "nan euclidean": 0.12,
}  # fmt: skip
# Table 2 (§5.1): accuracy after 100 epochs (%) and seconds per epoch on a T4, by the timm name of the backbone
PAPER_TABLE2 = {
    "resnet50": ("ResNet-50", 100.0, 6.04),
    "mobilenetv2_100": ("MobileNet-V2", 97.8, 3.65),
    "vgg16": ("VGG16", 96.7, 7.88),
    "resnet34": ("ResNet-34", 97.8, 4.84),
}


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, floatfmt=".3f")


def table1_markdown(silhouette: pd.DataFrame) -> str:
    """Table 1: each cell's silhouette with K-means labels (the paper's reading) and with the items' own classes,
    the paper's value beside."""
    wide = silhouette.pivot_table(index="cell", columns="labels", values="silhouette", sort=False)
    first = silhouette.drop_duplicates("cell").set_index("cell")
    table = pd.DataFrame(
        {
            "metric (paper's cell)": wide.index,
            "called": first.loc[wide.index, "metric"].to_numpy(),
            **{f"ours, {labels}": wide[labels].to_numpy() for labels in wide.columns},
            "paper": [PAPER_TABLE1.get(cell, np.nan) for cell in wide.index],
            "binarised": np.where(first.loc[wide.index, "binarised"], "yes", ""),
        }
    )
    return (
        "Silhouette of the pre-trained training latent (Table 1 of the paper: ResNet-50, 240 paint images, K-means "
        "labels). Binarised metrics compare zero patterns only (scikit-learn converts the data to bool).\n\n"
        + _markdown(table)
        + "\n"
    )


def table2(runs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Table 2 rows: per backbone (short name -> {name, weights, accuracy, seconds_per_epoch, epochs}) this run's
    validation accuracy and seconds per epoch, and the paper's where it compared that architecture."""
    rows = []
    for short, run in runs.items():
        paper = PAPER_TABLE2.get(run["name"])
        rows.append(
            {
                "backbone": short,
                "model": run["name"],
                "start": "pretrained" if run["weights"] not in ("none", None) else "random initialisation",
                "epochs": run["epochs"],
                "accuracy [%]": 100 * run["accuracy"],
                "s / epoch": run["seconds_per_epoch"],
                "device": run["device"],
                "paper accuracy [%]": paper[1] if paper else np.nan,
                "paper s / epoch (T4)": paper[2] if paper else np.nan,
            }
        )
    return pd.DataFrame(rows)


def table2_markdown(table: pd.DataFrame) -> str:
    random_init = table.loc[table["start"] == "random initialisation", "backbone"].tolist()
    note = (
        f" {', '.join(random_init)} start from random initialisation (no ImageNet weights reachable): architectures "
        "trained from scratch on a few hundred items, not the paper's pretrained comparison."
        if random_init
        else ""
    )
    return (
        "Fine-tuned classifiers of the curated classes (Table 2 of the paper: 100 epochs, accuracy on the "
        f"validation set, seconds per epoch on a Colab T4).{note} Accuracy: curated validation items.\n\n"
        + table.to_markdown(index=False, floatfmt=".2f")
        + "\n"
    )


def summary_markdown(anomalies: pd.DataFrame, metrics: pd.DataFrame, pacmap: pd.DataFrame, analysed: str) -> str:
    """The paper's other numbers beside this run's: the screen's counts, the evaluation, the k = 3 check."""
    counts = pacmap.pivot_table(index="cluster", columns="label", values="items", fill_value=0)
    return "\n".join(
        [
            f"# Latent space: backbone {analysed}",
            "",
            "## Anomaly screen of the pre-trained training latent (paper: DBSCAN 6, Isolation Forest 8, union 12, "
            "both 2)",
            "",
            anomalies.to_markdown(index=False, floatfmt=".3f"),
            "",
            "## Fine-tuned latent: validation clusters and test routing",
            "",
            metrics.to_markdown(index=False, floatfmt=".3f"),
            "",
            "## K-means on the PaCMAP embedding of the training items (paper: every class in every cluster)",
            "",
            counts.reset_index().to_markdown(index=False),
            "",
        ]
    )


def _scatter(axis: plt.Axes, xy: pd.DataFrame, colour_by: pd.Series, title: str) -> None:
    groups = sorted(colour_by.unique(), key=str)
    palette = plt.get_cmap("tab10")
    for k, group in enumerate(groups):
        chosen = (colour_by == group).to_numpy()
        axis.scatter(xy["x"][chosen], xy["y"][chosen], s=10, color=palette(k % 10), label=str(group))
    axis.set_title(title, fontsize=9)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.legend(fontsize=6, markerscale=1.2, loc="best")


def grid_figure(
    embeddings: Mapping[str, pd.DataFrame], labels: pd.Series, clusters: pd.Series, title: str
) -> plt.Figure:
    """The paper's Tables 3 and 4: one column per reduction, the items coloured by label (top) and by K-means
    cluster (bottom). `embeddings`: reducer -> (id, x, y); `labels`, `clusters`: by id."""
    figure, axes = plt.subplots(2, len(embeddings), figsize=(3.6 * len(embeddings), 7), squeeze=False)
    for column, (reducer, xy) in enumerate(embeddings.items()):
        ids = xy["id"]
        _scatter(axes[0, column], xy, labels.loc[ids].reset_index(drop=True), f"{reducer}: labels")
        _scatter(axes[1, column], xy, clusters.loc[ids].reset_index(drop=True), f"{reducer}: K-means clusters")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def review_sheet(sections: Sequence[tuple[str, str | Path, pd.DataFrame]], columns: int = 8) -> plt.Figure:
    """Contact sheets of items (the paper's Fig. A1): per section (title, items folder, rows with id and label)."""
    rows = [max(1, -(-len(table) // columns)) for _, _, table in sections]
    figure = plt.figure(figsize=(1.3 * columns, 1.5 * sum(rows) + 0.5 * len(sections)), layout="constrained")
    parts = figure.subfigures(len(sections), 1, height_ratios=rows, squeeze=False)[:, 0]
    for part, (title, folder, table), count in zip(parts, sections, rows, strict=True):
        axes = part.subplots(count, columns, squeeze=False)
        for axis in axes.ravel():
            axis.axis("off")
        for axis, record in zip(axes.ravel(), table.to_dict("records"), strict=False):
            axis.imshow(load_sample(folder, record["id"]).image)
            axis.set_title(f"{record['id'][-12:]}\n{record['label']}", fontsize=6)
        part.suptitle(f"{title} ({len(table)})" if len(table) else f"{title}: none", fontsize=9)
    return figure
