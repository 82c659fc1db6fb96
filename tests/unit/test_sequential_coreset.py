import math

import numpy as np
import pytest
import torch
from coreset_reference import reference

from defectlab.patchcore import SequentialCoreset, meld
from defectlab.patchcore.sequential import MAX_SIZE, _gram_part, pairwise


def feed(stream: np.ndarray, size: int, batch_size: int, ids: np.ndarray) -> tuple[SequentialCoreset, int]:
    coreset = SequentialCoreset(size)
    replaced = 0
    for start in range(0, len(stream), batch_size):
        stop = start + batch_size
        replaced += coreset.update(torch.from_numpy(stream[start:stop]), ids=torch.from_numpy(ids[start:stop]))
    return coreset, replaced


def streams() -> dict[str, np.ndarray]:
    """Streams full of ties: small integers drawn from few rows, so rows repeat and many distances are equal."""
    rng = np.random.default_rng(1)
    few_rows = rng.integers(-2, 3, (25, 3)).astype(np.float32)
    grid = rng.integers(0, 4, (40, 2)).astype(np.float32)
    return {
        "repeated integer rows": few_rows[rng.integers(0, 25, 300)],
        "integer grid, many equal distances": grid[rng.integers(0, 40, 300)],
        "far from the origin": 1000 + few_rows[rng.integers(0, 25, 300)],
        "tiny spacing far from the origin": 1e4 + 1e-5 * rng.normal(size=(300, 6)),  # float64; Gram is all rounding
        "float32, tiny spacing far from the origin": (1e3 + 1e-2 * rng.normal(size=(300, 6))).astype(np.float32),
        "gaussian": rng.normal(size=(300, 6)).astype(np.float32),
        "wide gaussian": rng.normal(size=(300, 152)).astype(np.float32),
    }


@pytest.mark.parametrize("name", list(streams()))
@pytest.mark.parametrize("size", [1, 2, 5, 16])
def test_update_follows_the_rule_for_any_batch_size(name, size):
    stream = streams()[name]
    ids = 1000 + np.arange(len(stream))
    points, origin, replaced = reference(stream, size, ids)
    for batch_size in (1, 7, len(stream)):
        coreset, count = feed(stream, size, batch_size, ids)
        assert np.array_equal(coreset.features.numpy(), points), batch_size
        assert np.array_equal(coreset.origin.numpy(), origin), batch_size
        assert count == replaced
    if size > 1:
        dist = np.sqrt(((points[:, None].astype(np.float64) - points[None]) ** 2).sum(axis=2))
        np.fill_diagonal(dist, np.inf)
        assert coreset.min_distance == pytest.approx(dist.min(), rel=1e-12)


def test_several_epochs_follow_the_rule():
    stream = streams()["integer grid, many equal distances"]
    ids = np.arange(len(stream))
    points, origin, _ = reference(np.concatenate([stream] * 3), 8, np.concatenate([ids] * 3))
    coreset = SequentialCoreset(8)
    for _ in range(3):
        for start in range(0, len(stream), 64):
            coreset.update(torch.from_numpy(stream[start : start + 64]), ids=torch.from_numpy(ids[start : start + 64]))
    assert np.array_equal(coreset.features.numpy(), points)
    assert np.array_equal(coreset.origin.numpy(), origin)


