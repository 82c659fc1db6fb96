"""Render synthetic clutch objects with Blender (bpy, Cycles): every view's grayscale image and exact masks.

One object per scene (`ClutchScene`): its part (procedural or a user's mesh) with the object's defects and
insignificant defects carved in, the region materials with the object's drawn textures, a dark velvet
table, a small constant world term, and a camera carrying a ring light (an emissive torus around the lens,
invisible to the camera) to each view of the plan. Between views only the camera moves, so Cycles keeps
the scene (persistent data).

Labels: the plates' label pass (`nodes.render_pass`): every material's emission shows (class, instance),
one sample at each pixel's centre, the world and the ring light off; the 16-bit values are exact
multiples of 257 (`nodes.exact_labels`). A pixel is labelled by the face its centre sees.
"""

import math
import tempfile
import time
from pathlib import Path

import bpy
import bmesh
import cv2
import numpy as np
import pandas as pd
from mathutils import Matrix, Vector

from defectlab.data.layout import write_png
from defectlab.seeds import derive_seed
from defectlab.synth import clutch_geometry, clutch_materials
from defectlab.synth.clutch_defects import Carved, carve
from defectlab.synth.clutch_plan import DEFECTS, REGIONS, ClutchObject, View, check_camera, light_of, part_of
from defectlab.synth.nodes import Graph, configure_cycles, exact_labels, render_pass
from defectlab.synth.plates import add_sensor_noise

AMBIENT = 0.01  # world strength: the small constant term (off in the label pass)
TABLE_DROP = 0.0002  # m: the table below the part's foot (no coplanar faces)
TABLE_SIZE = 2.0  # m
BOUNCES = (6, 4, 1)  # max, glossy, diffuse: metal sees itself in the drum and the bore
RING_SEGMENTS = (64, 12)
GLOSSY_FILTER = 1.0  # Cycles' filter glossy: fewer fireflies from the small ring light in polished metal
INDIRECT_CLAMP = 10.0


def _configure_cycles(scene: bpy.types.Scene, render_cfg: dict, camera: dict) -> None:
    configure_cycles(scene, render_cfg, tuple(int(v) for v in camera["resolution"]), BOUNCES)
    scene.cycles.blur_glossy = GLOSSY_FILTER
    scene.cycles.sample_clamp_indirect = INDIRECT_CLAMP


def _add_table(scene: bpy.types.Scene) -> None:
    half = TABLE_SIZE / 2
    mesh = bpy.data.meshes.new("table")
    mesh.from_pydata(
        [(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)], [], [(0, 1, 2, 3)]
    )
    mesh.materials.append(clutch_materials.table_material())
    table = bpy.data.objects.new("table", mesh)
    table.location.z = -TABLE_DROP
    scene.collection.objects.link(table)


def _add_world(scene: bpy.types.Scene) -> bpy.types.Node:
    scene.world = bpy.data.worlds.new("world")
    scene.world.use_nodes = True
    background = scene.world.node_tree.nodes["Background"]
    background.inputs["Strength"].default_value = AMBIENT
    return background


def _add_camera(scene: bpy.types.Scene, camera: dict) -> bpy.types.Object:
    """A camera with the sensor's width and lens; the frame's height follows the resolution's aspect."""
    data = bpy.data.cameras.new("camera")
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width, data.lens = float(camera["sensor_width_mm"]), float(camera["focal_length_mm"])
    data.clip_start, data.clip_end = 0.005, 5.0
    obj = bpy.data.objects.new("camera", data)
    obj.rotation_mode = "QUATERNION"
    scene.collection.objects.link(obj)
    scene.camera = obj
    return obj


def _add_ring_light(scene: bpy.types.Scene, camera: bpy.types.Object, light: dict) -> bpy.types.Object:
    """An emissive torus around the lens, `offset` in front of the camera, carried by it, unseen by it."""
    bm = bmesh.new()
    major, minor = RING_SEGMENTS
    rings = []
    for i in range(major):
        a = 2 * math.pi * i / major
        centre = Vector((light["radius"] * math.cos(a), light["radius"] * math.sin(a), 0.0))
        outward = Vector((math.cos(a), math.sin(a), 0.0))
        rings.append(
            [
                bm.verts.new(centre + light["tube"] * (outward * math.cos(b) + Vector((0, 0, math.sin(b)))))
                for b in (2 * math.pi * j / minor for j in range(minor))
            ]
        )
    for i in range(major):
        ring, following = rings[i], rings[(i + 1) % major]
        for j in range(minor):
            bm.faces.new((ring[j], ring[(j + 1) % minor], following[(j + 1) % minor], following[j]))
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
    mesh = bpy.data.meshes.new("ring")
    bm.to_mesh(mesh)
    bm.free()
    material = bpy.data.materials.new("ring")
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    emission = tree.nodes.new("ShaderNodeEmission")
    emission.inputs["Strength"].default_value = float(light["strength"])
    tree.links.new(emission.outputs[0], tree.nodes.new("ShaderNodeOutputMaterial").inputs["Surface"])
    mesh.materials.append(material)
    ring = bpy.data.objects.new("ring", mesh)
    ring.parent = camera
    ring.location = (0.0, 0.0, -float(light["offset"]))  # the camera looks along its local -z
    ring.visible_camera = False
    scene.collection.objects.link(ring)
    return ring


