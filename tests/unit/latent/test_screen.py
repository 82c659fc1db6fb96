import numpy as np
import pytest

from defectlab.latent.screen import curate, dbscan, isolation_forest, kdistance_eps, kmeans

OUTLIERS = [17, 48, 80]


@pytest.fixture(scope="module")
def planted() -> np.ndarray:
    """Three tight blobs of 30 points in distinct directions, and three points far from them at OUTLIERS."""
    rng = np.random.default_rng(2)
    directions = rng.normal(0, 1, (6, 32))
    directions *= 10 / np.linalg.norm(directions, axis=1, keepdims=True)
    points = directions[np.repeat(np.arange(3), 30)] + rng.normal(0, 0.5, (90, 32))
    return np.insert(points, np.array(OUTLIERS) - np.arange(3), directions[3:], axis=0)


def test_planted_rows_are_where_the_tests_expect_them(planted):
    assert planted.shape == (93, 32)
    assert all(np.linalg.norm(planted[i]) == pytest.approx(10) for i in OUTLIERS)


def test_kdistance_counts_the_point_itself_as_its_first_neighbour():
    angles = np.array([0.0, 0.1, 0.3])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    # min_samples 2 = the point and its nearest other point: 0.1, 0.1 and 0.2 rad apart; the largest is 0.2
    assert kdistance_eps(vectors, min_samples=2, quantile=1.0) == pytest.approx(1 - np.cos(0.2))
    assert kdistance_eps(vectors, min_samples=2, quantile=0.0) == pytest.approx(1 - np.cos(0.1))


def test_dbscan_auto_eps_finds_exactly_the_planted_outliers(planted):
    result = dbscan(planted, eps="auto")
    assert result.outliers.tolist() == OUTLIERS
    assert result.eps == pytest.approx(kdistance_eps(planted, 5, 0.95))
    assert sorted(set(result.labels) - {-1}) == [0, 1, 2]


def test_dbscan_takes_a_numeric_eps(planted):
    assert dbscan(planted, eps=1.5).outliers.size == 0  # most of the cosine range: everything is one cluster
    assert dbscan(planted, eps=1.5).eps == 1.5


def test_isolation_forest_n_outliers_flags_exactly_the_n_lowest_scores(planted):
    for n in (0, 3, 8):
        result = isolation_forest(planted, seed=1, n_outliers=n)
        assert len(result.outliers) == n
        assert set(result.outliers) == set(np.argsort(result.scores)[:n])
    assert isolation_forest(planted, seed=1, n_outliers=3).outliers.tolist() == OUTLIERS


def test_isolation_forest_is_seeded(planted):
    first, second = isolation_forest(planted, seed=4), isolation_forest(planted, seed=4)
    assert first.scores.tobytes() == second.scores.tobytes()
    assert first.outliers.tolist() == second.outliers.tolist()
    assert isolation_forest(planted, seed=5).scores.tobytes() != first.scores.tobytes()


def test_isolation_forest_refuses_two_ways_of_counting(planted):
    with pytest.raises(ValueError, match="contamination or n_outliers, not both"):
        isolation_forest(planted, seed=1, contamination=0.1, n_outliers=3)
    with pytest.raises(ValueError, match="n_outliers must be between 0 and 93, got 94"):
        isolation_forest(planted, seed=1, n_outliers=94)


def test_curation_counts_union_intersection_and_kept():
    curation = curate(10, np.array([3, 1, 2]), np.array([4, 3]))
    assert curation.counts() == {"dbscan": 3, "isolation_forest": 2, "union": 4, "intersection": 1}
    assert curation.union.tolist() == [1, 2, 3, 4]
    assert curation.intersection.tolist() == [3]
    assert curation.kept.tolist() == [0, 5, 6, 7, 8, 9]


def test_curation_of_both_screens_on_the_planted_data(planted):
    forest = isolation_forest(planted, seed=1, n_outliers=5)
    curation = curate(len(planted), dbscan(planted).outliers, forest.outliers)
    assert curation.counts() == {"dbscan": 3, "isolation_forest": 5, "union": 5, "intersection": 3}
    assert len(curation.kept) == 88
    assert not set(curation.kept) & set(OUTLIERS)


def test_kmeans_same_seed_same_labels(planted):
    first, second = kmeans(planted, 4, seed=3), kmeans(planted, 4, seed=3)
    assert first.n_init == 10
    assert first.labels_.tolist() == second.labels_.tolist()
    assert first.cluster_centers_.tobytes() == second.cluster_centers_.tobytes()
