"""The clutch rendered with Blender at a tiny size: geometry, carved defects, exact labels, the light, the bytes.

Blender holds one scene per process, so the module renders everything once (`rendered`): the defective object
seen straight onto each of its defects, its defect-free twin from the same views, and the defective object
built a second time; the tests then check what was kept.
"""

import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from mathutils import Vector  # noqa: E402

from defectlab.classes import DEFECT_INDICES, class_index  # noqa: E402
from defectlab.synth import clutch_geometry, clutch_materials  # noqa: E402
from defectlab.synth.clutch import ClutchScene  # noqa: E402
from defectlab.synth.clutch_defects import carve, carved_depth  # noqa: E402
from defectlab.synth.clutch_plan import PART, REGIONS, View, plan_object  # noqa: E402

SPEC = {
    "generator": "clutch",
    "split": "test",
    "count": 1,
    "defective": 1,
    "defects": {
        "count": [3, 3],
        "regions": ["milled", "fine_turned"],  # flat faces looking up: a camera over one sees no other part
        "dent": {"diameter": [0.0015, 0.002]},
        "scratch": {"width": [0.0002, 0.0003], "length": [0.004, 0.006]},
    },
    "insignificant_defects": {"count": [3, 3], "dent": {"diameter": [0.0004, 0.0006]}},
    "views": {"examined": 2, "extra": 1},
    "camera": {"resolution": [64, 54]},
}
RENDER = {"samples": 4, "threads": 2}
CLOSE = 0.015  # m: the camera's distance when it looks straight at a carved defect
SEED = 11
TWIN_SAMPLES = 32  # the twin comparison's: the paths that diverge near a cut are noise, which samples reduce
INSIGNIFICANT = class_index("insignificant_defect")


def facing(point, normal) -> View:
    """A view from CLOSE along the normal, looking at the point."""
    position = tuple(p + CLOSE * n for p, n in zip(point, normal, strict=True))
    return View(position, tuple(point), 0.3, True)


def index_pass(scene: ClutchScene) -> np.ndarray:
    """The instance seen at each pixel centre, by ray casts from the camera: the emission pass's reference."""
    camera, render = scene.camera, scene.scene.render
    width, height = render.resolution_x, render.resolution_y
    top_right, bottom_right, bottom_left, top_left = camera.data.view_frame(scene=scene.scene)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    origin, turn = camera.matrix_world.translation, camera.matrix_world.to_3x3()
    instances = np.zeros((height, width), np.int64)
    for row in range(height):
        for column in range(width):
            u, v = (column + 0.5) / width, (row + 0.5) / height
            direction = turn @ (top_left + (top_right - top_left) * u + (bottom_left - top_left) * v)
            hit, _, _, face, obj, _ = scene.scene.ray_cast(depsgraph, origin, direction.normalized())
            if hit and obj.name == "clutch":
                material = obj.data.materials[obj.data.polygons[face].material_index]
                value = material.node_tree.nodes["label.instance"].outputs[0].default_value
                instances[row, column] = round(value * 255)
    return instances


def vertex_set(obj) -> np.ndarray:
    coords = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def far_from(points: np.ndarray, centres: list[tuple], radius: float) -> set[tuple]:
    far = np.all([np.linalg.norm(points - c, axis=1) > radius for c in centres], axis=0)
    return {tuple(p) for p in np.round(points[far], 9)}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("clutch")
    clutch = plan_object("clutch", SPEC, SEED, 0)
    scene = ClutchScene(clutch, SPEC, RENDER)
    carved = scene.carved
    views = [facing(d.point, d.normal) for d in carved]
    out = {"clutch": clutch, "carved": carved, "open_edges": clutch_geometry.open_edges(scene.part)}
    out["depths"] = [carved_depth(scene.part, d) for d in carved]
    out["faces_per_material"] = {
        m.name: int(np.sum([p.material_index == k for p in scene.part.data.polygons]))
        for k, m in enumerate(scene.part.data.materials)
    }
    out["vertices"] = vertex_set(scene.part)
    out["views"], out["images"], out["masks"], out["instances"], out["index"] = views, [], [], [], []
    out["light"] = []
    for view in views:
        image, mask, instances, _ = scene.render_view(view, tmp)
        out["images"].append(image)
        out["masks"].append(mask)
        out["instances"].append(instances)
        out["index"].append(index_pass(scene))
        offset = scene.camera.matrix_world.inverted() @ scene.ring.matrix_world.translation
        axis = scene.camera.matrix_world.to_3x3() @ Vector((0, 0, 1))
        ring_axis = scene.ring.matrix_world.to_3x3() @ Vector((0, 0, 1))
        out["light"].append((tuple(offset), axis.angle(ring_axis)))
    out["regions"] = scene.render_view(View((0.0, -0.12, 0.2), (0.0, 0.0, 0.0), 0.0, True), tmp)[3]
    scene.image["samples"] = TWIN_SAMPLES
    out["compared"] = [scene.render_view(view, tmp)[0] for view in views[: len(clutch.defects)]]

    twin = plan_object("twin", {**SPEC, "defective": 0, "draws": "clutch"}, SEED, 0)
    twin_scene = ClutchScene(twin, SPEC, RENDER)
    out["twin_vertices"] = vertex_set(twin_scene.part)
    twin_scene.image["samples"] = TWIN_SAMPLES
    out["twin_images"] = [twin_scene.render_view(view, tmp)[0] for view in views[: len(clutch.defects)]]

    again = ClutchScene(clutch, SPEC, RENDER)
    out["again"] = again.render_view(views[0], tmp)
    return out


