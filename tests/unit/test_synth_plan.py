import itertools
import json
import math

import pytest

from defectlab.seeds import derive_seed
from defectlab.synth.plan import DEFECT_GAP, EDGE_MARGIN, MAX_DEFECTS, PLATE_SIZE, plan_dataset

SPEC = {
    "split": "test",
    "count": 40,
    "shards": 3,
    "defects": {"min": 1, "max": 3, "classes": ["scratch", "dent", "bump"]},
    "water_stains": True,
    "texture": {"roughness": [0.25, 0.35], "bump_strength": [0.15, 0.3]},
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
            for x, y in d.endpoints:
                assert abs(x) + d.half_width <= PLATE_SIZE[0] / 2 - EDGE_MARGIN
                assert abs(y) + d.half_width <= PLATE_SIZE[1] / 2 - EDGE_MARGIN
        for a, b in itertools.combinations(sample.defects, 2):
            assert math.hypot(a.x - b.x, a.y - b.y) >= a.extent + b.extent + DEFECT_GAP


def test_texture_parameters_stay_in_their_ranges():
    spec = {**SPEC, "texture": {"roughness": [0.3, 0.31], "bump_strength": [0.2, 0.21]}}
    for s in plan_dataset("d", spec, 1):
        assert 0.3 <= s.roughness <= 0.31 and 0.2 <= s.bump_strength <= 0.21


def test_index_row_is_flat_and_keeps_the_defects():
    sample = plan_dataset("d", SPEC, 2)[0]
    row = sample.index_row()
    assert all(isinstance(v, int | float | str | bool) for v in row.values())
    assert row["id"] == sample.id and row["n_defects"] == len(sample.defects)
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
