"""Real Blender renders at 96x96 with 4 samples: labels, determinism, twins, light variants and image-label alignment.

Alignment tolerance: every pixel whose rendered image changes when a feature is added lies
within 3 pixels of the feature's mask (the image's 1.5-pixel reconstruction filter and the
feature's own shading reach that far); for stickers, which are raised above the plate and
occlude some grazing reflections, changes of up to 4 grey levels may reach further. Water
stains are spheres of the 3-D grid cut by the plate, so a sphere that barely touches it
leaves an island smaller than a pixel, visible through the filter but covering no pixel
centre and so, by the label rule, unlabelled: at most 0.1 % of the pixels.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from defectlab.classes import DEFECT_INDICES, IMPURITY_INDICES, class_index
from defectlab.data.layout import Sample, load_sample
from defectlab.synth.plan import (
    PLATE_SIZE,
    WHOLE_PLATE_FRAME,
    Defect,
    Fingerprint,
    PlateSample,
    StainModel,
    Sticker,
    plan_dataset,
    plan_sample,
    resolve_spec,
)
from defectlab.synth.plates import PlateScene, add_sensor_noise, render_samples
from defectlab.synth.water_stains import water_stains

RENDER = {"resolution": 96, "samples": 4}
STAIN = class_index("water_stain")
STAIN_ISLAND_PIXELS = RENDER["resolution"] ** 2 // 1000
DEFECTS = (
    Defect("scratch", -0.03, 0.02, 0.0012, 0.00015, 0.5, 0.03),
    Defect("dent", 0.025, -0.015, 0.005, 0.0006),
    Defect("bump", -0.02, -0.025, 0.006, 0.0008),
)
DENSE_STAINS = StainModel(cell=0.025, radius=0.01, fraction=1.0)
FINGERPRINT = Fingerprint(-0.025, 0.01, 0.3, 0.011, 0.008, 0.0005, 0.1, 3.0)
STICKER = Sticker(0.025, -0.01, 0.5, 0.024, 0.015, 42, 0.3, 5.0)


@pytest.fixture
def scene() -> PlateScene:
    """A fresh scene per test: bpy has one global scene, which `render_samples` rebuilds too."""
    return PlateScene(RENDER)


@pytest.fixture(scope="module")
def clean() -> PlateSample:
    return plan_sample("check", {"split": "test"}, 1, 0)


def _render(scene: PlateScene, sample: PlateSample, root: Path) -> Sample:
    scene.render(sample, root)
    return load_sample(root, sample.id)


def _image_change(a: Sample, b: Sample) -> np.ndarray:
    return np.abs(a.image.astype(int) - b.image.astype(int)).max(axis=2)


def test_clean_plate_has_empty_masks_and_dark_corners(scene, clean, tmp_path):
    sample = _render(scene, clean, tmp_path)
    assert not sample.mask.any() and not sample.instances.any()
    assert sample.image.shape == (96, 96, 3)
    corners = [sample.image[:6, :6], sample.image[:6, -6:], sample.image[-6:, :6], sample.image[-6:, -6:]]
    assert max(c.mean() for c in corners) < 10
    assert sample.image[24:72, 24:72].mean() > 60


def test_masks_hold_known_classes_and_each_instance_one_class(scene, tmp_path):
    spec = {
        "split": "test",
        "count": 2,
        "defects": {"min": 3, "max": 4},
        "water_stains": True,
        "fingerprints": {"min": 1, "max": 2},
        "stickers": {"min": 1, "max": 2},
    }
    for plan in plan_dataset("mixed", spec, 4):
        plan = dataclasses.replace(plan, stain_model=DENSE_STAINS)
        sample = _render(scene, plan, tmp_path)
        assert set(np.unique(sample.mask)) <= {0, *DEFECT_INDICES, *IMPURITY_INDICES}
        assert ((sample.mask > 0) == (sample.instances > 0)).all()
        named = (
            [d.cls for d in plan.defects] + ["sticker"] * len(plan.stickers) + ["fingerprint"] * len(plan.fingerprints)
        )
        ids = np.unique(sample.instances[sample.instances > 0])
        for i in ids:
            classes = np.unique(sample.mask[sample.instances == i])
            expected = class_index(named[i - 1]) if i <= len(named) else STAIN
            assert classes.tolist() == [expected]
        stain_ids = ids[ids > len(named)]
        assert stain_ids.tolist() == list(range(len(named) + 1, len(named) + 1 + len(stain_ids)))
        assert ids[: len(named)].tolist() == list(range(1, len(named) + 1)) and len(stain_ids) > 0


def test_a_sample_renders_to_identical_bytes_twice_and_another_seed_to_another_plate(scene, clean, tmp_path):
    plan = dataclasses.replace(
        clean, defects=DEFECTS, water_stains=True, fingerprints=(FINGERPRINT,), stickers=(STICKER,)
    )
    for root in ("a", "b"):
        scene.render(plan, tmp_path / root)
    for folder in ("images", "masks", "instances"):
        name = f"{folder}/{plan.id}.png"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = _render(scene, plan_sample("check", {"split": "test"}, 2, 0), tmp_path / "other")
    assert _image_change(other, _render(scene, clean, tmp_path / "clean"))[24:72, 24:72].mean() > 5


def test_images_change_only_near_the_defect_mask_and_on_most_of_it(scene, clean, tmp_path):
    defective = _render(scene, dataclasses.replace(clean, defects=DEFECTS), tmp_path / "defective")
    plain = _render(scene, clean, tmp_path / "plain")
    change = _image_change(defective, plain)
    labelled = defective.mask > 0
    rendered = {class_index(d.cls) for d in DEFECTS}
    assert set(np.unique(defective.mask)) == {0, *rendered}
    assert not change[~ndimage.binary_dilation(labelled, iterations=3)].any()
    for cls in rendered:
        assert (change[defective.mask == cls] > 12).mean() > 0.6


def test_water_stains_are_labelled_where_they_darken_the_plate(scene, clean, tmp_path):
    stained = _render(scene, dataclasses.replace(clean, water_stains=True, stain_model=DENSE_STAINS), tmp_path / "s")
    plain = _render(scene, clean, tmp_path / "plain")
    change = _image_change(stained, plain)
    labelled = stained.mask == STAIN
    assert labelled.mean() > 0.05 and set(np.unique(stained.mask)) == {0, STAIN}
    assert (change[~ndimage.binary_dilation(labelled, iterations=3)] > 0).sum() <= STAIN_ISLAND_PIXELS
    assert (change[labelled] > 4).mean() > 0.4
    assert stained.image[labelled].mean() < plain.image[labelled].mean()


def test_fingerprints_and_stickers_are_labelled_where_they_change_the_plate(scene, clean, tmp_path):
    marked = _render(
        scene, dataclasses.replace(clean, fingerprints=(FINGERPRINT,), stickers=(STICKER,)), tmp_path / "m"
    )
    plain = _render(scene, clean, tmp_path / "plain")
    change = _image_change(marked, plain)
    assert set(np.unique(marked.mask)) == {0, class_index("fingerprint"), class_index("sticker")}
    assert change[~ndimage.binary_dilation(marked.mask > 0, iterations=3)].max() <= 4
    fingerprint, sticker = marked.mask == class_index("fingerprint"), marked.mask == class_index("sticker")
    assert (change[sticker] > 12).mean() > 0.9  # a sticker hides the metal
    assert (change[fingerprint] > 2).mean() > 0.5  # a fingerprint is a low-contrast, darker film
    assert marked.image[fingerprint].mean() < plain.image[fingerprint].mean() - 5


@pytest.mark.parametrize("width", [0.3, 0.8, 2.0])
def test_thin_features_are_labelled_on_the_pixels_whose_centre_they_cover(scene, clean, tmp_path, width):
    n, pixel = RENDER["resolution"], WHOLE_PLATE_FRAME / RENDER["resolution"]
    defects = (
        Defect("scratch", 0.003, 0.004, width * pixel, 0.0001, 0.4, 0.06, 12.0),
        Defect("dent", -0.03, -0.02, width * pixel / 2, 0.0005),
    )
    sample = _render(scene, dataclasses.replace(clean, defects=defects), tmp_path)
    centres = (np.arange(n) + 0.5 - n / 2) * pixel
    x, y = np.meshgrid(centres, -centres)
    expected = np.zeros((n, n), np.uint8)
    for d in defects:
        expected[d.distance(x, y) < d.half_width] = class_index(d.cls)
    assert (expected == class_index("scratch")).sum() > 5  # the thinnest scratch still hits some pixel centres
    np.testing.assert_array_equal(sample.mask, expected)


def test_the_water_stain_twin_differs_from_its_clean_source_only_at_its_stains(scene, tmp_path):
    datasets = {
        "synth": {"split": "train", "count": 1, "defects": {"min": 2, "max": 2}},
        "synth-ws": {"split": "train", "count": 1, "twin_of": "synth", "water_stains": {"fraction": 1.0}},
    }
    source, twin = (plan_dataset(n, resolve_spec(n, datasets), 5)[0] for n in datasets)
    a, b = _render(scene, source, tmp_path / "a"), _render(scene, twin, tmp_path / "b")
    stains = b.mask == STAIN
    assert stains.mean() > 0.02
    assert (_image_change(a, b)[~ndimage.binary_dilation(stains, iterations=3)] > 0).sum() <= STAIN_ISLAND_PIXELS
    np.testing.assert_array_equal(a.mask[~stains], b.mask[~stains])


def test_light_variants_change_the_image_but_not_the_labels(scene, clean, tmp_path):
    plan = dataclasses.replace(clean, defects=DEFECTS, water_stains=True)
    hex_, *variants = (
        _render(scene, dataclasses.replace(plan, light=light), tmp_path / light)
        for light in ("hex", "hex-rot90", "hex-2x")
    )
    for variant in variants:
        np.testing.assert_array_equal(variant.mask, hex_.mask)
        np.testing.assert_array_equal(variant.instances, hex_.instances)
        assert _image_change(variant, hex_)[8:88, 8:88].mean() > 3


def test_a_grid_of_views_sees_each_part_of_the_plate(scene, clean, tmp_path):
    plan = dataclasses.replace(
        clean,
        defects=(Defect("dent", -0.03, 0.0, 0.006, 0.0006),),
        frame=0.06,
        views=((-0.03, 0.0), (0.03, 0.0)),
    )
    rows = scene.render(plan, tmp_path)
    assert [r["id"] for r in rows] == ["check-0000-v00", "check-0000-v01"] and [r["view"] for r in rows] == [0, 1]
    left, right = (load_sample(tmp_path, r["id"]) for r in rows)
    ys, xs = np.nonzero(left.mask)
    assert abs(ys.mean() - 47.5) < 1 and abs(xs.mean() - 47.5) < 1  # the dent is at the left view's centre
    assert not right.mask.any()


def test_sensor_noise_is_seeded_and_has_the_configured_spread():
    image = np.full((200, 200, 3), 100, np.uint8)
    noisy = add_sensor_noise(image, 3.0, 1)
    np.testing.assert_array_equal(noisy, add_sensor_noise(image, 3.0, 1))
    assert (noisy != add_sensor_noise(image, 3.0, 2)).any()
    assert noisy.std() == pytest.approx(3.0, rel=0.05) and abs(noisy.mean() - 100) < 0.1
    assert add_sensor_noise(image, 0.0, 1) is image


def test_render_samples_writes_the_layout_and_index_rows(tmp_path):
    spec = {"split": "val", "count": 2, "defects": {"min": 1, "max": 1}, "water_stains": False}
    samples = plan_dataset("rows", spec, 9)
    index = render_samples(samples, RENDER, tmp_path)
    assert index["id"].tolist() == ["rows-0000", "rows-0001"]
    assert set(index["split"]) == {"val"} and set(index["light"]) == {"hex"} and set(index["object"]) == {"plate"}
    assert (index["n_defects"] == 1).all() and (index["n_water_stain_instances"] == 0).all()
    for folder in ("images", "masks", "instances"):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == ["rows-0000.png", "rows-0001.png"]


def test_rendered_water_stains_cover_the_plate_as_the_numpy_reference_says(tmp_path):
    """The shader and `defectlab.synth.water_stains` draw different stains but from one law: same coverage."""
    n, model = 64, StainModel(cell=0.02, radius=0.008, amplitude=0.002, fraction=1.0)
    scene = PlateScene({"resolution": n, "samples": 1})
    centres = (np.arange(n) + 0.5 - n / 2) * WHOLE_PLATE_FRAME / n
    x, y = np.meshgrid(centres, -centres)
    on_plate = (np.abs(x) < PLATE_SIZE[0] / 2 - 0.002) & (np.abs(y) < PLATE_SIZE[1] / 2 - 0.002)
    rendered = []
    for i in range(12):
        plan = dataclasses.replace(plan_sample("law", {"split": "test"}, 3, i), water_stains=True, stain_model=model)
        rendered.append((_render(scene, plan, tmp_path).mask[on_plate] == STAIN).mean())
    rng = np.random.default_rng(0)
    points = rng.uniform((0, 0, 0), (2, 2, 10), (100_000, 3))
    _, inside = water_stains(points, 0.9, **dataclasses.asdict(model), seed=1)
    assert 0.1 < inside.mean() < 0.5
    assert np.mean(rendered) == pytest.approx(inside.mean(), rel=0.15)


def test_blur_and_exposure_change_the_camera_not_the_labels(scene, clean, tmp_path):
    plan = dataclasses.replace(clean, defects=DEFECTS)
    plain = _render(scene, plan, tmp_path / "plain")
    soft = _render(scene, dataclasses.replace(plan, blur=1.5), tmp_path / "soft")
    bright = _render(scene, dataclasses.replace(plan, exposure=0.5), tmp_path / "bright")
    for other in (soft, bright):
        np.testing.assert_array_equal(other.mask, plain.mask)
    detail = [np.abs(np.diff(s.image[24:72, 24:72].astype(float), axis=1)).mean() for s in (plain, soft)]
    assert detail[1] < 0.5 * detail[0]
    assert bright.image[24:72, 24:72].mean() > plain.image[24:72, 24:72].mean() + 10
