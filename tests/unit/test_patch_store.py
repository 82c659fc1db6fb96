import h5py
import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset

from defectlab.data.layout import load_sample
from defectlab.data.patch_store import (
    PatchGrid,
    iter_patches,
    keeps,
    shard_images,
    store_images,
    write_patch_store,
)
from defectlab.data.shards import shard_slice
from defectlab.patchcore.anomaly_map import MapAccumulator


def thesis_border_positions(width: int, height: int, p: int, s: int) -> list[tuple[int, int]]:
    """The thesis' test-patch placement over a border at (0, 0), transcribed from its pseudocode."""
    xs = [s * i for i in range((width - p) // s + 1)]
    ys = [s * j for j in range((height - p) // s + 1)]
    if (width - p) % s:
        xs.append(width - p)
    if (height - p) % s:
        ys.append(height - p)
    return [(x, y) for y in ys for x in xs]


def test_grid_is_the_stride_grid_where_it_fits():
    # (96 - 32) // 16 + 1 = 5 tiles per row, (64 - 32) // 16 + 1 = 3 rows, the last ones flush already
    positions = PatchGrid(32, 16).positions(64, 96)
    assert len(positions) == 15
    assert positions[:5] == [(0, 0), (16, 0), (32, 0), (48, 0), (64, 0)]
    assert positions[-1] == (64, 32)


def test_grid_adds_a_column_and_a_row_flush_with_the_edges():
    # (100 - 32) // 16 + 1 = 5 tiles, the last at 64, then one flush with the right edge at 100 - 32 = 68
    assert [x for x, _ in PatchGrid(32, 16).positions(32, 100)] == [0, 16, 32, 48, 64, 68]
    assert [y for _, y in PatchGrid(32, 32).positions(70, 32)] == [0, 32, 38]
    assert PatchGrid(32, 16).positions(32, 32) == [(0, 0)]


@pytest.mark.parametrize("patch, stride", [(32, 16), (32, 32), (32, 7), (224, 112), (5, 1)])
def test_grid_equals_the_thesis_test_patch_rule(patch, stride):
    for height, width in [(patch, patch), (patch + 1, patch + stride), (97, 131), (256, 256), (301, 250)]:
        if height >= patch and width >= patch:
            assert PatchGrid(patch, stride).positions(height, width) == thesis_border_positions(
                width, height, patch, stride
            )


def test_grid_counts_the_theses_worked_example():
    # its 3279 x 3424 border, P = 224, s = 112: 28 + 1 columns, 29 + 1 rows = 870 positions (812 without
    # the flush column and row); its corners start at (617, 161)
    positions = PatchGrid(224, 112).positions(3424, 3279)
    assert len(positions) == 870
    xs, ys = sorted({x for x, _ in positions}), sorted({y for _, y in positions})
    assert [617 + x for x in xs[:3] + xs[-3:]] == [617, 729, 841, 3529, 3641, 3672]
    assert [161 + y for y in ys[:3] + ys[-3:]] == [161, 273, 385, 3185, 3297, 3361]


def test_grid_refuses_images_smaller_than_a_patch():
    with pytest.raises(ValueError, match="smaller than the patch size 32"):
        PatchGrid(32, 16).positions(20, 96)


def test_grid_refuses_a_stride_that_leaves_gaps_in_a_scored_store():
    with pytest.raises(ValueError, match=r"patches.stride 48 is larger than patches.size 32: 16 pixels"):
        PatchGrid(32, 48)
    with pytest.raises(ValueError, match="patches.edges 'none' leaves the right and bottom edges in no tile"):
        PatchGrid(32, 16, "none")
    with pytest.raises(ValueError, match="must be >= 1"):
        PatchGrid(32, 0)
    with pytest.raises(ValueError, match=r"patches.edges must be one of \['flush', 'none'\]"):
        PatchGrid(32, 16, "wrap", scored=False)


def test_the_theses_training_grid_has_no_flush_edges_and_may_skip_pixels():
    """Table 5.2's rows: 224-pixel patches every 512 pixels of a 4074 x 4730 image, no extra column or row."""
    grid = PatchGrid(224, 512, "none", scored=False)
    positions = grid.positions(4730, 4074)
    assert len(positions) == 8 * 9  # (4074 - 224) // 512 + 1 columns, (4730 - 224) // 512 + 1 rows
    assert max(x for x, _ in positions) == 7 * 512 and max(y for _, y in positions) == 8 * 512
    assert len(PatchGrid(224, 112, "none", scored=False).positions(4730, 4074)) == 35 * 41  # the spec's 1435
    assert len(PatchGrid(224, 448, "none", scored=False).positions(4730, 4074)) == 9 * 11


def test_every_pixel_is_scored_except_under_tiles_the_filter_drops(tmp_path):
    # 70 x 90 is no multiple of the stride 16 on either axis; a dark corner makes the filter drop tile (0, 0)
    rng = np.random.default_rng(3)
    image = rng.integers(60, 200, (70, 90, 3), dtype=np.uint8)
    image[:40, :40] = 5
    zeros = np.zeros((70, 90), np.uint8)
    root = write_dataset(tmp_path / "ds", {"a": (image, zeros, zeros.astype(np.uint16))}, "test")
    grid = PatchGrid(32, 16)
    write_patch_store(tmp_path / "a.h5", root, ["a"], grid, 31)
    maps = MapAccumulator(["a"], 70, 90)
    kept = set()
    for batch in iter_patches(tmp_path / "a.h5", 4):
        for x, y in zip(batch.xs, batch.ys, strict=True):
            maps.add("a", int(x), int(y), np.ones((4, 4)), 32)
            kept.add((int(x), int(y)))
    dropped = set(grid.positions(70, 90)) - kept
    assert dropped == {(0, 0)}
    under_kept = np.zeros((70, 90), bool)
    for x, y in kept:
        under_kept[y : y + 32, x : x + 32] = True
    scored = maps.maps(sigma=0)[0]
    np.testing.assert_array_equal(scored == 1, under_kept)  # every pixel under a kept tile is scored
    np.testing.assert_array_equal(scored[~under_kept], 0)  # the rest: only pixels of the dropped tile
    assert (~under_kept).sum() == 16 * 16 and not under_kept[:16, :16].any()


def test_every_pixel_is_covered_by_some_tile():
    for patch, stride, height, width in [(32, 16, 70, 90), (224, 112, 1024, 1024), (7, 7, 50, 51), (9, 4, 9, 30)]:
        covered = np.zeros((height, width), bool)
        for x, y in PatchGrid(patch, stride).positions(height, width):
            covered[y : y + patch, x : x + patch] = True
        assert covered.all()


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


def test_a_shard_without_images_is_refused_naming_patches_shards():
    index = pd.DataFrame({"id": ["b", "a", "c"]})
    assert shard_images(index, 1, 2, "results/datasets/x") == ["b", "c"]
    with pytest.raises(ValueError, match=r"results/datasets/x: patches.shards = 4 is more than its 3 images"):
        shard_images(index, 0, 4, "results/datasets/x")


def test_a_training_store_keeping_no_tile_is_refused(tiny_dataset, tmp_path):
    path = tmp_path / "shard-0.h5"
    message = (
        r"shard-0.h5: patches.min_mean_intensity = 250 drops every tile of the 2 training images of .*ds in "
        r"this shard \(the brightest tile's mean is 1[0-9][0-9].[0-9]\)"
    )
    with pytest.raises(ValueError, match=message):
        write_patch_store(path, tiny_dataset, ["s-0", "s-1"], PatchGrid(32, 32), 250, training=True)
    assert not path.exists()
    # a test store may keep nothing: its maps are then 0 everywhere
    assert write_patch_store(path, tiny_dataset, ["s-0", "s-1"], PatchGrid(32, 32), 250) == 0
    assert store_images(path) == ["s-0", "s-1"]


def test_a_store_without_images_is_refused(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match=r"shard-0.h5: no image of .*ds to cut into patches"):
        write_patch_store(tmp_path / "shard-0.h5", tiny_dataset, [], PatchGrid(32, 32), 31)
