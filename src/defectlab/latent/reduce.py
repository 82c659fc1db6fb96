"""Seeded 2-D reductions of latent vectors (ISOMAP, UMAP, PaCMAP) that rerun to the same bytes on CPU.

The paper states no parameter of its reductions, so each library's defaults are spelled out here and any of them
can be changed; the settings that make a run reproducible are fixed. umap and pacmap are imported on first use:
importing them compiles numba code for seconds, and numba binds its cache folder when they load.
"""

import contextlib
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sklearn.manifold import Isomap

REDUCERS = ("isomap", "umap", "pacmap")

# The libraries' own defaults (spec §2.2), spelled out so a config shows and overrides each one.
DEFAULTS: dict[str, dict[str, object]] = {
    "isomap": {"n_neighbors": 5, "metric": "minkowski", "p": 2, "path_method": "auto"},
    # n_jobs=1: a seed forces it anyway; asking for it avoids umap's warning that it overrode -1.
    "umap": {"n_neighbors": 15, "metric": "euclidean", "min_dist": 0.1, "init": "spectral", "n_jobs": 1},
    "pacmap": {
        "n_neighbors": 10,
        "MN_ratio": 0.5,
        "FP_ratio": 2.0,
        "distance": "euclidean",
        "lr": 1.0,
        "num_iters": (100, 100, 250),
        "apply_pca": True,
        "init": "pca",
    },
}

# Set by `reduce` itself: two dimensions, the seed, and ISOMAP's dense solver (ARPACK starts from an unseeded RNG).
FIXED = {
    "isomap": ("n_components", "eigen_solver"),
    "umap": ("n_components", "random_state"),
    "pacmap": ("n_components", "random_state"),
}

log = logging.getLogger(__name__)


def reduce(
    name: str,
    vectors: np.ndarray,
    seed: int,
    *,
    numba_cache_dir: Path | str | None = None,
    logger: logging.Logger | None = None,
    **params: object,
) -> np.ndarray:
    """The (n, 2) float64 embedding of `vectors` by one reducer, its defaults updated by `params`.

    `numba_cache_dir` sets NUMBA_CACHE_DIR for a read-only environment. numba binds each cached function to its
    folder as the module loads, so it takes effect only while umap and pacmap are not yet imported in the process.
    PaCMAP's log messages go to `logger` (this module's by default).
    """
    if name not in REDUCERS:
        raise ValueError(f"unknown reducer {name!r}: expected one of {', '.join(REDUCERS)}")
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (items × features), got shape {vectors.shape}")
    if numba_cache_dir is not None:
        _use_numba_cache(Path(numba_cache_dir))
    settings = {**DEFAULTS[name], **params}
    if name == "isomap":
        _check(name, Isomap, settings)
        embedding = Isomap(n_components=2, eigen_solver="dense", **settings).fit_transform(vectors)
    elif name == "umap":
        import umap

        _check(name, umap.UMAP, settings)
        embedding = umap.UMAP(n_components=2, random_state=int(seed), **settings).fit_transform(vectors)
    else:
        embedding = _pacmap(vectors, int(seed), settings, logger or log)
    return np.ascontiguousarray(embedding, dtype=np.float64)


def _check(name: str, estimator: type, settings: dict[str, object], extra: tuple[str, ...] = ()) -> None:
    """Refuse keys the estimator does not take, and those `reduce` fixes, by name."""
    fixed = sorted(set(settings) & set(FIXED[name]))
    if fixed:
        raise ValueError(f"{name}: {', '.join(fixed)} cannot be set: fixed for a reproducible 2-D run")
    accepted = set(inspect.signature(estimator).parameters) | set(extra)
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(unknown)}")


def _pacmap(vectors: np.ndarray, seed: int, settings: dict[str, object], logger: logging.Logger) -> np.ndarray:
    """PaCMAP, constructed and fitted together: its seed is a module global that any later constructor resets."""
    import pacmap

    _check("pacmap", pacmap.PaCMAP, settings, extra=("init",))
    settings = dict(settings)
    if settings["distance"] == "cosine":
        # PaCMAP has no "cosine"; "angular" is sqrt(2 (1 - cos)), which orders neighbours exactly as cosine does.
        settings["distance"] = "angular"
    init = settings.pop("init")
    with _pacmap_isolated(logger):
        return pacmap.PaCMAP(n_components=2, random_state=seed, **settings).fit_transform(vectors, init=init)


@contextlib.contextmanager
def _pacmap_isolated(logger: logging.Logger) -> Iterator[None]:
    """Undo what a seeded PaCMAP fit changes process-wide, and send its log records to `logger`.

    The fit sets faiss to one OpenMP thread, seeds NumPy's global RNG and keeps its seed in a module global.
    """
    import faiss

    module = importlib.import_module("pacmap.pacmap")
    threads, state, module_seed = faiss.omp_get_max_threads(), np.random.get_state(), module._RANDOM_STATE
    source = logging.getLogger("pacmap")
    handler, propagate = _Forward(logger), source.propagate
    source.addHandler(handler)
    source.propagate = False
    try:
        yield
    finally:
        source.removeHandler(handler)
        source.propagate = propagate
        module._RANDOM_STATE = module_seed
        np.random.set_state(state)
        faiss.omp_set_num_threads(threads)


class _Forward(logging.Handler):
    """Re-logs records on the caller's logger, so its level and handlers (the job log) decide."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.log(record.levelno, "pacmap: %s", record.getMessage())


def _use_numba_cache(folder: Path) -> None:
    """Point numba's on-disk cache at a writable folder (numba writes next to the package by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:
        from numba.core import config

        config.reload_config()
