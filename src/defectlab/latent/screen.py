"""Clusters and anomaly screens of latent vectors: K-means, DBSCAN (cosine), Isolation Forest, and the curation.

The paper removes the union of DBSCAN's noise and Isolation Forest's outliers before fine-tuning and states
neither's parameters; the defaults here are the spec's (§2.4) and every one can be set.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.cluster import DBSCAN, KMeans
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors


def kmeans(vectors: np.ndarray, k: int, seed: int, n_init: int = 10) -> KMeans:
    """Fitted K-means on the vectors or an embedding; scikit-learn's `n_init="auto"` would try one start only."""
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(np.asarray(vectors, dtype=np.float64))


def kdistance_eps(vectors: np.ndarray, min_samples: int = 5, quantile: float = 0.95) -> float:
    """The `quantile` of each point's cosine distance to its `min_samples`-th nearest neighbour, itself included.

    The point counts as its own first neighbour, as it does in DBSCAN's `min_samples`: a point is a core point
    exactly when this distance is at most eps, so eps at the 0.95 quantile makes at least 95 % of points core.
    """
    nearest = NearestNeighbors(n_neighbors=min_samples, metric="cosine").fit(vectors)
    distances, _ = nearest.kneighbors(vectors)
    return float(np.quantile(distances[:, -1], quantile))


@dataclass(frozen=True)
class DbscanResult:
    """DBSCAN labels (−1 = noise, the anomalies) and the eps it ran with."""

    labels: np.ndarray
    eps: float

    @property
    def outliers(self) -> np.ndarray:
        return np.flatnonzero(self.labels == -1)


def dbscan(
    vectors: np.ndarray,
    eps: float | Literal["auto"] = "auto",
    min_samples: int = 5,
    eps_quantile: float = 0.95,
) -> DbscanResult:
    """DBSCAN with cosine distance; border points depend on input order, so feed items sorted by id.

    scikit-learn's default eps 0.5 is half the cosine range and leaves pooled CNN features one cluster without
    noise, hence `"auto"` (the k-distance heuristic of the DBSCAN paper).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if eps == "auto":
        eps = kdistance_eps(vectors, min_samples, eps_quantile)
    labels = DBSCAN(eps=eps, min_samples=min_samples, metric="cosine").fit_predict(vectors)
    return DbscanResult(labels=labels, eps=float(eps))


@dataclass(frozen=True)
class ForestResult:
    """Isolation Forest scores (`score_samples`: lower = more anomalous) and the flagged indices, ascending."""

    scores: np.ndarray
    outliers: np.ndarray


def isolation_forest(
    vectors: np.ndarray,
    seed: int,
    n_estimators: int = 100,
    contamination: float | Literal["auto"] = "auto",
    n_outliers: int | None = None,
) -> ForestResult:
    """Seeded Isolation Forest; `n_outliers` flags exactly that many lowest scores (e.g. the paper's 8)."""
    if n_outliers is not None and contamination != "auto":
        raise ValueError("give contamination or n_outliers, not both")
    vectors = np.asarray(vectors, dtype=np.float64)
    forest = IsolationForest(n_estimators=n_estimators, contamination=contamination, random_state=seed)
    forest.fit(vectors)
    scores = forest.score_samples(vectors)
    if n_outliers is None:
        outliers = np.flatnonzero(forest.predict(vectors) == -1)
    elif 0 <= n_outliers <= len(scores):
        outliers = np.sort(np.argsort(scores, kind="stable")[:n_outliers])
    else:
        raise ValueError(f"n_outliers must be between 0 and {len(scores)}, got {n_outliers}")
    return ForestResult(scores=scores, outliers=outliers)


@dataclass(frozen=True)
class Curation:
    """Indices flagged by each screen, their union and intersection, and the items kept (all ascending)."""

    dbscan: np.ndarray
    isolation_forest: np.ndarray
    union: np.ndarray
    intersection: np.ndarray
    kept: np.ndarray

    def counts(self) -> dict[str, int]:
        """The four numbers to set beside the paper's 6 / 8 / 12 / 2."""
        return {
            "dbscan": len(self.dbscan),
            "isolation_forest": len(self.isolation_forest),
            "union": len(self.union),
            "intersection": len(self.intersection),
        }


def curate(n_items: int, dbscan_outliers: np.ndarray, forest_outliers: np.ndarray) -> Curation:
    """Remove the union of both screens' anomalies, as the paper did before fine-tuning."""
    union = np.union1d(dbscan_outliers, forest_outliers).astype(int)
    return Curation(
        dbscan=np.unique(dbscan_outliers).astype(int),
        isolation_forest=np.unique(forest_outliers).astype(int),
        union=union,
        intersection=np.intersect1d(dbscan_outliers, forest_outliers).astype(int),
        kept=np.setdiff1d(np.arange(n_items), union),
    )
