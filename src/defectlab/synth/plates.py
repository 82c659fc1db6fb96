"""Render synthetic brushed-aluminium plates with Blender (bpy, Cycles) and their class and instance masks.

The scene is built once per process (`PlateScene`); between samples only values of shader
nodes change, so Cycles never rebuilds geometry. One node graph defines the plate's
appearance and its labels: the defect heights that drive the Bump node and the water-stain
test of Algorithm 1 that changes the reflectance also give the label colour of an
emission shader, which a second, one-sample render shows in place of the metal.

Label rule: the label render samples each pixel at its centre only (pixel filter width
0.01, one sample), so a pixel is labelled by what covers its centre, and a feature
narrower than a pixel is labelled on the pixels whose centre it covers.

Instance ids: defects get 1..k in slot (plan) order; water stains get k+1, k+2, ... by
8-connected components of the rendered stain region (`scipy.ndimage.label`), so a stain
split by a defect, or two touching stains, follow what the mask shows. Defects take
precedence over water stains where they overlap.
"""

import math
import tempfile
import time
from pathlib import Path

import bpy
import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from defectlab.classes import class_index
from defectlab.data.layout import write_png
from defectlab.seeds import derive_seed
from defectlab.synth.nodes import (
    Graph,
    Input,
    configure_cycles,
    exact_labels,
    label_emission,
    material_output,
    render_pass,
)
from defectlab.synth.plan import (
    LIGHTS,
    MAX_DEFECTS,
    MAX_FINGERPRINTS,
    MAX_STICKERS,
    PLATE_SIZE,
    Defect,
    Fingerprint,
    PlateSample,
)

CAMERA_HEIGHT = 0.30  # m above the plate, looking straight down
RING_APOTHEM = 0.07  # m from the optical axis to the middle of each hexagon side
RING_HEIGHT = 0.28  # m, just below the camera
RING_DEPTH = 0.03  # m, radial depth of each light panel
LIGHT_POWER = 0.012  # W per panel
AMBIENT = 0.02  # world strength: the small constant term
BASE_COLOR = (0.91, 0.92, 0.92)  # aluminium reflectance R_in (linear)
BRUSH_FREQUENCY = (20.0, 400.0, 0.0)  # brushing-noise frequency along and across the brushing (1/m), times the scale
BRUSH_DEPTH = 0.0003  # Bump distance of the brushing noise (its height is in [0, 1])
BACKDROP_DEPTH = 0.002  # m of black backdrop below the plate
FINGERPRINT_WARP_FREQUENCY = 150.0  # 1/m: how quickly the ridges bend
FINGERPRINT_ROUGHNESS = 0.15  # roughness added on a ridge
STICKER_LIFT = 0.00015  # m: sticker thickness above the plate
INK_LIFT = 0.00002  # m: marker number above the sticker
STICKER_PAPER = (0.8, 0.8, 0.76, 1.0)
STICKER_INK = (0.02, 0.02, 0.03, 1.0)
BUBBLE_CELL = 0.004  # m: jittered grid of air bubbles under a sticker
BUBBLE_RADIUS = 0.0012  # m
BUBBLE_HEIGHT = 0.0002  # m

STAIN = class_index("water_stain")
FINGERPRINT = class_index("fingerprint")
STICKER = class_index("sticker")