def look_at(camera: bpy.types.Object, view: View) -> None:
    position, target = Vector(view.position), Vector(view.target)
    camera.location = position
    turn = (target - position).to_track_quat("-Z", "Y")
    camera.rotation_quaternion = turn @ Matrix.Rotation(view.roll, 4, "Z").to_quaternion()


class ClutchScene:
    """One object's scene: part, carved defects, materials, table, world, camera and ring light."""

    def __init__(self, clutch: ClutchObject, spec: dict, render_cfg: dict) -> None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene, self.clutch = bpy.context.scene, clutch
        camera = check_camera(spec)
        _configure_cycles(self.scene, render_cfg, camera)
        self.background = _add_world(self.scene)
        _add_table(self.scene)
        part = part_of(spec)
        if "mesh" in part:
            self.part = clutch_geometry.import_mesh(part["mesh"], float(part.get("mesh_scale", 1.0)))
        else:
            self.part = clutch_geometry.build_part(part)
        self.regions = clutch_materials.region_materials()
        for material, region in zip(self.regions, REGIONS, strict=True):
            clutch_materials.set_texture(material, region, clutch.texture[region])
            self.part.data.materials.append(material)
        defects = {**DEFECTS, **spec.get("defects", {})}
        insignificant = spec.get("insignificant_defects", {})
        self.carved: list[Carved] = carve(
            self.part,
            clutch,
            defects["regions"],
            float(defects["gap"]),
            insignificant.get("label", "class") == "class",
            self._material_for,
        )
        self.camera = _add_camera(self.scene, camera)
        self.ring = _add_ring_light(self.scene, self.camera, light_of(spec))
        self.graphs = [
            Graph(m.node_tree) for m in bpy.data.materials if m.node_tree and "label_mode" in m.node_tree.nodes
        ]
        self.image = {
            "samples": render_cfg.get("samples", 16),
            "adaptive_sampling": render_cfg.get("adaptive_sampling", False),
            "denoise": render_cfg.get("denoise", False),
            "exposure": clutch.exposure,
        }
        self.scene.cycles.seed = clutch.seed % 2**31

    def _material_for(self, region: str, cls: str, instance: int) -> bpy.types.Material:
        name = f"defect{instance}-{region}" if instance else f"unlabelled-{len(bpy.data.materials)}-{region}"
        return clutch_materials.defect_material(self.regions[REGIONS.index(region)], cls, instance, name)

    def render_view(self, view: View, tmp: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A view's 8-bit grayscale image, class mask (uint8), instance mask (uint16) and region map (-1: table)."""
        look_at(self.camera, view)
        self.background.inputs["Strength"].default_value = AMBIENT
        self.ring.hide_render = False
        image = render_pass(self.scene, self.graphs, tmp / "image.png", False, self.image, colour="BW")
        self.background.inputs["Strength"].default_value = 0.0
        self.ring.hide_render = True
        mask, instances, regions = exact_labels(
            render_pass(self.scene, self.graphs, tmp / "label.png", True, self.image)
        )
        return image, mask.astype(np.uint8), instances.astype(np.uint16), regions - 1


def render_object(clutch: ClutchObject, spec: dict, render_cfg: dict, out_dir: str | Path) -> pd.DataFrame:
    """Render every view of `clutch` into `out_dir` (common dataset layout, no index file); its index rows."""
    out_dir = Path(out_dir)
    start = time.perf_counter()
    scene = ClutchScene(clutch, spec, render_cfg)
    print(
        f"{clutch.id}: scene with {len(scene.carved)} carved defects in {time.perf_counter() - start:.1f} s", flush=True
    )
    rows, noise = [], float(spec.get("sensor_noise", 0.0))
    for k, view in enumerate(clutch.views):
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="clutch-render-") as tmp:
            image, mask, instances, regions = scene.render_view(view, Path(tmp))
        if clutch.blur > 0:
            image = cv2.GaussianBlur(image, (0, 0), clutch.blur)
        image = add_sensor_noise(image, noise, derive_seed(clutch.seed, "sensor", k))
        image_id = clutch.image_id(k)
        write_png(out_dir / "images" / f"{image_id}.png", image)
        write_png(out_dir / "masks" / f"{image_id}.png", mask)
        write_png(out_dir / "instances" / f"{image_id}.png", instances)
        rows.append(
            {
                "id": image_id,
                "split": clutch.split,
                "object": clutch.id,
                "view": k,
                "light": "ring",
                "examined": view.examined,
            }
            | {f"camera_{axis}": value for axis, value in zip("xyz", view.position, strict=True)}
            | {f"px_{region}": int((regions == r).sum()) for r, region in enumerate(REGIONS)}
            | clutch.index_row()
        )
        print(f"[{k + 1}/{len(clutch.views)}] {image_id}: {time.perf_counter() - start:.2f} s", flush=True)
    return pd.DataFrame(rows)