def test_filling_adds_every_vector_and_counts_no_replacement():
    coreset = SequentialCoreset(4)
    assert coreset.min_distance == math.inf and len(coreset.features) == 0
    assert coreset.update(torch.tensor([[0.0, 0.0]])) == 0
    assert coreset.min_distance == math.inf
    assert coreset.update(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == 0  # a duplicate is added too
    assert coreset.min_distance == 0
    assert coreset.features.tolist() == [[0, 0], [0, 0], [3, 4]]
    assert coreset.origin.tolist() == [0, 1, 2]  # ids default to the order of arrival


def test_min_distance_never_decreases_over_a_long_stream():
    stream = torch.randn(4000, 8, generator=torch.Generator().manual_seed(2))
    coreset = SequentialCoreset(32)
    history = []
    for rows in stream.split(16):
        coreset.update(rows)
        history.append(coreset.min_distance)
    full = np.array(history[2:])  # from the first batch after the coreset is full
    assert np.all(np.diff(full) >= 0)
    assert full[-1] > full[0]


def converge(
    stream: torch.Tensor, size: int, max_epochs: int = 30, ids: torch.Tensor | None = None
) -> tuple[SequentialCoreset, list[int]]:
    """Epochs over `stream` (fed 100 rows at a time) until one makes no replacement; replacements per epoch."""
    ids = torch.arange(len(stream)) if ids is None else ids
    coreset, counts = SequentialCoreset(size), []
    for _ in range(max_epochs):
        counts.append(
            sum(coreset.update(batch, ids=i) for batch, i in zip(stream.split(100), ids.split(100), strict=True))
        )
        if counts[-1] == 0:
            break
    return coreset, counts


def test_epochs_end_with_no_replacement_and_stay_there():
    stream = torch.randn(1500, 16, generator=torch.Generator().manual_seed(3))
    coreset, counts = converge(stream, 64)
    assert counts[0] > 0 and counts[-1] == 0
    before = coreset.features.clone(), coreset.origin.clone(), coreset.min_distance
    assert coreset.update(stream) == 0
    assert torch.equal(coreset.features, before[0]) and torch.equal(coreset.origin, before[1])
    assert coreset.min_distance == before[2]


@pytest.mark.parametrize(("offset", "scale"), [(0.0, 1.0), (300.0, 1e-3)])
def test_a_twin_never_replaces_anything(offset, scale):
    """Copies of coreset points, alone or among the stream it converged on, cause no replacement.

    Far from the origin with tiny spacing, a float32 Gram-matrix distance puts a twin ~0.1 away,
    far more than d_m: a coreset mixing distance routines would swap points with twins forever.
    """
    generator = torch.Generator().manual_seed(4)
    stream = offset + scale * torch.randn(400, 24, generator=generator)
    coreset, counts = converge(stream, 48)
    assert counts[-1] == 0
    twins = coreset.features[torch.randint(0, 48, (600,), generator=generator)]
    assert coreset.update(twins) == 0
    mixed = torch.cat([twins, stream])
    assert coreset.update(mixed[torch.randperm(len(mixed), generator=generator)]) == 0


def test_pairwise_depends_only_on_the_two_vectors():
    generator = torch.Generator().manual_seed(5)
    a = 50 + torch.randn(37, 152, generator=generator)
    b = torch.cat([a[:5], 50 + torch.randn(300, 152, generator=generator)])
    full = pairwise(a, b)
    assert full.dtype == torch.float64
    assert torch.equal(full, pairwise(b, a).T)
    assert all(torch.equal(full[i], pairwise(a[i : i + 1], b)[0]) for i in range(len(a)))
    assert torch.equal(full[:5, :5].diagonal(), torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close(full, torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist"))


def shard_coresets(seed: int, size: int, rows: int, dim: int) -> list[SequentialCoreset]:
    """Three coresets of shifted Gaussian shards, the ids of shard k starting at 1000 k."""
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for shift in range(3):
        coreset = SequentialCoreset(size)
        coreset.update(shift + torch.randn(rows, dim, generator=generator), ids=shift * 1000 + torch.arange(rows))
        parts.append(coreset)
    return parts


def test_meld_equals_feeding_the_concatenated_coresets():
    parts = shard_coresets(seed=6, size=40, rows=300, dim=10)
    melded = meld(parts, size=50)
    fresh = SequentialCoreset(50)
    fresh.update(torch.cat([part.features for part in parts]), ids=torch.cat([part.origin for part in parts]))
    assert len(melded.features) == 50
    assert torch.equal(melded.features, fresh.features) and torch.equal(melded.origin, fresh.origin)
    assert melded.min_distance == fresh.min_distance
    assert len(meld(parts[:1], size=64).features) == 40  # fewer points than the size: all kept


def test_meld_epochs_repeat_the_passes_until_no_replacement():
    parts = shard_coresets(seed=7, size=30, rows=200, dim=8)
    history: list[int] = []
    melded = meld(parts, size=40, max_epochs=20, history=history)
    points, ids = torch.cat([part.features for part in parts]), torch.cat([part.origin for part in parts])
    reference, passes = converge(points, 40, max_epochs=20, ids=ids)
    assert history == passes and history[-1] == 0 and len(history) > 1
    assert torch.equal(melded.features, reference.features) and torch.equal(melded.origin, reference.origin)
    one_pass: list[int] = []
    meld(parts, size=40, history=one_pass)
    assert one_pass == passes[:1]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="size"):
        SequentialCoreset(0)
    coreset = SequentialCoreset(4)
    coreset.update(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="dimensions"):
        coreset.update(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="ids"):
        coreset.update(torch.zeros(2, 3), ids=torch.arange(3))
    with pytest.raises(ValueError, match="nothing to meld"):
        meld([], size=4)
    with pytest.raises(ValueError, match="max_epochs"):
        meld([coreset], size=4, max_epochs=0)


def test_a_size_whose_distance_matrix_cannot_fit_is_refused_naming_the_config_key():
    SequentialCoreset(MAX_SIZE)  # nothing is allocated before the first vector
    with pytest.raises(ValueError, match=r"coreset size 1000000 is above 65536: .* 7,451 GiB; lower coreset.size"):
        SequentialCoreset(1_000_000)


def test_storage_grows_with_the_points_held():
    stream = streams()["gaussian"]
    coreset = SequentialCoreset(MAX_SIZE)
    coreset.update(torch.from_numpy(stream[:5]))
    coreset.update(torch.from_numpy(stream[5:7]))
    assert coreset._dist.shape == (10, 10) and coreset.count == 7  # doubled from 5, not MAX_SIZE
    coreset.update(torch.from_numpy(stream[7:]))
    assert coreset.count == len(stream) and coreset._dist.shape == (len(stream), len(stream))
    np.testing.assert_array_equal(coreset.features.numpy(), stream)  # a stream smaller than the size: all kept


@pytest.fixture
def bf16_products():
    """Float32 matrix products on the CPU with bf16 inputs, as a process-wide setting of another library might ask."""
    before = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    yield
    torch.backends.mkldnn.matmul.fp32_precision = before


@pytest.mark.parametrize("name", ["float32, tiny spacing far from the origin", "wide gaussian", "gaussian"])
def test_reduced_precision_products_leave_the_rule_exact_and_the_setting_alone(bf16_products, name):
    stream = streams()[name]
    ids = np.arange(len(stream))
    points, origin, replaced = reference(stream, 16, ids)
    coreset, count = feed(stream, 16, len(stream), ids)
    assert np.array_equal(coreset.features.numpy(), points) and np.array_equal(coreset.origin.numpy(), origin)
    assert count == replaced
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"  # read, never changed


def test_the_screen_product_is_float32_accurate_under_reduced_precision_settings(bf16_products):
    rng = np.random.default_rng(4)
    rows, points = (torch.from_numpy(rng.normal(10, 1, (64, 152)).astype(np.float32)) for _ in range(2))
    norms2 = points.square().sum(1)
    exact = norms2.double() - 2 * rows.double() @ points.double().T
    gram = _gram_part(norms2, rows, points)
    assert gram.dtype == torch.float32
    eps = torch.finfo(torch.float32).eps
    assert ((gram.double() - exact).abs() <= 4 * eps * (norms2.double() + rows.double().square().sum(1)[:, None])).all()
