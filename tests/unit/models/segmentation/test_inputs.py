import numpy as np
import pytest

from defectlab.models.segmentation.inputs import (
    Augmentation,
    augment,
    centre,
    crop_window,
    eval_input,
    exposure_stack,
    pad_to,
    sample_rng,
    training_sample,
)

STILL = Augmentation(
    rotation_max=0,
    noise_variance_max=0,
    exposure_stops=(0, 0),
    blur_kernels=(1,),
    horizontal_flip=0,
    vertical_flip=0,
)


def dark_with_bright(shape: tuple[int, int], pixels: list[tuple[int, int]]) -> np.ndarray:
    """A dark image at the threshold (10, not above it) with a few bright pixels."""
    grey = np.full(shape, 10, np.uint8)
    for y, x in pixels:
        grey[y, x] = 200
    return grey


def test_exposure_channels_are_the_clipped_powers_of_two():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    stack = exposure_stack(grey)
    assert stack.dtype == np.float32 and stack.shape == (3, 16, 16)
    for k in range(3):
        np.testing.assert_array_equal(stack[k], np.minimum(grey.astype(np.int64) * 2**k, 255))


def test_centre_maps_the_grey_range_to_minus_one_one():
    np.testing.assert_array_equal(centre(np.array([0, 127.5, 255])), np.float32([-1, 0, 1]))
    assert centre(np.zeros(2)).dtype == np.float32


def test_eval_input_is_the_centred_stack_or_the_image():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(eval_input(grey, exposure=True), centre(exposure_stack(grey)))
    single = eval_input(grey, exposure=False)
    assert single.shape == (1, 16, 16)
    np.testing.assert_array_equal(single[0], centre(grey))


def test_crop_centre_is_a_bright_pixel():
    size = (16, 12)
    for seed in range(300):
        rng = np.random.default_rng(seed)
        bright = [(int(rng.integers(8, 40 - 8)), int(rng.integers(6, 50 - 6))) for _ in range(3)]
        grey = dark_with_bright((40, 50), bright)
        top, left, fell_back = crop_window(grey, size, 10, sample_rng(seed, 0, 0))
        assert not fell_back
        assert 0 <= top <= 40 - 16 and 0 <= left <= 50 - 12
        assert (top + 8, left + 6) in bright


def test_crop_near_the_border_stays_inside_and_holds_the_bright_pixel():
    bright = [(0, 0), (39, 49), (0, 49), (39, 0), (20, 1)]
    grey = dark_with_bright((40, 50), bright)
    chosen = set()
    for seed in range(300):
        top, left, fell_back = crop_window(grey, (16, 12), 10, sample_rng(seed, 0, 0))
        assert not fell_back
        assert 0 <= top <= 40 - 16 and 0 <= left <= 50 - 12
        inside = [(y, x) for y, x in bright if top <= y < top + 16 and left <= x < left + 12]
        assert inside
        chosen.update(inside)
    assert chosen == set(bright)  # every bright pixel gets drawn, not only the first


def test_crop_falls_back_to_uniform_when_no_pixel_passes():
    grey = np.full((40, 50), 10, np.uint8)  # at the threshold: none is above it
    windows = set()
    for seed in range(50):
        top, left, fell_back = crop_window(grey, (16, 12), 10, sample_rng(seed, 0, 0))
        assert fell_back
        assert 0 <= top <= 40 - 16 and 0 <= left <= 50 - 12
        windows.add((top, left))
    assert len(windows) > 10


def test_crop_refuses_an_image_smaller_than_the_crop():
    with pytest.raises(ValueError, match="pad_to"):
        crop_window(np.zeros((8, 20), np.uint8), (16, 16), 10, sample_rng(0, 0, 0))


def test_pad_to_pads_image_and_target_bottom_right():
    grey = np.full((5, 20), 7, np.uint8)
    mask = np.ones((5, 20), bool)
    padded, padded_mask = pad_to(grey, mask, (8, 16))
    assert padded.shape == padded_mask.shape == (8, 20)
    np.testing.assert_array_equal(padded[:5], grey)
    assert not padded[5:].any() and not padded_mask[5:].any() and padded_mask[:5].all()
    assert pad_to(grey, mask, (4, 4))[0] is grey


def test_sample_rng_depends_on_seed_epoch_and_index():
    draws = {(s, e, i): sample_rng(s, e, i).random() for s in (0, 1) for e in (0, 1) for i in (0, 1)}
    assert len(set(draws.values())) == len(draws)
    assert sample_rng(3, 2, 1).random() == sample_rng(3, 2, 1).random()


def test_same_seed_same_sample_other_seed_other_sample():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (48, 64), dtype=np.uint8)
    target = np.zeros((48, 64), bool)
    target[10:20, 30:40] = True

    def sample(seed: int) -> tuple[np.ndarray, np.ndarray]:
        return training_sample(grey, target, (32, 32), 10, Augmentation(), True, sample_rng(seed, 0, 0))

    x, y = sample(1)
    again_x, again_y = sample(1)
    assert x.tobytes() == again_x.tobytes() and y.tobytes() == again_y.tobytes()
    assert x.tobytes() != sample(2)[0].tobytes()


