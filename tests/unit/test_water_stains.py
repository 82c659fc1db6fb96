"""The NumPy reference of Algorithm 1 (water stains): decay law, exact neighbour search, density, thinning, seeds."""

import numpy as np
import pytest

from defectlab.synth.water_stains import cell_centre, nearest_centre, perlin, water_stains

SEED = 11
STAINS = {
    "cell": 0.03,
    "radius": 0.008,
    "frequency": 250.0,
    "amplitude": 0.002,
    "gamma": 3.0,
    "alpha": -0.35,
    "fraction": 1.0,
    "seed": SEED,
}


def _plane(side: float, spacing: float, z: float) -> np.ndarray:
    """A square grid of points with the given spacing on the plane z = const, from the origin to `side`."""
    x = (np.arange(round(side / spacing)) + 0.5) * spacing
    xx, yy = np.meshgrid(x, x, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel(), np.full(xx.size, z)])


def _perturbed_radius(points: np.ndarray, stains: dict) -> np.ndarray:
    return stains["radius"] + perlin(points * stains["frequency"], stains["seed"]) * stains["amplitude"]


def test_a_point_at_a_stain_centre_is_inside_and_keeps_its_reflectance():
    _, centres, _ = nearest_centre(np.random.default_rng(0).uniform(-1, 1, (50, 3)), STAINS["cell"], SEED)
    distance, _, _ = nearest_centre(centres, STAINS["cell"], SEED)
    assert (distance == 0).all()
    out, inside = water_stains(centres, 0.9, **STAINS)
    assert inside.all()
    np.testing.assert_array_equal(out, 0.9)


def test_inside_the_reflectance_changes_by_the_decay_law_and_outside_not_at_all():
    points = _plane(0.3, 0.002, z=0.011)
    distance, _, _ = nearest_centre(points, STAINS["cell"], SEED)
    perturbed = _perturbed_radius(points, STAINS)
    out, inside = water_stains(points, 0.0, **STAINS)
    assert 0.05 < inside.mean() < 0.5
    np.testing.assert_array_equal(inside, distance <= perturbed)
    np.testing.assert_array_equal(out[inside], (distance[inside] / perturbed[inside]) ** 3.0 * -0.35)
    np.testing.assert_array_equal(out[~inside], 0.0)
    assert np.abs(out).max() <= 0.35

    rgb = np.random.default_rng(1).uniform(0.5, 1.0, (len(points), 3))
    rgb_out, rgb_inside = water_stains(points, rgb, **STAINS)
    np.testing.assert_array_equal(rgb_inside, inside)
    np.testing.assert_array_equal(rgb_out[~inside], rgb[~inside])
    np.testing.assert_allclose(rgb_out - rgb, np.repeat(out[:, None], 3, axis=1), atol=1e-15)


