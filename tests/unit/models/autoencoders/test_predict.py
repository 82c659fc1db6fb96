"""`reconstruct`: a maps file the evaluation reads, ids in the dataset's order, one map per image of its shape,
the residual (x − x̃)² channel mean by hand, and tiled reconstruction of images larger than the input."""

import numpy as np
import pytest
import torch

from defectlab.maps import read_maps
from defectlab.models.autoencoders import reconstruct, train_autoencoder
from defectlab.models.autoencoders.images import read_images
from defectlab.models.autoencoders.predict import SCORE, load_autoencoder, tile_starts

from .conftest import SMALL, chess_dataset


@pytest.fixture(scope="module")
def weights(boards, tmp_path_factory):
    """A CAE and a VAE of 32² trained for a few steps."""
    root = tmp_path_factory.mktemp("weights")
    for model in ("cae", "vae"):
        train_autoencoder(model, SMALL, [boards], root / f"{model}.pt", 0, "cpu")
    return root


def by_hand(autoencoder, image: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return ((image - autoencoder(image[None])[0]) ** 2).mean(dim=0).numpy()


@pytest.mark.parametrize("model", ["cae", "vae"])
def test_maps_hold_the_residuals_of_every_image_in_dataset_order(model, weights, tmp_path):
    dataset = chess_dataset(tmp_path / "test", ["zeta", "alpha", "mid"], 32, 32, split="test")
    reconstruct(weights / f"{model}.pt", dataset, tmp_path / "maps.h5", "cpu")
    maps = read_maps([tmp_path / "maps.h5"])
    assert maps.ids == ["zeta", "alpha", "mid"]
    assert maps.maps.shape == (3, 32, 32) and maps.maps.dtype == np.float32
    assert maps.scores is None and maps.model == model and maps.score == SCORE
    assert maps.settings["model"] == model and maps.settings["size"] == 32
    autoencoder, _, _ = load_autoencoder(weights / f"{model}.pt", "cpu")
    _, images = read_images(dataset, 1)
    np.testing.assert_allclose(maps.maps[1], by_hand(autoencoder, images[1]), rtol=0, atol=1e-7)  # VAE: μ


def test_tile_starts_cover_the_axis_with_the_last_tile_flush():
    assert tile_starts(32, 32, 32) == [0]
    assert tile_starts(20, 32, 32) == [0]
    assert tile_starts(70, 32, 32) == [0, 32, 38]
    assert tile_starts(64, 32, 16) == [0, 16, 32]


def test_images_larger_than_the_input_are_reconstructed_in_tiles(weights, tmp_path):
    dataset = chess_dataset(tmp_path / "large", ["a", "b"], 50, 70, split="test")
    reconstruct(weights / "cae.pt", dataset, tmp_path / "maps.h5", "cpu")
    maps = read_maps([tmp_path / "maps.h5"])
    assert maps.maps.shape == (2, 50, 70)
    autoencoder, _, _ = load_autoencoder(weights / "cae.pt", "cpu")
    _, images = read_images(dataset, 1)
    # rows 0-17 and columns 0-31 lie in the top-left tile only; rows 18-31 in it and the tile below (averaged)
    np.testing.assert_allclose(maps.maps[0, :18, :32], by_hand(autoencoder, images[0][:, :32, :32])[:18], atol=1e-7)
    corner = by_hand(autoencoder, images[0][:, 18:, 38:])  # the bottom-right tile, flush with both edges
    np.testing.assert_allclose(maps.maps[0, 32:, 64:], corner[14:, 26:], atol=1e-7)


def test_images_smaller_than_the_input_are_padded_and_cut(weights, tmp_path):
    dataset = chess_dataset(tmp_path / "small", ["a"], 20, 28, split="test")
    reconstruct(weights / "cae.pt", dataset, tmp_path / "maps.h5", "cpu")
    assert read_maps([tmp_path / "maps.h5"]).maps.shape == (1, 20, 28)
