"""NumPy reference of Algorithm 1 (water stain generation), the model the Blender shader implements.

Stains are spheres in 3-D around one jittered point per grid cell of size G (the shader's
Voronoi F1 with randomness 1); a surface point p is inside when its distance d to the
nearest centre is at most the Perlin-perturbed radius r' = r + Perlin(p f) A, and inside it
the reflectance changes by (d / r')^gamma alpha. The plate is a plane cut through this 3-D
field, so a stain shows as a disc whose size depends on where the plane cuts its sphere.

Randomness is counter-based: every random value is a splitmix64 hash of (seed, stream,
integer cell or lattice coordinates), vectorised over uint64 with wrapping arithmetic. A cell
therefore gets the same centre whatever points are queried, in whatever order or batch. The
hash is not Blender's, so the shader and this reference draw the same law of stains, not the
same stains.
"""

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's increment, 2^64 / golden ratio
_CENTRE_STREAM = 1  # keeps the centres' and the gradients' hashes of one cell independent
_GRADIENT_STREAM = 2

# Corners of the unit cube, and the 12 cube-edge gradients of Perlin's improved noise.
_CORNERS = np.array([[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)], dtype=np.int64)
_GRADIENTS = np.array(
    [[1, 1, 0], [-1, 1, 0], [1, -1, 0], [-1, -1, 0], [1, 0, 1], [-1, 0, 1]]
    + [[1, 0, -1], [-1, 0, -1], [0, 1, 1], [0, -1, 1], [0, 1, -1], [0, -1, -1]],
    dtype=np.float64,
)
# The 27-cell neighbourhood: a point's own cell and its 26 neighbours.
_NEIGHBOURS = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's step and output mix: a bijection of uint64 whose every output bit depends on every input bit."""
    z = x + _GOLDEN
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _hash_cells(cells: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """One uint64 key per integer (i, j, k), chained through splitmix64 from the seed and stream."""
    key = _splitmix64(np.array([(seed ^ (stream << 56)) & _MASK64], dtype=np.uint64))
    for axis in range(3):
        key = _splitmix64(key ^ cells[:, axis].view(np.uint64))
    return key


def _uniforms(key: np.ndarray, count: int) -> np.ndarray:
    """(n, count) uniforms in [0, 1): the first `count` values of the splitmix64 stream seeded with each key."""
    bits = _splitmix64(key[:, None] + np.arange(count, dtype=np.uint64) * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _around(base: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells u + offset for each distinct base cell u, as (m * k, 3), and the row of each point's base in u.

    Nearby points share cells, so hashing each distinct cell once saves most of the work on dense queries.
    """
    unique, inverse = np.unique(base, axis=0, return_inverse=True)
    return (unique[:, None, :] + offsets).reshape(-1, 3), inverse.reshape(-1)


def _as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape (n, 3), got {points.shape}")
    return points


def cell_centre(cells: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Jittered stain centres (grid units: cell + uniform offset in [0, 1)^3) and each cell's kept value in [0, 1).

    A pure function of (seed, cell), so neighbouring points that query the same cell agree.
    """
    cells = np.asarray(cells, dtype=np.int64)
    if cells.ndim != 2 or cells.shape[1] != 3:
        raise ValueError(f"cells must have shape (n, 3), got {cells.shape}")
    values = _uniforms(_hash_cells(cells, seed, _CENTRE_STREAM), 4)
    return cells + values[:, :3], values[:, 3]


def perlin(points: np.ndarray, seed: int) -> np.ndarray:
    """Perlin's 3-D gradient noise with unit lattice spacing, in [-1, 1]: 0 at lattice points, C2 (quintic fade).

    The improved (2002) form: 12 cube-edge gradients, here picked by hashing the lattice point
    rather than from a 256-entry permutation table, so the noise does not repeat. A numerical
    search finds no value beyond +-1, which a cell centre reaches when all 8 gradients point at
    it; the clip makes the bound that `water_stains` relies on (r' <= radius + amplitude) certain.
    """
    points = _as_points(points)
    base = np.floor(points)
    offset = points - base
    corners, rows = _around(base.astype(np.int64), _CORNERS)
    keys = _hash_cells(corners, seed, _GRADIENT_STREAM)
    gradients = _GRADIENTS[keys % np.uint64(len(_GRADIENTS))].reshape(-1, 8, 3)[rows]  # (n, 8, 3)
    dots = np.einsum("ncd,ncd->nc", gradients, offset[:, None, :] - _CORNERS)
    fade = offset**3 * (offset * (offset * 6.0 - 15.0) + 10.0)
    weights = np.where(_CORNERS == 1, fade[:, None, :], 1.0 - fade[:, None, :]).prod(axis=-1)
    return np.clip((weights * dots).sum(axis=1), -1.0, 1.0)


def nearest_centre(
    points: np.ndarray, cell: float, seed: int, fraction: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance (m) to the nearest stain centre among the 27 cells around each point, that centre (m), and whether
    its cell holds a stain (kept value < fraction).

    Like the shader (Voronoi F1, then the cell's random colour against the fraction), the nearest
    centre is taken over all cells and only then tested for being kept, so a dropped cell still
    hides a kept stain farther away.
    """
    points = _as_points(points)
    if not cell > 0:
        raise ValueError(f"cell must be > 0, got {cell}")
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    cells, rows = _around(np.floor(points / cell).astype(np.int64), _NEIGHBOURS)
    centres, kept_value = cell_centre(cells, seed)
    centres = centres.reshape(-1, 27, 3)[rows] * cell  # (n, 27, 3)
    offsets = points[:, None, :] - centres
    nearest = np.einsum("nkd,nkd->nk", offsets, offsets).argmin(axis=1)
    points_index = np.arange(len(points))
    centre = centres[points_index, nearest]
    kept = kept_value.reshape(-1, 27)[rows, nearest] < fraction
    return np.linalg.norm(points - centre, axis=1), centre, kept


def water_stains(
    points: np.ndarray,
    reflectance_in: np.ndarray | float,
    *,
    cell: float,
    radius: float,
    frequency: float,
    amplitude: float,
    gamma: float,
    alpha: float,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 on surface points (n, 3) in metres: output reflectance and whether each point is inside a stain.

    r' = radius + Perlin(points * frequency) * amplitude (frequency in 1/m); inside iff the nearest
    centre's cell is kept and d <= r'; there R_out = R_in + (d / r')^gamma * alpha, so the centre
    keeps R_in and the rim changes by alpha.
    `reflectance_in` is a scalar, (n,) or (n, channels); every channel changes by the same amount.

    radius + amplitude <= cell is required because it makes the 27-cell search exact for the
    inside test: a centre within r' <= G of p differs from p by at most G along each axis, so
    it lies in p's own cell or a neighbouring one.
    """
    if not cell > 0:
        raise ValueError(f"cell must be > 0, got {cell}")
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if not amplitude >= 0:
        raise ValueError(f"amplitude must be >= 0, got {amplitude}")
    if radius + amplitude > cell:
        raise ValueError(
            f"radius + amplitude ({radius + amplitude}) must be <= cell ({cell}): only then does every centre"
            " within the perturbed radius lie in a point's own or a neighbouring cell, which the 27-cell search covers"
        )
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    points = _as_points(points)
    distance, _, kept = nearest_centre(points, cell, seed, fraction)
    perturbed = radius + perlin(points * frequency, seed) * amplitude
    inside = kept & (distance <= perturbed)
    ratio = np.divide(distance, perturbed, out=np.zeros_like(distance), where=inside)
    change = ratio**gamma * alpha  # ratio is 0 outside, and so is the change
    reflectance_in = np.asarray(reflectance_in, dtype=np.float64)
    return reflectance_in + change.reshape(change.shape + (1,) * (reflectance_in.ndim - 1)), inside
