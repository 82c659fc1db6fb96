"""CutPaste augmentations: every drawn shape, measured on its footprint, lies in its configured range; nothing
changes outside the footprint; the same seed gives the same bytes whatever the batching; extreme patches give
finite uint8; bad settings are refused by name."""

import math
import warnings

import cv2
import numpy as np
import pytest
from scipy.optimize import least_squares

from defectlab.models.cutpaste.augment import (
    CUSTOM_KINDS,
    KINDS,
    LABELS_3WAY,
    AugmentSettings,
    arc_scar,
    augment,
    augment_batch,
    black_dot,
    colour_jitter,
    cutpaste,
    cutpaste_scar,
    sample_rng,
    scar,
    views,
    white_dot,
    white_dot_border,
)

SIZE = 224
SEEDS = range(40)


def board(seed: int = 0, size: int = SIZE) -> np.ndarray:
    """A mid-grey textured patch, so that every pasted or blended pixel differs from its background."""
    rng = np.random.default_rng(seed)
    return rng.integers(90, 170, (size, size, 3)).astype(np.uint8)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def points(footprint: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(footprint)
    return np.stack([xs + 0.5, ys + 0.5], axis=1)


def rect_sides(footprint: np.ndarray) -> tuple[float, float, float]:
    """(short side, long side, angle of the long side from vertical, degrees) of a rasterised rectangle."""
    pts = points(footprint)
    (_, _), (a, b), _ = cv2.minAreaRect(pts.astype(np.float32))
    cov = np.cov((pts - pts.mean(0)).T)
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, np.argmax(evals)]
    angle = math.degrees(math.atan2(major[0], major[1]))  # from the y axis
    angle = (angle + 90) % 180 - 90
    return min(a, b) + 1, max(a, b) + 1, angle


