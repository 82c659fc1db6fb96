"""The latent study's two analyses, on the vectors of its items: the screen of the pre-trained training latent
(K-means, silhouette over Table 1's metrics, DBSCAN and Isolation Forest, the curation for fine-tuning) and the
evaluation of the fine-tuned validation and test latent (K-means, ARI, the ambiguous cluster, test routing).

Labels (spec §2.7): an item of a curated class carries its class, every other item (water stains, several
defects in one window) the label "ambiguous". The paper's Table 1 scores K-means labels; the same table with
the items' own labels (curated items only) is the second, marked variant.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from defectlab.latent.items import AMBIGUOUS
from defectlab.latent.review import RULES, Ambiguity, central_cluster, least_pure_cluster, route, unmatched_clusters
from defectlab.latent.screen import curate, dbscan, isolation_forest, kmeans
from defectlab.metrics.clustering import ari, contingency, match_clusters, silhouette_table
from defectlab.seeds import derive_seed

PAPER_ANOMALIES = {"dbscan": 6, "isolation_forest": 8, "union": 12, "intersection": 2}  # §5.1, §5.4 (IF: 12 - 6 + 2)


@dataclass(frozen=True)
class Screen:
    """Per item (id order): K-means cluster, each screen's flag, whether it trains the classifier; Table 1 in both
    variants; the anomaly counts beside the paper's."""

    items: pd.DataFrame
    silhouette: pd.DataFrame
    anomalies: pd.DataFrame


def screen_training_latent(vectors: np.ndarray, index: pd.DataFrame, settings: Mapping[str, Any], seed: int) -> Screen:
    """The pre-trained training latent screened as the paper does before fine-tuning. `index`: the items (id,
    label, role) in the vectors' order; `settings`: the config's `latent` section."""
    clusters = kmeans(vectors, settings["kmeans"]["k"], derive_seed(seed, "latent", "kmeans", "train"),
                      settings["kmeans"]["n_init"]).labels_  # fmt: skip
    found = dbscan(vectors, **settings["anomalies"]["dbscan"])
    forest = isolation_forest(vectors, derive_seed(seed, "latent", "isolation_forest"),
                              **settings["anomalies"]["isolation_forest"])  # fmt: skip
    curation = curate(len(vectors), found.outliers, forest.outliers)
    flagged = np.zeros(len(vectors), bool)
    flagged[curation.union] = True
    curated = (index["role"] == "curated").to_numpy()
    items = pd.DataFrame(
        {
            "id": index["id"].to_numpy(),
            "label": index["label"].to_numpy(),
            "role": index["role"].to_numpy(),
            "kmeans": clusters.astype(int),
            "dbscan_noise": np.isin(np.arange(len(vectors)), curation.dbscan),
            "isolation_forest_outlier": np.isin(np.arange(len(vectors)), curation.isolation_forest),
            "fine_tune": curated & ~flagged,
        }
    )
    tables = [silhouette_table(vectors, clusters).assign(labels=f"K-means (k = {settings['kmeans']['k']})")]
    if len(set(index.loc[curated, "label"])) > 1:
        tables.append(silhouette_table(vectors[curated], index.loc[curated, "label"].to_numpy()).assign(
            labels="item classes (curated items)"))  # fmt: skip
    counts = curation.counts()
    anomalies = pd.DataFrame(
        {"screen": list(counts), "flagged": list(counts.values()), "paper": [PAPER_ANOMALIES[k] for k in counts]}
    ).assign(eps=found.eps, items=len(vectors))
    return Screen(items=items, silhouette=pd.concat(tables, ignore_index=True), anomalies=anomalies)


def pacmap_contingency(embedding: np.ndarray, labels: np.ndarray, k: int, seed: int) -> pd.DataFrame:
    """K-means with k clusters on the PaCMAP coordinates against the labels (§5.2: every class in every cluster)."""
    clusters = kmeans(embedding, k, derive_seed(seed, "latent", "kmeans", "pacmap")).labels_
    return contingency(clusters, labels)


@dataclass(frozen=True)
class Evaluation:
    """The fine-tuned latent's numbers beside the paper's, the validation clusters, the test review list."""

    metrics: pd.DataFrame
    clusters: pd.DataFrame
    review: pd.DataFrame
    automatic: pd.DataFrame


def cluster_accuracy(clusters: np.ndarray, labels: np.ndarray, names: Mapping) -> float:
    """Share of the curated items whose cluster is matched to their class: how right the automatic labels would
    be (the classifier-free measure, for the latent before and after fine-tuning alike)."""
    single = labels != AMBIGUOUS
    return float(np.mean([names.get(c) == label for c, label in zip(clusters[single], labels[single], strict=True)]))


