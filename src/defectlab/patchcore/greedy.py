"""Greedy k-center coreset (PatchCore, anomalib's KCenterGreedy): the baseline Sequential PatchCore is compared with.

Farthest-point selection: start from a random row, then repeatedly take the row farthest from
the rows taken so far. The coreset it builds covers every row within twice the optimal k-center
radius, but it needs every feature row in memory at once (O(N x D)), which is what the sequential
coreset avoids.

Ties go to the lowest row index, and a row is never taken twice: once every remaining row is a
copy of a taken one (all distances 0), anomalib's argmax can return a taken row again; here the
lowest untaken row comes next, so `size` may reach N.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from defectlab.patchcore.scoring import nearest_distances

STARTS = ("random", "first")

if TYPE_CHECKING:
    from defectlab.features.backbones import FeatureExtractor


def greedy_coreset(
    features: torch.Tensor,
    size: int,
    projection: int = 0,
    seed: int = 0,
    chunk_size: int = 65536,
    start: str = "random",
) -> torch.Tensor:
    """(size,) int64 indices of rows of `features` (N, D), in the order greedy k-center selects them.

    The first row is drawn by a torch.Generator seeded with `seed` (`start` "random"), or is row 0
    (`start` "first", as ind_knn_ad and the kitchen-board thesis). With `projection` > 0, distances
    are measured after a sparse random projection to that many dimensions (PatchCore's speed-up),
    its matrix drawn by sklearn with `random_state=seed`. Distances are Euclidean, on the features'
    device and in their dtype, `chunk_size` rows at a time so temporaries stay at chunk_size x D.
    """
    if start not in STARTS:
        raise ValueError(f"start must be one of {list(STARTS)}, got {start!r}")
    if features.ndim != 2:
        raise ValueError(f"expected (N, D) features, got shape {tuple(features.shape)}")
    _check_size(size, len(features))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if projection < 0:
        raise ValueError(f"projection must be >= 0, got {projection}")
    if projection:
        features = features @ _projection_matrix(features.shape, projection, seed).to(features.device, features.dtype)
    if start == "first":
        first = torch.zeros(1, dtype=torch.int64)
    else:
        first = torch.randint(len(features), (1,), generator=torch.Generator().manual_seed(seed))
    index = first.to(features.device)  # tensor indices throughout: no host synchronisation per step on a GPU
    selected = torch.empty(size, dtype=torch.int64, device=features.device)
    selected[0] = index[0]
    min_distances = torch.full((len(features),), math.inf, dtype=features.dtype, device=features.device)
    for k in range(1, size):
        point = features.index_select(0, index)
        for start in range(0, len(features), chunk_size):
            block = min_distances[start : start + chunk_size]
            distance = torch.linalg.vector_norm(features[start : start + chunk_size] - point, dim=1)
            torch.minimum(block, distance, out=block)
        min_distances.index_fill_(0, index, -math.inf)  # taken: below any distance, never the argmax again
        index = torch.argmax(min_distances).view(1)
        selected[k] = index[0]
    return selected


def coverage_radius(features: torch.Tensor, coreset: torch.Tensor, chunk_size: int = 4096) -> float:
    """The k-center objective: the largest distance from a row of `features` to its nearest coreset row."""
    distances = nearest_distances(features, coreset, chunk_size)
    return float(distances.max()) if len(distances) else 0.0


@dataclass(frozen=True)
class GreedySize:
    """How large a greedy coreset is and what it measures distances in: `size` points, or `fraction` of the
    N feature rows (int(fraction * N), at least 1: the thesis's 1 %); a projection of `projection`
    dimensions, or of the Johnson-Lindenstrauss dimension of N rows at distortion `eps` (ind_knn_ad's
    SparseRandomProjection(eps=0.9)); `start` the first row ("random" or "first")."""

    size: int | None = None
    fraction: float | None = None
    projection: int = 0
    eps: float | None = None
    start: str = "random"

    @classmethod
    def from_config(cls, coreset: dict) -> "GreedySize":
        fraction = coreset.get("fraction")
        return cls(
            size=None if fraction is not None else coreset["size"],
            fraction=fraction,
            projection=coreset.get("projection", 0),
            eps=coreset.get("eps"),
            start=coreset.get("start", "random"),
        )

    def points(self, rows: int) -> int:
        return max(1, int(self.fraction * rows)) if self.fraction is not None else int(self.size)

    def dimensions(self, rows: int) -> int:
        """The projection's dimensions for `rows` feature rows (0: none)."""
        if self.eps is None:
            return self.projection
        from sklearn.random_projection import johnson_lindenstrauss_min_dim

        return int(johnson_lindenstrauss_min_dim(rows, eps=self.eps))


def fit_greedy(
    extractor: "FeatureExtractor",
    stores: Sequence[Path],
    size: "int | GreedySize",
    batch_size: int,
    device: str,
    projection: int = 0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, D) coreset features and their (M,) int64 stream ids, by greedy k-center over all stream rows.

    `size` is M, or a GreedySize (M and the projection from the row count; `projection` is then ignored).
    Every feature row of the stores is held on `device` at once: the baseline's O(N x D) memory.
    The row count is known from the stores, so a too large size is refused before extraction.
    """
    from defectlab.patchcore.training import stream, stream_rows  # timm: kept out of `import defectlab.patchcore`

    total = stream_rows(extractor, stores)
    rule = size if isinstance(size, GreedySize) else GreedySize(size=size, projection=projection)
    points, dimensions = rule.points(total), rule.dimensions(total)
    _check_size(points, total)
    print(f"greedy k-center: {points} of {total} feature rows, projection {dimensions or 'none'}", flush=True)
    features = torch.empty(total, extractor.dim, device=device)
    for rows, ids in stream(extractor, stores, batch_size):
        features.index_copy_(0, ids.to(device), rows.to(device))
    indices = greedy_coreset(features, points, projection=dimensions, seed=seed, start=rule.start)
    return features[indices], indices


def _check_size(size: int, rows: int) -> None:
    if size < 1:
        raise ValueError(f"coreset size must be >= 1, got {size}")
    if size > rows:
        raise ValueError(f"coreset size {size} is larger than the {rows} feature rows available")


def _projection_matrix(shape: torch.Size, projection: int, seed: int) -> torch.Tensor:
    """(D, projection) dense sparse-random-projection matrix; sklearn only reads the shape it is fitted on."""
    import scipy.sparse  # sklearn and scipy: kept out of `import defectlab.patchcore`
    from sklearn.random_projection import SparseRandomProjection

    empty = scipy.sparse.csr_matrix(tuple(shape), dtype="float64")  # the shape without an N x D copy
    model = SparseRandomProjection(n_components=projection, random_state=seed).fit(empty)
    return torch.from_numpy(model.components_.toarray()).T
