import numpy as np
import pytest
import torch

from defectlab.data.patch_store import PatchBatch, iter_patches
from defectlab.features.backbones import build_extractor
from defectlab.features.patch_features import cell_features, check_finite, store_cells, store_grid


@pytest.fixture(scope="module")
def extractor():
    torch.manual_seed(0)
    return build_extractor(weights="none", layers=(1, 2))


def test_cells_of_a_store_follow_its_rows_whatever_the_batch_size(extractor, stores):
    store = stores[0]
    grid, patches = store_grid(store, extractor)
    assert (grid, patches) == (32 // extractor.stride, 5)
    whole = cell_features(extractor, next(iter_patches(store, patches)).patches)
    assert whole.shape == (5, grid, grid, extractor.dim)
    batches = list(store_cells(extractor, store, 2))
    assert [b.start for b, _ in batches] == [0, 2, 4]
    torch.testing.assert_close(torch.cat([c for _, c in batches]), whole, rtol=1e-4, atol=1e-4)


def test_a_transform_sees_each_batch_and_its_first_row(extractor, stores):
    seen = []

    def invert(patches: np.ndarray, start: int) -> np.ndarray:
        seen.append((start, len(patches)))
        return 255 - patches

    for batch, cells in store_cells(extractor, stores[1], 2, invert):
        assert torch.equal(cells, cell_features(extractor, 255 - batch.patches))  # batch as read, cells of the change
    assert seen == [(0, 2), (2, 1)]


def test_non_finite_cells_are_refused_naming_the_store_and_patch():
    batch = PatchBatch(np.zeros((3, 8, 8, 3), np.uint8), ["a", "b", "c"], np.array([0, 8, 16]), np.array([4, 4, 4]), 6)
    cells = torch.zeros(3, 2, 2, 5)
    check_finite(cells, "store.h5", batch)
    cells[1, 0, 1, 3] = float("inf")
    with pytest.raises(
        ValueError, match=r"store.h5: the backbone gives NaN or inf features for patch 7 \(image b, x 8"
    ):
        check_finite(cells, "store.h5", batch)