def test_the_procedural_part_is_watertight_with_every_region_and_the_same_mesh_for_the_same_settings():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    first = clutch_geometry.build_part(dict(PART))
    regions = np.empty(len(first.data.polygons), np.int32)
    first.data.polygons.foreach_get("material_index", regions)
    assert clutch_geometry.open_edges(first) == 0
    assert set(regions) == set(range(len(REGIONS)))
    top = max(v.co.z for v in first.data.vertices)
    assert min(v.co.z for v in first.data.vertices) == pytest.approx(0.0, abs=1e-7)
    assert top == pytest.approx(PART["hub_height"], abs=1e-7)
    digest = clutch_geometry.mesh_hash(first)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert clutch_geometry.mesh_hash(clutch_geometry.build_part(dict(PART))) == digest
    bpy.ops.wm.read_factory_settings(use_empty=True)
    other = clutch_geometry.build_part({**PART, "bolt_holes": 5})
    assert clutch_geometry.mesh_hash(other) != digest


def _cylinder_fixture(segments: int = 12, radius: float = 0.03, z0: float = 0.005, z1: float = 0.015):
    """A closed prism: its vertices, and triangles (outward)."""
    angles = 2 * np.pi * np.arange(segments) / segments
    ring = np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
    vertices = [(*p, z0) for p in ring] + [(*p, z1) for p in ring] + [(0, 0, z0), (0, 0, z1)]
    bottom, top = 2 * segments, 2 * segments + 1
    triangles = []
    for k in range(segments):
        n = (k + 1) % segments
        triangles += [
            (k, n, segments + n),
            (k, segments + n, segments + k),
            (bottom, n, k),
            (top, segments + k, segments + n),
        ]
    return np.array(vertices, float), triangles


def _write(path: Path, vertices: np.ndarray, triangles: list) -> None:
    if path.suffix == ".ply":
        header = f"ply\nformat ascii 1.0\nelement vertex {len(vertices)}\nproperty float x\nproperty float y\n"
        header += (
            f"property float z\nelement face {len(triangles)}\nproperty list uchar int vertex_indices\nend_header\n"
        )
        body = "".join(f"{x} {y} {z}\n" for x, y, z in vertices) + "".join(f"3 {a} {b} {c}\n" for a, b, c in triangles)
        path.write_text(header + body)
    elif path.suffix == ".obj":
        body = "".join(f"v {x} {y} {z}\n" for x, y, z in vertices)
        path.write_text(body + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in triangles))
    else:
        facets = []
        for triangle in triangles:
            a, b, c = vertices[list(triangle)]
            n = np.cross(b - a, c - a)
            corners = "".join(f"      vertex {x} {y} {z}\n" for x, y, z in (a, b, c))
            facets.append(f"  facet normal {n[0]} {n[1]} {n[2]}\n    outer loop\n{corners}    endloop\n  endfacet\n")
        path.write_text("solid prism\n" + "".join(facets) + "endsolid prism\n")


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply"])
def test_an_imported_mesh_round_trips_its_vertices_stands_on_the_table_and_gets_regions(tmp_path: Path, suffix: str):
    vertices, triangles = _cylinder_fixture()
    path = tmp_path / f"prism{suffix}"
    _write(path, vertices, triangles)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = clutch_geometry.import_mesh(path, scale=2.0)
    expected = {tuple(v) for v in np.round((vertices - [0, 0, 0.005]) * 2.0, 6)}
    assert {tuple(v) for v in np.round(vertex_set(obj), 6)} == expected
    assert clutch_geometry.open_edges(obj) == 0
    regions = np.empty(len(obj.data.polygons), np.int32)
    obj.data.polygons.foreach_get("material_index", regions)
    assert {REGIONS[r] for r in regions} == {
        "milled",
        "turned",
        "brushed",
    }  # top (fan triangles: off the hub), wall, underside


def test_an_unknown_mesh_format_and_a_missing_file_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match=r"part.mesh: part.step is not one of .stl, .obj, .ply"):
        clutch_geometry.import_mesh(tmp_path / "part.step")
    with pytest.raises(ValueError, match="part.mesh: no file"):
        clutch_geometry.import_mesh(tmp_path / "part.stl")


def test_defects_are_carved_to_their_planned_depth_one_instance_each_and_the_mesh_stays_closed(rendered):
    clutch, carved = rendered["clutch"], rendered["carved"]
    defects = [d for d in carved if d.cls in ("dent", "scratch")]
    assert [d.instance for d in defects] == list(range(1, len(clutch.defects) + 1))
    assert [d.kind for d in defects] == [d.cls for d in clutch.defects]
    assert len(carved) == len(clutch.defects) + len(clutch.insignificant)
    for defect, depth in zip(carved, rendered["depths"], strict=True):
        assert depth == pytest.approx(defect.depth, rel=0.1)
    for defect in defects:  # its faces carry its own material
        assert (
            sum(n for name, n in rendered["faces_per_material"].items() if name.startswith(f"defect{defect.instance}-"))
            > 0
        )
    assert rendered["open_edges"] == 0


