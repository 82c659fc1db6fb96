"""The screen of the training latent and the evaluation of the fine-tuned one, on planted blobs."""

import numpy as np
import pandas as pd
import pytest

from defectlab.latent.analysis import evaluate_finetuned_latent, screen_training_latent

SETTINGS = {
    "kmeans": {"k": 4, "n_init": 10, "pacmap_k": 3},
    "anomalies": {
        "dbscan": {"eps": "auto", "min_samples": 5, "eps_quantile": 0.95},
        "isolation_forest": {"n_estimators": 100, "contamination": "auto", "n_outliers": 3},
    },
    "review": {"rule": "unmatched"},
}
CENTRES = {"bump": (10, 0, 0, 0), "dent": (0, 10, 0, 0), "scratch": (0, 0, 10, 0), "ambiguous": (5, 5, 5, 5)}


def items(per_class: int, seed: int, prefix: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Tight blobs of 4-D vectors, one per class, the ambiguous blob between the three."""
    rng = np.random.default_rng(seed)
    vectors, rows = [], []
    for label, centre in CENTRES.items():
        for k in range(per_class):
            vectors.append(np.asarray(centre, float) + rng.normal(0, 0.3, 4))
            rows.append({"id": f"{prefix}{label}-{k:02d}", "label": label,
                         "role": "ambiguous" if label == "ambiguous" else "curated"})  # fmt: skip
    return np.asarray(vectors), pd.DataFrame(rows)


def test_the_screen_keeps_curated_unflagged_items_for_fine_tuning_and_scores_both_label_variants():
    vectors, index = items(20, 0, "t-")
    screen = screen_training_latent(vectors, index, SETTINGS, seed=7)
    table = screen.items
    assert table["isolation_forest_outlier"].sum() == 3
    flagged = table["dbscan_noise"] | table["isolation_forest_outlier"]
    assert (table["fine_tune"] == ((table["role"] == "curated") & ~flagged)).all()
    assert table.loc[table["role"] == "ambiguous", "fine_tune"].eq(False).all()
    assert len(set(table["kmeans"])) == 4
    assert screen.silhouette.groupby("labels").size().tolist() == [18, 18]
    assert screen.anomalies.set_index("screen").loc["isolation_forest", ["flagged", "paper"]].tolist() == [3, 8]


def test_the_central_cluster_is_ambiguous_by_every_rule_and_its_test_items_go_to_review():
    val, val_index = items(15, 1, "v-")
    test, test_index = items(4, 2, "x-")
    mixed = np.random.default_rng(3).normal(0, 1, val.shape)  # a latent that knows nothing of the classes
    result = evaluate_finetuned_latent(val, val_index, test, test_index, SETTINGS, seed=7, val_pretrained=mixed)
    metrics = result.metrics.set_index("metric")["value"]
    assert metrics["ari_single_class"] == pytest.approx(1.0) and metrics["ari_all"] == pytest.approx(1.0)
    assert metrics["cluster_accuracy"] == 1.0 and metrics["cluster_accuracy_pretrained"] < 0.7
    assert abs(metrics["ari_all_pretrained"]) < 0.2
    assert metrics["rules_agree"] == 1.0 and metrics["ambiguous_share_val"] == pytest.approx(0.25)
    assert sorted(result.review["label"]) == ["ambiguous"] * 4
    automatic = result.automatic
    assert len(automatic) == 12 and (automatic["assigned"] == automatic["label"]).all()
    named = result.clusters.drop_duplicates("cluster").set_index("label")["cluster_class"]
    assert named.to_dict() == {"bump": "bump", "dent": "dent", "scratch": "scratch", "ambiguous": "ambiguous"}

