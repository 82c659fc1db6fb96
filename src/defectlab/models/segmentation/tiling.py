"""Tiled prediction as the clutch paper evaluates (§5.1): images halved, zero-padded at the bottom and right to a
multiple of 96, cut into 416 x 352 (W x H) tiles, predicted tile by tile, stitched, and the padding cut away.

A halved 2448 x 2050 image is 1224 x 1025, padded 1248 x 1056, exactly 3 x 3 tiles. Other datasets' sizes need
not tile exactly: the last row and column of tiles are then placed flush with the edge, overlapping their
neighbours, and overlapping predictions are averaged.
"""

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


def pad_to_multiple(
    image: np.ndarray | torch.Tensor, multiple: int | tuple[int, int]
) -> tuple[np.ndarray | torch.Tensor, tuple[int, int]]:
    """`image` (C, H, W) zero-padded at the bottom and right to a multiple of `multiple` (one int, or (h, w)), and
    its original (H, W) to cut the padding away again."""
    multiple_h, multiple_w = (multiple, multiple) if isinstance(multiple, int) else multiple
    if multiple_h < 1 or multiple_w < 1:
        raise ValueError(f"pad multiple must be positive, got {multiple}")
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % multiple_h, -width % multiple_w
    if isinstance(image, torch.Tensor):
        return F.pad(image, (0, pad_w, 0, pad_h)), (height, width)
    return np.pad(image, ((0, 0), (0, pad_h), (0, pad_w))), (height, width)


def _starts(size: int, tile: int) -> list[int]:
    """Tile starts along one axis: a grid of `tile`, the last one moved back flush with the edge if it overhangs."""
    starts = list(range(0, size - tile + 1, tile))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def tile_corners(height: int, width: int, tile_h: int, tile_w: int) -> list[tuple[int, int]]:
    """(top, left) of every tile, row by row, covering a `height` x `width` image with `tile_h` x `tile_w` tiles."""
    if tile_h < 1 or tile_w < 1:
        raise ValueError(f"tile size must be positive, got {tile_h} x {tile_w}")
    if tile_h > height or tile_w > width:
        raise ValueError(f"tile {tile_h} x {tile_w} (h x w) is larger than the image {height} x {width}")
    return [(top, left) for top in _starts(height, tile_h) for left in _starts(width, tile_w)]


@torch.no_grad()
def predict_tiled(
    predict: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    tile: tuple[int, int],
    multiple: int | tuple[int, int],
    batch: int = 4,
) -> torch.Tensor:
    """The (H, W) prediction of `image` (C, H, W, float) stitched from `predict` on batches of at most `batch`
    tiles (B, C, tile_h, tile_w), which returns (B, 1, tile_h, tile_w) or (B, tile_h, tile_w).

    The image is padded to `multiple`, and further up to the tile where it is smaller. Sums are kept in float64,
    so averaging up to four identical overlapping predictions gives them back exactly.
    """
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    tile_h, tile_w = tile
    padded, (height, width) = pad_to_multiple(image, multiple)
    padded = F.pad(padded, (0, max(0, tile_w - padded.shape[-1]), 0, max(0, tile_h - padded.shape[-2])))
    corners = tile_corners(padded.shape[-2], padded.shape[-1], tile_h, tile_w)
    total = torch.zeros(padded.shape[-2:], dtype=torch.float64, device=image.device)
    count = torch.zeros_like(total)
    prediction_dtype = image.dtype
    for first in range(0, len(corners), batch):
        chunk = corners[first : first + batch]
        tiles = torch.stack([padded[:, top : top + tile_h, left : left + tile_w] for top, left in chunk])
        predictions = predict(tiles)
        if predictions.ndim == 4:
            predictions = predictions[:, 0]
        if predictions.shape != (len(chunk), tile_h, tile_w):
            raise ValueError(f"predict returned {tuple(predictions.shape)} for {tuple(tiles.shape)} tiles")
        prediction_dtype = predictions.dtype
        for (top, left), prediction in zip(chunk, predictions, strict=True):
            total[top : top + tile_h, left : left + tile_w] += prediction.to(total)
            count[top : top + tile_h, left : left + tile_w] += 1
    return (total / count)[:height, :width].to(prediction_dtype)