def extent(footprint: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(footprint)
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def fit_circle(pts: np.ndarray, weights: np.ndarray) -> tuple[float, float, float]:
    """Weighted geometric least-squares circle (started from the algebraic Kasa fit): centre x, y and radius."""
    x, y, w = pts[:, 0], pts[:, 1], np.sqrt(weights)
    a = np.stack([x, y, np.ones_like(x)], axis=1)
    c, *_ = np.linalg.lstsq(a, x**2 + y**2, rcond=None)
    cx, cy = c[0] / 2, c[1] / 2
    start = [cx, cy, math.sqrt(c[2] + cx**2 + cy**2)]
    fit = least_squares(lambda q: w * (np.hypot(x - q[0], y - q[1]) - q[2]), start)
    return tuple(fit.x)


# ------------------------------------------------------------------------------------------------ shapes


def test_cutpaste_rectangles_have_their_area_ratio_and_aspect_and_both_aspect_sides_are_drawn():
    s = AugmentSettings()
    aspects = []
    for seed in SEEDS:
        out, fp = cutpaste(board(seed), rng(seed), s)
        w, h = extent(fp)
        assert fp.sum() == w * h  # a filled axis-aligned rectangle
        assert s.area_ratio[0] <= w * h / SIZE**2 <= s.area_ratio[1]
        assert s.aspect_ratio[0] <= w / h <= s.aspect_ratio[1]
        aspects.append(w / h)
    below = np.mean(np.array(aspects) < 1)
    assert 0.25 < below < 0.75  # log-uniform over (0.3, 1) ∪ (1, 3.3): about half each side


def test_cutpaste_pastes_a_piece_of_the_same_patch_cut_at_another_place():
    s = AugmentSettings(jitter=0.0)
    for seed in range(10):
        patch = board(seed)
        out, fp = cutpaste(patch, rng(seed), s)
        ys, xs = np.nonzero(fp)
        y1, x1 = ys.min(), xs.min()
        piece = out[y1 : ys.max() + 1, x1 : xs.max() + 1]
        match = cv2.matchTemplate(patch, piece, cv2.TM_SQDIFF)
        y0, x0 = np.unravel_index(np.argmin(match), match.shape)
        h, w = piece.shape[:2]
        assert np.array_equal(patch[y0 : y0 + h, x0 : x0 + w], piece) and (y0, x0) != (y1, x1)


def test_jitter_changes_the_pasted_piece_colours():
    patch = board(1)
    out, fp = cutpaste(patch, rng(3), AugmentSettings(jitter=0.1))
    same, _ = cutpaste(patch, rng(3), AugmentSettings(jitter=0.0))
    assert not np.array_equal(out[fp], same[fp])


@pytest.mark.parametrize(
    ("width", "length"),
    [((4, 4), (30, 30)), ((12, 12), (20, 20)), ((2, 2), (50, 50))],
)
def test_thesis_scars_have_the_drawn_width_and_length_and_rotation(width, length):
    s = AugmentSettings(scar_width=width, scar_length=length, min_mean=None)
    for seed in range(15):
        _, fp = scar(board(seed), rng(seed), s)
        short, long, angle = rect_sides(fp)
        assert abs(short - width[0]) <= 1.5, (seed, short)
        assert abs(long - length[0]) <= 1.5, (seed, long)
        assert abs(angle) <= 45 + 5, (seed, angle)
        assert abs(fp.sum() - width[0] * length[0]) <= 2 * (width[0] + length[0])


def test_scars_over_their_default_ranges_and_rotations_of_both_signs():
    s = AugmentSettings(min_mean=None)
    angles = []
    for seed in SEEDS:
        _, fp = scar(board(seed), rng(seed), s)
        short, long, angle = rect_sides(fp)
        assert s.scar_width[0] - 1.5 <= short <= s.scar_width[1] + 1.5
        assert s.scar_length[0] - 1.5 <= long <= s.scar_length[1] + 1.5
        assert abs(angle) <= 50
        angles.append(angle)
        _, fp = cutpaste_scar(board(seed), rng(seed), s)
        short, long, _ = rect_sides(fp)
        lo, hi = min(s.paper_scar_width[0], s.paper_scar_length[0]), max(s.paper_scar_width[1], s.paper_scar_length[1])
        assert lo - 1.5 <= short <= s.paper_scar_width[1] + 1.5  # the short side is at most the width
        assert s.paper_scar_length[0] - 1.5 <= long <= hi + 1.5  # the long side at least the length
    assert min(angles) < -10 and max(angles) > 10


def test_black_dots_have_their_diameter_and_dark_centre():
    s = AugmentSettings()
    for seed in SEEDS:
        patch = board(seed)
        out, fp = black_dot(patch, rng(seed), s)
        for side in extent(fp):
            assert s.black_dot_diameter[0] - 1 <= side <= s.black_dot_diameter[1] + 1
        cx, cy = points(fp).mean(0).astype(int)
        # 0.85 · colour (<= 40) + 0.15 · background (< 170)
        assert out[cy, cx].max() <= math.ceil(0.85 * 40 + 0.15 * 170)


def test_fixed_dot_diameter_is_measured_exactly_within_a_pixel():
    s = AugmentSettings(black_dot_diameter=(8, 8), white_dot_diameter=(8, 8))
    assert white_dot_border(s, 8) == 2
    for seed in range(10):
        _, fp = black_dot(board(seed), rng(seed), s)
        assert all(7 <= side <= 9 for side in extent(fp))
        out, fp = white_dot(board(seed), rng(seed), s)
        assert all(11 <= side <= 13 for side in extent(fp))  # 8 + 2 · 2


def test_white_dots_are_white_inside_a_black_border_scaled_with_the_dot():
    s = AugmentSettings()
    lo = s.white_dot_diameter[0] + 2 * white_dot_border(s, s.white_dot_diameter[0])
    hi = s.white_dot_diameter[1] + 2 * white_dot_border(s, s.white_dot_diameter[1])
    assert (lo, hi) == (10, 18)
    for seed in SEEDS:
        patch = board(seed)
        out, fp = white_dot(patch, rng(seed), s)
        for side in extent(fp):
            assert lo - 1 <= side <= hi + 1
        pts = points(fp)
        centre = pts.mean(0)
        cx, cy = centre.astype(int)
        assert out[cy, cx].min() >= math.floor(0.85 * 225 + 0.15 * 90)
        rho = np.hypot(*(pts - centre).T)
        radius = rho.max()
        ring = pts[(rho > 0.72 * radius) & (rho < 0.85 * radius)].astype(int)  # border, inside the feather
        assert ring.size and out[ring[:, 1], ring[:, 0]].mean() < patch[ring[:, 1], ring[:, 0]].mean() - 30


@pytest.mark.parametrize("radius", [(35, 35), (60, 60), (90, 90), (35, 90)])
def test_arc_scars_have_their_radius_thickness_and_span_and_lie_inside(radius):
    s = AugmentSettings(arc_radius=radius, min_mean=None)
    flat = np.full((SIZE, SIZE, 3), 150, np.uint8)  # the darkening then traces the alpha profile
    for seed in range(15):
        out, fp = arc_scar(flat, rng(seed), s)
        pts = points(fp)
        darkening = (flat.astype(float) - out).mean(-1)[fp]
        cx, cy, r = fit_circle(pts, darkening)  # the ridge, where the Gaussian alpha peaks
        assert radius[0] - 1.5 <= r <= radius[1] + 1.5, (seed, r)
        rho = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy)
        assert 5 - 1 <= rho.max() - rho.min() <= 5 + 1, seed  # thickness 5
        assert np.abs(rho - r).max() <= 2.5 + 1, seed
        phi = np.sort(np.mod(np.arctan2(pts[:, 1] - cy, pts[:, 0] - cx), 2 * math.pi))
        gaps = np.diff(np.concatenate([phi, phi[:1] + 2 * math.pi]))
        span = math.degrees(2 * math.pi - gaps.max())
        assert 60 - 4 <= span <= 60 + 2, (seed, span)  # the whole 60° arc, not clipped by the patch edge


