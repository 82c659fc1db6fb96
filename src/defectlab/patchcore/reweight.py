"""Patch scores as the kitchen-board thesis computes them (ind_knn_ad's `PatchCore.forward`, seed 002 §4.2): the
most anomalous cell's distance s*, reweighted by how far the cell lies from the neighbours of its nearest
coreset point.

For the cell m_test with the largest nearest distance s* to its coreset point m*, take the k - 1 nearest other
coreset points of m* (k = 3: two) and their distances d_j to m_test; with D the feature dimension,
w = 1 - exp(s* / sqrt(D)) / sum_j exp(d_j / sqrt(D)) and the patch score is w * s*. This is not the PatchCore
paper's equation 7 (its softmax runs over the neighbours including m*); the thesis's rows used this form.
"""

import math

import torch


def reweighted_scores(
    cell_distances: torch.Tensor,
    nearest: torch.Tensor,
    cells: torch.Tensor,
    coreset: torch.Tensor,
    k: int = 3,
) -> torch.Tensor:
    """(B,) reweighted patch scores from each patch's (B, C) cell distances, (B, C) nearest coreset indices and
    (B, C, D) cell features; the coreset needs k points at least."""
    if k < 2:
        raise ValueError(f"the reweighting needs k >= 2 (m* and a neighbour), got {k}")
    if len(coreset) < k:
        raise ValueError(f"the reweighting with k = {k} needs a coreset of {k} points at least, got {len(coreset)}")
    cells = cells.to(coreset.device, coreset.dtype)
    s_star, s_idx = cell_distances.max(dim=1)
    rows = torch.arange(len(cells), device=cells.device)
    m_test = cells[rows, s_idx]  # (B, D)
    m_star = coreset[nearest[rows, s_idx]]  # (B, D)
    neighbours = torch.cdist(m_star, coreset).topk(k, dim=1, largest=False).indices[:, 1:]
    knn = torch.linalg.vector_norm(m_test[:, None, :] - coreset[neighbours], dim=2)  # (B, k - 1)
    scale = math.sqrt(cells.shape[-1])
    weight = 1 - torch.exp(s_star / scale) / torch.exp(knn / scale).sum(dim=1)
    return weight * s_star
