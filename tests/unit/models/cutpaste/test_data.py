"""CutPaste's training patches: the tiles kept are those a hand loop over the grid keeps; the hold-out is a seeded
partition of the documented sizes; a step's batch is a function of (seed, step) alone and an epoch visits every
training patch once; the validation views are the same at every evaluation.

The helpers at the top (textured images, a dataset of them, augmentation ranges that fit 64-pixel patches) are
shared with the training and prediction tests of this folder."""

from pathlib import Path

import numpy as np
import pytest
import torch
from layout_files import write_dataset

from defectlab.models.cutpaste.augment import AugmentSettings
from defectlab.models.cutpaste.data import PairBatches, TrainingPatches, as_batch, hold_out, validation_batches

# The thesis's ranges are for 224-pixel patches (arcs of radius up to 90, scars up to 50 long); 64 needs smaller.
SMALL_AUGMENT = {"arc_radius": [12, 24], "scar_length": [10, 30]}
PATCHES = {"size": 64, "stride": 32, "min_mean_intensity": 31}  # the pipeline's patch settings, scaled down


def textured(seed: int, height: int = 128, width: int = 160, low: int = 90, high: int = 170) -> np.ndarray:
    """A grey (H, W, 3) uint8 image with pixel noise in [low, high): every pixel differs from its neighbours, so
    any pasted or drawn augmentation changes it."""
    grey = np.random.default_rng(seed).integers(low, high, (height, width, 1)).astype(np.uint8)
    return np.repeat(grey, 3, axis=2)


def write_images(root: Path, images: list[np.ndarray], split: str = "train") -> Path:
    """A dataset of defect-free `images` (ids s-0, s-1, ...) in the pipeline's layout."""
    shape = images[0].shape[:2]
    samples = {
        f"s-{i}": (image, np.zeros(shape, np.uint8), np.zeros(shape, np.uint16)) for i, image in enumerate(images)
    }
    return write_dataset(root, samples, split)


def write_boards(root: Path, count: int = 3, seed: int = 0, **kwargs) -> Path:
    return write_images(root, [textured(seed + i, **kwargs) for i in range(count)])


def hand_tiles(images: list[np.ndarray], size: int, stride: int, flush: bool, min_mean: float) -> list[tuple]:
    """(image, x, y) of every tile with mean > min_mean, by an independent loop over the grid."""
    kept = []
    for k, image in enumerate(images):
        height, width = image.shape[:2]
        xs = list(range(0, width - size + 1, stride))
        ys = list(range(0, height - size + 1, stride))
        if flush and xs[-1] != width - size:
            xs.append(width - size)
        if flush and ys[-1] != height - size:
            ys.append(height - size)
        for y in ys:
            for x in xs:
                if image[y : y + size, x : x + size].astype(np.float64).mean() > min_mean:
                    kept.append((k, x, y))
    return kept


@pytest.fixture(scope="module")
def half_dark(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """Two 72 x 120 images whose left 56 columns are dark (5): tiles over the edge keep or lose by their mean."""
    images = []
    for i in range(2):
        image = textured(10 + i, 72, 120)
        image[:, :56] = 5
        images.append(image)
    return write_images(tmp_path_factory.mktemp("half_dark") / "ds", images), images


@pytest.fixture(scope="module")
def tiles(tmp_path_factory) -> TrainingPatches:
    """36 tiles of 64 pixels (3 images of 128 x 160, stride 32: 3 rows x 4 columns each)."""
    root = write_boards(tmp_path_factory.mktemp("boards") / "ds")
    return TrainingPatches([root], 64, 32, "flush", 31)


@pytest.mark.parametrize(("edges", "min_mean"), [("flush", 31), ("none", 31), ("flush", 90)])
def test_training_patches_keep_exactly_the_tiles_passing_the_mean_filter(half_dark, edges, min_mean):
    root, images = half_dark
    patches = TrainingPatches([root], 32, 16, edges, min_mean)
    expected = hand_tiles(images, 32, 16, edges == "flush", min_mean)
    got = [tuple(map(int, c)) for c in patches.corners]
    assert len(got) == len(set(got)) == len(patches)
    assert sorted(got) == sorted(expected)
    # the filter really drops some tiles and keeps some that straddle the dark edge
    every = hand_tiles(images, 32, 16, edges == "flush", -1)
    assert 0 < len(expected) < len(every)
    assert any(x < 56 for _, x, _ in expected)
    cut = patches.cut(np.arange(len(patches)))
    assert cut.shape == (len(patches), 32, 32, 3) and cut.dtype == np.uint8
    for tile, (k, x, y) in zip(cut, got, strict=True):
        np.testing.assert_array_equal(tile, images[k][y : y + 32, x : x + 32])


def test_training_patches_over_two_datasets_and_a_filter_that_drops_all(half_dark, tmp_path):
    root, images = half_dark
    extra = textured(3, 72, 120)
    both = TrainingPatches([root, write_images(tmp_path / "other", [extra])], 32, 16, "flush", 31)
    assert len(both.images) == 3
    np.testing.assert_array_equal(both.images[2], extra)
    assert sorted(map(tuple, both.corners.tolist())) == sorted(hand_tiles([*images, extra], 32, 16, True, 31))
    with pytest.raises(ValueError, match=r"no training patch of 32 pixels at stride 16 passes the mean filter"):
        TrainingPatches([root], 32, 16, "flush", 250)
    with pytest.raises(ValueError, match="no training dataset given"):
        TrainingPatches([], 32, 16, "flush", 31)


@pytest.mark.parametrize(
    ("n", "fraction", "held"), [(36, 0.1, 4), (25, 0.1, 2), (10, 0.01, 1), (2, 0.9, 1), (5, 0.5, 2)]
)
def test_hold_out_is_a_seeded_partition_of_the_documented_sizes(n, fraction, held):
    train, validation = hold_out(n, fraction, seed=5)
    assert len(validation) == held and len(train) == n - held
    assert not set(train.tolist()) & set(validation.tolist())
    assert sorted([*train.tolist(), *validation.tolist()]) == list(range(n))
    assert list(train) == sorted(train) and list(validation) == sorted(validation)
    again = hold_out(n, fraction, seed=5)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], validation)


