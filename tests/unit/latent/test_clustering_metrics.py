import numpy as np
import pandas as pd
import pytest

from defectlab.metrics.clustering import (
    TABLE1,
    ari,
    contingency,
    majority_shares,
    match_clusters,
    metric_name,
    purity,
    silhouette,
    silhouette_table,
)

HAND_X = np.array([[0.0], [1.0], [4.0], [5.0]])
HAND_LABELS = np.array([0, 0, 1, 1])


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Non-negative features with many zeros (as after a ReLU), three clusters."""
    rng = np.random.default_rng(3)
    centres = rng.random((3, 16)) * 4
    labels = np.repeat(np.arange(3), 20)
    return np.maximum(centres[labels] + rng.normal(0, 1.0, (60, 16)), 0), labels


def test_silhouette_hand_case():
    # euclidean: point 0 a=1 b=4.5 s=7/9, point 1 a=1 b=3.5 s=5/7, mirrored → (7/9 + 5/7) / 2
    assert silhouette(HAND_X, HAND_LABELS, "euclidean") == pytest.approx((7 / 9 + 5 / 7) / 2, abs=1e-12)
    assert silhouette(HAND_X, HAND_LABELS, "euclidean") == pytest.approx(0.746031746, abs=1e-9)
    # sqeuclidean: point 0 a=1 b=(16+25)/2 s=39.5/40.5, point 1 a=1 b=(9+16)/2 s=11.5/12.5
    assert silhouette(HAND_X, HAND_LABELS, "sqeuclidean") == pytest.approx(0.935609756, abs=1e-9)
    assert silhouette(HAND_X, HAND_LABELS, "squeuclidean") == silhouette(HAND_X, HAND_LABELS, "sqeuclidean")


def test_table1_has_the_papers_18_cells_in_order(blobs):
    table = silhouette_table(*blobs)
    assert list(table.columns) == ["cell", "metric", "silhouette", "binarised"]
    assert table["cell"].tolist() == [
        "euclidean/l2",
        "cosine",
        "cityblock/l1/manhattan",
        "braycurtis",
        "canberra",
        "chebyshev",
        "correlation",
        "dice",
        "hamming",
        "jaccard",
        "minkowski",
        "rogerstanimoto/sokalmichener",
        "russellrao",
        "seuclidean",
        "sokalsneath",
        "squeuclidean",
        "yule",
        "nan euclidean",
    ]
    assert table["metric"].tolist()[11] == "rogerstanimoto"
    assert table["metric"].tolist()[15] == "sqeuclidean"
    assert table["metric"].tolist()[17] == "nan_euclidean"
    assert table["silhouette"].between(-1, 1).all()


def test_boolean_metrics_are_flagged_binarised(blobs):
    table = silhouette_table(*blobs)
    flagged = table.loc[table["binarised"], "metric"].tolist()
    assert flagged == ["dice", "jaccard", "rogerstanimoto", "russellrao", "sokalsneath", "yule"]


def test_aliases_in_a_cell_give_identical_values(blobs):
    table = silhouette_table(*blobs).set_index("cell")["silhouette"]
    for cell in TABLE1:
        for name in cell.names:
            assert silhouette(*blobs, name) == pytest.approx(table[cell.label], rel=1e-12), (cell.label, name)
    euclidean = silhouette(*blobs, "euclidean")
    assert silhouette(*blobs, "minkowski") == pytest.approx(euclidean, rel=1e-12)
    assert silhouette(*blobs, "nan_euclidean") == pytest.approx(euclidean, rel=1e-12)
    assert silhouette(*blobs, "manhattan") == pytest.approx(silhouette(*blobs, "cityblock"), rel=1e-12)
    # the aliases really do differ from the other metrics: the equalities above are not vacuous
    assert silhouette(*blobs, "cityblock") != pytest.approx(euclidean, rel=1e-6)


def test_sokalmichener_is_computed_as_rogerstanimoto(blobs):
    assert metric_name("sokalmichener") == "rogerstanimoto"
    assert silhouette(*blobs, "sokalmichener") == silhouette(*blobs, "rogerstanimoto")


@pytest.mark.parametrize("name", ["kulsinski", "jensenshannon", "not-a-metric"])
def test_a_metric_scikit_learn_refuses_is_named(name: str):
    with pytest.raises(ValueError, match=f"distance metric '{name}' is not accepted"):
        silhouette(HAND_X, HAND_LABELS, name)


def test_ari_hand_cases():
    assert ari([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    # pairs: 15; same-class 6, same-cluster 3, both 2 → (2 − 6·3/15) / ((6 + 3)/2 − 6·3/15) = 0.8 / 3.3
    assert ari([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.8 / 3.3, abs=1e-12)
    assert ari([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(0.242424, abs=1e-6)


def test_ari_over_a_subset():
    keep = np.array([True, True, True, True, False, False])
    assert ari([0, 0, 1, 1, 0, 1], [5, 5, 7, 7, 7, 5], keep=keep) == pytest.approx(1.0)
    assert ari([0, 0, 1, 1, 0, 1], [5, 5, 7, 7, 7, 5]) < 1.0


def test_contingency_and_purity_by_hand():
    clusters = [0, 0, 1, 1, 1, 2, 2]
    classes = ["dirt", "dirt", "drop", "drop", "dirt", "scratch", "drop"]
    table = contingency(clusters, classes)
    expected = pd.DataFrame(
        [[2, 0, 0], [1, 2, 0], [0, 1, 1]],
        index=pd.Index([0, 1, 2], name="cluster"),
        columns=pd.Index(["dirt", "drop", "scratch"], name="class"),
    )
    pd.testing.assert_frame_equal(table, expected)
    assert purity(table) == pytest.approx((2 + 2 + 1) / 7)
    assert majority_shares(table).tolist() == pytest.approx([1.0, 2 / 3, 0.5])


def test_hungarian_names_clusters_and_leaves_the_extra_one_out():
    # best diagonal 9 + 8 + 7 = 24 ({0: scratch, 1: dirt, 2: drop}); any use of cluster 3 gives at most 23
    table = pd.DataFrame(
        [[0, 1, 9], [8, 0, 0], [6, 7, 1], [7, 2, 2]],
        index=pd.Index([0, 1, 2, 3], name="cluster"),
        columns=pd.Index(["dirt", "drop", "scratch"], name="class"),
    )
    assert match_clusters(table) == {0: "scratch", 1: "dirt", 2: "drop"}


def test_seuclidean_ignores_a_coordinate_that_never_varies(blobs):
    vectors, labels = blobs
    dead = np.hstack([vectors, np.zeros((len(vectors), 1))])  # a ReLU channel that is always 0
    assert silhouette(dead, labels, "seuclidean") == pytest.approx(silhouette(vectors, labels, "seuclidean"), abs=1e-12)
    # on the one-dimensional hand case, dividing by the variance scales every distance alike: euclidean's value
    assert silhouette(HAND_X, HAND_LABELS, "seuclidean") == pytest.approx(0.746031746, abs=1e-9)
