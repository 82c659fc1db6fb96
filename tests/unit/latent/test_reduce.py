import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from defectlab.latent.reduce import REDUCERS, reduce

SEED = 7

# Reduces the saved vectors (argv[1]) in a fresh interpreter and prints one hash per reducer.
SCRIPT = """
import hashlib, sys
import numpy as np
from defectlab.latent.reduce import REDUCERS, reduce
vectors = np.load(sys.argv[1])
for name in REDUCERS:
    print(name, hashlib.sha256(reduce(name, vectors, 7).tobytes()).hexdigest())
"""

# numba already loaded, then `reduce` asked for a cache folder (argv[1]): a cached function must land there.
# A file, not `python -c`: numba caches only functions defined in a source file.
CACHE_SCRIPT = """
import sys
import numba
import numpy as np
from defectlab.latent.reduce import reduce
reduce("isomap", np.random.default_rng(0).normal(size=(20, 4)), 0, numba_cache_dir=sys.argv[1])

@numba.njit(cache=True)
def double(x):
    return 2 * x

print(double(21))
"""


def _digest(embedding: np.ndarray) -> str:
    return hashlib.sha256(embedding.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    """90 × 32 points in three overlapping Gaussian blobs (overlapping: ISOMAP's graph stays connected)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 0.6, (3, 32))
    return centres[np.repeat(np.arange(3), 30)] + rng.normal(0, 1.0, (90, 32))


@pytest.fixture(scope="module")
def twice(vectors) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each reducer run twice with the same seed in this process (pays the numba JIT once for the module)."""
    return {name: (reduce(name, vectors, SEED), reduce(name, vectors, SEED)) for name in REDUCERS}


@pytest.mark.parametrize("name", REDUCERS)
def test_same_seed_same_bytes_in_one_process(twice, vectors, name: str):
    first, second = twice[name]
    assert first.shape == (len(vectors), 2)
    assert first.dtype == np.float64
    assert np.isfinite(first).all()
    assert first.tobytes() == second.tobytes()


def test_isomap_is_identical_above_200_points_where_its_auto_solver_would_take_arpack():
    """scikit-learn's "auto" solver switches to ARPACK (an unseeded start vector) for n > 200: two fits differ."""
    rng = np.random.default_rng(1)
    many = rng.normal(0, 1.0, (240, 32))
    assert reduce("isomap", many, SEED).tobytes() == reduce("isomap", many, SEED).tobytes()


@pytest.mark.parametrize("name", ["umap", "pacmap"])
def test_another_seed_gives_another_embedding(twice, vectors, name: str):
    assert reduce(name, vectors, SEED + 1).tobytes() != twice[name][0].tobytes()


def test_same_seed_same_bytes_in_two_processes(twice, vectors, tmp_path: Path):
    """Two fresh interpreters, run side by side, print the hashes of this process's embeddings."""
    np.save(tmp_path / "vectors.npy", vectors)
    command = [sys.executable, "-c", SCRIPT, str(tmp_path / "vectors.npy")]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    expected = "".join(f"{name} {_digest(twice[name][0])}\n" for name in REDUCERS)
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert stdout == expected


def test_numba_cache_folder_is_used_when_asked(tmp_path: Path):
    script, cache = tmp_path / "cache_check.py", tmp_path / "numba-cache"
    script.write_text(CACHE_SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(cache)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"
    assert any(cache.rglob("*.nbi"))


def test_pacmap_leaves_faiss_threads_numpy_rng_and_its_seed_as_they_were(twice, vectors):
    pacmap_module = sys.modules["pacmap.pacmap"]
    threads, module_seed = faiss.omp_get_max_threads(), pacmap_module._RANDOM_STATE
    faiss.omp_set_num_threads(3)
    np.random.seed(12345)
    before = np.random.get_state()
    expected_draw = np.random.random()
    np.random.set_state(before)
    try:
        reduce("pacmap", vectors, SEED)
        assert faiss.omp_get_max_threads() == 3
        assert np.random.random() == expected_draw
        assert module_seed == pacmap_module._RANDOM_STATE
    finally:
        faiss.omp_set_num_threads(threads)


def test_pacmap_messages_go_to_the_callers_logger(twice, vectors, caplog):
    source = logging.getLogger("pacmap")
    handlers, propagate = list(source.handlers), source.propagate
    caplog.set_level(logging.INFO)
    reduce("pacmap", vectors, SEED, logger=logging.getLogger("job"))
    assert [r.getMessage() for r in caplog.records if r.name == "job"] == [
        f"pacmap: Warning: random state is set to {SEED}."
    ]
    assert not [r for r in caplog.records if r.name.startswith("pacmap")]
    assert (source.handlers, source.propagate) == (handlers, propagate)


def test_pacmap_cosine_is_its_angular_distance(twice, vectors):
    cosine = reduce("pacmap", vectors, SEED, distance="cosine")
    assert cosine.tobytes() == reduce("pacmap", vectors, SEED, distance="angular").tobytes()
    assert cosine.tobytes() != twice["pacmap"][0].tobytes()


def test_parameters_reach_the_library(twice, vectors):
    assert reduce("isomap", vectors, SEED, n_neighbors=10).tobytes() != twice["isomap"][0].tobytes()


def test_unknown_reducer_names_the_valid_ones(vectors):
    with pytest.raises(ValueError, match="unknown reducer 'tsne': expected one of isomap, umap, pacmap"):
        reduce("tsne", vectors, SEED)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("isomap", {"eigen_solver": "arpack"}, "isomap: eigen_solver cannot be set"),
        ("umap", {"random_state": 1}, "umap: random_state cannot be set"),
        ("pacmap", {"n_components": 3}, "pacmap: n_components cannot be set"),
        ("umap", {"n_neighbours": 5}, r"umap: unknown parameter\(s\) n_neighbours"),
    ],
)
def test_fixed_and_unknown_parameters_are_refused_by_name(vectors, name: str, params: dict, message: str):
    with pytest.raises(ValueError, match=message):
        reduce(name, vectors, SEED, **params)
