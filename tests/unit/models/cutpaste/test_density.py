"""GaussianDensity: Mahalanobis against a NumPy reference, the normal-only fit guard, KDE, subsample, round trip."""

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf
from sklearn.neighbors import KernelDensity

from defectlab.models.cutpaste.density import DEFAULTS, GaussianDensity, subsample_index


def _data(n: int = 300, d: int = 8, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mix + shift


def _reference(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    mean = train.mean(axis=0)
    cov = LedoitWolf().fit(train).covariance_
    inv = np.linalg.inv(cov)
    diff = test - mean
    return np.sqrt(np.einsum("ij,jk,ik->i", diff, inv, diff))


def test_mahalanobis_equals_numpy_reference():
    train, test = _data(), _data(50, seed=1, shift=0.5)
    density = GaussianDensity().fit(train)
    np.testing.assert_allclose(density.score(test), _reference(train, test), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(density.mean_, train.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(density.covariance_, LedoitWolf().fit(train).covariance_, rtol=0, atol=1e-12)


def test_squared_score_and_log_density_ranking():
    train, test = _data(), _data(50, seed=1, shift=0.5)
    d = GaussianDensity().fit(train).score(test)
    d2 = GaussianDensity(score="squared").fit(train).score(test)
    np.testing.assert_allclose(d2, d**2, rtol=1e-10)
    np.testing.assert_array_equal(np.argsort(d), np.argsort(d2))


def test_l2_normalise_applies_to_fit_and_score():
    train, test = _data(), _data(20, seed=2)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    density = GaussianDensity(l2_normalise=True).fit(train)
    np.testing.assert_allclose(density.score(test), _reference(unit(train), unit(test)), rtol=1e-9)


def test_augmented_embeddings_do_not_leak_into_the_fit():
    normal, augmented = _data(200, seed=3), _data(100, seed=4, shift=5.0)
    x = np.concatenate([normal, augmented])
    labels = np.r_[np.zeros(200, int), np.ones(100, int)]
    perm = np.random.default_rng(0).permutation(300)
    density = GaussianDensity().fit(x[perm], labels[perm])
    np.testing.assert_allclose(density.mean_, normal.mean(axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(density.covariance_, LedoitWolf().fit(normal).covariance_, rtol=0, atol=1e-12)
    assert density.n_fit_ == 200 and density.n_excluded_ == 100
    # the fit on normals alone scores identically
    test = _data(10, seed=5)
    np.testing.assert_allclose(density.score(test), GaussianDensity().fit(normal).score(test), rtol=1e-12)


def test_only_augmented_raises():
    with pytest.raises(ValueError, match="no normal"):
        GaussianDensity().fit(_data(50), np.ones(50, int))


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="0 \\(normal\\) or a view's class"):
        GaussianDensity().fit(_data(50), np.full(50, -1))
    with pytest.raises(ValueError, match="entries"):
        GaussianDensity().fit(_data(50), np.zeros(49, int))


def test_normal_plus_augmented_is_an_explicit_ablation():
    assert DEFAULTS["fit_on"] == "normal" and DEFAULTS["density"] == "gde"
    normal, augmented = _data(200, seed=3), _data(100, seed=4, shift=5.0)
    x = np.concatenate([normal, augmented])
    labels = np.r_[np.zeros(200, int), np.ones(100, int)]
    density = GaussianDensity(fit_on="normal+augmented").fit(x, labels)
    np.testing.assert_allclose(density.mean_, x.mean(axis=0), atol=1e-12)
    assert density.n_fit_ == 300


def test_kde_equals_sklearn():
    train, test = _data(200), _data(30, seed=6)
    density = GaussianDensity(density="kde", bandwidth=0.7).fit(train)
    ref = -KernelDensity(kernel="gaussian", bandwidth=0.7).fit(train).score_samples(test)
    np.testing.assert_allclose(density.score(test), ref, rtol=1e-12)


def test_kde_also_excludes_augmented():
    normal, augmented = _data(100, seed=3), _data(50, seed=4, shift=5.0)
    density = GaussianDensity(density="kde").fit(np.concatenate([normal, augmented]), np.r_[np.zeros(100), np.ones(50)])
    np.testing.assert_array_equal(density.train_, normal)


def test_max_samples_seeded():
    x = _data(500)
    a = GaussianDensity(max_samples=100, seed=7).fit(x)
    b = GaussianDensity(max_samples=100, seed=7).fit(x)
    c = GaussianDensity(max_samples=100, seed=8).fit(x)
    assert a.n_fit_ == 100
    np.testing.assert_array_equal(a.mean_, b.mean_)
    assert not np.allclose(a.mean_, c.mean_)
    idx = subsample_index(500, 100, 7)
    np.testing.assert_allclose(a.mean_, x[idx].mean(axis=0), atol=1e-12)
    np.testing.assert_array_equal(subsample_index(50, 100, 7), np.arange(50))


def test_max_samples_draws_from_normals_only():
    normal, augmented = _data(300, seed=3), _data(300, seed=4, shift=5.0)
    x = np.concatenate([normal, augmented])
    labels = np.r_[np.zeros(300, int), np.ones(300, int)]
    density = GaussianDensity(max_samples=50, seed=1).fit(x, labels)
    np.testing.assert_allclose(density.mean_, normal[subsample_index(300, 50, 1)].mean(axis=0), atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"score": "squared", "l2_normalise": True}, {"density": "kde"}])
def test_save_load_round_trip(tmp_path, options):
    train, test = _data(), _data(40, seed=9)
    density = GaussianDensity.from_config({**options, "max_samples": 250, "seed": 3}).fit(train)
    path = tmp_path / "density.npz"
    density.save(path)
    loaded = GaussianDensity.load(path)
    np.testing.assert_array_equal(loaded.score(test), density.score(test))
    assert loaded.config() == density.config()
    assert loaded.n_fit_ == density.n_fit_
    again = GaussianDensity.from_dict(density.to_dict())
    np.testing.assert_array_equal(again.score(test), density.score(test))


def test_config_validation_and_errors():
    with pytest.raises(ValueError, match="unknown density keys"):
        GaussianDensity.from_config({"bandwith": 1.0})
    with pytest.raises(ValueError, match="fit_on"):
        GaussianDensity(fit_on="augmented")
    with pytest.raises(RuntimeError, match="fit"):
        GaussianDensity().score(_data(3))
    with pytest.raises(ValueError, match="NaN"):
        GaussianDensity().fit(np.full((5, 2), np.nan))
    density = GaussianDensity().fit(_data())
    with pytest.raises(ValueError, match="dimensions"):
        density.score(np.zeros((2, 3)))


def test_fewer_samples_than_dimensions_is_stable():
    train = _data(20, d=64, seed=10)
    scores = GaussianDensity().fit(train).score(_data(5, d=64, seed=11))
    assert np.isfinite(scores).all() and (scores > 0).all()