def test_the_change_is_largest_at_the_rim_and_vanishes_just_past_it():
    stains = {**STAINS, "amplitude": 0.0}  # r' = radius exactly
    rng = np.random.default_rng(2)
    _, centres, _ = nearest_centre(rng.uniform(-1, 1, (40, 3)), stains["cell"], SEED)
    directions = rng.normal(size=(40, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    just_in = centres + directions * stains["radius"] * (1 - 1e-9)
    just_out = centres + directions * stains["radius"] * (1 + 1e-9)
    # A rim point may lie nearer another stain's centre; the rim of this one is where it does not.
    own = np.ones(len(centres), dtype=bool)
    for rim in (just_in, just_out):
        own &= (nearest_centre(rim, stains["cell"], SEED)[1] == centres).all(axis=1)
    assert own.sum() >= 30

    out_in, inside_in = water_stains(just_in[own], 0.0, **stains)
    out_out, inside_out = water_stains(just_out[own], 0.0, **stains)
    assert inside_in.all() and not inside_out.any()
    np.testing.assert_allclose(out_in, stains["alpha"], rtol=1e-6)
    np.testing.assert_array_equal(out_out, 0.0)


def test_the_27_cell_search_agrees_with_brute_force_on_every_inside_test():
    # radius + amplitude == cell: the largest stains the 27-cell search is meant to be exact for.
    stains = {**STAINS, "radius": 0.024, "amplitude": 0.006, "fraction": 0.6}
    cell = stains["cell"]
    points = np.random.default_rng(3).uniform(-0.2, 0.2, (4000, 3))
    base = np.floor(points / cell).astype(np.int64)
    best = np.full(len(points), np.inf)
    best_kept = np.zeros(len(points), dtype=bool)
    for offset in np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing="ij"), axis=-1).reshape(-1, 3):
        centres, kept_value = cell_centre(base + offset, SEED)
        distance = np.linalg.norm(points - centres * cell, axis=1)
        nearer = distance < best
        best = np.where(nearer, distance, best)
        best_kept = np.where(nearer, kept_value < stains["fraction"], best_kept)

    distance, _, kept = nearest_centre(points, cell, SEED, stains["fraction"])
    assert (distance >= best).all()
    close = best <= cell
    np.testing.assert_array_equal(distance[close], best[close])
    np.testing.assert_array_equal(kept[close], best_kept[close])

    _, inside = water_stains(points, 0.0, **stains)
    np.testing.assert_array_equal(inside, best_kept & (best <= _perturbed_radius(points, stains)))
    assert 0.1 < inside.mean() < 0.9


def _cover_and_density(cell: float, layer: int) -> tuple[float, float]:
    """Covered share of a plane and distinct stains per m^2 on it, with everything scaled with the cell.

    Samples (6 per cell along each side, over 50 x 50 cells), stain shape and the plane's height
    within a layer of cells are fixed in cell units (jittered sampling is only stationary under
    whole-cell shifts), so both cell sizes see the same random pattern in law; `layer` picks
    which cells the plane cuts. Boundary stains and missed tiny caps are then the same share.
    """
    stains = {**STAINS, "cell": cell, "radius": 0.4 * cell, "amplitude": 0.1 * cell, "frequency": 8.0 / cell}
    side = 50 * cell
    points = _plane(side, cell / 6, z=(layer + 0.3) * cell)
    _, centres, _ = nearest_centre(points, cell, SEED)
    _, inside = water_stains(points, 0.0, **stains)
    return inside.mean(), len(np.unique(centres[inside], axis=0)) / side**2


def test_halving_the_cell_size_keeps_the_covered_share_and_quadruples_the_stains_per_area():
    coarse_cover, coarse_density = _cover_and_density(0.04, layer=7)
    fine_cover, fine_density = _cover_and_density(0.02, layer=-4)
    assert coarse_density * (50 * 0.04) ** 2 > 1500  # enough stains for the ratios below to be tight
    assert 0.15 < coarse_cover < 0.35
    assert fine_cover == pytest.approx(coarse_cover, rel=0.1)
    assert fine_density / coarse_density == pytest.approx(4.0, rel=0.1)


def test_fraction_thins_the_stains():
    points = _plane(0.9, 0.005, z=0.2)
    inside = {f: water_stains(points, 0.0, **{**STAINS, "fraction": f})[1] for f in (1.0, 0.5, 0.0)}
    assert inside[1.0].mean() > 0.05
    assert not (inside[0.5] & ~inside[1.0]).any()  # thinning only removes whole stains
    assert inside[0.5].mean() / inside[1.0].mean() == pytest.approx(0.5, abs=0.08)
    assert not inside[0.0].any()


def test_the_same_seed_gives_the_same_stains_and_another_seed_others():
    points = _plane(0.3, 0.002, z=0.05)
    out, inside = water_stains(points, 0.9, **STAINS)
    again_out, again_inside = water_stains(points, 0.9, **STAINS)
    np.testing.assert_array_equal(out, again_out)
    np.testing.assert_array_equal(inside, again_inside)
    _, other = water_stains(points, 0.9, **{**STAINS, "seed": SEED + 1})
    assert (inside != other).mean() > 0.1

    # A point's result does not depend on which other points are queried with it.
    subset = np.random.default_rng(4).permutation(len(points))[:500]
    sub_out, sub_inside = water_stains(points[subset], 0.9, **STAINS)
    np.testing.assert_array_equal(sub_out, out[subset])
    np.testing.assert_array_equal(sub_inside, inside[subset])