def seen(rendered) -> list[int]:
    """The facing views whose ray-cast index pass sees the defect they face (a defect inside a bolt hole or the
    thread may hide behind the part from close by)."""
    return [k for k, d in enumerate(rendered["carved"]) if (rendered["index"][k] == d.instance).any()]


def test_labels_are_exact_and_the_emission_pass_matches_a_ray_cast_index_pass(rendered):
    n_defects = len(rendered["clutch"].defects)
    visible = seen(rendered)
    assert any(k < n_defects for k in visible) and any(k >= n_defects for k in visible)
    for k in visible:
        mask, instances, index = rendered["masks"][k], rendered["instances"][k], rendered["index"][k]
        assert (instances == rendered["carved"][k].instance).any()
        for instance in set(np.unique(index)) | set(np.unique(instances)):
            if instance:
                assert np.sum((instances == instance) != (index == instance)) <= 1
        # one class per instance; insignificant defects are never a defect class
        for instance in np.unique(instances[instances > 0]):
            assert len(np.unique(mask[instances == instance])) == 1
        assert not np.isin(mask[instances > n_defects], DEFECT_INDICES).any()
        assert (mask[instances > n_defects] == INSIGNIFICANT).all()
        assert not (mask[(instances >= 1) & (instances <= n_defects)] == INSIGNIFICANT).any()


def test_a_defect_mask_lies_where_the_defect_free_twin_differs(rendered):
    """Rendered with and without the defect (same seed): the image changes inside its mask far more than away from
    it (away from it paths that reach the re-triangulated faces around the cut diverge, which is noise)."""
    n_defects = len(rendered["clutch"].defects)
    for k in (k for k in seen(rendered) if k < n_defects):
        change = np.abs(rendered["compared"][k].astype(int) - rendered["twin_images"][k].astype(int))
        defect = rendered["instances"][k] == rendered["carved"][k].instance
        grown = np.zeros_like(defect)
        rows, cols = np.nonzero(defect)
        for r, c in zip(rows, cols, strict=True):
            grown[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4] = True
        inside, outside = change[defect].mean(), change[~grown].mean()
        assert inside > 3 * outside + 2, (k, inside, outside)


def test_the_twin_has_the_same_geometry_away_from_the_defects(rendered):
    defects = [d for d in rendered["carved"] if d.cls in ("dent", "scratch")]
    centres = [d.point for d in defects]
    radius = max(d.extent for d in defects) + 0.001
    twin, defective = rendered["twin_vertices"], rendered["vertices"]
    assert far_from(twin, centres, radius) == far_from(defective, centres, radius)
    assert len(defective) > len(twin)


def test_the_ring_light_moves_with_the_camera(rendered):
    for offset, angle in rendered["light"]:
        assert offset == pytest.approx((0.0, 0.0, -0.005), abs=1e-7)
        assert angle == pytest.approx(0.0, abs=1e-6)


def test_each_view_reports_the_regions_it_shows(rendered):
    shown = {REGIONS[r] for r in np.unique(rendered["regions"]) if r >= 0}
    assert {"milled", "turned", "fine_turned"} <= shown
    assert (rendered["regions"] == -1).any()  # the table


def test_the_same_object_renders_the_same_bytes(rendered):
    image, mask, instances, _ = rendered["again"]
    assert np.array_equal(image, rendered["images"][0])
    assert np.array_equal(mask, rendered["masks"][0]) and np.array_equal(instances, rendered["instances"][0])


def test_insignificant_defects_as_background_carry_no_label():
    """The paper's masks: insignificant defects carved, their faces labelled background."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    part = {**PART, "thread_depth": 0.0, "bolt_holes": 0, "windows": 0}
    obj = clutch_geometry.build_part(part)
    materials = clutch_materials.region_materials()
    for material in materials:
        obj.data.materials.append(material)
    clutch = plan_object("clutch", {**SPEC, "defective": 0, "part": part}, SEED, 0)

    def material_for(region: str, cls: str, instance: int):
        return clutch_materials.defect_material(
            materials[REGIONS.index(region)], cls, instance, f"d{len(bpy.data.materials)}"
        )

    carved = carve(obj, clutch, ["milled"], 0.002, False, material_for)
    assert [d.cls for d in carved] == ["background"] * len(clutch.insignificant)
    assert {d.instance for d in carved} == {0}
    for material in obj.data.materials:
        nodes = material.node_tree.nodes
        assert (
            nodes["label.class"].outputs[0].default_value == 0 and nodes["label.instance"].outputs[0].default_value == 0
        )
    assert clutch_geometry.open_edges(obj) == 0
    assert math.isclose(max(v.co.z for v in obj.data.vertices), part["hub_height"], abs_tol=1e-7)
