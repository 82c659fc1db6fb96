"""Latent vectors: the penultimate width of each backbone, eval mode, the weights' own statistics, direct resizing,
reruns to the same numbers, nothing downloaded, and the HDF5 file with its `pretrained` flag."""

import socket
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from defectlab.latent.embedding import (
    build_network,
    embed,
    load_images,
    outputs,
    read_embeddings,
    read_image,
    write_embeddings,
)

IDS = [f"item-{k}" for k in range(5)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Five 40 x 40 RGB items in the common layout (index: id, split, label, role)."""
    root = tmp_path_factory.mktemp("items")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    for item in IDS:
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / "images" / f"{item}.png")
    index = pd.DataFrame({"id": IDS, "split": "train", "label": "scratch", "role": "curated"})
    index.to_parquet(root / "index.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def lite0():
    return build_network("tf_efficientnet_lite0", "package")


def test_lite0_package_vectors_are_1280_wide_in_the_ids_order_and_rerun_identically(dataset, lite0):
    vectors = embed(lite0, dataset, IDS, input_size=32, batch_size=2, device="cpu")
    assert vectors.shape == (5, 1280) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert np.array_equal(vectors, embed(lite0, dataset, IDS, input_size=32, batch_size=2, device="cpu"))
    reversed_ = embed(lite0, dataset, IDS[::-1], input_size=32, batch_size=2, device="cpu")
    np.testing.assert_allclose(reversed_, vectors[::-1], rtol=1e-4, atol=1e-5)
    assert lite0.attrs == {
        "backbone": "tf_efficientnet_lite0",
        "weights": "package",
        "pretrained": True,
        "finetuned": False,
    }


def test_vectors_are_the_pre_logits_of_images_normalised_with_the_weights_statistics(dataset, lite0):
    vector = embed(lite0, dataset, IDS[:1], input_size=32, device="cpu")
    with Image.open(dataset / "images" / "item-0.png") as image:
        pixels = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)
    x = torch.from_numpy((pixels / 255 - 0.5) / 0.5).permute(2, 0, 1)[None]  # Lite0's TF statistics
    model = lite0.model.eval()
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(x), pre_logits=True).numpy()
    np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-4)


def test_resnet50_from_random_initialisation_is_2048_wide_and_not_pretrained(dataset):
    torch.manual_seed(0)
    network = build_network("resnet50", "none")
    assert network.attrs["pretrained"] is False
    assert embed(network, dataset, IDS, input_size=32, batch_size=4, device="cpu").shape == (5, 2048)


def test_embedding_runs_in_eval_mode_and_leaves_batch_norm_statistics_unchanged(dataset):
    torch.manual_seed(0)
    network = build_network("test_resnet", "none").train()
    before = {k: t.clone() for k, t in network.state_dict().items()}
    first = embed(network, dataset, IDS, input_size=32, device="cpu")
    assert not network.training and not any(m.training for m in network.modules())
    after = network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running means, variances, batch counts
    network.train()
    assert np.array_equal(first, embed(network, dataset, IDS, input_size=32, device="cpu"))


@pytest.mark.parametrize(
    ("name", "width"),
    [
        ("tf_efficientnet_lite0", 1280),
        ("resnet50", 2048),
        ("resnet34", 512),
        ("mobilenetv2_100", 1280),
        ("vgg16", 4096),
        ("torchvision:resnet34", 512),
        ("torchvision:mobilenet_v2", 1280),
        ("torchvision:vgg16", 4096),
    ],
)
def test_penultimate_widths_of_the_papers_backbones(name, width):
    with torch.device("meta"):
        network = build_network(name, "none")
        images = torch.empty(2, 3, 224, 224, dtype=torch.uint8)
        assert network.dim == width and network.pre_logits(images).shape == (2, width)
        assert build_network(name, "none", classes=3)(images).shape == (2, 3)


def test_images_are_resized_directly_with_pils_bilinear_filter(dataset):
    with Image.open(dataset / "images" / "item-1.png") as image:
        expected = np.asarray(image.resize((24, 24), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
        original = np.asarray(image).transpose(2, 0, 1)
    assert np.array_equal(read_image(dataset, "item-1", 24), expected)  # the whole image: no crop
    assert np.array_equal(read_image(dataset, "item-1", 40), original)
    assert load_images(dataset, IDS, 24).shape == (5, 3, 24, 24)
    with pytest.raises(FileNotFoundError, match="no image of item 'nope'"):
        read_image(dataset, "nope", 24)


def test_nothing_is_downloaded(dataset, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name, weights in (("tf_efficientnet_lite0", "package"), ("torchvision:mobilenet_v2", "none")):
        network = build_network(name, weights)
        assert embed(network, dataset, IDS[:2], input_size=32, device="cpu").shape == (2, network.dim)


def test_non_uint8_input_is_refused(lite0):
    with pytest.raises(ValueError, match="expected uint8 images"):
        outputs(lite0, [torch.zeros(1, 3, 32, 32)], "cpu")


def test_embeddings_file_round_trip_and_flags(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(3, 4))
    attrs = {"backbone": "resnet50", "weights": "none", "pretrained": False, "input_size": 224, "dataset": "val"}
    write_embeddings(tmp_path / "e.h5", ["b", "a", "c"], vectors, attrs)
    read = read_embeddings(tmp_path / "e.h5")
    assert read.ids == ["b", "a", "c"] and read.vectors.dtype == np.float32
    assert np.array_equal(read.vectors, vectors.astype(np.float32))
    assert read.attrs == attrs and read.attrs["pretrained"] is False and read.pretrained is False


GOOD = {"backbone": "resnet50", "weights": "none", "pretrained": False}


@pytest.mark.parametrize(
    ("ids", "vectors", "attrs", "message"),
    [
        (["a", "a"], np.zeros((2, 3)), GOOD, "occur more than once"),
        (["a", "b"], np.zeros((3, 3)), GOOD, r"\(N, D\) for 2 ids"),
        (["a", "b"], np.full((2, 3), np.nan), GOOD, "NaN"),
        (["a", "b"], np.zeros((2, 3)), {"backbone": "resnet50", "weights": "none"}, "must name pretrained"),
        (["a", "b"], np.zeros((2, 3)), {**GOOD, "pretrained": 1}, "must be a bool"),
        (["a", "b"], np.zeros((2, 3)), {**GOOD, "extra": [1, 2]}, "extra must be str"),
    ],
)
def test_bad_embeddings_are_refused_and_leave_no_file(tmp_path, ids, vectors, attrs, message):
    with pytest.raises(ValueError, match=message):
        write_embeddings(tmp_path / "e.h5", ids, vectors, attrs)
    assert not list(tmp_path.iterdir())


def test_a_foreign_hdf5_file_is_refused_by_name(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5.create_dataset("maps", data=np.zeros(3))
    with pytest.raises(ValueError, match="other.h5: not an embeddings file"):
        read_embeddings(tmp_path / "other.h5")
