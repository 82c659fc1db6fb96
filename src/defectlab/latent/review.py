"""The operator's review set: which K-means clusters are ambiguous, and where held-out items go.

The paper found its ambiguous cluster by eye (central in the ISOMAP plot, then confirmed by looking at the images).
Three deterministic rules stand in for that look; all three are reported so a run shows whether they agree.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from defectlab.metrics.clustering import contingency, majority_shares, match_clusters

RULES = ("unmatched", "central", "purity")


def unmatched_clusters(table: pd.DataFrame) -> tuple[int, ...]:
    """The k − C clusters the Hungarian matching of clusters to classes leaves without a class."""
    matched = match_clusters(table)
    return tuple(int(c) for c in table.index if int(c) not in matched)


def central_cluster(vectors: np.ndarray, centroids: np.ndarray) -> int:
    """The cluster whose centroid is nearest the mean of all vectors, in the clustered space (the paper's cue)."""
    distances = np.linalg.norm(np.asarray(centroids) - np.asarray(vectors).mean(axis=0), axis=1)
    return int(np.argmin(distances))


def least_pure_cluster(table: pd.DataFrame) -> int:
    """The cluster with the lowest share of its majority class (the lowest id on a tie); a cluster holding no item
    of any class has share 0."""
    return int(majority_shares(table).fillna(0.0).idxmin())


@dataclass(frozen=True)
class Ambiguity:
    """The ambiguous clusters by each rule, and the class name of each matched cluster (its automatic label)."""

    unmatched: tuple[int, ...]
    central: tuple[int, ...]
    purity: tuple[int, ...]
    names: dict

    @property
    def agree(self) -> bool:
        return set(self.unmatched) == set(self.central) == set(self.purity)

    def clusters(self, rule: str) -> tuple[int, ...]:
        """The ambiguous clusters under the configured rule."""
        if rule not in RULES:
            raise ValueError(f"unknown review rule {rule!r}: expected one of {', '.join(RULES)}")
        return getattr(self, rule)


def ambiguity(model: KMeans, vectors: np.ndarray, classes: np.ndarray) -> Ambiguity:
    """All three rules on the vectors K-means was fitted on and their class labels."""
    table = contingency(model.predict(np.asarray(vectors, dtype=np.float64)), classes)
    return Ambiguity(
        unmatched=unmatched_clusters(table),
        central=(central_cluster(vectors, model.cluster_centers_),),
        purity=(least_pure_cluster(table),),
        names=match_clusters(table),
    )


@dataclass(frozen=True)
class Routing:
    """Held-out items for the operator (id, cluster, distance to centroid, reason) and those labelled automatically."""

    review: pd.DataFrame
    automatic: pd.DataFrame

    @property
    def review_share(self) -> float:
        total = len(self.review) + len(self.automatic)
        return len(self.review) / total if total else float("nan")


def route(model: KMeans, vectors: np.ndarray, ids: Sequence[str], ambiguous: Sequence[int], names: dict) -> Routing:
    """Assign held-out items with the fitted K-means; an ambiguous cluster sends its items to review.

    A cluster that is neither ambiguous nor matched to a class (possible under `central` or `purity`) has no
    automatic label either, so its items go to review too, with reason "unnamed".
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    clusters = model.predict(vectors)
    distances = model.transform(vectors)[np.arange(len(vectors)), clusters]
    ambiguous = set(ambiguous)
    reasons = ["ambiguous" if c in ambiguous else "unnamed" if c not in names else None for c in clusters]
    frame = pd.DataFrame({"id": list(ids), "cluster": clusters.astype(int), "distance": distances, "reason": reasons})
    to_review = frame["reason"].notna()
    automatic = frame.loc[~to_review, ["id", "cluster"]].assign(label=lambda f: f["cluster"].map(names))
    return Routing(review=frame[to_review].reset_index(drop=True), automatic=automatic.reset_index(drop=True))
