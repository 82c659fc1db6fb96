import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from layout_files import write_dataset
from torch.utils.data import DataLoader

from defectlab.data.datasets import ImageDataset, PatchDataset, crop_corner
from defectlab.data.layout import load_sample
from defectlab.data.patch_store import iter_patches


@pytest.fixture
def mixed_dataset(tmp_path):
    """Four images of two sizes, in splits train, train, test, test."""
    rng = np.random.default_rng(1)
    images = {}
    for i, (h, w) in enumerate([(40, 56), (48, 40), (40, 56), (64, 72)]):
        mask = rng.integers(0, 2, (h, w), dtype=np.uint8)
        images[f"m-{i}"] = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), mask, mask.astype(np.uint16))
    root = write_dataset(tmp_path / "mixed", images, "train")
    index = pd.read_parquet(root / "index.parquet")
    index["split"] = ["train", "train", "test", "test"]
    index.to_parquet(root / "index.parquet")
    return root


def test_items_are_the_samples_channels_first(mixed_dataset):
    dataset = ImageDataset(mixed_dataset)
    assert len(dataset) == 4
    for image, mask, sample_id in dataset:
        sample = load_sample(mixed_dataset, sample_id)
        assert image.dtype == mask.dtype == torch.uint8 and image.is_contiguous()
        assert np.array_equal(image.permute(1, 2, 0).numpy(), sample.image)
        assert np.array_equal(mask.numpy(), sample.mask)
    assert [i for _, _, i in ImageDataset(mixed_dataset, split="test")] == ["m-2", "m-3"]
    with pytest.raises(ValueError, match=r"no image of split 'val' \(it has \['test', 'train'\]\)"):
        ImageDataset(mixed_dataset, split="val")


def test_crops_are_windows_of_the_sample_seeded_per_epoch_and_index(mixed_dataset):
    dataset = ImageDataset(mixed_dataset, crop=32, seed=3)
    first = list(dataset)
    for index, (image, mask, sample_id) in enumerate(first):
        sample = load_sample(mixed_dataset, sample_id)
        y, x = crop_corner(*sample.mask.shape, 32, 3, 0, index)
        assert np.array_equal(image.permute(1, 2, 0).numpy(), sample.image[y : y + 32, x : x + 32])
        assert np.array_equal(mask.numpy(), sample.mask[y : y + 32, x : x + 32])
    again = list(ImageDataset(mixed_dataset, crop=32, seed=3))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    dataset.set_epoch(1)
    corners = [crop_corner(64, 72, 32, 3, e, 3) for e in range(5)]
    assert len(set(corners)) > 1  # new windows in new epochs
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, list(dataset), strict=True))
    with pytest.raises(ValueError, match="m-1: image 48x40 is smaller than the crop 41"):
        ImageDataset(mixed_dataset, crop=41)[1]


def test_the_transform_sees_the_crop(mixed_dataset):
    def flip(image, mask):
        return image.flip(-1), mask.flip(-1)

    plain, flipped = ImageDataset(mixed_dataset, crop=16), ImageDataset(mixed_dataset, transform=flip, crop=16)
    assert torch.equal(plain[2][0].flip(-1), flipped[2][0]) and torch.equal(plain[2][1].flip(-1), flipped[2][1])


def test_workers_give_the_same_crops(mixed_dataset):
    dataset = ImageDataset(mixed_dataset, crop=24, seed=5)
    dataset.set_epoch(2)
    serial = list(DataLoader(dataset, batch_size=2))
    parallel = list(DataLoader(dataset, batch_size=2, num_workers=2))
    for (a_image, a_mask, a_ids), (b_image, b_mask, b_ids) in zip(serial, parallel, strict=True):
        assert torch.equal(a_image, b_image) and torch.equal(a_mask, b_mask) and a_ids == b_ids


def test_patches_are_the_stores_rows_in_order(stores):
    dataset = PatchDataset(stores)
    assert len(dataset) == 5 + 3
    expected = [
        (patch, image, int(x), int(y))
        for store in stores
        for batch in iter_patches(store, 2)
        for patch, image, x, y in zip(batch.patches, batch.images, batch.xs, batch.ys, strict=True)
    ]
    for (patch, image, x, y), (ref, ref_image, ref_x, ref_y) in zip(dataset, expected, strict=True):
        assert patch.dtype == torch.uint8 and patch.shape == (3, 32, 32)
        assert np.array_equal(patch.permute(1, 2, 0).numpy(), ref)
        assert (image, x, y) == (ref_image, ref_x, ref_y)
    assert torch.equal(dataset[-1][0], dataset[7][0])
    with pytest.raises(IndexError, match="patch 8 of 8"):
        dataset[8]


def test_patch_stores_go_to_workers_and_pickle_after_use(stores):
    dataset = PatchDataset(stores)
    dataset[6]  # handles open in this process before the workers fork
    serial = list(DataLoader(dataset, batch_size=3))
    parallel = list(DataLoader(dataset, batch_size=3, num_workers=2))
    for (a, a_ids, a_x, a_y), (b, b_ids, b_x, b_y) in zip(serial, parallel, strict=True):
        assert torch.equal(a, b) and a_ids == b_ids and torch.equal(a_x, b_x) and torch.equal(a_y, b_y)
    copy = pickle.loads(pickle.dumps(dataset))
    assert torch.equal(copy[6][0], dataset[6][0])