def test_arc_colour_dark_or_bright():
    patch = board(0)
    for colour, sign in (("dark", -1), ("bright", 1)):
        out, fp = arc_scar(patch, rng(5), AugmentSettings(arc_colour=colour))
        diff = out[fp].astype(int).mean() - patch[fp].astype(int).mean()
        assert sign * diff > 20


def test_custom_kinds_are_placed_on_the_board_not_the_black_background():
    patch = board(2)
    patch[:, : SIZE * 3 // 4] = 0  # three quarters black background
    for kind in CUSTOM_KINDS:
        for seed in range(15):
            _, fp = augment(patch, kind, rng(seed))
            assert patch[fp].mean() > 31, (kind, seed)
    means = [patch[augment(patch, "black_dot", rng(s), AugmentSettings(min_mean=None))[1]].mean() for s in SEEDS]
    assert min(means) <= 31  # without the rule, some dots land on the background


def test_custom_draws_up_to_max_per_sample_kinds():
    counts = {1: 0, 3: 0}
    for max_per_sample in counts:
        s = AugmentSettings(max_per_sample=max_per_sample)
        counts[max_per_sample] = np.mean([augment(board(k), "custom", rng(k), s)[1].sum() for k in SEEDS])
    assert counts[3] > counts[1]


# ----------------------------------------------------------------------------------------- locality, seeds


@pytest.mark.parametrize("kind", KINDS)
def test_the_image_changes_only_inside_the_footprint(kind):
    s = AugmentSettings(max_per_sample=3)
    for seed in SEEDS:
        patch = board(seed)
        out, fp = augment(patch, kind, rng(seed), s)
        assert out.dtype == np.uint8 and out.shape == patch.shape and fp.dtype == bool and fp.shape == patch.shape[:2]
        assert fp.any()
        assert np.array_equal(out[~fp], patch[~fp])
        assert not np.array_equal(out, patch)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_bytes_whatever_the_batch_size(kind):
    patches = np.stack([board(k) for k in range(7)])
    whole, whole_fp = augment_batch(patches, kind, seed=11)
    again, _ = augment_batch(patches, kind, seed=11)
    assert np.array_equal(whole, again)
    head, head_fp = augment_batch(patches[:3], kind, seed=11, start=0)
    tail, tail_fp = augment_batch(patches[3:], kind, seed=11, start=3)
    assert np.array_equal(whole, np.concatenate([head, tail]))
    assert np.array_equal(whole_fp, np.concatenate([head_fp, tail_fp]))
    single, _ = augment(patches[5], kind, sample_rng(11, 5))
    assert np.array_equal(whole[5], single)
    other, _ = augment_batch(patches, kind, seed=12)
    assert not np.array_equal(whole, other)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fill", [0, 255, None])
def test_extreme_patches_give_finite_uint8(kind, fill):
    patch = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    if fill is not None:
        patch[:] = fill
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        for seed in range(5):
            out, fp = augment(patch, kind, rng(seed), AugmentSettings(jitter=0.5, max_per_sample=3))
            assert out.dtype == np.uint8 and np.array_equal(out[~fp], patch[~fp])


@pytest.mark.parametrize("fill", [0, 255])
def test_colour_jitter_of_black_and_white_is_finite_and_close(fill):
    piece = np.full((20, 10, 3), fill, np.uint8)
    with np.errstate(all="raise"):
        for seed in range(20):
            out = colour_jitter(piece, rng(seed), 0.1)
            assert out.dtype == np.uint8
            assert np.abs(out.astype(int) - fill).max() <= 0.1 * 255 + 1  # only brightness can move black/white
    assert np.array_equal(colour_jitter(piece, rng(0), 0.0), piece)


def test_normalised_or_float_input_is_refused():
    normalised = (board().astype(np.float32) / 255 - 0.45) / 0.22
    with pytest.raises(TypeError, match="uint8"):
        cutpaste(normalised, rng(0))
    with pytest.raises(TypeError, match="uint8"):
        colour_jitter(normalised, rng(0), 0.1)
    with pytest.raises(TypeError, match="uint8"):
        augment_batch(board(), "scar", 0)


def test_a_patch_too_small_for_an_arc_is_refused():
    with pytest.raises(ValueError, match="too small"):
        arc_scar(board(size=48), rng(0))
    with pytest.raises(ValueError, match="unknown CutPaste augmentation"):
        augment(board(), "blob", rng(0))


# -------------------------------------------------------------------------------------------- labels, views


def test_three_way_labels_and_views():
    assert LABELS_3WAY == {"normal": 0, "cutpaste": 1, "cutpaste_scar": 2}
    patches = np.stack([board(k) for k in range(4)])
    images, labels, fps = views(patches, "3way", seed=3)
    assert images.shape == (12, SIZE, SIZE, 3) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert np.array_equal(images[:4], patches) and not fps[:4].any() and fps[4:].any(axis=(1, 2)).all()
    rect = fps[4]
    assert rect.sum() == np.prod(extent(rect))  # label 1 is CutPaste normal's rectangle
    images, labels, _ = views(patches, "binary-custom", seed=3)
    assert labels.tolist() == [0] * 4 + [1] * 4
    with pytest.raises(ValueError, match="variant"):
        views(patches, "union", seed=3)


# ---------------------------------------------------------------------------------------------- settings


def test_defaults_follow_the_paper_and_the_thesis():
    s = AugmentSettings.from_config({})
    assert s == AugmentSettings()
    assert s.area_ratio == (0.02, 0.15) and s.aspect_ratio == (0.3, 3.3)
    assert s.paper_scar_width == (2, 16) and s.paper_scar_length == (10, 25) and s.scar_rotation == (-45, 45)
    assert s.scar_width == (2, 12) and s.scar_length == (20, 50)
    assert s.black_dot_diameter == (6, 10) and s.white_dot_diameter == (6, 12)
    assert s.arc_radius == (35, 90) and s.arc_thickness == (5, 5) and s.arc_span == (60, 60)
    assert s.alpha_max == pytest.approx(0.85)
    t = AugmentSettings.from_config({"scar_width": [3, 5], "transparency": 0, "min_mean": None})
    assert t.scar_width == (3, 5) and t.alpha_max == 1.0 and t.min_mean is None


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({"area_ratio": [0.2, 0.1]}, "area_ratio"),
        ({"area_ratio": [0.0, 0.1]}, "area_ratio"),
        ({"area_ratio": [0.1, 1.5]}, "area_ratio"),
        ({"aspect_ratio": [-1, 2]}, "aspect_ratio"),
        ({"scar_width": [2.5, 4]}, "scar_width"),
        ({"scar_length": [30]}, "scar_length"),
        ({"paper_scar_length": "10-25"}, "paper_scar_length"),
        ({"scar_rotation": [-200, 45]}, "scar_rotation"),
        ({"jitter": 0.7}, "jitter"),
        ({"black_dot_diameter": [0, 10]}, "black_dot_diameter"),
        ({"black_dot_colour": [0, 300]}, "black_dot_colour"),
        ({"white_dot_border": 0}, "white_dot_border"),
        ({"arc_radius": [90, 35]}, "arc_radius"),
        ({"arc_span": [60, 400]}, "arc_span"),
        ({"arc_colour": "red"}, "arc_colour"),
        ({"transparency": 100}, "transparency"),
        ({"feather": 2}, "feather"),
        ({"min_mean": 300}, "min_mean"),
        ({"max_per_sample": 5}, "max_per_sample"),
        ({"max_per_sample": 1.5}, "max_per_sample"),
        ({"area": [0.02, 0.15]}, "unknown CutPaste setting"),
    ],
)
def test_bad_settings_are_refused_by_name(config, name):
    with pytest.raises(ValueError, match=name):
        AugmentSettings.from_config(config)