def _defect_slot(g: Graph, p: bpy.types.NodeSocket, i: int) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """Height and coverage (0/1) of defect slot `i` at object-space point `p`.

    The distance to the slot's centre line is `Defect.distance` (u along the chord, v
    across, the line v = curvature * t^2 / 2 for |t| <= half length; a point for dents and
    bumps); the height is `height * (1 - s^2)^exponent` with s = distance / half width, and
    the slot covers the points with s < 1. A slot with half width 0 is off.
    """
    d = g.vmath("SUBTRACT", p, g.vector(f"slot{i}.centre"))
    u = g.vmath("DOT_PRODUCT", d, g.vector(f"slot{i}.along"))
    v = g.vmath("DOT_PRODUCT", d, g.vector(f"slot{i}.across"))
    half_length = g.value(f"slot{i}.half_length")
    t = g.math("MINIMUM", g.math("MAXIMUM", u, g.math("MULTIPLY", half_length, -1.0)), half_length)
    bend = g.math("MULTIPLY", g.value(f"slot{i}.curvature"), t)
    offset = g.math("SUBTRACT", v, g.math("MULTIPLY", g.math("MULTIPLY", bend, t), 0.5))
    across = g.math("DIVIDE", offset, g.math("SQRT", g.math("MULTIPLY_ADD", bend, bend, 1.0)))
    beyond = g.math("SUBTRACT", u, t)
    distance = g.math("SQRT", g.math("MULTIPLY_ADD", beyond, beyond, g.math("MULTIPLY", across, across)))
    half_width = g.value(f"slot{i}.half_width")
    s = g.math("DIVIDE", distance, half_width)
    profile = g.math(
        "POWER", g.math("SUBTRACT", 1.0, g.math("MULTIPLY", s, s), clamp=True), g.value(f"slot{i}.exponent")
    )
    return g.math("MULTIPLY", profile, g.value(f"slot{i}.height")), g.math("LESS_THAN", distance, half_width)


def _fingerprint_slot(
    g: Graph, p: bpy.types.NodeSocket, j: int
) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """Reflectance change, roughness change and coverage (0/1) of fingerprint slot `j`.

    rho is the elliptical radius (1 on the outline); ridges are rings of one period around
    the core, bent by a noise warp of a few periods, and fade out towards the outline. Oil
    on the ridges darkens the metal a little and roughens it: a low-contrast pattern.
    """
    d = g.vmath("SUBTRACT", p, g.vector(f"fp{j}.centre"))
    u = g.vmath("DOT_PRODUCT", d, g.vector(f"fp{j}.major"))  # along the major axis, in semi-axes
    v = g.vmath("DOT_PRODUCT", d, g.vector(f"fp{j}.minor"))
    rho = g.math("SQRT", g.math("MULTIPLY_ADD", u, u, g.math("MULTIPLY", v, v)))
    warp = g.node("ShaderNodeTexNoise", noise_dimensions="3D")
    g.feed(warp.inputs["Vector"], g.vmath("ADD", p, g.vector(f"fp{j}.warp")))
    g.feed(warp.inputs["Scale"], FINGERPRINT_WARP_FREQUENCY)
    phase = g.math("MULTIPLY_ADD", rho, g.value(f"fp{j}.rings"), g.math("MULTIPLY", warp.outputs["Fac"], 3.0))
    ridge = g.math("MULTIPLY_ADD", g.math("SINE", g.math("MULTIPLY", phase, 2 * math.pi)), 0.5, 0.5)
    covered = g.math("MULTIPLY", g.math("LESS_THAN", rho, 1.0), g.value(f"fp{j}.on"))
    fade = g.math("SUBTRACT", 1.0, g.math("POWER", rho, 4.0), clamp=True)
    strength = g.math("MULTIPLY", g.math("MULTIPLY", ridge, fade), covered)
    return (
        g.math("MULTIPLY", strength, g.math("MULTIPLY", g.value(f"fp{j}.contrast"), -1.0)),
        g.math("MULTIPLY", strength, FINGERPRINT_ROUGHNESS),
        covered,
    )


