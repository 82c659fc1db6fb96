"""Patch anomaly scores: the distance of each feature vector to its nearest coreset point."""

import torch


def nearest_distances(features: torch.Tensor, coreset: torch.Tensor, chunk_size: int = 2048) -> torch.Tensor:
    """(N,) Euclidean distance of each row of `features` (N, D) to its nearest row of `coreset` (M, D)."""
    return nearest_points(features, coreset, chunk_size)[0]


def nearest_points(
    features: torch.Tensor, coreset: torch.Tensor, chunk_size: int = 2048
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) distances of the rows of `features` (N, D) to their nearest rows of `coreset` (M, D), and (N,)
    int64 indices of those rows.

    Rows are taken `chunk_size` at a time so that memory stays at chunk_size x M distances
    (the paper's chunking); the work runs on the coreset's device, in its dtype. The nearest point
    is found with the fast matrix-product distances, then its distance is recomputed from the
    difference: the product form loses the small distances to cancellation (a copy of a coreset
    point would score ~1e-3 instead of 0 in float32).
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if len(coreset) == 0:
        raise ValueError("the coreset is empty")
    if features.shape[1:] != coreset.shape[1:]:
        raise ValueError(f"features {tuple(features.shape)} and coreset {tuple(coreset.shape)} differ in width")
    features = features.to(coreset.device, coreset.dtype)
    scores = torch.empty(len(features), dtype=coreset.dtype, device=coreset.device)
    indices = torch.empty(len(features), dtype=torch.int64, device=coreset.device)
    for start in range(0, len(features), chunk_size):
        chunk = features[start : start + chunk_size]
        nearest = torch.cdist(chunk, coreset).argmin(dim=1)
        scores[start : start + len(chunk)] = torch.linalg.vector_norm(chunk - coreset[nearest], dim=1)
        indices[start : start + len(chunk)] = nearest
    return scores, indices
