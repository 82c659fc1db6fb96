"""CutPaste's scores, from a network trained for a few steps on tiny textured images: the density is fitted on
exactly the embeddings of the (sub-sampled) training patches, with their augmented views under `fit_on:
normal+augmented`; a patch store's patch scores, GDE maps (each pixel the mean score of the patches covering it),
Grad-CAM maps and image scores match hand computations; the embeddings file round-trips."""

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.covariance import LedoitWolf

from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.models.cutpaste.augment import AugmentSettings, views
from defectlab.models.cutpaste.data import TrainingPatches
from defectlab.models.cutpaste.density import GaussianDensity
from defectlab.models.cutpaste.gradcam import grad_cam, minmax
from defectlab.models.cutpaste.model import build_network
from defectlab.models.cutpaste.predict import (
    embed,
    fit_density,
    image_scores,
    load_network,
    score_store,
    stored_settings,
    write_embeddings,
)
from defectlab.models.cutpaste.train import train_cutpaste
from defectlab.seeds import derive_seed
from defectlab.smoothing import smooth_maps
from defectlab.training.checkpoint import load

from .test_data import PATCHES, SMALL_AUGMENT, textured, write_boards, write_images

SEED = 11
GRADCAM = {"layer": "conv1", "target": 1}


def tiny_settings(**overrides) -> dict:
    return {
        "steps": 2,
        "lr": 0.01,
        "batch_pairs": 4,
        "early_stopping": {"enabled": False},
        "augment": SMALL_AUGMENT,
        "device": "cpu",
        **overrides,
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(weights, training dataset): 36 training patches of 64 pixels, 2 steps of ResNet-18 from random weights."""
    root = tmp_path_factory.mktemp("cutpaste_predict")
    boards = write_boards(root / "boards")
    weights = root / "model.pt"
    train_cutpaste(tiny_settings(), [boards], PATCHES, weights, seed=SEED)
    return weights, boards


@pytest.fixture(scope="module")
def network(trained):
    return load_network(trained[0], "cpu")[0]


def sample_rows(n: int, max_samples: int, seed: int) -> np.ndarray:
    """The documented sample: `max_samples` of `n` rows drawn without replacement from `seed`, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def test_load_network_gives_the_trained_weights_in_eval_mode(trained, network):
    weights, _ = trained
    stored = stored_settings(weights)
    assert not network.training and network.widths == stored["head_widths"]
    assert stored["patch_size"] == 64 and stored["train_stride"] == 32 and stored["edges"] == "flush"
    saved = load(weights)["models"]["cutpaste"]
    state = network.state_dict()
    assert all(torch.equal(state[k], saved[k]) for k in saved)


@pytest.fixture(scope="module")
def sampled(trained, tmp_path_factory):
    """(density, its file): fitted on a sample of 20 of the 36 training patches, embedded 16 at a time."""
    weights, boards = trained
    path = tmp_path_factory.mktemp("sampled") / "d.npz"
    return fit_density(weights, [boards], {"max_samples": 20, "seed": 3}, path, 16, "cpu"), path


def test_fit_density_fits_exactly_the_embeddings_of_the_sampled_training_patches(trained, network, sampled):
    _, boards = trained
    fitted, path = sampled
    tiles = TrainingPatches([boards], 64, 32, "flush", 31)
    assert len(tiles) == 36
    rows = sample_rows(36, 20, 3)
    embeddings = embed(network, tiles.cut(rows), 16)
    assert embeddings.shape == (20, 128) and embeddings.dtype == np.float64
    assert fitted.n_fit_ == 20 and fitted.n_excluded_ == 0
    np.testing.assert_allclose(fitted.mean_, embeddings.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fitted.covariance_, LedoitWolf().fit(embeddings).covariance_, rtol=1e-8, atol=1e-12)
    # not the mean of another sample
    other = embed(network, tiles.cut(sample_rows(36, 20, 4)), 16)
    assert not np.allclose(fitted.mean_, other.mean(axis=0), rtol=1e-6, atol=0)
    saved = GaussianDensity.load(path)
    np.testing.assert_array_equal(saved.mean_, fitted.mean_)
    np.testing.assert_array_equal(saved.score(other), fitted.score(other))


def test_fit_on_normal_and_augmented_adds_the_augmented_views(trained, network, sampled, tmp_path):
    weights, boards = trained
    normal = sampled[0]
    both = fit_density(
        weights, [boards], {"max_samples": 20, "seed": 3, "fit_on": "normal+augmented"}, tmp_path / "b.npz", 16, "cpu"
    )
    assert both.n_fit_ == 2 * normal.n_fit_ == 40
    assert not np.allclose(both.mean_, normal.mean_, rtol=1e-6, atol=0)
    # by hand: the views of the sampled patches, drawn from the training seed's "density views"
    patches = TrainingPatches([boards], 64, 32, "flush", 31).cut(sample_rows(36, 20, 3))
    images, labels, _ = views(
        patches, "binary-custom", derive_seed(SEED, "density views"), 0, AugmentSettings.from_config(SMALL_AUGMENT)
    )
    assert labels.tolist() == [0] * 20 + [1] * 20
    embeddings = np.concatenate([embed(network, patches, 16), embed(network, images[20:], 16)])
    np.testing.assert_allclose(both.mean_, embeddings.mean(axis=0), rtol=1e-10, atol=1e-12)


def test_fit_on_normal_and_augmented_with_the_3way_variant(trained, tmp_path):
    _, boards = trained
    weights = tmp_path / "model.pt"
    train_cutpaste(tiny_settings(steps=1, variant="3way"), [boards], PATCHES, weights, seed=SEED)
    fitted = fit_density(
        weights, [boards], {"max_samples": 10, "seed": 1, "fit_on": "normal+augmented"}, tmp_path / "d.npz", 16, "cpu"
    )
    assert fitted.n_fit_ == 3 * 10  # the normal patches and their cutpaste and cutpaste-scar views


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A test store: two textured images, one half dark (its dark tiles dropped), one all dark (no tile kept);
    64-pixel patches at stride 32 (flush edges) over 128 x 160."""
    images = [textured(40), textured(41), textured(42), np.full((128, 160, 3), 5, np.uint8)]
    images[1][:, :80] = 5
    root = tmp_path_factory.mktemp("cutpaste_store")
    dataset = write_images(root / "test", images, split="test")
    path = root / "store.h5"
    count = write_patch_store(path, dataset, ["s-0", "s-1", "s-2", "s-3"], PatchGrid(64, 32), 31)
    assert 0 < count < 4 * 12
    return path


@pytest.fixture(scope="module")
def density(trained, tmp_path_factory):
    weights, boards = trained
    return fit_density(weights, [boards], {}, tmp_path_factory.mktemp("density") / "d.npz", 64, "cpu")


@pytest.fixture(scope="module")
def scored(network, density, store):
    """score_store's output with `maps: gde`, sigma 0, batches of 5 (not a divisor of the patch count)."""
    return score_store(network, density, store, "gde", 0.0, GRADCAM, 5)


def stored_patches(path):
    with h5py.File(path, "r") as h5:
        source = h5["source"][:]
        return h5["patches"][:], [s.decode() for s in source["image"]], source["x"].tolist(), source["y"].tolist()


def hand_mean_maps(table: pd.DataFrame, images: list[str], values: list[np.ndarray], size: int) -> np.ndarray:
    """Each pixel: the mean over the patches covering it of their value there (0 under none)."""
    sums, counts = np.zeros((len(images), 128, 160)), np.zeros((len(images), 128, 160))
    for (image, x, y), value in zip(table[["image", "x", "y"]].itertuples(index=False), values, strict=True):
        i = images.index(image)
        sums[i, y : y + size, x : x + size] += value
        counts[i, y : y + size, x : x + size] += 1
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


def test_score_store_scores_every_stored_patch_and_paints_gde_maps(network, density, store, scored):
    patches, ids, xs, ys = stored_patches(store)
    images, maps, table, embeddings = scored
    assert images == ["s-0", "s-1", "s-2", "s-3"]
    assert maps.shape == (4, 128, 160) and maps.dtype == np.float32
    assert list(table.columns) == ["image", "x", "y", "score"] and len(table) == len(patches)
    assert table["image"].tolist() == ids and table["x"].tolist() == xs and table["y"].tolist() == ys
    expected = embed(network, patches, 5)
    np.testing.assert_allclose(embeddings, expected.astype(np.float32), rtol=1e-6, atol=1e-6)
    assert embeddings.dtype == np.float32 and embeddings.shape == (len(patches), 128)
    scores = density.score(expected)
    np.testing.assert_allclose(table["score"].to_numpy(), scores, rtol=1e-9)
    hand = hand_mean_maps(table, images, list(scores), 64)
    np.testing.assert_allclose(maps, hand, rtol=1e-5, atol=1e-5)
    # under no kept patch (image s-3, and s-1 left of its first kept tile, which starts at x = 32)
    assert (maps[3] == 0).all() and (maps[1][:, :32] == 0).all() and (maps[1][:, 32:] > 0).all()
    assert len(set(np.round(hand[0].ravel(), 4))) > len(table[table.image == "s-0"])  # overlaps average
    # smoothing: the same stitched map, blurred
    _, smoothed, again, _ = score_store(network, density, store, "gde", 4.0, GRADCAM, 64)
    np.testing.assert_allclose(again["score"], table["score"], rtol=1e-4)  # float32 convolutions by other batches
    np.testing.assert_allclose(smoothed, smooth_maps(hand, 4.0), rtol=1e-4, atol=1e-4)


def test_image_scores_are_the_max_of_their_patches_and_the_lowest_without_any():
    table = pd.DataFrame(
        {"image": ["a", "a", "b", "a", "b"], "x": [0, 32, 0, 64, 32], "y": 0, "score": [1.0, 3.5, 2.0, 0.5, 0.25]}
    )
    assert image_scores(["b", "c", "a"], table) == [2.0, 0.25, 3.5]
    assert image_scores(["a"], table.iloc[:0]) == [0.0]


def test_image_scores_of_a_scored_store(scored):
    images, _, table, _ = scored
    scores = image_scores(images, table)
    by_image = [table.loc[table.image == i, "score"] for i in images]
    assert scores[:3] == [float(s.max()) for s in by_image[:3]]
    assert by_image[3].empty and scores[3] == float(table["score"].min())


def test_gradcam_maps_are_the_stitched_raw_cams_normalised_per_image(network, density, store, scored):
    patches, *_ = stored_patches(store)
    images, maps, table, _ = score_store(network, density, store, "gradcam", 0.0, GRADCAM, 5)
    pd.testing.assert_frame_equal(table, scored[2])  # the maps change, not the scores
    x = network.normalise(torch.from_numpy(np.ascontiguousarray(patches.transpose(0, 3, 1, 2))))
    cams = grad_cam(network, x, network.layer_name("conv1"), 1, normalise=False).numpy()
    hand = minmax(torch.from_numpy(hand_mean_maps(table, images, list(cams), 64)).float()).numpy()
    np.testing.assert_allclose(maps, hand, rtol=1e-4, atol=1e-5)
    assert maps.min() >= 0 and maps.max() <= 1 and (maps[3] == 0).all()
    assert all(maps[i].max() == pytest.approx(1.0) for i in range(3))


def test_a_store_without_a_kept_patch_scores_nothing_and_maps_zeros(network, density, tmp_path):
    dataset = write_images(tmp_path / "dark", [np.full((128, 160, 3), 5, np.uint8)], split="test")
    assert write_patch_store(tmp_path / "dark.h5", dataset, ["s-0"], PatchGrid(64, 32), 31) == 0
    images, maps, table, embeddings = score_store(network, density, tmp_path / "dark.h5", "gde", 4.0, GRADCAM, 8)
    assert images == ["s-0"] and maps.shape == (1, 128, 160) and not maps.any()
    assert table.empty and list(table.columns) == ["image", "x", "y", "score"]
    assert embeddings.shape == (0, 128) and embeddings.dtype == np.float32
    assert image_scores(images, table) == [0.0]


def test_embed_of_no_patches_has_the_head_width(network):
    empty = embed(network, np.zeros((0, 64, 64, 3), np.uint8), 8)
    assert empty.shape == (0, 128) and empty.dtype == np.float64


def test_embed_of_no_patches_has_the_backbone_width_with_embedding_backbone():
    network = build_network("resnet18", "none", [512, 64], 2, embedding="backbone").eval()
    assert embed(network, np.zeros((0, 64, 64, 3), np.uint8), 8).shape == (0, 512)


def test_write_embeddings_round_trips(tmp_path):
    table = pd.DataFrame({"image": ["s-0", "s-0", "s-1"], "x": [0, 32, 0], "y": [0, 0, 64], "score": [1.0, 2.0, 3.0]})
    embeddings = np.random.default_rng(0).normal(size=(3, 5))
    path = tmp_path / "e.embeddings.h5"
    write_embeddings(path, table, embeddings)
    with h5py.File(path, "r") as h5:
        assert set(h5) == {"image", "x", "y", "embedding"}
        assert [s.decode() for s in h5["image"][:]] == ["s-0", "s-0", "s-1"]
        assert h5["x"][:].tolist() == [0, 32, 0] and h5["y"][:].tolist() == [0, 0, 64]
        assert h5["x"].dtype == np.int64 and h5["embedding"].dtype == np.float32
        np.testing.assert_array_equal(h5["embedding"][:], embeddings.astype(np.float32))