def test_cell_centres_are_one_jittered_point_per_cell_whatever_the_query():
    cells = np.random.default_rng(5).integers(-(10**6), 10**6, (1000, 3))
    centres, kept_value = cell_centre(cells, SEED)
    assert ((centres >= cells) & (centres < cells + 1)).all()
    assert ((kept_value >= 0) & (kept_value < 1)).all()
    reversed_centres, reversed_kept = cell_centre(cells[::-1][:100], SEED)
    np.testing.assert_array_equal(reversed_centres, centres[::-1][:100])
    np.testing.assert_array_equal(reversed_kept, kept_value[::-1][:100])
    # Offsets and kept values look uniform and independent of each other.
    values = np.column_stack([centres - cells, kept_value])
    assert np.abs(values.mean(axis=0) - 0.5).max() < 0.05
    assert np.abs(np.corrcoef(values.T) - np.eye(4)).max() < 0.1
    assert not np.array_equal(cell_centre(cells, SEED + 1)[0], centres)


def test_perlin_is_zero_on_the_lattice_bounded_and_smooth():
    rng = np.random.default_rng(6)
    lattice = rng.integers(-50, 50, (200, 3)).astype(np.float64)
    np.testing.assert_array_equal(perlin(lattice, SEED), 0.0)
    values = perlin(rng.uniform(-50, 50, (20000, 3)), SEED)
    assert np.abs(values).max() <= 1.0 and values.std() > 0.15
    assert not np.array_equal(perlin(lattice + 0.5, SEED + 1), perlin(lattice + 0.5, SEED))

    # Slope and curvature are continuous across cell faces, where the two sides interpolate
    # different corners' gradients (a linear fade breaks the first, a cubic one the second).
    face = rng.uniform(-50, 50, (2000, 3))
    axis = rng.integers(0, 3, 2000)
    face[np.arange(2000), axis] = rng.integers(-50, 50, 2000)
    h = 1e-3
    step = np.zeros((2000, 3))
    step[np.arange(2000), axis] = h
    n = {k: perlin(face + k * step, SEED) for k in range(-3, 4)}
    assert np.abs((n[1] - n[0]) - (n[0] - n[-1])).max() / h < 0.05
    assert np.abs((n[3] - 2 * n[2] + n[1]) - (n[-1] - 2 * n[-2] + n[-3])).max() / h**2 < 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cell": 0.0}, r"cell must be > 0"),
        ({"radius": 0.0}, r"radius must be > 0"),
        ({"amplitude": -0.001}, r"amplitude must be >= 0"),
        ({"radius": 0.025, "amplitude": 0.006}, r"radius \+ amplitude \(0\.031\) must be <= cell \(0\.03\)"),
        ({"fraction": 1.5}, r"fraction must be in \[0, 1\]"),
        ({"fraction": -0.1}, r"fraction must be in \[0, 1\]"),
        ({"gamma": 0.0}, r"gamma must be > 0"),
    ],
)
def test_invalid_parameters_are_refused_with_the_reason(change, message):
    with pytest.raises(ValueError, match=message):
        water_stains(np.zeros((1, 3)), 0.9, **{**STAINS, **change})


def test_the_perturbed_radius_bound_explains_itself_and_points_need_three_coordinates():
    with pytest.raises(ValueError, match=r"neighbouring cell, which the 27-cell search covers"):
        water_stains(np.zeros((1, 3)), 0.9, **{**STAINS, "radius": 0.03, "amplitude": 0.001})
    with pytest.raises(ValueError, match=r"points must have shape \(n, 3\)"):
        water_stains(np.zeros((4, 2)), 0.9, **STAINS)
