import itertools
import json
import math

import numpy as np
import pytest

from defectlab.seeds import derive_seed
from defectlab.synth.plan import (
    DEFECT_GAP,
    EDGE_MARGIN,
    MAX_DEFECTS,
    PLATE_SIZE,
    Defect,
    StainModel,
    plan_dataset,
    resolve_spec,
    views,
)

SPEC = {
    "split": "test",
    "count": 40,
    "shards": 3,
    "defects": {"min": 1, "max": 3, "classes": ["scratch", "dent", "bump"]},
    "water_stains": True,
    "texture": {"roughness": [0.25, 0.35], "normal_strength": [0.15, 0.3]},
}


def test_same_seed_gives_the_same_plan_and_another_seed_another():
    assert plan_dataset("plates-test", SPEC, 7) == plan_dataset("plates-test", SPEC, 7)
    assert plan_dataset("plates-test", SPEC, 7) != plan_dataset("plates-test", SPEC, 8)


def test_a_sample_depends_on_seed_name_and_index_only():
    full = plan_dataset("plates-test", SPEC, 7)
    assert plan_dataset("plates-test", {**SPEC, "count": 10, "shards": 1}, 7) == full[:10]
    assert [s.id for s in full[:2]] == ["plates-test-0000", "plates-test-0001"]
    assert all(s.seed == derive_seed(7, "plates-test", i) for i, s in enumerate(full))
    assert {s.split for s in full} == {"test"} and all(s.water_stains for s in full)


def test_defect_counts_and_classes_follow_the_spec():
    samples = plan_dataset("d", SPEC, 3)
    assert all(1 <= len(s.defects) <= 3 for s in samples)
    assert {d.cls for s in samples for d in s.defects} == {"scratch", "dent", "bump"}
    only_dents = plan_dataset("d", {**SPEC, "defects": {"min": 2, "max": 2, "classes": ["dent"]}}, 3)
    assert all(len(s.defects) == 2 and {d.cls for d in s.defects} == {"dent"} for s in only_dents)
    clean = plan_dataset("d", {"split": "train", "count": 5}, 3)
    assert all(not s.defects and not s.water_stains for s in clean)


def test_defects_lie_on_the_plate_away_from_its_edges_and_each_other():
    for sample in plan_dataset("d", {**SPEC, "defects": {"min": MAX_DEFECTS, "max": MAX_DEFECTS}}, 5):
        for d in sample.defects:
            assert abs(d.x) + d.extent <= PLATE_SIZE[0] / 2 - EDGE_MARGIN
            assert abs(d.y) + d.extent <= PLATE_SIZE[1] / 2 - EDGE_MARGIN
        for a, b in itertools.combinations(sample.defects, 2):
            assert math.hypot(a.x - b.x, a.y - b.y) >= a.extent + b.extent + DEFECT_GAP


def test_texture_parameters_stay_in_their_ranges():
    spec = {**SPEC, "texture": {"roughness": [0.3, 0.31], "normal_strength": [0.2, 0.21], "scale": [2, 2.5]}}
    for s in plan_dataset("d", spec, 1):
        assert 0.3 <= s.roughness <= 0.31 and 0.2 <= s.normal_strength <= 0.21 and 2 <= s.texture_scale <= 2.5


def test_index_row_is_flat_and_keeps_the_defects():
    sample = plan_dataset("d", SPEC, 2)[0]
    row = sample.index_row()
    assert all(isinstance(v, int | float | str | bool) for v in row.values())
    assert row["plate"] == sample.id and row["n_defects"] == len(sample.defects)
    assert row["n_scratch"] + row["n_dent"] + row["n_bump"] == len(sample.defects)
    assert [d["cls"] for d in json.loads(row["defects"])] == [d.cls for d in sample.defects]


@pytest.mark.parametrize(
    ("defects", "message"),
    [
        ({"min": 2, "max": 1}, "need 0 <= min"),
        ({"min": 0, "max": MAX_DEFECTS + 1}, "need 0 <= min"),
        ({"min": 1, "max": 1, "classes": ["rust"]}, "no defect model for class 'rust'"),
    ],
)
def test_bad_defect_specs_are_refused(defects, message):
    with pytest.raises(ValueError, match=message):
        plan_dataset("d", {**SPEC, "defects": defects}, 1)


def _segment_distance(px, py, a, b):
    """Distance of points to the segment a-b: the textbook formula."""
    (ax, ay), (bx, by) = a, b
    t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    return np.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay))


def test_straight_scratch_distance_is_the_distance_to_its_segment():
    rng = np.random.default_rng(0)
    px, py = rng.uniform(-0.05, 0.05, (2, 2000))
    scratch = Defect("scratch", 0.01, -0.02, 0.001, 0.0001, angle=0.7, length=0.03)
    c, s = math.cos(0.7) * 0.015, math.sin(0.7) * 0.015
    expected = _segment_distance(px, py, (0.01 - c, -0.02 - s), (0.01 + c, -0.02 + s))
    np.testing.assert_allclose(scratch.distance(px, py), expected, atol=1e-12)
    dent = Defect("dent", 0.01, -0.02, 0.004, 0.0005)
    np.testing.assert_allclose(dent.distance(px, py), np.hypot(px - 0.01, py + 0.02), atol=1e-12)


