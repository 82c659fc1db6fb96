"""Tiled prediction: the round trip is the identity at any size, tiles cover the image and land where their
corners say, the paper's halved clutch image is exactly 3 x 3 tiles, and rescaling keeps masks' classes."""

import math

import numpy as np
import pytest
import torch

from defectlab.models.segmentation.tiling import pad_to_multiple, predict_tiled, tile_corners


def coverage(height: int, width: int, tile_h: int, tile_w: int) -> np.ndarray:
    counts = np.zeros((height, width), dtype=int)
    for top, left in tile_corners(height, width, tile_h, tile_w):
        assert 0 <= top <= height - tile_h and 0 <= left <= width - tile_w
        counts[top : top + tile_h, left : left + tile_w] += 1
    return counts


def test_pad_to_multiple_pads_bottom_right_with_zeros():
    image = np.arange(1, 2 * 5 * 7 + 1, dtype=np.float32).reshape(2, 5, 7)
    padded, size = pad_to_multiple(image, (4, 8))
    assert size == (5, 7) and padded.shape == (2, 8, 8)
    np.testing.assert_array_equal(padded[:, :5, :7], image)
    assert not padded[:, 5:].any() and not padded[:, :, 7:].any()
    tensor, size = pad_to_multiple(torch.from_numpy(image), 3)
    assert size == (5, 7) and tensor.shape == (2, 6, 9)
    np.testing.assert_array_equal(tensor.numpy(), np.pad(image, ((0, 0), (0, 1), (0, 2))))
    unchanged, _ = pad_to_multiple(image, 1)
    np.testing.assert_array_equal(unchanged, image)


@pytest.mark.parametrize(("height", "width"), [(64, 96), (96, 64), (70, 100), (33, 49)])
def test_corners_cover_every_pixel(height, width):
    counts = coverage(height, width, 32, 48)
    assert counts.min() >= 1
    assert counts.max() <= 4  # only the last row and column overlap, each with one neighbour


def test_an_exact_grid_does_not_overlap():
    counts = coverage(96, 144, 32, 48)
    assert (counts == 1).all()
    assert len(tile_corners(96, 144, 32, 48)) == 9


def test_the_last_tiles_are_flush_with_the_edge():
    assert tile_corners(70, 100, 32, 48) == [(top, left) for top in (0, 32, 38) for left in (0, 48, 52)]
    assert tile_corners(32, 48, 32, 48) == [(0, 0)]


def test_a_tile_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match="larger than the image"):
        tile_corners(31, 48, 32, 48)
    with pytest.raises(ValueError, match="larger than the image"):
        tile_corners(32, 47, 32, 48)


def test_the_papers_clutch_geometry_is_3_by_3_tiles():
    halved_h, halved_w = math.floor(2050 * 0.5), math.floor(2448 * 0.5)
    assert (halved_w, halved_h) == (1224, 1025)
    # Zero channels: the padding arithmetic on the real size without allocating an image.
    padded, size = pad_to_multiple(np.zeros((0, halved_h, halved_w), dtype=np.uint8), 96)
    assert size == (1025, 1224) and padded.shape[1:] == (1056, 1248)
    corners = tile_corners(1056, 1248, 352, 416)
    assert corners == [(top, left) for top in (0, 352, 704) for left in (0, 416, 832)]
    assert (coverage(1056 // 32, 1248 // 32, 352 // 32, 416 // 32) == 1).all()


@pytest.mark.parametrize(
    ("height", "width", "batch"),
    [(64, 96, 4), (50, 90, 3), (70, 100, 1), (20, 30, 4), (5, 100, 2)],
)
@pytest.mark.parametrize("keep_channel_axis", [True, False])
def test_identity_prediction_round_trips_exactly(height, width, batch, keep_channel_axis):
    generator = torch.Generator().manual_seed(height * width)
    image = torch.rand(2, height, width, generator=generator)
    tile = (32, 48)
    calls = []

    def first_channel(tiles: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(tiles.shape))
        return tiles[:, :1] if keep_channel_axis else tiles[:, 0]

    prediction = predict_tiled(first_channel, image, tile, multiple=16, batch=batch)
    assert prediction.shape == (height, width) and prediction.dtype == image.dtype
    assert torch.equal(prediction, image[0])
    assert all(1 <= shape[0] <= batch and shape[1:] == (2, *tile) for shape in calls)


def test_tiles_are_placed_where_their_corners_say():
    image = torch.zeros(1, 50, 90)  # padded to 64 x 96 at multiple 16: a 2 x 2 grid of 32 x 48 tiles
    served = []

    def tile_index(tiles: torch.Tensor) -> torch.Tensor:
        indices = torch.arange(len(served), len(served) + len(tiles), dtype=torch.float32)
        served.extend(indices.tolist())
        return indices[:, None, None, None].expand(-1, 1, *tiles.shape[-2:])

    prediction = predict_tiled(tile_index, image, (32, 48), multiple=16, batch=3)
    assert served == [0.0, 1.0, 2.0, 3.0]
    expected = torch.zeros(64, 96)
    for index, (top, left) in enumerate(tile_corners(64, 96, 32, 48)):
        expected[top : top + 32, left : left + 48] = index
    assert torch.equal(prediction, expected[:50, :90])


def test_overlapping_tiles_are_averaged():
    image = torch.zeros(1, 40, 48)  # multiple 8: rows start at 0 and 8, overlapping on rows 8..31
    offsets = iter([0.0, 10.0])
    prediction = predict_tiled(lambda tiles: torch.full((len(tiles), 32, 48), next(offsets)), image, (32, 48), 8, 1)
    assert (prediction[:8] == 0).all() and (prediction[8:32] == 5).all() and (prediction[32:] == 10).all()


def test_a_prediction_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="predict returned"):
        predict_tiled(lambda tiles: tiles[:, :, :16], torch.zeros(1, 32, 48), (32, 48), 16)