def cosine_ari(vectors: np.ndarray, labels: np.ndarray, settings: Mapping[str, Any], seed: int) -> float:
    """ARI of K-means on the L2-normalised vectors (spherical K-means, the cosine geometry Table 1 favours): a
    check beside the paper's Euclidean K-means, which a few long vectors can split into singleton clusters."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    k, n_init = settings["kmeans"]["k"], settings["kmeans"]["n_init"]
    return ari(labels, kmeans(unit, k, derive_seed(seed, "latent", "kmeans", "cosine"), n_init).labels_)


def before_fine_tuning(val: np.ndarray, val_index: pd.DataFrame, settings: Mapping[str, Any], seed: int) -> list:
    """ARI and cluster accuracy of K-means on the pre-trained validation latent: what fine-tuning changes."""
    k, n_init = settings["kmeans"]["k"], settings["kmeans"]["n_init"]
    clusters = kmeans(val, k, derive_seed(seed, "latent", "kmeans", "val", "pretrained"), n_init).labels_
    labels = val_index["label"].to_numpy()
    single = labels != AMBIGUOUS
    names = match_clusters(contingency(clusters[single], labels[single]))
    before = "before fine-tuning"
    return [
        ("ari_all_pretrained", ari(labels, clusters), float("nan"), before),
        ("ari_all_cosine_pretrained", cosine_ari(val, labels, settings, seed), float("nan"), before),
        ("ari_single_class_pretrained", ari(labels, clusters, keep=single), float("nan"), before),
        ("cluster_accuracy_pretrained", cluster_accuracy(clusters, labels, names), float("nan"), before),
    ]


def evaluate_finetuned_latent(
    val: np.ndarray,
    val_index: pd.DataFrame,
    test: np.ndarray,
    test_index: pd.DataFrame,
    settings: Mapping[str, Any],
    seed: int,
    val_pretrained: np.ndarray | None = None,
) -> Evaluation:
    """K-means on the validation latent, named by matching its clusters to the curated classes, the three ambiguity
    rules, ARI two ways, and the test items routed: an ambiguous cluster's items to the operator's review list.
    With `val_pretrained` (the same items before fine-tuning), its ARI and cluster accuracy as well."""
    k, n_init = settings["kmeans"]["k"], settings["kmeans"]["n_init"]
    model = kmeans(val, k, derive_seed(seed, "latent", "kmeans", "val"), n_init)
    clusters = model.labels_.astype(int)
    labels = val_index["label"].to_numpy()
    single = labels != AMBIGUOUS
    table = contingency(clusters[single], labels[single]).reindex(range(k), fill_value=0)  # every cluster a row
    ambiguity = Ambiguity(
        unmatched=unmatched_clusters(table),
        central=(central_cluster(val, model.cluster_centers_),),
        purity=(least_pure_cluster(table),),
        names=match_clusters(table),
    )
    rule = settings["review"]["rule"]
    ambiguous = ambiguity.clusters(rule)
    routing = route(model, test, test_index["id"].tolist(), ambiguous, ambiguity.names)
    in_ambiguous = np.isin(clusters, ambiguous)
    metrics = [
        ("ari_all", ari(labels, clusters), 0.89, "validation, every item, classes + ambiguous"),
        ("ari_all_cosine", cosine_ari(val, labels, settings, seed), float("nan"), "as ari_all, on unit vectors"),
        ("ari_single_class", ari(labels, clusters, keep=single), 0.89, "validation, curated items only"),
        ("cluster_accuracy", cluster_accuracy(clusters, labels, ambiguity.names), float("nan"),
         "validation curated items in the cluster matched to their class"),
        ("ambiguous_share_val", float(in_ambiguous.mean()), 0.11, f"validation items in ambiguous clusters ({rule})"),
        ("review_share_test", routing.review_share, 3 / 34, "test items routed to the operator"),
        ("review_count_test", float(len(routing.review)), 3.0, "test items routed to the operator"),
        ("rules_agree", float(ambiguity.agree), float("nan"), f"unmatched {ambiguity.unmatched}, central "
         f"{ambiguity.central}, purity {ambiguity.purity}"),
    ]  # fmt: skip
    if val_pretrained is not None:
        metrics += before_fine_tuning(val_pretrained, val_index, settings, seed)
    named = pd.DataFrame(
        {
            "id": val_index["id"].to_numpy(),
            "label": labels,
            "cluster": clusters,
            "cluster_class": [ambiguity.names.get(c, AMBIGUOUS if c in ambiguous else "unnamed") for c in clusters],
            **{f"ambiguous_by_{name}": np.isin(clusters, ambiguity.clusters(name)) for name in RULES},
        }
    )
    return Evaluation(
        metrics=pd.DataFrame(metrics, columns=["metric", "value", "paper", "what"]),
        clusters=named,
        review=routing.review.merge(test_index[["id", "label"]], on="id"),
        automatic=routing.automatic.rename(columns={"label": "assigned"}).merge(test_index[["id", "label"]], on="id"),
    )

