from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from defectlab.features.backbones import build_extractor
from defectlab.patchcore.augment import Augmentation, augment_patches
from defectlab.patchcore.training import stream

REPO = Path(__file__).resolve().parents[2]

IDENTITY = Augmentation(
    brightness=(0, 0), contrast=(1, 1), flip=False, blur_sigma=(0, 0), noise_std=(0, 0), border_mask=0
)
FULL = Augmentation()  # the schema defaults: every step on


def textured(n: int = 8, size: int = 32, seed: int = 0) -> np.ndarray:
    """Bright, noisy, asymmetric patches (a gradient plus noise), so every flip is distinguishable."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(60, 180, size)[None, :, None] + np.linspace(0, 30, size)[:, None, None]
    return np.clip(ramp + rng.normal(0, 12, (n, size, size, 3)), 0, 255).astype(np.uint8)


def test_same_seed_epoch_and_index_give_identical_bytes():
    patches = textured()
    a = augment_patches(patches, FULL, seed=7, epoch=2, first_index=100)
    b = augment_patches(patches.copy(), FULL, seed=7, epoch=2, first_index=100)
    assert a.tobytes() == b.tobytes()
    assert a.dtype == np.uint8 and a.shape == patches.shape
    assert not np.array_equal(a, patches)


def test_epoch_seed_and_index_each_change_the_result():
    patches = textured()
    base = augment_patches(patches, FULL, seed=7, epoch=2, first_index=100)
    for other in (
        augment_patches(patches, FULL, seed=7, epoch=3, first_index=100),
        augment_patches(patches, FULL, seed=8, epoch=2, first_index=100),
        augment_patches(patches, FULL, seed=7, epoch=2, first_index=101),
    ):
        # every patch differs, not merely one of them
        assert all(not np.array_equal(x, y) for x, y in zip(base, other, strict=True))


def test_splitting_a_batch_gives_the_same_patches():
    patches = textured(10)
    whole = augment_patches(patches, FULL, seed=3, epoch=1, first_index=50)
    parts = np.concatenate(
        [
            augment_patches(patches[:3], FULL, seed=3, epoch=1, first_index=50),
            augment_patches(patches[3:], FULL, seed=3, epoch=1, first_index=53),
        ]
    )
    assert whole.tobytes() == parts.tobytes()


def test_input_is_left_untouched():
    patches = textured()
    before = patches.copy()
    augment_patches(patches, FULL, seed=0, epoch=0, first_index=0)
    assert np.array_equal(patches, before)


def test_identity_ranges_return_the_input_exactly():
    rng = np.random.default_rng(1)
    patches = rng.integers(0, 256, (6, 24, 24, 3), dtype=np.uint8)  # full range, 0 and 255 included
    out = augment_patches(patches, IDENTITY, seed=5, epoch=4, first_index=9)
    assert out.tobytes() == patches.tobytes()
    assert out is not patches


def test_flip_only_gives_one_of_the_four_flips_and_all_of_them_occur():
    patches = textured(64)
    out = augment_patches(patches, replace(IDENTITY, flip=True), seed=0, epoch=0, first_index=0)
    seen = set()
    for patch, flipped in zip(patches, out, strict=True):
        candidates = {
            "none": patch,
            "lr": np.flip(patch, axis=1),
            "ud": np.flip(patch, axis=0),
            "both": np.flip(patch, axis=(0, 1)),
        }
        matches = [name for name, c in candidates.items() if np.array_equal(c, flipped)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert seen == {"none", "lr", "ud", "both"}


def test_brightness_only_shifts_every_pixel_by_one_amount_within_range():
    rng = np.random.default_rng(2)
    patches = rng.integers(90, 111, (32, 16, 16, 3), dtype=np.uint8)  # mid-grey: no clipping
    aug = replace(IDENTITY, brightness=(5, 20))
    out = augment_patches(patches, aug, seed=0, epoch=0, first_index=0)
    shifts = out.astype(int) - patches.astype(int)
    per_patch = shifts.reshape(len(patches), -1)
    assert (per_patch == per_patch[:, :1]).all()  # one offset per patch, the same for every pixel and channel
    assert per_patch.min() >= 5 and per_patch.max() <= 20
    assert len(np.unique(per_patch[:, 0])) > 5  # drawn per patch, not fixed


def test_contrast_only_keeps_the_mean_and_scales_the_spread_within_range():
    rng = np.random.default_rng(3)
    patches = rng.integers(100, 141, (32, 16, 16, 3), dtype=np.uint8)
    aug = replace(IDENTITY, contrast=(1.2, 1.5))
    out = augment_patches(patches, aug, seed=0, epoch=0, first_index=0).astype(float)
    inp = patches.astype(float)
    assert np.abs(out.mean(axis=(1, 2, 3)) - inp.mean(axis=(1, 2, 3))).max() < 0.5
    ratio = out.std(axis=(1, 2, 3)) / inp.std(axis=(1, 2, 3))
    assert ratio.min() > 1.2 - 0.03 and ratio.max() < 1.5 + 0.03


@pytest.mark.parametrize("side", [8, 32])
def test_border_mask_blackens_a_band_at_one_side_and_leaves_the_opposite_side(side):
    patches = textured(48, size=side)  # no pixel is 0 before masking
    assert patches.min() > 0
    aug = replace(IDENTITY, border_mask=1.0, border_mask_max=0.2)
    out = augment_patches(patches, aug, seed=0, epoch=0, first_index=0)
    widest = max(1, int(0.2 * side))
    sides_seen, widths = set(), set()
    for patch, masked in zip(patches, out, strict=True):
        edges = {
            "top": (masked[0], masked[-1], patch[-1]),
            "bottom": (masked[-1], masked[0], patch[0]),
            "left": (masked[:, 0], masked[:, -1], patch[:, -1]),
            "right": (masked[:, -1], masked[:, 0], patch[:, 0]),
        }
        black = [name for name, (edge, _, _) in edges.items() if not edge.any()]
        assert len(black) == 1
        _, opposite, original = edges[black[0]]
        assert np.array_equal(opposite, original)
        sides_seen.add(black[0])
        zero = (masked == 0).all(axis=2)
        band = int(zero.sum()) // side  # whole rows or columns only
        assert zero.sum() == band * side and 1 <= band <= widest
        widths.add(band)
        assert np.array_equal(masked[~zero], patch[~zero])  # nothing else changed
    assert sides_seen == {"top", "bottom", "left", "right"}
    assert widths == set(range(1, widest + 1))  # every width from 1 px to the widest occurs


def test_border_mask_probability_zero_and_one():
    patches = textured(40)
    never = augment_patches(patches, replace(IDENTITY, border_mask=0.0), seed=0, epoch=0, first_index=0)
    assert (never > 0).all()
    half = augment_patches(patches, replace(IDENTITY, border_mask=0.5), seed=0, epoch=0, first_index=0)
    masked = sum(bool((p == 0).any()) for p in half)
    assert 8 <= masked <= 32


def test_blur_reduces_the_variance_of_a_noisy_patch():
    rng = np.random.default_rng(4)
    patches = np.clip(128 + rng.normal(0, 30, (8, 32, 32, 3)), 0, 255).astype(np.uint8)
    out = augment_patches(patches, replace(IDENTITY, blur_sigma=(1.0, 1.5)), seed=0, epoch=0, first_index=0)
    assert (out.reshape(8, -1).var(axis=1) < 0.5 * patches.reshape(8, -1).var(axis=1)).all()
    # below 0.1 pixel the blur is skipped
    tiny = augment_patches(patches, replace(IDENTITY, blur_sigma=(0.0, 0.09)), seed=0, epoch=0, first_index=0)
    assert np.array_equal(tiny, patches)


def test_noise_adds_spread_of_the_drawn_size():
    patches = np.full((16, 32, 32, 3), 128, np.uint8)
    out = augment_patches(patches, replace(IDENTITY, noise_std=(3, 6)), seed=0, epoch=0, first_index=0)
    std = out.reshape(16, -1).astype(float).std(axis=1)
    assert std.min() > 3 * 0.85 and std.max() < 6 * 1.15


def test_values_are_clipped_not_wrapped():
    patches = np.full((4, 16, 16, 3), 250, np.uint8)
    out = augment_patches(patches, replace(IDENTITY, brightness=(20, 25)), seed=0, epoch=0, first_index=0)
    assert (out == 255).all()


def test_refuses_other_inputs():
    with pytest.raises(ValueError, match="uint8"):
        augment_patches(np.zeros((2, 8, 8, 3), np.float32), FULL, 0, 0, 0)
    with pytest.raises(ValueError, match="uint8"):
        augment_patches(np.zeros((8, 8, 3), np.uint8), FULL, 0, 0, 0)


def test_from_config():
    assert Augmentation.from_config({"enabled": False, "brightness": [0, 5]}) is None
    assert Augmentation.from_config({}) is None
    aug = Augmentation.from_config({"enabled": True, "brightness": [1, 2], "flip": False, "border_mask": 1})
    assert aug == replace(FULL, brightness=(1.0, 2.0), flip=False, border_mask=1.0)
    with pytest.raises(ValueError, match="unknown keys"):
        Augmentation.from_config({"enabled": True, "brightnes": [0, 1]})
    with pytest.raises(ValueError, match="lower bound"):
        Augmentation.from_config({"enabled": True, "noise_std": [4, 1]})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Augmentation.from_config({"enabled": True, "border_mask": 1.5})


def test_defaults_match_the_schema():
    schema = yaml.safe_load((REPO / "config/schema/config.schema.yaml").read_text())
    props = schema["properties"]["patchcore"]["properties"]["coreset"]["properties"]["augment"]["properties"]
    defaults = {name: spec["default"] for name, spec in props.items() if name != "enabled"}
    built = Augmentation(**defaults)
    assert built == Augmentation()
    assert set(defaults) == {
        "brightness",
        "contrast",
        "flip",
        "blur_sigma",
        "noise_std",
        "border_mask",
        "border_mask_max",
    }


def collect(extractor, stores, batch_size, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    rows, ids = zip(*stream(extractor, stores, batch_size, **kwargs), strict=True)
    return torch.cat(rows), torch.cat(ids)


def test_stream_augments_before_extraction_whatever_the_batch_size(stores):
    torch.manual_seed(0)
    extractor = build_extractor(weights="none", layers=(1, 2))
    plain_rows, plain_ids = collect(extractor, stores, 4)
    aug = {"augmentation": FULL, "seed": 11, "epoch": 1}
    rows_a, ids_a = collect(extractor, stores, 4, **aug)
    rows_b, ids_b = collect(extractor, stores, 3, **aug)
    assert torch.equal(ids_a, plain_ids) and torch.equal(ids_b, plain_ids)
    assert torch.equal(plain_ids, torch.arange(len(plain_ids)))
    per_patch = len(plain_ids) // 8
    differs = (rows_a - plain_rows).abs().amax(dim=1).reshape(8, per_patch).amax(dim=1)
    assert (differs > 1e-3).all()  # every patch is augmented, in both stores
    torch.testing.assert_close(rows_a, rows_b, rtol=1e-5, atol=1e-5)
    # another epoch is another stream; without augmentation the rows are the plain ones again
    rows_e, _ = collect(extractor, stores, 4, augmentation=FULL, seed=11, epoch=2)
    assert not torch.allclose(rows_e, rows_a)
    torch.testing.assert_close(collect(extractor, stores, 3)[0], plain_rows, rtol=1e-5, atol=1e-5)


def test_stream_uses_the_global_patch_index(stores):
    """The second store's first patch is stream patch 5, so it gets the draws of index 5, not 0."""
    torch.manual_seed(0)
    extractor = build_extractor(weights="none", layers=(1, 2))
    with h5py.File(stores[1]) as h5:
        first = h5["patches"][:1]
    expected = extractor(augment_patches(first, FULL, seed=11, epoch=1, first_index=5)).permute(0, 2, 3, 1)
    rows, ids = collect(extractor, stores, 2, augmentation=FULL, seed=11, epoch=1)
    per_patch = len(ids) // 8
    torch.testing.assert_close(rows[5 * per_patch : 6 * per_patch], expected.reshape(per_patch, -1))