def _water_stains(g: Graph, p: bpy.types.NodeSocket) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """Reflectance change and coverage (0/1) of Algorithm 1 with jittered-grid centres.

    Voronoi F1 in 3-D with randomness 1 is jittered sampling: one uniform point per grid cell
    of size G, the nearest found among the neighbouring cells. r' = r + Perlin(p, f) * A;
    inside (d < r') the reflectance changes by (d / r')^gamma * alpha. Only cells whose
    random colour is below `fraction` hold a stain (fraction 0 switches stains off).
    """
    q = g.vmath("ADD", p, g.vector("stain.offset"))
    cell = g.value("stain.cell")
    voronoi = g.node("ShaderNodeTexVoronoi", voronoi_dimensions="3D", feature="F1")
    g.feed(voronoi.inputs["Vector"], q)
    g.feed(voronoi.inputs["Scale"], g.math("DIVIDE", 1.0, cell))
    g.feed(voronoi.inputs["Randomness"], 1.0)
    distance = g.math("MULTIPLY", voronoi.outputs["Distance"], cell)
    perlin = g.node("ShaderNodeTexNoise", noise_dimensions="3D")
    g.feed(perlin.inputs["Vector"], q)
    g.feed(perlin.inputs["Scale"], g.value("stain.frequency"))
    g.feed(perlin.inputs["Detail"], 0.0)
    signed = g.math("MULTIPLY_ADD", perlin.outputs["Fac"], 2.0, -1.0)
    radius = g.math("MULTIPLY_ADD", signed, g.value("stain.amplitude"), g.value("stain.radius"))
    red = g.node("ShaderNodeSeparateColor")
    g.feed(red.inputs[0], voronoi.outputs["Color"])
    kept = g.math("LESS_THAN", red.outputs["Red"], g.value("stain.fraction"))
    covered = g.math("MULTIPLY", g.math("LESS_THAN", distance, radius), kept)
    decay = g.math("POWER", g.math("DIVIDE", distance, radius), g.value("stain.gamma"))
    return g.math("MULTIPLY", g.math("MULTIPLY", decay, g.value("stain.alpha")), covered), covered


def _plate_material() -> bpy.types.Material:
    """The brushed-aluminium material with defects, water stains, fingerprints and the label emission."""
    material = bpy.data.materials.new("plate")
    material.use_nodes = True
    g = Graph(material.node_tree)
    g.tree.nodes.clear()
    p = g.node("ShaderNodeTexCoord").outputs["Object"]

    brushing = g.node("ShaderNodeTexNoise", noise_dimensions="3D")  # the plate's slice z = offset of 3-D noise
    g.feed(
        brushing.inputs["Vector"], g.vmath("MULTIPLY_ADD", p, g.vector("texture.frequency"), g.vector("texture.offset"))
    )
    g.feed(brushing.inputs["Detail"], 2.0)
    texture_bump = g.node("ShaderNodeBump")
    g.feed(texture_bump.inputs["Strength"], g.value("texture.normal_strength"))
    g.feed(texture_bump.inputs["Distance"], BRUSH_DEPTH)
    g.feed(texture_bump.inputs["Height"], brushing.outputs["Fac"])

    reflectance, stain_covered = _water_stains(g, p)
    roughness: Input = g.value("texture.roughness")
    label_class: Input = g.math("MULTIPLY", stain_covered, STAIN / 255)
    label_instance: Input = 0.0
    for j in range(MAX_FINGERPRINTS):
        change, rougher, covered = _fingerprint_slot(g, p, j)
        reflectance = g.math("ADD", reflectance, change)
        roughness = g.math("ADD", roughness, rougher)
        label_class = g.mix(label_class, FINGERPRINT / 255, covered)
        label_instance = g.mix(label_instance, g.value(f"fp{j}.instance"), covered)
    height: Input = 0.0
    for i in range(MAX_DEFECTS):
        slot_height, covered = _defect_slot(g, p, i)
        height = g.math("ADD", height, slot_height)
        label_class = g.mix(label_class, g.value(f"slot{i}.class"), covered)
        label_instance = g.mix(label_instance, (i + 1) / 255, covered)
    defect_bump = g.node("ShaderNodeBump")
    g.feed(defect_bump.inputs["Distance"], 1.0)  # heights are in metres
    g.feed(defect_bump.inputs["Height"], height)
    g.feed(defect_bump.inputs["Normal"], texture_bump.outputs["Normal"])

    metal = g.node("ShaderNodeBsdfPrincipled")
    g.feed(metal.inputs["Base Color"], g.vmath("ADD", BASE_COLOR, reflectance))
    g.feed(metal.inputs["Metallic"], 1.0)
    g.feed(metal.inputs["Roughness"], roughness)
    g.feed(metal.inputs["Anisotropic"], g.value("texture.anisotropy"))
    tangent = g.node("ShaderNodeCombineXYZ")  # across the brushing: highlights stretch along y
    g.feed(tangent.inputs["Y"], 1.0)
    g.feed(metal.inputs["Tangent"], tangent.outputs[0])
    g.feed(metal.inputs["Normal"], defect_bump.outputs["Normal"])
    material_output(g, metal.outputs[0], label_emission(g, label_class, label_instance))
    return material


