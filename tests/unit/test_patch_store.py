import h5py
import numpy as np
import pytest

from defectlab.data.layout import load_sample
from defectlab.data.patch_store import PatchGrid, iter_patches, keeps, store_images, write_patch_store
from defectlab.data.shards import shard_slice


def test_grid_follows_the_thesis_formula():
    # floor((W - P) / s) + 1 tiles per row: (96 - 32) // 16 + 1 = 5, (64 - 32) // 16 + 1 = 3
    positions = PatchGrid(32, 16).positions(64, 96)
    assert len(positions) == 15
    assert positions[:5] == [(0, 0), (16, 0), (32, 0), (48, 0), (64, 0)]
    assert positions[-1] == (64, 32)
    # a remainder smaller than the stride is not covered: (100 - 32) // 16 + 1 = 5 tiles, the last at 64
    assert PatchGrid(32, 16).positions(32, 100)[-1] == (64, 0)


def test_grid_refuses_images_smaller_than_a_patch():
    with pytest.raises(ValueError, match="smaller than the patch size 32"):
        PatchGrid(32, 16).positions(20, 96)


def test_filter_keeps_only_means_above_threshold():
    assert not keeps(np.full((4, 4, 3), 31, np.uint8), 31)
    assert keeps(np.full((4, 4, 3), 32, np.uint8), 31)


def test_store_holds_the_kept_tiles_with_their_masks(tiny_dataset, tmp_path):
    path = tmp_path / "shard-0.h5"
    kept = write_patch_store(path, tiny_dataset, ["s-0", "s-1", "s-2"], PatchGrid(32, 32), 31)
    # 3 tiles per row x 2 rows per image; the left column (x=0) is dark and dropped
    assert kept == 3 * 4
    with h5py.File(path) as h5:
        source = h5["source"][:]
        assert set(source["x"].tolist()) == {32, 64}
        assert h5["patches"].chunks == (1, 32, 32, 3)
        assert h5.attrs["patch_size"] == 32 and h5.attrs["min_mean_intensity"] == 31
        sample = load_sample(tiny_dataset, "s-1")
        for row, (image, x, y) in enumerate(source):
            if image.decode() == "s-1":
                np.testing.assert_array_equal(h5["patches"][row], sample.image[y : y + 32, x : x + 32])
                np.testing.assert_array_equal(h5["masks"][row], sample.mask[y : y + 32, x : x + 32])
    assert store_images(path) == ["s-0", "s-1", "s-2"]
    assert not (tmp_path / ".shard-0.h5.tmp").exists()


def test_iter_patches_reads_in_row_order_with_bounded_batches(tiny_dataset, tmp_path):
    path = tmp_path / "shard.h5"
    write_patch_store(path, tiny_dataset, ["s-0", "s-1", "s-2"], PatchGrid(32, 32), 31)
    batches = list(iter_patches(path, 5))
    assert [len(b.patches) for b in batches] == [5, 5, 2]
    assert [b.start for b in batches] == [0, 5, 10]
    assert batches[0].images[0] == "s-0"


def test_shards_are_contiguous_blocks_covering_everything_once():
    items = list(range(11))
    parts = [shard_slice(items, k, 3) for k in range(3)]
    assert parts == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9, 10]]
    with pytest.raises(ValueError, match="shard 3 out of range for 3 shards"):
        shard_slice(items, 3, 3)