def test_a_bent_scratch_passes_through_its_arc_and_stays_within_its_extent():
    scratch = Defect("scratch", 0.0, 0.0, 0.001, 0.0001, angle=0.3, length=0.03, curvature=30.0)
    t = np.linspace(-0.015, 0.015, 101)
    u, v = t, 30.0 * t**2 / 2  # the centre line in the scratch's frame
    x, y = u * math.cos(0.3) - v * math.sin(0.3), u * math.sin(0.3) + v * math.cos(0.3)
    np.testing.assert_allclose(scratch.distance(x, y), 0, atol=1e-12)
    assert np.hypot(x, y).max() <= scratch.extent - scratch.half_width + 1e-12
    assert scratch.distance(np.array([0.0]), np.array([0.0]))[0] == 0  # the chord's middle is on the line there


def test_a_twin_keeps_texture_and_defects_and_adds_only_what_it_names():
    datasets = {
        "clean": {"split": "train", "count": 6, "defects": {"min": 1, "max": 2}},
        "ws": {"split": "train", "count": 4, "twin_of": "clean", "water_stains": True},
        "ws-light": {"split": "train", "count": 4, "twin_of": "ws", "light": "hex-rot90", "stickers": {"max": 1}},
    }
    clean = plan_dataset("clean", resolve_spec("clean", datasets), 3)
    for name in ("ws", "ws-light"):
        twin = plan_dataset(name, resolve_spec(name, datasets), 3)
        assert [s.id for s in twin] == [f"{name}-{i:04d}" for i in range(4)]
        for a, b in zip(clean, twin, strict=False):
            assert (a.seed, a.roughness, a.texture_offset, a.defects) == (
                b.seed,
                b.roughness,
                b.texture_offset,
                b.defects,
            )
            assert b.water_stains and not a.water_stains and a.stain_offset == b.stain_offset
    assert {s.light for s in plan_dataset("ws-light", resolve_spec("ws-light", datasets), 3)} == {"hex-rot90"}
    other = plan_dataset("other", {**datasets["clean"], "water_stains": True}, 3)
    assert all(a.texture_offset != b.texture_offset for a, b in zip(clean, other, strict=True))


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"a": {"split": "train", "count": 2, "twin_of": "b"}}, "twin_of names 'b'"),
        (
            {"a": {"split": "train", "count": 2, "twin_of": "b"}, "b": {"split": "train", "count": 2, "twin_of": "a"}},
            "cycle",
        ),
        ({"a": {"split": "train", "count": 3, "twin_of": "b"}, "b": {"split": "train", "count": 2}}, "count 3 exceeds"),
    ],
)
def test_bad_twins_are_refused(datasets, message):
    with pytest.raises(ValueError, match=message):
        resolve_spec("a", datasets)


def test_impurities_follow_the_spec_and_stickers_never_cover_defects():
    spec = {**SPEC, "fingerprints": {"min": 1, "max": 2}, "stickers": {"min": 1, "max": 2}}
    samples = plan_dataset("i", spec, 5)
    assert {len(s.fingerprints) for s in samples} == {1, 2} and {len(s.stickers) for s in samples} == {1, 2}
    for s in samples:
        for sticker in s.stickers:
            assert 1 <= sticker.number <= 99
            for other in [*s.defects, *s.fingerprints]:
                assert math.hypot(sticker.x - other.x, sticker.y - other.y) >= sticker.extent + other.extent
    assert all(not s.fingerprints and not s.stickers for s in plan_dataset("i", SPEC, 5))


def test_a_grid_of_views_tiles_the_plate_row_by_row():
    grid = views({"grid": [4, 3]})
    assert len(grid) == 12 and grid[0] == pytest.approx((-0.045, 0.1 / 3))
    assert grid[3] == pytest.approx((0.045, 0.1 / 3)) and grid[-1] == pytest.approx((0.045, -0.1 / 3))
    assert views({}) == ((0.0, 0.0),)
    sample = plan_dataset("g", {**SPEC, "count": 1, "camera": {"grid": [4, 3], "frame": 0.04}}, 1)[0]
    assert sample.frame == 0.04 and sample.image_id(11) == "g-0000-v11"
    assert plan_dataset("g", {**SPEC, "count": 1}, 1)[0].image_id(0) == "g-0000"


def test_water_stain_settings_and_the_cell_size_limit():
    sample = plan_dataset("w", {**SPEC, "water_stains": {"cell": 0.02, "radius": 0.005}}, 1)[0]
    assert sample.water_stains and sample.stain_model == StainModel(cell=0.02, radius=0.005)
    with pytest.raises(ValueError, match="radius \\+ amplitude"):
        plan_dataset("w", {**SPEC, "water_stains": {"cell": 0.01, "radius": 0.009}}, 1)
    with pytest.raises(ValueError, match="light 'dome'"):
        plan_dataset("w", {**SPEC, "light": "dome"}, 1)