def _sticker_material(name: str, ink: bool) -> bpy.types.Material:
    """A sticker's paper (white, with air bubbles under it) or its marker ink; both label as the sticker."""
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    g = Graph(material.node_tree)
    g.tree.nodes.clear()
    surface = g.node("ShaderNodeBsdfPrincipled")
    g.feed(surface.inputs["Base Color"], STICKER_INK if ink else STICKER_PAPER)
    g.feed(surface.inputs["Roughness"], 0.6 if ink else 0.4)
    if not ink:  # bubbles: domes of BUBBLE_RADIUS in a share of the cells of a jittered grid
        q = g.vmath("ADD", g.node("ShaderNodeNewGeometry").outputs["Position"], g.vector("bubbles.offset"))
        cells = g.node("ShaderNodeTexVoronoi", voronoi_dimensions="3D", feature="F1")
        g.feed(cells.inputs["Vector"], q)
        g.feed(cells.inputs["Scale"], 1 / BUBBLE_CELL)
        s = g.math("DIVIDE", g.math("MULTIPLY", cells.outputs["Distance"], BUBBLE_CELL), BUBBLE_RADIUS)
        dome = g.math("SQRT", g.math("SUBTRACT", 1.0, g.math("MULTIPLY", s, s), clamp=True))
        red = g.node("ShaderNodeSeparateColor")
        g.feed(red.inputs[0], cells.outputs["Color"])
        kept = g.math("LESS_THAN", red.outputs["Red"], g.value("bubbles.fraction"))
        bump = g.node("ShaderNodeBump")
        g.feed(bump.inputs["Distance"], 1.0)
        g.feed(bump.inputs["Height"], g.math("MULTIPLY", g.math("MULTIPLY", dome, kept), BUBBLE_HEIGHT))
        g.feed(surface.inputs["Normal"], bump.outputs["Normal"])
    material_output(g, surface.outputs[0], label_emission(g, STICKER / 255, g.value("sticker.instance")))
    return material


def _add_plate(scene: bpy.types.Scene) -> None:
    """The plate: one quad of PLATE_SIZE at z = 0, so object coordinates are plate coordinates in metres."""
    hx, hy = PLATE_SIZE[0] / 2, PLATE_SIZE[1] / 2
    mesh = bpy.data.meshes.new("plate")
    mesh.from_pydata([(-hx, -hy, 0.0), (hx, -hy, 0.0), (hx, hy, 0.0), (-hx, hy, 0.0)], [], [(0, 1, 2, 3)])
    mesh.materials.append(_plate_material())
    scene.collection.objects.link(bpy.data.objects.new("plate", mesh))


def _add_backdrop(scene: bpy.types.Scene) -> None:
    """A large black diffuse plane under the plate: no reflection, and 0 in the label render."""
    mesh = bpy.data.meshes.new("backdrop")
    mesh.from_pydata([(-1.0, -1.0, 0.0), (1.0, -1.0, 0.0), (1.0, 1.0, 0.0), (-1.0, 1.0, 0.0)], [], [(0, 1, 2, 3)])
    material = bpy.data.materials.new("backdrop")
    material.use_nodes = True
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.0, 0.0, 0.0, 1.0)
    material.node_tree.nodes["Principled BSDF"].inputs["Specular IOR Level"].default_value = 0.0
    mesh.materials.append(material)
    backdrop = bpy.data.objects.new("backdrop", mesh)
    backdrop.location.z = -BACKDROP_DEPTH
    scene.collection.objects.link(backdrop)


def _add_stickers(scene: bpy.types.Scene) -> None:
    """MAX_STICKERS sticker sheets (unit squares, scaled per sample) and their marker numbers, hidden until used."""
    for k in range(MAX_STICKERS):
        mesh = bpy.data.meshes.new(f"sticker{k}")
        mesh.from_pydata([(-0.5, -0.5, 0.0), (0.5, -0.5, 0.0), (0.5, 0.5, 0.0), (-0.5, 0.5, 0.0)], [], [(0, 1, 2, 3)])
        mesh.materials.append(_sticker_material(f"sticker{k}", ink=False))
        sheet = bpy.data.objects.new(f"sticker{k}", mesh)
        curve = bpy.data.curves.new(f"number{k}", "FONT")
        curve.align_x, curve.align_y = "CENTER", "CENTER"
        curve.materials.append(_sticker_material(f"number{k}", ink=True))
        number = bpy.data.objects.new(f"number{k}", curve)
        for obj in (sheet, number):
            obj.hide_render = True
            scene.collection.objects.link(obj)