def test_hold_out_depends_on_the_seed_and_needs_two_patches():
    splits = {tuple(hold_out(100, 0.2, seed)[1].tolist()) for seed in range(4)}
    assert len(splits) == 4
    with pytest.raises(ValueError, match="at least 2 training patches, got 1"):
        hold_out(1, 0.5, 0)


def batches(tiles: TrainingPatches, rows: np.ndarray, seed: int = 3, pairs: int = 4) -> PairBatches:
    return PairBatches(tiles, rows, pairs, "binary-custom", AugmentSettings.from_config(SMALL_AUGMENT), seed)


def images_of(batch: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
    """(N, P, P, 3) uint8 back from a batch's (N, 3, P, P) tensor."""
    return batch[0].numpy().transpose(0, 2, 3, 1)


def test_a_step_gives_normal_patches_then_their_augmented_views(tiles):
    rows = np.arange(len(tiles))
    images, labels = batches(tiles, rows)(1)
    assert images.shape == (8, 3, 64, 64) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    normal, augmented = np.split(images_of((images, labels)), 2)
    known = {tiles.cut(np.array([r]))[0].tobytes() for r in rows}
    assert all(patch.tobytes() in known for patch in normal)
    for a, b in zip(normal, augmented, strict=True):
        changed = (a != b).any(axis=2)
        assert 0 < changed.sum() < changed.size  # an augmentation draws on a part of its own normal patch


def test_a_step_is_the_same_bytes_in_two_instances_and_differs_from_another_step(tiles):
    rows = hold_out(len(tiles), 0.1, 3)[0]
    first, second = batches(tiles, rows), batches(tiles, rows)
    for step in (1, 2, 9, 17):
        a, b = first(step), second(step)
        assert a[0].numpy().tobytes() == b[0].numpy().tobytes() and torch.equal(a[1], b[1])
    assert first(1)[0].numpy().tobytes() != first(2)[0].numpy().tobytes()
    assert first(1)[0].numpy().tobytes() != batches(tiles, rows, seed=4)(1)[0].numpy().tobytes()
    # out of order: step 5 after step 1 in one instance, alone in another
    second(1)
    assert first(5)[0].numpy().tobytes() == second(5)[0].numpy().tobytes()


def test_an_epoch_visits_every_training_row_exactly_once(tiles):
    rows = hold_out(len(tiles), 0.1, 3)[0]  # 32 rows: not the 36, so the rows, not all tiles, are batched
    data = batches(tiles, rows, pairs=5)  # 32 rows / 5 pairs: 7 steps, the last with 2 pairs
    assert data.steps_per_epoch == 7
    by_bytes = {tiles.cut(np.array([r]))[0].tobytes(): int(r) for r in rows}
    held = set(range(len(tiles))) - set(rows.tolist())
    assert all(tiles.cut(np.array([r]))[0].tobytes() not in by_bytes for r in held)

    def epoch(first_step: int) -> list[int]:
        seen = []
        for step in range(first_step, first_step + data.steps_per_epoch):
            images, labels = data(step)
            count = len(labels) // 2
            assert labels.tolist() == [0] * count + [1] * count
            seen += [by_bytes[p.tobytes()] for p in images_of((images, labels))[:count]]
        return seen

    one, two = epoch(1), epoch(8)
    assert len(data(7)[1]) == 2 * 2
    assert sorted(one) == sorted(two) == sorted(rows.tolist())
    assert one != two  # each epoch in its own order


def test_validation_batches_give_the_same_views_at_every_evaluation(tiles):
    rows = hold_out(len(tiles), 0.3, 3)[1]  # 11 held-out patches
    augment = AugmentSettings.from_config(SMALL_AUGMENT)
    first = list(validation_batches(tiles, rows, 4, "binary-custom", augment, 3))
    second = list(validation_batches(tiles, rows, 4, "binary-custom", augment, 3))
    assert [len(labels) for _, labels in first] == [8, 8, 6]
    for (a, la), (b, lb) in zip(first, second, strict=True):
        assert a.numpy().tobytes() == b.numpy().tobytes() and torch.equal(la, lb)
    normals = np.concatenate([images_of(batch)[: len(batch[1]) // 2] for batch in first])
    np.testing.assert_array_equal(normals, tiles.cut(rows))
    other = list(validation_batches(tiles, rows, 4, "binary-custom", augment, 4))
    assert first[0][0].numpy().tobytes() != other[0][0].numpy().tobytes()


def test_as_batch_is_channels_first_uint8_and_int64_labels():
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3)).astype(np.uint8)
    x, y = as_batch(images, np.array([0, 1, 1]))
    assert x.shape == (3, 3, 5, 7) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert x[2, 1, 4, 6] == images[2, 4, 6, 1]
    np.testing.assert_array_equal(x.numpy().transpose(0, 2, 3, 1), images)
