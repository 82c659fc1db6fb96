"""Real Blender renders at 96x96 with 4 samples: labels, determinism and image-label alignment."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from defectlab.classes import DEFECT_INDICES, class_index
from defectlab.data.layout import Sample, load_sample
from defectlab.synth.plan import Defect, PlateSample, StainModel, plan_dataset, plan_sample
from defectlab.synth.plates import PlateScene, render_samples

RENDER = {"resolution": 96, "samples": 4}
STAIN = class_index("water_stain")
DEFECTS = (
    Defect("scratch", -0.03, 0.02, 0.0012, 0.00015, 0.5, 0.03),
    Defect("dent", 0.025, -0.015, 0.005, 0.0006),
    Defect("bump", -0.02, -0.025, 0.006, 0.0008),
)
DENSE_STAINS = StainModel(cell=0.025, radius=0.01, fraction=1.0)


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
    spec = {"split": "test", "count": 2, "defects": {"min": 3, "max": 4}, "water_stains": True}
    for plan in plan_dataset("mixed", spec, 4):
        plan = dataclasses.replace(plan, stain_model=DENSE_STAINS)
        sample = _render(scene, plan, tmp_path)
        assert set(np.unique(sample.mask)) <= {0, *DEFECT_INDICES, STAIN}
        assert ((sample.mask > 0) == (sample.instances > 0)).all()
        k = len(plan.defects)
        ids = np.unique(sample.instances[sample.instances > 0])
        for i in ids:
            classes = np.unique(sample.mask[sample.instances == i])
            expected = class_index(plan.defects[i - 1].cls) if i <= k else STAIN
            assert classes.tolist() == [expected]
        stain_ids = ids[ids > k]
        assert stain_ids.tolist() == list(range(k + 1, k + 1 + len(stain_ids)))
        assert ids[0] == 1 and len(stain_ids) > 0


def test_a_sample_renders_to_identical_bytes_twice(scene, clean, tmp_path):
    plan = dataclasses.replace(clean, defects=DEFECTS, water_stains=True)
    for root in ("a", "b"):
        scene.render(plan, tmp_path / root)
    for folder in ("images", "masks", "instances"):
        name = f"{folder}/{plan.id}.png"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_images_change_only_near_the_defect_mask_and_on_most_of_it(scene, clean, tmp_path):
    defective = _render(scene, dataclasses.replace(clean, defects=DEFECTS), tmp_path / "defective")
    plain = _render(scene, clean, tmp_path / "plain")
    change = _image_change(defective, plain)
    labelled = defective.mask > 0
    assert set(np.unique(defective.mask)) == {0, *DEFECT_INDICES}
    assert not change[~ndimage.binary_dilation(labelled, iterations=3)].any()
    for cls in DEFECT_INDICES:
        assert (change[defective.mask == cls] > 12).mean() > 0.6


def test_water_stains_are_labelled_where_they_darken_the_plate(scene, clean, tmp_path):
    stained = _render(scene, dataclasses.replace(clean, water_stains=True, stain_model=DENSE_STAINS), tmp_path / "s")
    plain = _render(scene, clean, tmp_path / "plain")
    change = _image_change(stained, plain)
    labelled = stained.mask == STAIN
    assert labelled.mean() > 0.05 and set(np.unique(stained.mask)) == {0, STAIN}
    assert not change[~ndimage.binary_dilation(labelled, iterations=3)].any()
    assert (change[labelled] > 4).mean() > 0.4
    assert stained.image[labelled].mean() < plain.image[labelled].mean()


def test_render_samples_writes_the_layout_and_index_rows(tmp_path):
    spec = {"split": "val", "count": 2, "defects": {"min": 1, "max": 1}, "water_stains": False}
    samples = plan_dataset("rows", spec, 9)
    index = render_samples(samples, RENDER, tmp_path)
    assert index["id"].tolist() == ["rows-0000", "rows-0001"]
    assert set(index["split"]) == {"val"} and set(index["light"]) == {"hex"} and set(index["object"]) == {"plate"}
    assert (index["n_defects"] == 1).all() and (index["n_water_stain_instances"] == 0).all()
    for folder in ("images", "masks", "instances"):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == ["rows-0000.png", "rows-0001.png"]