def _add_camera(scene: bpy.types.Scene) -> bpy.types.Object:
    """A perspective camera CAMERA_HEIGHT above the plate, looking straight down (field of view set per sample)."""
    camera = bpy.data.cameras.new("camera")
    camera.sensor_fit = "HORIZONTAL"
    camera.clip_start, camera.clip_end = 0.01, 2.0
    obj = bpy.data.objects.new("camera", camera)
    obj.location = (0.0, 0.0, CAMERA_HEIGHT)
    scene.collection.objects.link(obj)
    scene.camera = obj
    return obj


def _add_ring_light(scene: bpy.types.Scene, camera: bpy.types.Object) -> None:
    """Six rectangular area lights on the sides of a hexagon, carried by the camera, facing down; see `_set_light`."""
    for k in range(6):
        light = bpy.data.lights.new(f"ring{k}", "AREA")
        light.shape = "RECTANGLE"
        obj = bpy.data.objects.new(f"ring{k}", light)
        obj.parent = camera
        scene.collection.objects.link(obj)


def _set_light(light: str) -> None:
    """Place the ring's panels for a light variant: rotated about the optical axis and scaled (same radiance)."""
    rotation, scale = LIGHTS[light]
    side = 2 * RING_APOTHEM / math.sqrt(3)
    for k in range(6):
        obj = bpy.data.objects[f"ring{k}"]
        angle = k * math.pi / 3 + math.radians(rotation)
        apothem = scale * RING_APOTHEM
        obj.location = (apothem * math.cos(angle), apothem * math.sin(angle), RING_HEIGHT - CAMERA_HEIGHT)
        obj.rotation_euler.z = angle + math.pi / 2  # long side along the hexagon side
        obj.data.size, obj.data.size_y = scale * side, scale * RING_DEPTH
        obj.data.energy = LIGHT_POWER * scale**2


def _add_world(scene: bpy.types.Scene) -> None:
    """A uniform grey world of strength AMBIENT."""
    scene.world = bpy.data.worlds.new("world")
    scene.world.use_nodes = True
    scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = AMBIENT


def _configure_cycles(scene: bpy.types.Scene, render_cfg: dict) -> None:
    """Square images; metal reflects into lights, world or black (two glossy bounces, no diffuse)."""
    size = render_cfg.get("resolution", 256)
    configure_cycles(scene, render_cfg, (size, size), (2, 2, 0))


def _slot_values(defect: Defect | None) -> dict[str, float | tuple[float, float, float]]:
    """Node values of a defect slot (see `_defect_slot`); None gives an empty slot."""
    if defect is None:
        return {
            "centre": (0.0, 0.0, 0.0),
            "along": (0.0, 0.0, 0.0),
            "across": (0.0, 0.0, 0.0),
            "half_length": 0.0,
            "curvature": 0.0,
            "half_width": 0.0,
            "height": 0.0,
            "exponent": 1.0,
            "class": 0.0,
        }
    c, s = math.cos(defect.angle), math.sin(defect.angle)
    return {
        "centre": (defect.x, defect.y, 0.0),
        "along": (c, s, 0.0),
        "across": (-s, c, 0.0),
        "half_length": defect.length / 2,
        "curvature": defect.curvature,
        "half_width": defect.half_width,
        "height": defect.height,
        "exponent": 1.0 if defect.cls == "scratch" else 2.0,  # parabolic groove; smooth radial profile
        "class": class_index(defect.cls) / 255,
    }


