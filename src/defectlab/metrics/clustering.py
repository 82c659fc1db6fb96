"""Clustering metrics of the latent study: silhouette over Table 1's distance metrics, ARI, contingency, matching.

Table 1 of the paper lists one silhouette score per distance metric; some cells name several aliases and two names
are not scikit-learn's (`sokalmichener`, removed from SciPy, and the typo `squeuclidean`). The table here calls the
first name of each cell after mapping those, so a run can be read beside the paper cell by cell.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.metrics.pairwise import _VALID_METRICS, PAIRWISE_BOOLEAN_FUNCTIONS

# Names the paper uses that scikit-learn does not: same values under the name it does accept.
RENAMED = {
    "sokalmichener": "rogerstanimoto",  # identical formula; SciPy dropped the alias
    "squeuclidean": "sqeuclidean",  # the paper's typo
    "nan euclidean": "nan_euclidean",  # the paper's spelling
}


@dataclass(frozen=True)
class Cell:
    """One cell of Table 1: the paper's label and the metric names it groups (aliases, same values)."""

    label: str
    names: tuple[str, ...]


TABLE1 = (
    Cell("euclidean/l2", ("euclidean", "l2")),
    Cell("cosine", ("cosine",)),
    Cell("cityblock/l1/manhattan", ("cityblock", "l1", "manhattan")),
    Cell("braycurtis", ("braycurtis",)),
    Cell("canberra", ("canberra",)),
    Cell("chebyshev", ("chebyshev",)),
    Cell("correlation", ("correlation",)),
    Cell("dice", ("dice",)),
    Cell("hamming", ("hamming",)),
    Cell("jaccard", ("jaccard",)),
    Cell("minkowski", ("minkowski",)),
    Cell("rogerstanimoto/sokalmichener", ("rogerstanimoto", "sokalmichener")),
    Cell("russellrao", ("russellrao",)),
    Cell("seuclidean", ("seuclidean",)),
    Cell("sokalsneath", ("sokalsneath",)),
    Cell("squeuclidean", ("squeuclidean",)),
    Cell("yule", ("yule",)),
    Cell("nan euclidean", ("nan euclidean",)),
)


def metric_name(name: str) -> str:
    """The scikit-learn name to call for a metric as the paper (or a config) spells it; refuses unknown ones."""
    called = RENAMED.get(name, name)
    if called not in _VALID_METRICS:
        raise ValueError(f"distance metric {name!r} is not accepted by scikit-learn's silhouette_score")
    return called


def is_binarised(name: str) -> bool:
    """True for metrics scikit-learn computes on `X != 0`: on post-ReLU features they see zero patterns only."""
    return metric_name(name) in PAIRWISE_BOOLEAN_FUNCTIONS


def silhouette(vectors: np.ndarray, labels: np.ndarray, metric: str) -> float:
    """Mean silhouette coefficient under one metric (paper spellings accepted).

    seuclidean divides each coordinate by its variance: a coordinate that never varies (a ReLU channel that is
    always 0) would make every distance NaN, and scikit-learn then scores 0; it adds nothing to any distance, so its
    variance is taken as 1."""
    vectors, called = np.asarray(vectors, dtype=np.float64), metric_name(metric)
    extra = {}
    if called == "seuclidean":
        variance = vectors.var(axis=0, ddof=1)
        extra["V"] = np.where(variance > 0, variance, 1.0)
    with warnings.catch_warnings():
        # Boolean metrics warn that the data become bool; the table's `binarised` column records it instead.
        warnings.simplefilter("ignore", DataConversionWarning)
        return float(silhouette_score(vectors, np.asarray(labels), metric=called, **extra))


def silhouette_table(vectors: np.ndarray, labels: np.ndarray, cells: tuple[Cell, ...] = TABLE1) -> pd.DataFrame:
    """Table 1 as tidy rows in the paper's order: cell label, metric called, silhouette, binarised flag."""
    rows = []
    for cell in cells:
        called = metric_name(cell.names[0])
        rows.append(
            {
                "cell": cell.label,
                "metric": called,
                "silhouette": silhouette(vectors, labels, called),
                "binarised": is_binarised(called),
            }
        )
    return pd.DataFrame(rows)


def ari(labels_true: np.ndarray, labels_pred: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Adjusted Rand index, optionally over a subset (e.g. only the single-class images)."""
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if keep is not None:
        keep = np.asarray(keep, bool)
        labels_true, labels_pred = labels_true[keep], labels_pred[keep]
    return float(adjusted_rand_score(labels_true, labels_pred))


def contingency(clusters: np.ndarray, classes: np.ndarray) -> pd.DataFrame:
    """Counts of clusters (rows, sorted) × classes (columns, sorted); the input of purity and matching."""
    return pd.crosstab(
        pd.Series(np.asarray(clusters), name="cluster"),
        pd.Series(np.asarray(classes), name="class"),
    )


def majority_shares(table: pd.DataFrame) -> pd.Series:
    """Per cluster, the share of its most frequent class: low = a mixed cluster."""
    return table.max(axis=1) / table.sum(axis=1)


def purity(table: pd.DataFrame) -> float:
    """Share of all items that belong to their cluster's majority class."""
    return float(table.max(axis=1).sum() / table.to_numpy().sum())


def match_clusters(table: pd.DataFrame) -> dict:
    """Cluster → class name by the Hungarian method (most items on the diagonal); unmatched clusters left out.

    Cluster ids from K-means are arbitrary, so a cluster is only ever named through this matching.
    """
    rows, cols = linear_sum_assignment(-table.to_numpy())
    return {_python(table.index[r]): _python(table.columns[c]) for r, c in zip(rows, cols, strict=True)}


def _python(value: object) -> object:
    """A NumPy scalar as the Python value it holds, so names compare and serialise plainly."""
    return value.item() if isinstance(value, np.generic) else value
