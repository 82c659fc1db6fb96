import itertools

import numpy as np
import pytest
import torch
from sklearn.random_projection import SparseRandomProjection

from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.features.backbones import build_extractor
from defectlab.patchcore import coverage_radius, greedy_coreset
from defectlab.patchcore.greedy import fit_greedy
from defectlab.patchcore.training import stream


def first_index(rows: int, seed: int) -> int:
    """The random start: one draw of a torch.Generator seeded with `seed`."""
    return int(torch.randint(rows, (1,), generator=torch.Generator().manual_seed(seed))[0])


def reference(x: np.ndarray, size: int, first: int) -> list[int]:
    """Farthest-point selection written plainly in float64: the farthest untaken row, the lowest index on ties."""
    x = x.astype(np.float64)
    selected = [first]
    nearest = [np.inf] * len(x)
    while len(selected) < size:
        last = x[selected[-1]]
        nearest = [min(d, float(np.sqrt(((row - last) ** 2).sum()))) for d, row in zip(nearest, x, strict=True)]
        untaken = [i for i in range(len(x)) if i not in selected]
        farthest = max(nearest[i] for i in untaken)
        selected.append(min(i for i in untaken if nearest[i] == farthest))
    return selected


def selection_distances(x: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Distance of each selected row (after the first) to the rows selected before it."""
    x = x.astype(np.float64)
    return np.array([np.sqrt(((x[indices[:k]] - x[indices[k]]) ** 2).sum(1)).min() for k in range(1, len(indices))])


def point_sets() -> dict[str, np.ndarray]:
    """Sets full of ties and copies: small integer grids, few rows repeated; and plain gaussians."""
    rng = np.random.default_rng(0)
    few_rows = rng.integers(-2, 3, (6, 3))
    return {
        "integer grid": rng.integers(0, 4, (60, 2)).astype(np.float32),
        "few rows repeated": few_rows[rng.integers(0, 6, 40)].astype(np.float64),
        "far from the origin": (1000 + rng.integers(0, 3, (50, 3))).astype(np.float32),
        "gaussian": rng.normal(size=(80, 8)),
        "gaussian float32": rng.normal(size=(80, 8)).astype(np.float32),
    }


@pytest.mark.parametrize("name", list(point_sets()))
@pytest.mark.parametrize("size", [1, 2, 7, 30, "all"])
@pytest.mark.parametrize("chunk_size", [7, 65536])
def test_indices_equal_the_plain_reference(name, size, chunk_size):
    x = point_sets()[name]
    size = len(x) if size == "all" else size
    for seed in (0, 5):
        indices = greedy_coreset(torch.from_numpy(x), size, seed=seed, chunk_size=chunk_size)
        assert indices.dtype == torch.int64
        assert indices.tolist() == reference(x, size, first_index(len(x), seed))


@pytest.mark.parametrize("name", list(point_sets()))
def test_selection_distances_never_increase_and_are_the_coverage_radius(name):
    x = point_sets()[name]
    indices = greedy_coreset(torch.from_numpy(x), len(x)).numpy()
    assert sorted(indices) == list(range(len(x)))
    distances = selection_distances(x, indices)
    assert np.all(np.diff(distances) <= 0)
    # the k-center property: the row taken next is the one farthest from the first k
    features = torch.from_numpy(x).double()
    for k in (1, 3, 10):
        assert coverage_radius(features, features[indices[:k]]) == pytest.approx(distances[k - 1], abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_coverage_is_within_twice_the_optimal_radius(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(9, 2)) * rng.uniform(0.1, 3, 2)
    features = torch.from_numpy(x)
    pairs = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    optimum = min(pairs[:, list(centres)].min(1).max() for centres in itertools.combinations(range(9), 3))
    for start in range(3):
        indices = greedy_coreset(features, 3, seed=start)
        radius = coverage_radius(features, features[indices])
        assert optimum <= radius <= 2 * optimum + 1e-12


def test_projection_is_the_seeded_sparse_random_projection():
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(300, 32)))
    indices = greedy_coreset(x, 40, projection=8, seed=3)
    assert torch.equal(indices, greedy_coreset(x, 40, projection=8, seed=3))
    assert len(set(indices.tolist())) == 40 and indices.min() >= 0 and indices.max() < 300
    matrix = SparseRandomProjection(n_components=8, random_state=3).fit(x.numpy()).components_.toarray().T
    projected = x.numpy() @ matrix
    assert indices.tolist() == reference(projected, 40, first_index(300, 3))
    assert not torch.equal(indices, greedy_coreset(x, 40, seed=3))
    assert not torch.equal(indices, greedy_coreset(x, 40, projection=8, seed=4))


@pytest.mark.parametrize("chunk_size", [1, 3, 4096])
def test_coverage_radius_equals_brute_force(chunk_size):
    rng = np.random.default_rng(2)
    x, centres = rng.normal(size=(50, 5)), rng.normal(size=(7, 5))
    brute = np.sqrt(((x[:, None] - centres[None]) ** 2).sum(-1)).min(1).max()
    radius = coverage_radius(torch.from_numpy(x), torch.from_numpy(centres), chunk_size)
    assert isinstance(radius, float)
    assert radius == pytest.approx(brute, rel=1e-12)
    assert coverage_radius(torch.from_numpy(x), torch.from_numpy(x), chunk_size) == 0.0


@pytest.mark.parametrize(
    ("features", "size", "kwargs", "message"),
    [
        (torch.zeros(10, 3), 0, {}, r"size must be >= 1, got 0"),
        (torch.zeros(10, 3), 11, {}, r"size 11 is larger than the 10 feature rows"),
        (torch.zeros(10), 2, {}, r"expected \(N, D\) features, got shape \(10,\)"),
        (torch.zeros(10, 3), 2, {"chunk_size": 0}, r"chunk_size must be >= 1"),
        (torch.zeros(10, 3), 2, {"projection": -1}, r"projection must be >= 0"),
    ],
)
def test_bad_input_is_refused(features, size, kwargs, message):
    with pytest.raises(ValueError, match=message):
        greedy_coreset(features, size, **kwargs)


def test_fit_greedy_returns_stream_rows_with_their_ids(tiny_dataset, tmp_path):
    stores = [tmp_path / "a.h5", tmp_path / "b.h5"]
    write_patch_store(stores[0], tiny_dataset, ["s-0", "s-1"], PatchGrid(32, 32), 31)
    write_patch_store(stores[1], tiny_dataset, ["s-2"], PatchGrid(32, 32), 31)
    torch.manual_seed(0)
    extractor = build_extractor("tf_efficientnet_lite0", (2, 3), "none", 2, "cpu")
    batches = list(stream(extractor, stores, 3))
    rows = torch.cat([r for r, _ in batches])
    assert torch.equal(torch.cat([i for _, i in batches]), torch.arange(len(rows)))  # 12 patches x 4 x 4 cells

    features, ids = fit_greedy(extractor, stores, 20, batch_size=3, device="cpu", projection=16, seed=2)
    assert features.shape == (20, extractor.dim) and ids.dtype == torch.int64
    assert torch.equal(features, rows[ids])
    assert torch.equal(ids, greedy_coreset(rows, 20, projection=16, seed=2))
    with pytest.raises(ValueError, match=f"size {len(rows) + 1} is larger than the {len(rows)} feature rows"):
        fit_greedy(extractor, stores, len(rows) + 1, batch_size=3, device="cpu")