def _fingerprint_values(
    fingerprint: Fingerprint | None, instance: int
) -> dict[str, float | tuple[float, float, float]]:
    """Node values of a fingerprint slot (see `_fingerprint_slot`); None switches the slot off."""
    if fingerprint is None:
        zero = (0.0, 0.0, 0.0)
        return {
            "centre": zero,
            "major": zero,
            "minor": zero,
            "warp": zero,
            "rings": 0.0,
            "contrast": 0.0,
            "on": 0.0,
            "instance": 0.0,
        }
    c, s = math.cos(fingerprint.angle), math.sin(fingerprint.angle)
    a, b = fingerprint.semi_major, fingerprint.semi_minor
    return {
        "centre": (fingerprint.x, fingerprint.y, 0.0),
        "major": (c / a, s / a, 0.0),
        "minor": (-s / b, c / b, 0.0),
        "warp": (0.0, 0.0, fingerprint.warp_offset),
        "rings": a / fingerprint.ridge_period,
        "contrast": fingerprint.contrast,
        "on": 1.0,
        "instance": instance / 255,
    }


class PlateScene:
    """The plate scene, built once; `render` sets one sample's values and renders each view's image and labels.

    bpy holds one global scene per process, so only one PlateScene may be alive at a time.
    """

    def __init__(self, render_cfg: dict) -> None:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        self.scene = bpy.context.scene
        self.samples = render_cfg.get("samples", 16)
        self.adaptive = render_cfg.get("adaptive_sampling", False)
        self.denoise = render_cfg.get("denoise", False)
        _configure_cycles(self.scene, render_cfg)
        _add_world(self.scene)
        _add_backdrop(self.scene)
        _add_plate(self.scene)
        _add_stickers(self.scene)
        self.camera = _add_camera(self.scene)
        _add_ring_light(self.scene, self.camera)
        self.graphs = [Graph(m.node_tree) for m in bpy.data.materials if "label_mode" in m.node_tree.nodes]
        self.graph = Graph(bpy.data.materials["plate"].node_tree)
        self.exposure = 0.0

    def _set_plate(self, sample: PlateSample) -> None:
        g = self.graph
        g.set("texture.offset", (0.0, 0.0, sample.texture_offset))
        g.set("texture.frequency", tuple(f * sample.texture_scale for f in BRUSH_FREQUENCY))
        g.set("texture.roughness", sample.roughness)
        g.set("texture.anisotropy", sample.anisotropy)
        g.set("texture.normal_strength", sample.normal_strength)
        stains = sample.stain_model
        g.set("stain.offset", sample.stain_offset)
        g.set("stain.cell", stains.cell)
        g.set("stain.radius", stains.radius)
        g.set("stain.frequency", stains.frequency)
        g.set("stain.amplitude", stains.amplitude)
        g.set("stain.gamma", stains.gamma)
        g.set("stain.alpha", stains.alpha)
        g.set("stain.fraction", stains.fraction if sample.water_stains else 0.0)
        for i in range(MAX_DEFECTS):
            for key, value in _slot_values(sample.defects[i] if i < len(sample.defects) else None).items():
                g.set(f"slot{i}.{key}", value)
        first = len(sample.defects) + len(sample.stickers) + 1
        for j in range(MAX_FINGERPRINTS):
            fingerprint = sample.fingerprints[j] if j < len(sample.fingerprints) else None
            for key, value in _fingerprint_values(fingerprint, first + j).items():
                g.set(f"fp{j}.{key}", value)

    def _set_stickers(self, sample: PlateSample) -> None:
        for k in range(MAX_STICKERS):
            sheet, number = bpy.data.objects[f"sticker{k}"], bpy.data.objects[f"number{k}"]
            sheet.hide_render = number.hide_render = k >= len(sample.stickers)
            if k >= len(sample.stickers):
                continue
            sticker = sample.stickers[k]
            sheet.location = (sticker.x, sticker.y, STICKER_LIFT)
            sheet.rotation_euler.z = sticker.angle
            sheet.scale = (sticker.width, sticker.height, 1.0)
            number.location = (sticker.x, sticker.y, STICKER_LIFT + INK_LIFT)
            number.rotation_euler.z = sticker.angle
            number.data.body = str(sticker.number)
            number.data.size = 0.6 * sticker.height
            instance = (len(sample.defects) + k + 1) / 255
            for name in (f"sticker{k}", f"number{k}"):
                Graph(bpy.data.materials[name].node_tree).set("sticker.instance", instance)
            paper = Graph(bpy.data.materials[f"sticker{k}"].node_tree)
            paper.set("bubbles.offset", (sticker.bubble_offset, 0.0, 0.0))
            paper.set("bubbles.fraction", sticker.bubbles)

    def _set_sample(self, sample: PlateSample) -> None:
        self._set_plate(sample)
        self._set_stickers(sample)
        _set_light(sample.light)
        self.exposure = sample.exposure
        camera = self.camera.data
        camera.lens = camera.sensor_width / 2 * CAMERA_HEIGHT / (sample.frame / 2)
        self.scene.cycles.seed = sample.seed % 2**31

    def _render_pass(self, path: Path, label: bool) -> np.ndarray:
        image = {"samples": self.samples, "adaptive_sampling": self.adaptive, "denoise": self.denoise}
        return render_pass(self.scene, self.graphs, path, label, image | {"exposure": self.exposure})

    def render(self, sample: PlateSample, out_dir: str | Path) -> list[dict]:
        """Write images/, masks/ and instances/ PNGs of each view of `sample` under `out_dir`; return index rows."""
        self._set_sample(sample)
        out_dir, rows = Path(out_dir), []
        labelled = len(sample.defects) + len(sample.stickers) + len(sample.fingerprints)
        for view, (x, y) in enumerate(sample.views):
            self.camera.location = (x, y, CAMERA_HEIGHT)
            with tempfile.TemporaryDirectory(prefix="plate-render-") as tmp:
                image = self._render_pass(Path(tmp) / "image.png", label=False)
                mask, instances = decode_labels(self._render_pass(Path(tmp) / "label.png", label=True), labelled)
            if sample.blur > 0:
                image = cv2.GaussianBlur(image, (0, 0), sample.blur)
            image = add_sensor_noise(image, sample.sensor_noise, derive_seed(sample.seed, "sensor", view))
            image_id = sample.image_id(view)
            write_png(out_dir / "images" / f"{image_id}.png", image)
            write_png(out_dir / "masks" / f"{image_id}.png", mask)
            write_png(out_dir / "instances" / f"{image_id}.png", instances)
            row = {"id": image_id, "split": sample.split, "object": "plate", "view": view, "view_x": x, "view_y": y}
            n_stains = len(np.unique(instances[mask == STAIN]))
            rows.append(row | sample.index_row() | {"n_water_stain_instances": n_stains})
        return rows


