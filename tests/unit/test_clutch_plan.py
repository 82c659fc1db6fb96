"""The clutch's plan (no Blender): the view plan, seeded objects, twins, and bad settings refused by key."""

import math
import re

import numpy as np
import pytest

from defectlab.synth.clutch_plan import (
    REGIONS,
    VIEWS,
    defect_bounds,
    gallery_datasets,
    images_of,
    plan_clutch_dataset,
    plan_object,
    plan_views,
)

SPEC = {"generator": "clutch", "split": "train", "count": 4}


def elevation(view) -> float:
    d = np.subtract(view.position, view.target)
    return math.degrees(math.asin(d[2] / np.linalg.norm(d)))


def test_the_default_plan_has_106_views_86_of_them_examined():
    views = plan_views(SPEC, np.random.default_rng(0))
    assert len(views) == 106 and sum(v.examined for v in views) == 86
    examined = [elevation(v) for v in views if v.examined]
    extra = [elevation(v) for v in views if not v.examined]
    assert min(examined) >= VIEWS["min_elevation"] and max(examined) <= 90
    assert all(VIEWS["extra_elevation"][0] <= e <= VIEWS["extra_elevation"][1] for e in extra)
    for v in views:  # every camera at the plan's distance from its target
        assert np.linalg.norm(np.subtract(v.position, v.target)) == pytest.approx(VIEWS["distance"])
    assert images_of(SPEC) == 4 * 106


def test_same_seed_same_objects_and_objects_differ():
    assert plan_clutch_dataset("c", SPEC, 3) == plan_clutch_dataset("c", SPEC, 3)
    first, second = plan_object("c", SPEC, 3, 0), plan_object("c", SPEC, 3, 1)
    assert first.texture != second.texture and first.insignificant != second.insignificant
    assert plan_object("c", SPEC, 4, 0) != first


def test_half_the_objects_are_defective_by_default_and_defects_follow_the_ranges():
    objects = plan_clutch_dataset("c", {**SPEC, "count": 6}, 1)
    assert [o.defective for o in objects] == [True, True, True, False, False, False]
    assert all(2 <= len(o.defects) <= 7 for o in objects[:3]) and not any(o.defects for o in objects[3:])
    for defect in (d for o in objects for d in o.defects):
        if defect.cls == "dent":
            assert 0.0002 <= defect.size <= 0.002 and 1.0 <= defect.elongation <= 1.5
        else:
            assert 0.00005 <= defect.size <= 0.0003 and 0.003 <= defect.length <= 0.03
    for defect in (d for o in objects for d in o.insignificant):
        assert defect.insignificant and 0.0002 <= defect.edge_distance <= 0.001
    assert defect_bounds({**SPEC, "count": 6}) == (0, 7)
    assert defect_bounds({**SPEC, "defective": 4}) == (2, 7)
    assert defect_bounds({**SPEC, "defective": 0}) == (0, 0)


def test_a_defect_free_twin_keeps_textures_insignificant_defects_and_views():
    source = plan_object("c", SPEC, 5, 0)
    twin = plan_object("twin", {**SPEC, "defective": 0, "draws": "c"}, 5, 0)
    assert source.defects and not twin.defects
    assert (twin.texture, twin.insignificant, twin.views) == (source.texture, source.insignificant, source.views)


def test_finishes_are_taken_in_turn_and_override_the_texture_ranges():
    spec = {
        **SPEC,
        "texture": {"milled": {"roughness": [0.5, 0.5]}},
        "finishes": [{"name": "a"}, {"name": "b", "texture": {"milled": {"roughness": [0.9, 0.9]}}}],
    }
    objects = plan_clutch_dataset("c", spec, 2)
    assert [o.finish for o in objects] == ["a", "b", "a", "b"]
    assert [o.texture["milled"]["roughness"] for o in objects] == [0.5, 0.9, 0.5, 0.9]
    assert set(objects[0].texture) == set(REGIONS)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"defects": {"dent": {"depth": [0.0003, 0.0001]}}}, "defects.dent.depth: range [0.0003, 0.0001] has its low"),
        ({"defects": {"scratch": {"width": [0.0, 0.0001]}}}, "defects.scratch.width: range [0, 0.0001] must lie above"),
        ({"defects": {"count": [5, 2]}}, "defects.count: [5, 2] needs 0 <= low <= high"),
        ({"defects": {"classes": ["crack"]}}, "defects.classes: ['crack']; known: dent, scratch"),
        ({"defects": {"regions": ["knurled"]}}, "defects.regions: ['knurled']"),
        ({"insignificant_defects": {"edge_distance": [0.001, 0.0001]}}, "insignificant_defects.edge_distance"),
        ({"texture": {"milled": {"scale": [0.0, 1.0]}}}, "texture.milled.scale"),
        ({"texture": {"knurled": {"scale": [1.0, 1.0]}}}, "texture: unknown regions ['knurled']"),
        ({"views": {"min_elevation": 95}}, "views.min_elevation: 95 must lie in [0, 90)"),
        ({"views": {"examined": 0, "extra": 0}}, "views: examined + extra is 0"),
        ({"camera": {"resolution": [0, 10]}}, "camera.resolution: [0, 10] must be two positive"),
        ({"light": {"radius": 0}}, "light.radius: 0 must be above 0"),
        ({"part": {"hub_radius": 0.07}}, "part: need bore_radius + thread_depth < hub_radius < drum_inner_radius"),
        ({"defective": 9}, "defective: 9 must lie in [0, count = 4]"),
        ({"finishes": [{"name": "a"}, {"name": "a"}]}, "finishes: names ['a', 'a'] repeat"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(settings: dict, message: str):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        plan_object("c", {**SPEC, **settings}, 0, 0)


def test_the_gallery_shows_the_first_defective_dataset_and_the_first_stand_in():
    datasets = {
        "plates": {"split": "train", "count": 1},
        "free": {**SPEC, "defective": 0},
        "synthetic": SPEC,
        "more": SPEC,
        "real": {**SPEC, "domain": "real"},
    }
    assert gallery_datasets(datasets) == ["synthetic", "real"]
    assert gallery_datasets({"free": {**SPEC, "defective": 0}}) == []
