"""CutPaste's one-class scorer: a Gaussian density (GDE) on the embeddings of normal training patches.

The thesis (§4.2.3, equation 4.12; §5.4.4) scores with log p(x) ∝ -½ (f(x) - μ)ᵀ Σ⁻¹ (f(x) - μ), μ and Σ
"the mean and covariance of normal training data". Here:

- μ is the empirical mean, Σ the Ledoit-Wolf shrinkage covariance (`sklearn.covariance.LedoitWolf`, as the
  CutPaste paper's GDE from Rippel et al. and Runinho's `GaussianDensityTorch`);
- the score is the Mahalanobis distance sqrt((x - μ)ᵀ Σ⁻¹ (x - μ)) (`score: mahalanobis`, the paper's and
  Runinho's choice) or its square (`score: squared` = -2 log p + const, the thesis's equation as written);
  both rank identically, so ROC-AUC is the same, only the scale of τ differs. Computed with a Cholesky solve,
  never an explicit inverse;
- the fit takes normal patches only (`fit_on: normal`): with labels, only label 0 is used and a fit without
  any normal raises. LilitYolyan/CutPaste fits on the augmented views too (`models-notes.md` §1.4, bug 1);
  that is the ablation `fit_on: normal+augmented`, never the default.

`density: kde` reproduces LilitYolyan's `GDE_fit`, a `sklearn.neighbors.KernelDensity` with a Gaussian kernel
and a fixed bandwidth (1.0 there), scored by -log density (bug 2: a KDE where a Gaussian is claimed). Its
`-score / ‖score‖` rescaling is not copied: it does not change the ranking, only τ.

A fitted density round-trips through `to_dict`/`from_dict` and `save`/`load` (.npz, no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.covariance import LedoitWolf
from sklearn.neighbors import KernelDensity

DENSITIES = ("gde", "kde")
FIT_ON = ("normal", "normal+augmented")
SCORES = ("mahalanobis", "squared")

# every key and its default; the thesis states none of them beyond "mean and covariance of normal data"
DEFAULTS: dict[str, Any] = {
    "density": "gde",  # gde (thesis) | kde (LilitYolyan's behaviour, ablation)
    "fit_on": "normal",  # normal (thesis) | normal+augmented (LilitYolyan's bug, ablation)
    "score": "mahalanobis",  # mahalanobis distance | squared (= -2 log p + const); same ranking
    "l2_normalise": False,  # thesis / LilitYolyan: no; Runinho: yes
    "max_samples": None,  # cap on the fitted embeddings, a seeded sample without replacement
    "seed": 0,
    "bandwidth": 1.0,  # kde only; LilitYolyan uses sklearn's default 1.0
}

_EPS = 1e-12


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (a zero row stays zero)."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, _EPS)


def subsample_index(n: int, max_samples: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of at most `max_samples` of `n` rows (all rows when n <= cap)."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


class GaussianDensity:
    """Density of normal embeddings; `score` is higher for more anomalous samples.

    Build with keyword options (see `DEFAULTS`) or `GaussianDensity.from_config(mapping)`.
    After `fit`: `mean_` (D,), `covariance_` (D, D) and `shrinkage_` for gde; `train_` (n, D) for kde;
    `n_fit_` embeddings used, `n_excluded_` rows dropped because their label was not normal.
    """

    def __init__(
        self,
        density: str = DEFAULTS["density"],
        fit_on: str = DEFAULTS["fit_on"],
        score: str = DEFAULTS["score"],
        l2_normalise: bool = DEFAULTS["l2_normalise"],
        max_samples: int | None = DEFAULTS["max_samples"],
        seed: int = DEFAULTS["seed"],
        bandwidth: float = DEFAULTS["bandwidth"],
    ) -> None:
        if density not in DENSITIES:
            raise ValueError(f"density must be one of {DENSITIES}, got {density!r}")
        if fit_on not in FIT_ON:
            raise ValueError(f"fit_on must be one of {FIT_ON}, got {fit_on!r}")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        if max_samples is not None and int(max_samples) < 1:
            raise ValueError(f"max_samples must be >= 1 or None, got {max_samples}")
        if not bandwidth > 0:
            raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
        self.density = density
        self.fit_on = fit_on
        self.score_kind = score
        self.l2_normalise = bool(l2_normalise)
        self.max_samples = None if max_samples is None else int(max_samples)
        self.seed = int(seed)
        self.bandwidth = float(bandwidth)
        self._reset()

    def _reset(self) -> None:
        self.mean_: np.ndarray | None = None
        self.covariance_: np.ndarray | None = None
        self.shrinkage_: float | None = None
        self.train_: np.ndarray | None = None
        self.n_fit_ = 0
        self.n_excluded_ = 0
        self._chol: np.ndarray | None = None
        self._kde: KernelDensity | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> GaussianDensity:
        """From a config mapping (e.g. the `gde:` section); unknown keys raise, missing keys take `DEFAULTS`."""
        config = dict(config or {})
        unknown = set(config) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown density keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        return cls(**{**DEFAULTS, **config})

    def config(self) -> dict[str, Any]:
        """The options, in `DEFAULTS`' keys."""
        return {
            "density": self.density,
            "fit_on": self.fit_on,
            "score": self.score_kind,
            "l2_normalise": self.l2_normalise,
            "max_samples": self.max_samples,
            "seed": self.seed,
            "bandwidth": self.bandwidth,
        }

    @property
    def fitted(self) -> bool:
        return self._chol is not None or self._kde is not None

    # --- fitting -------------------------------------------------------------------------------------------

    def _prepare(self, embeddings: np.ndarray) -> np.ndarray:
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"embeddings must be a non-empty (N, D) array, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("embeddings contain NaN or infinite values")
        return l2_normalise(x) if self.l2_normalise else x

    def select(self, n: int, labels: np.ndarray | None) -> np.ndarray:
        """Indices of the rows the fit uses: label 0 only under `fit_on: normal`, then the seeded cap."""
        if labels is None:
            rows = np.arange(n)
        else:
            labels = np.asarray(labels).reshape(-1)
            if labels.shape[0] != n:
                raise ValueError(f"labels has {labels.shape[0]} entries for {n} embeddings")
            if (labels < 0).any() or (labels != np.round(labels)).any():
                shown = sorted(set(labels.tolist()))
                raise ValueError(f"labels must be 0 (normal) or a view's class >= 1, got {shown}")
            rows = np.flatnonzero(labels == 0) if self.fit_on == "normal" else np.arange(n)
            if rows.size == 0:
                raise ValueError(
                    "no normal (label 0) embeddings to fit on: the density must be fitted on normal "
                    "training patches (fit_on: normal); augmented views are not normal data"
                )
        return rows[subsample_index(rows.size, self.max_samples, self.seed)]

    def fit(self, embeddings: np.ndarray, labels: np.ndarray | None = None) -> GaussianDensity:
        """Fit on (N, D) embeddings of normal training patches.

        `labels` (N,): 0 normal, 1 augmented. Under `fit_on: normal` (the default) only label-0 rows are used
        and a batch with none raises; under `fit_on: normal+augmented` every row is used (the ablation that
        mimics LilitYolyan). Without labels every row is taken as normal: the caller vouches for it.
        """
        x = self._prepare(embeddings)
        rows = self.select(x.shape[0], labels)
        self._reset()
        if labels is not None and self.fit_on == "normal":
            self.n_excluded_ = int(np.sum(np.asarray(labels).reshape(-1) != 0))
        x = x[rows]
        self.n_fit_ = int(x.shape[0])
        if self.density == "gde":
            if x.shape[0] < 2:
                raise ValueError(f"a Gaussian needs at least 2 embeddings, got {x.shape[0]}")
            lw = LedoitWolf(assume_centered=False).fit(x)
            self._set_gaussian(x.mean(axis=0), lw.covariance_, float(lw.shrinkage_))
        else:
            self._set_kde(x)
        return self

    def _set_gaussian(self, mean: np.ndarray, covariance: np.ndarray, shrinkage: float | None) -> None:
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.covariance_ = np.asarray(covariance, dtype=np.float64)
        self.shrinkage_ = shrinkage
        try:
            self._chol = linalg.cholesky(self.covariance_, lower=True)
        except linalg.LinAlgError as err:
            raise ValueError("covariance is not positive definite (constant embeddings?)") from err

    def _set_kde(self, train: np.ndarray) -> None:
        self.train_ = np.asarray(train, dtype=np.float64)
        self._kde = KernelDensity(kernel="gaussian", bandwidth=self.bandwidth).fit(self.train_)

    # --- scoring -------------------------------------------------------------------------------------------

    def squared_mahalanobis(self, embeddings: np.ndarray) -> np.ndarray:
        """(x - μ)ᵀ Σ⁻¹ (x - μ) per row, by a triangular solve with the Cholesky factor of Σ."""
        if self._chol is None:
            raise RuntimeError("squared_mahalanobis needs a fitted gde density")
        x = self._prepare(embeddings)
        if x.shape[1] != self.mean_.shape[0]:
            raise ValueError(f"embeddings have {x.shape[1]} dimensions, the density {self.mean_.shape[0]}")
        z = linalg.solve_triangular(self._chol, (x - self.mean_).T, lower=True)
        return np.einsum("ij,ij->j", z, z)

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """(N,) anomaly scores, higher = more anomalous: Mahalanobis distance or its square (gde),
        -log density (kde)."""
        if not self.fitted:
            raise RuntimeError("fit the density before scoring")
        if self.density == "kde":
            x = self._prepare(embeddings)
            return -self._kde.score_samples(x)
        d2 = self.squared_mahalanobis(embeddings)
        return d2 if self.score_kind == "squared" else np.sqrt(np.maximum(d2, 0.0))

    __call__ = score

    # --- persistence ---------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Arrays and a JSON config string; `from_dict` rebuilds a density that scores identically."""
        if not self.fitted:
            raise RuntimeError("fit the density before saving it")
        meta = {**self.config(), "n_fit": self.n_fit_, "n_excluded": self.n_excluded_, "shrinkage": self.shrinkage_}
        out: dict[str, Any] = {"config": json.dumps(meta, sort_keys=True)}
        if self.density == "gde":
            out["mean"] = self.mean_
            out["covariance"] = self.covariance_
        else:
            out["train"] = self.train_
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GaussianDensity:
        meta = json.loads(str(np.asarray(data["config"])))
        n_fit, n_excluded, shrinkage = meta.pop("n_fit"), meta.pop("n_excluded"), meta.pop("shrinkage")
        density = cls.from_config(meta)
        if density.density == "gde":
            density._set_gaussian(np.asarray(data["mean"]), np.asarray(data["covariance"]), shrinkage)
        else:
            density._set_kde(np.asarray(data["train"]))
        density.n_fit_, density.n_excluded_ = int(n_fit), int(n_excluded)
        return density

    def save(self, path: str | Path) -> None:
        """Write to an .npz file (no pickled objects); through a file object, so numpy adds no ".npz" to the name."""
        d = self.to_dict()
        with open(path, "wb") as out:
            np.savez(out, **{k: np.asarray(v) for k, v in d.items()})

    @classmethod
    def load(cls, path: str | Path) -> GaussianDensity:
        with np.load(Path(path), allow_pickle=False) as data:
            return cls.from_dict({k: data[k] for k in data.files})