def test_still_augmentation_is_the_identity():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    target = rng.random((20, 30)) < 0.3
    for aug in (STILL, Augmentation(enabled=False)):
        out, out_target = augment(grey, target, aug, sample_rng(0, 0, 0))
        np.testing.assert_array_equal(out, grey)
        np.testing.assert_array_equal(out_target, target)


def test_rotation_keeps_the_target_binary_and_its_area():
    grey = np.full((64, 64), 100, np.uint8)
    target = np.zeros((64, 64), np.uint8)
    target[26:38, 26:38] = 1
    rotate = Augmentation(rotation_max=30, noise_variance_max=0, exposure_stops=(0, 0), blur_kernels=(1,))
    moved = 0
    for seed in range(20):
        _, out = augment(grey, target, rotate, sample_rng(seed, 0, 0))
        assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
        assert abs(int(out.sum()) - 144) <= 0.15 * 144
        moved += not np.array_equal(out, target)
    assert moved >= 15


def test_flips_move_image_and_target_together():
    grey = np.zeros((10, 16), np.uint8)
    target = np.zeros((10, 16), bool)
    grey[2, 5], target[2, 5] = 255, True
    for horizontal, vertical, expected in ((1, 0, (2, 10)), (0, 1, (7, 5)), (1, 1, (7, 10))):
        aug = Augmentation(
            rotation_max=0,
            noise_variance_max=0,
            exposure_stops=(0, 0),
            blur_kernels=(1,),
            horizontal_flip=horizontal,
            vertical_flip=vertical,
        )
        out, out_target = augment(grey, target, aug, sample_rng(0, 0, 0))
        assert out_target.dtype == bool
        assert tuple(np.argwhere(out)[0]) == expected and np.count_nonzero(out) == 1
        assert tuple(np.argwhere(out_target)[0]) == expected and np.count_nonzero(out_target) == 1


def test_photometric_augmentation_changes_the_image_within_range():
    grey = np.full((32, 32), 120, np.uint8)
    aug = Augmentation(rotation_max=0, horizontal_flip=0, vertical_flip=0, dark_noise_max=5)
    out, _ = augment(grey, np.zeros((32, 32), bool), aug, sample_rng(0, 0, 0))
    assert out.dtype == np.uint8 and not np.array_equal(out, grey)
    assert out.mean() >= 120  # exposure stops >= 0 and dark noise >= 0 only brighten


def test_training_sample_shapes_and_ranges():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    target = rng.random((40, 50)) < 0.2
    for exposure, channels in ((True, 3), (False, 1)):
        x, y = training_sample(grey, target, (16, 16), 10, Augmentation(), exposure, sample_rng(0, 0, 0))
        assert x.shape == (channels, 16, 16) and x.dtype == np.float32
        assert x.min() >= -1 and x.max() <= 1
        assert y.shape == (1, 16, 16) and y.dtype == np.float32 and set(np.unique(y)) <= {0, 1}


def test_training_sample_pads_a_small_image():
    x, y = training_sample(
        np.full((20, 12), 50, np.uint8), np.ones((20, 12), bool), (32, 32), 10, STILL, False, sample_rng(0, 0, 0)
    )
    assert x.shape == y.shape == (1, 32, 32)
    assert y.sum() == 20 * 12 and (x[0][y[0] == 0] == -1).all()  # the padding is black, never a defect


def test_training_sample_keeps_target_on_its_image_pixels():
    """A target drawn from the image itself (pixels above 128) must still match the crop after the motion."""
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    flips = Augmentation(rotation_max=0, noise_variance_max=0, exposure_stops=(0, 0), blur_kernels=(1,))
    for seed in range(20):
        x, y = training_sample(grey, grey > 128, (16, 16), 10, flips, False, sample_rng(seed, 0, 0))
        np.testing.assert_array_equal(y[0] == 1, x[0] > centre(128))


def test_training_crop_holds_the_bright_spot_after_rotation():
    """The window is drawn after the rotation and flips, so it still holds the acquired image's bright pixels."""
    grey = np.full((80, 96), 3, np.uint8)
    grey[30:33, 60:63] = 200
    rotate = Augmentation(noise_variance_max=0, exposure_stops=(0, 0), blur_kernels=(1,))
    for seed in range(30):
        x, _ = training_sample(grey, np.zeros_like(grey, bool), (24, 24), 10, rotate, False, sample_rng(seed, 0, 0))
        assert x.max() > centre(10)


def test_augmentation_refuses_an_even_blur_kernel():
    with pytest.raises(ValueError, match="odd"):
        Augmentation(blur_kernels=(1, 2))


def test_training_sample_without_augmentation_is_the_intensity_biased_crop():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 40, (40, 50), dtype=np.uint8)
    target = rng.random((40, 50)) < 0.2
    off = Augmentation(enabled=False)
    for seed in range(10):
        top, left, _ = crop_window(grey, (16, 12), 30, sample_rng(seed, 0, 0))
        x, y = training_sample(grey, target, (16, 12), 30, off, False, sample_rng(seed, 0, 0))
        np.testing.assert_array_equal(x[0], centre(grey[top : top + 16, left : left + 12]))
        np.testing.assert_array_equal(y[0], target[top : top + 16, left : left + 12])