def add_sensor_noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian sensor noise of `sigma` grey levels, seeded, rounded and clipped to 8 bits (sigma 0: unchanged)."""
    if sigma == 0:
        return image
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


def decode_labels(label: np.ndarray, n_labelled: int) -> tuple[np.ndarray, np.ndarray]:
    """Class mask (uint8) and instance mask (uint16) from a raw 16-bit label render.

    Channels hold index / 255, so 16-bit values are index * 257 exactly; anything else means
    the label render was filtered or colour-managed, which is an error. Water stains, which
    the render labels by class only, are numbered after the `n_labelled` instances it names.
    """
    mask, instances, _ = exact_labels(label)
    if np.isin(mask[instances > 0], (0, STAIN)).any() or (instances[(mask > 0) & (mask != STAIN)] == 0).any():
        raise ValueError(
            "label render: instance and class disagree (instance on background or stain, or class without instance)"
        )
    stains, _ = ndimage.label(mask == STAIN, structure=np.ones((3, 3), dtype=bool))
    instances = np.where(stains > 0, stains + n_labelled, instances)
    return mask.astype(np.uint8), instances.astype(np.uint16)


def render_samples(samples: list[PlateSample], render_cfg: dict, out_dir: str | Path) -> pd.DataFrame:
    """Render `samples` into `out_dir` (common dataset layout, no index file) and return their index rows."""
    out_dir = Path(out_dir)
    for folder in ("images", "masks", "instances"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    scene = PlateScene(render_cfg)
    rows = []
    for k, sample in enumerate(samples, 1):
        start = time.perf_counter()
        rows.extend(scene.render(sample, out_dir))
        seconds = (time.perf_counter() - start) / len(sample.views)
        print(f"[{k}/{len(samples)}] {sample.id}: {seconds:.2f} s per image", flush=True)
    return pd.DataFrame(rows)
