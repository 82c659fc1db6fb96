import numpy as np
import pytest

from defectlab.latent.review import RULES, ambiguity, route
from defectlab.latent.screen import kmeans

CLASSES = ("dirt", "drop", "scratch")


def _corners() -> np.ndarray:
    """Three class centres on a circle of radius 10 in an 8-D space: their mean is the origin."""
    angles = 2 * np.pi * np.arange(3) / 3
    corners = np.zeros((3, 8))
    corners[:, 0], corners[:, 1] = 10 * np.cos(angles), 10 * np.sin(angles)
    return corners


@pytest.fixture(scope="module")
def fitted():
    """K-means (k = 4) on three pure class blobs of 20 and a central blob of 12 mixing all three classes."""
    rng = np.random.default_rng(11)
    corners = _corners()
    blobs = corners[np.repeat(np.arange(3), 20)] + rng.normal(0, 1.0, (60, 8))
    central = rng.normal(0, 0.7, (12, 8))
    vectors = np.concatenate([blobs, central])
    classes = np.array([CLASSES[i] for i in np.repeat(np.arange(3), 20)] + [CLASSES[i % 3] for i in range(12)])
    model = kmeans(vectors, 4, seed=0)
    return model, vectors, classes


def test_all_three_rules_pick_the_central_mixed_cluster(fitted):
    model, vectors, classes = fitted
    central = int(model.predict(np.zeros((1, 8)))[0])
    found = ambiguity(model, vectors, classes)
    assert found.unmatched == (central,)
    assert found.central == (central,)
    assert found.purity == (central,)
    assert found.agree
    assert all(found.clusters(rule) == (central,) for rule in RULES)


def test_matched_clusters_are_named_by_their_class(fitted):
    model, vectors, classes = fitted
    names = ambiguity(model, vectors, classes).names
    corner_clusters = model.predict(_corners())
    assert names == {int(c): name for c, name in zip(corner_clusters, CLASSES, strict=True)}


def test_rules_that_disagree_are_reported():
    # k = 4 on two classes: matching leaves two clusters over, central and purity name one each
    rng = np.random.default_rng(2)
    vectors = np.concatenate([rng.normal(c, 0.3, (10, 2)) for c in ([0, 0], [10, 0], [0, 10], [10, 10])])
    classes = np.array(["a"] * 10 + ["b"] * 10 + ["a"] * 5 + ["b"] * 5 + ["a"] * 10)
    found = ambiguity(kmeans(vectors, 4, seed=0), vectors, classes)
    assert len(found.unmatched) == 2
    assert not found.agree


def test_an_unknown_rule_is_refused_with_the_valid_ones(fitted):
    with pytest.raises(ValueError, match="unknown review rule 'middle': expected one of unmatched, central, purity"):
        ambiguity(*fitted).clusters("middle")


def test_held_out_points_in_the_ambiguous_cluster_go_to_review_others_get_their_class(fitted):
    model, vectors, classes = fitted
    found = ambiguity(model, vectors, classes)
    rng = np.random.default_rng(12)
    corners = _corners()
    pure = corners[np.repeat(np.arange(3), 4)] + rng.normal(0, 1.0, (12, 8))
    heldout = np.concatenate([pure, rng.normal(0, 0.7, (3, 8))])
    ids = [f"test-{i:02d}" for i in range(15)]
    routing = route(model, heldout, ids, found.clusters("unmatched"), found.names)

    assert routing.review["id"].tolist() == ids[12:]
    assert routing.review["cluster"].tolist() == [found.central[0]] * 3
    assert (routing.review["reason"] == "ambiguous").all()
    centroid = model.cluster_centers_[found.central[0]]
    assert routing.review["distance"].to_numpy() == pytest.approx(np.linalg.norm(heldout[12:] - centroid, axis=1))
    assert routing.automatic["id"].tolist() == ids[:12]
    assert routing.automatic["label"].tolist() == [name for name in CLASSES for _ in range(4)]
    assert routing.review_share == pytest.approx(3 / 15)


def test_a_cluster_without_a_name_goes_to_review_too(fitted):
    model, vectors, classes = fitted
    found = ambiguity(model, vectors, classes)
    scratch = next(c for c, name in found.names.items() if name == "scratch")
    names = {c: name for c, name in found.names.items() if c != scratch}
    routing = route(model, _corners(), ["a", "b", "c"], (), names)
    assert routing.review[["id", "reason"]].values.tolist() == [["c", "unnamed"]]
    assert routing.automatic["label"].tolist() == ["dirt", "drop"]
