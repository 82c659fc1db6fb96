"""Square windows around instances, kept inside the image: the figures' detail crops and the latent study's items."""

import numpy as np


def bounding_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1), inclusive, of the True pixels of a 2-D mask (at least one)."""
    ys, xs = np.nonzero(pixels)
    return int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())


def centred_window(box: tuple[int, int, int, int], side: int, height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of a square window of `side` pixels centred on `box`, shrunk to the image's shorter side
    and moved inside the image: a crop near a border keeps its size instead of being cut."""
    y0, y1, x0, x1 = box
    side = min(side, height, width)
    top = int(np.clip((y0 + y1) // 2 - side // 2, 0, height - side))
    left = int(np.clip((x0 + x1) // 2 - side // 2, 0, width - side))
    return top, left, side
