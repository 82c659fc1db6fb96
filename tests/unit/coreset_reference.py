"""The sequential rule written plainly, the reference the fast coreset is checked against."""

import numpy as np


def reference(stream: np.ndarray, size: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The rule written plainly: one vector at a time, distances recomputed from scratch in float64."""
    points: list[np.ndarray] = []
    origin: list[int] = []
    replaced = 0
    for p, i in zip(stream.astype(np.float64), ids, strict=True):
        if len(points) < size:
            points.append(p)
            origin.append(int(i))
            continue
        coreset = np.array(points)
        d_p = np.sqrt(((coreset - p) ** 2).sum(axis=1)).min()
        dist = np.sqrt(((coreset[:, None] - coreset[None]) ** 2).sum(axis=2))
        np.fill_diagonal(dist, np.inf)
        d_m = dist.min()
        if d_p > d_m:
            r = min(i for i in range(size) if any(dist[i, j] == d_m for j in range(size) if j != i))
            points[r], origin[r] = p, int(i)
            replaced += 1
    return np.array(points), np.array(origin), replaced
