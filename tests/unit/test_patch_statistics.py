"""Per-dataset patch statistics (the thesis's per-category normalisation) and patch stores cut on the exclusion
grid: against plain NumPy over the same patches."""

import h5py
import numpy as np
import pytest
from layout_files import write_dataset

from defectlab.data.exclusions import Exclusion, border_positions, patch_positions
from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.data.statistics import patch_sums, pooled_statistics, read_sums, write_statistics


def dataset(root, seed: int, count: int = 2):
    rng = np.random.default_rng(seed)
    images = {}
    for k in range(count):
        image = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        image[:, :20] = 5  # a dark band: the patches over it fail the > 31 filter
        images[f"img{k}"] = (image, np.zeros((48, 64), np.uint8), np.zeros((48, 64), np.uint16))
    return write_dataset(root, images, "train"), images


def kept_pixels(images: dict, size: int, stride: int) -> np.ndarray:
    pixels = []
    for image, _, _ in images.values():
        for x, y in border_positions((0, 0, 64, 48), size, stride, flush=False):
            patch = image[y : y + size, x : x + size]
            if patch.mean() > 31:
                pixels.append(patch.reshape(-1, 3))
    return np.concatenate(pixels).astype(np.float64)


def test_statistics_are_the_pooled_mean_and_std_of_the_kept_patches(tmp_path):
    root, images = dataset(tmp_path / "a", 1)
    sums = patch_sums(root, sorted(images), 16, 12, 31)
    pixels = kept_pixels(images, 16, 12)
    mean, std = sums.mean_std()
    np.testing.assert_allclose(mean, pixels.mean(axis=0) / 255, rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(axis=0) / 255, rtol=1e-12)
    assert sums.pixels == len(pixels) and 0 < sums.patches < 2 * len(border_positions((0, 0, 64, 48), 16, 12, False))


def test_statistics_of_two_datasets_combine_exactly_as_one(tmp_path):
    (root_a, images_a), (root_b, images_b) = dataset(tmp_path / "a", 1), dataset(tmp_path / "b", 2, count=3)
    for root, images, name in ((root_a, images_a, "a"), (root_b, images_b, "b")):
        write_statistics(tmp_path / f"{name}.json", patch_sums(root, sorted(images), 16, 12, 31), {"stride": 12})
    pixels = np.concatenate([kept_pixels(images_a, 16, 12), kept_pixels(images_b, 16, 12)])
    mean, std = pooled_statistics([tmp_path / "a.json", tmp_path / "b.json"])
    np.testing.assert_allclose(mean, pixels.mean(axis=0) / 255, rtol=1e-12)
    np.testing.assert_allclose(std, pixels.std(axis=0) / 255, rtol=1e-12)
    assert pooled_statistics([]) is None
    assert read_sums(tmp_path / "a.json") + read_sums(tmp_path / "b.json") == read_sums(
        tmp_path / "b.json"
    ) + read_sums(tmp_path / "a.json")


def test_statistics_of_nothing_kept_are_refused(tmp_path):
    root, images = dataset(tmp_path / "a", 1)
    with pytest.raises(ValueError, match="no patch kept"):
        patch_sums(root, sorted(images), 16, 12, 255).mean_std()


def test_a_store_cut_on_the_exclusion_grid_holds_exactly_the_patch_units_patches(tmp_path):
    root, images = dataset(tmp_path / "a", 3)
    areas = {
        "img0": Exclusion(borders=((20, 4, 40, 40),), labels=((30, 10, 6, 6),)),
        "img1": Exclusion(borders=((24, 0, 40, 48),)),
    }
    store = tmp_path / "store.h5"
    write_patch_store(store, root, sorted(images), PatchGrid(16, 8), 31, areas=areas)
    with h5py.File(store) as h5:
        source = [(s.decode(), int(x), int(y)) for s, x, y in h5["source"][:]]
        assert h5.attrs["grid"] == "exclusions"
        expected = [(i, x, y) for i in sorted(areas) for x, y in patch_positions(areas[i], 16, 8)]
        assert source == expected  # inside the borders every patch is bright: none dropped
        x, y = expected[-1][1:]
        assert np.array_equal(h5["patches"][-1], images["img1"][0][y : y + 16, x : x + 16])
