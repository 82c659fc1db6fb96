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

import contextlib
import ctypes
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import bpy
import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from defectlab.classes import DEFECT_INDICES, class_index
from defectlab.data.layout import write_png
from defectlab.synth.plan import MAX_DEFECTS, PLATE_SIZE, Defect, PlateSample

CAMERA_HEIGHT = 0.30  # m above the plate, looking straight down
FRAME_WIDTH = 0.135  # m of the plate plane across the image: the plate plus a black margin
RING_APOTHEM = 0.07  # m from the optical axis to the middle of each hexagon side
RING_HEIGHT = 0.28  # m, just below the camera
RING_DEPTH = 0.03  # m, radial depth of each light panel
LIGHT_POWER = 0.012  # W per panel
AMBIENT = 0.02  # world strength: the small constant term
BASE_COLOR = (0.91, 0.92, 0.92)  # aluminium reflectance R_in (linear)
BRUSH_SCALE = (20.0, 400.0)  # brushing-noise frequency along and across the brushing direction (1/m)
BRUSH_DEPTH = 0.0003  # Bump distance of the brushing noise (its height is in [0, 1])
BACKDROP_DEPTH = 0.002  # m of black backdrop below the plate
LABEL_FILTER_WIDTH = 0.01  # px: label pixels sample their centre only
IMAGE_FILTER_WIDTH = 1.5  # px, Blender's default Gaussian

STAIN = class_index("water_stain")
Input = bpy.types.NodeSocket | float | tuple[float, ...]


class _Graph:
    """Terse shader-node building: each call adds one node, links socket arguments, sets plain ones."""

    def __init__(self, tree: bpy.types.NodeTree) -> None:
        self.tree = tree

    def node(self, kind: str, name: str | None = None, **props: object) -> bpy.types.Node:
        node = self.tree.nodes.new(kind)
        if name:
            node.name = node.label = name
        for key, value in props.items():
            setattr(node, key, value)
        return node

    def feed(self, socket: bpy.types.NodeSocket, value: Input) -> None:
        if isinstance(value, bpy.types.NodeSocket):
            self.tree.links.new(value, socket)
        else:
            socket.default_value = value

    def value(self, name: str) -> bpy.types.NodeSocket:
        """A Value node: one per-sample scalar, set by name."""
        return self.node("ShaderNodeValue", name).outputs[0]

    def vector(self, name: str) -> bpy.types.NodeSocket:
        """A Combine XYZ node: one per-sample vector, set by name."""
        return self.node("ShaderNodeCombineXYZ", name).outputs[0]

    def math(
        self, operation: str, a: Input, b: Input = 0.0, c: Input = 0.0, clamp: bool = False
    ) -> bpy.types.NodeSocket:
        node = self.node("ShaderNodeMath", operation=operation, use_clamp=clamp)
        for socket, value in zip(node.inputs, (a, b, c), strict=True):
            self.feed(socket, value)
        return node.outputs[0]

    def vmath(self, operation: str, a: Input, b: Input | None = None, c: Input | None = None) -> bpy.types.NodeSocket:
        node = self.node("ShaderNodeVectorMath", operation=operation)
        self.feed(node.inputs[0], a)
        if b is not None:
            self.feed(node.inputs["Scale" if operation == "SCALE" else 1], b)
        if c is not None:
            self.feed(node.inputs[2], c)
        return node.outputs["Value" if operation in ("DOT_PRODUCT", "LENGTH") else "Vector"]

    def mix(self, a: Input, b: Input, factor: Input) -> bpy.types.NodeSocket:
        """`b` where factor is 1, `a` where it is 0."""
        node = self.node("ShaderNodeMix", data_type="FLOAT")
        sockets = {s.identifier: s for s in node.inputs}
        for key, value in (("Factor_Float", factor), ("A_Float", a), ("B_Float", b)):
            self.feed(sockets[key], value)
        return node.outputs[0]

    def set(self, name: str, value: float | tuple[float, ...]) -> None:
        """Set a per-sample Value (scalar) or Combine XYZ (vector) node."""
        node = self.tree.nodes[name]
        if node.bl_idname == "ShaderNodeValue":
            node.outputs[0].default_value = value
        else:
            for socket, v in zip(node.inputs, value, strict=True):
                socket.default_value = v


def _defect_slot(g: _Graph, p: bpy.types.NodeSocket, i: int) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
    """Height and coverage (0/1) of defect slot `i` at object-space point `p`.

    A slot is a segment from `a` to `a + ba` (a point for dents and bumps) with height
    `height * (1 - s^2)^exponent`, s = distance to the segment / half width, and covers the
    points with s < 1. A slot with half width 0 is off: it covers nothing and has height 0.
    """
    pa = g.vmath("SUBTRACT", p, g.vector(f"slot{i}.a"))
    ba = g.vector(f"slot{i}.ba")
    t = g.math("MULTIPLY", g.vmath("DOT_PRODUCT", pa, ba), g.value(f"slot{i}.inv_length2"), clamp=True)
    distance = g.vmath("LENGTH", g.vmath("SUBTRACT", pa, g.vmath("SCALE", ba, t)))
    half_width = g.value(f"slot{i}.half_width")
    s = g.math("DIVIDE", distance, half_width)
    profile = g.math(
        "POWER", g.math("SUBTRACT", 1.0, g.math("MULTIPLY", s, s), clamp=True), g.value(f"slot{i}.exponent")
    )
    return g.math("MULTIPLY", profile, g.value(f"slot{i}.height")), g.math("LESS_THAN", distance, half_width)


def _water_stains(g: _Graph, p: bpy.types.NodeSocket) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket]:
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
    """The brushed-aluminium material with defects, water stains and the label emission, selected by `label_mode`."""
    material = bpy.data.materials.new("plate")
    material.use_nodes = True
    g = _Graph(material.node_tree)
    g.tree.nodes.clear()
    p = g.node("ShaderNodeTexCoord").outputs["Object"]

    brushing = g.node("ShaderNodeTexNoise", noise_dimensions="3D")  # the plate's slice z = offset of 3-D noise
    g.feed(brushing.inputs["Vector"], g.vmath("MULTIPLY_ADD", p, (*BRUSH_SCALE, 0.0), g.vector("texture.offset")))
    g.feed(brushing.inputs["Detail"], 2.0)
    texture_bump = g.node("ShaderNodeBump")
    g.feed(texture_bump.inputs["Strength"], g.value("texture.bump_strength"))
    g.feed(texture_bump.inputs["Distance"], BRUSH_DEPTH)
    g.feed(texture_bump.inputs["Height"], brushing.outputs["Fac"])

    stain_change, stain_covered = _water_stains(g, p)
    height: Input = 0.0
    label_class = g.math("MULTIPLY", stain_covered, STAIN / 255)
    label_instance: Input = 0.0
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
    g.feed(metal.inputs["Base Color"], g.vmath("ADD", BASE_COLOR, stain_change))
    g.feed(metal.inputs["Metallic"], 1.0)
    g.feed(metal.inputs["Roughness"], g.value("texture.roughness"))
    g.feed(metal.inputs["Anisotropic"], g.value("texture.anisotropy"))
    tangent = g.node("ShaderNodeCombineXYZ")  # across the brushing: highlights stretch along y
    g.feed(tangent.inputs["Y"], 1.0)
    g.feed(metal.inputs["Tangent"], tangent.outputs[0])
    g.feed(metal.inputs["Normal"], defect_bump.outputs["Normal"])

    label_color = g.node("ShaderNodeCombineXYZ")
    g.feed(label_color.inputs["X"], label_class)
    g.feed(label_color.inputs["Y"], label_instance)
    emission = g.node("ShaderNodeEmission")
    g.feed(emission.inputs["Color"], label_color.outputs[0])
    shader = g.node("ShaderNodeMixShader")
    g.feed(shader.inputs["Fac"], g.value("label_mode"))
    g.feed(shader.inputs[1], metal.outputs[0])
    g.feed(shader.inputs[2], emission.outputs[0])
    g.feed(g.node("ShaderNodeOutputMaterial").inputs["Surface"], shader.outputs[0])
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


def _add_camera(scene: bpy.types.Scene) -> None:
    """A perspective camera on the plate's axis, looking down, FRAME_WIDTH across at the plate."""
    camera = bpy.data.cameras.new("camera")
    camera.sensor_fit = "HORIZONTAL"
    camera.lens = camera.sensor_width / 2 * CAMERA_HEIGHT / (FRAME_WIDTH / 2)
    camera.clip_start, camera.clip_end = 0.01, 2.0
    obj = bpy.data.objects.new("camera", camera)
    obj.location = (0.0, 0.0, CAMERA_HEIGHT)
    scene.collection.objects.link(obj)
    scene.camera = obj


def _add_ring_light(scene: bpy.types.Scene) -> None:
    """Six rectangular area lights on the sides of a hexagon around the camera, facing down."""
    side = 2 * RING_APOTHEM / math.sqrt(3)
    for k in range(6):
        light = bpy.data.lights.new(f"ring{k}", "AREA")
        light.shape, light.size, light.size_y = "RECTANGLE", side, RING_DEPTH
        light.energy = LIGHT_POWER
        obj = bpy.data.objects.new(f"ring{k}", light)
        angle = k * math.pi / 3
        obj.location = (RING_APOTHEM * math.cos(angle), RING_APOTHEM * math.sin(angle), RING_HEIGHT)
        obj.rotation_euler.z = angle + math.pi / 2  # long side along the hexagon side
        scene.collection.objects.link(obj)


def _add_world(scene: bpy.types.Scene) -> None:
    """A uniform grey world of strength AMBIENT."""
    scene.world = bpy.data.worlds.new("world")
    scene.world.use_nodes = True
    scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = AMBIENT


def _use_device(scene: bpy.types.Scene, device: str) -> None:
    """Render on `device` (CPU or a GPU backend); without such a GPU, warn and stay on the CPU."""
    scene.cycles.device = "CPU"
    if device == "CPU":
        return
    preferences = bpy.context.preferences.addons["cycles"].preferences
    try:
        preferences.compute_device_type = device
    except TypeError:  # backend not built into this Blender
        print(f"warning: Cycles has no {device} backend here; rendering on the CPU", flush=True)
        return
    preferences.refresh_devices()
    gpus = [d for d in preferences.devices if d.type == device]
    if not gpus:
        print(f"warning: no {device} device found; rendering on the CPU", flush=True)
        return
    for d in preferences.devices:
        d.use = d.type == device
    scene.cycles.device = "GPU"
    print(f"rendering on {', '.join(d.name for d in gpus)} ({device})", flush=True)


def _configure_cycles(scene: bpy.types.Scene, render_cfg: dict) -> None:
    """Cycles settings shared by both passes; the passes differ only in what `PlateScene._render_pass` sets."""
    scene.render.engine = "CYCLES"
    _use_device(scene, render_cfg.get("device", "CPU"))
    scene.render.resolution_x = scene.render.resolution_y = render_cfg.get("resolution", 256)
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = True
    scene.render.use_compositing = scene.render.use_sequencer = False
    scene.render.dither_intensity = 0.0
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.compression = 0
    scene.view_settings.look = "None"
    scene.cycles.pixel_filter_type = "GAUSSIAN"
    scene.cycles.use_animated_seed = False
    scene.cycles.max_bounces = scene.cycles.glossy_bounces = 2  # metal reflects into lights, world or black
    scene.cycles.diffuse_bounces = 0
    scene.cycles.transmission_bounces = scene.cycles.volume_bounces = scene.cycles.transparent_max_bounces = 0
    scene.cycles.caustics_reflective = scene.cycles.caustics_refractive = False


def _slot_values(defect: Defect | None) -> dict[str, float | tuple[float, float, float]]:
    """Node values of a defect slot (see `_defect_slot`); None gives an empty slot."""
    if defect is None:
        return {
            "a": (0.0, 0.0, 0.0),
            "ba": (0.0, 0.0, 0.0),
            "inv_length2": 0.0,
            "half_width": 0.0,
            "height": 0.0,
            "exponent": 1.0,
            "class": 0.0,
        }
    (ax, ay), (bx, by) = defect.endpoints
    length2 = (bx - ax) ** 2 + (by - ay) ** 2
    return {
        "a": (ax, ay, 0.0),
        "ba": (bx - ax, by - ay, 0.0),
        "inv_length2": 1 / length2 if length2 > 0 else 0.0,
        "half_width": defect.half_width,
        "height": defect.height,
        "exponent": 1.0 if defect.cls == "scratch" else 2.0,  # parabolic groove; smooth radial profile
        "class": class_index(defect.cls) / 255,
    }


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (Blender prints a status line per render step) so a job log has a line per sample."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)  # drop Blender's buffered lines before stdout comes back
        os.dup2(saved, 1)
        os.close(saved)


class PlateScene:
    """The plate scene, built once; `render` sets one sample's node values and renders image and labels.

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
        _add_camera(self.scene)
        _add_ring_light(self.scene)
        self.graph = _Graph(bpy.data.materials["plate"].node_tree)

    def _set_sample(self, sample: PlateSample) -> None:
        g = self.graph
        g.set("texture.offset", (0.0, 0.0, sample.texture_offset))
        g.set("texture.roughness", sample.roughness)
        g.set("texture.anisotropy", sample.anisotropy)
        g.set("texture.bump_strength", sample.bump_strength)
        stains = sample.stain_model
        g.set("stain.offset", sample.stain_offset)
        g.set("stain.cell", stains.cell)
        g.set("stain.radius", stains.radius)
        g.set("stain.frequency", stains.noise_frequency)
        g.set("stain.amplitude", stains.noise_amplitude)
        g.set("stain.gamma", stains.gamma)
        g.set("stain.alpha", stains.alpha)
        g.set("stain.fraction", stains.fraction if sample.water_stains else 0.0)
        for i in range(MAX_DEFECTS):
            for key, value in _slot_values(sample.defects[i] if i < len(sample.defects) else None).items():
                g.set(f"slot{i}.{key}", value)
        self.scene.cycles.seed = sample.seed % 2**31

    def _render_pass(self, path: Path, label: bool) -> np.ndarray:
        """Render the appearance (8-bit sRGB) or the label colours (16-bit, raw) and read the PNG back."""
        scene, cycles = self.scene, self.scene.cycles
        self.graph.set("label_mode", 1.0 if label else 0.0)
        cycles.samples = 1 if label else self.samples
        cycles.use_adaptive_sampling = self.adaptive and not label
        cycles.use_denoising = self.denoise and not label
        cycles.filter_width = LABEL_FILTER_WIDTH if label else IMAGE_FILTER_WIDTH
        scene.view_settings.view_transform = "Raw" if label else "Standard"
        scene.render.image_settings.color_depth = "16" if label else "8"
        scene.render.filepath = str(path)
        with _quiet_stdout():
            bpy.ops.render.render(write_still=True)
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise RuntimeError(f"Blender wrote no image to {path}")
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)

    def render(self, sample: PlateSample, out_dir: str | Path) -> dict:
        """Write images/, masks/ and instances/ PNGs of `sample` under `out_dir`; return its index row."""
        self._set_sample(sample)
        with tempfile.TemporaryDirectory(prefix="plate-render-") as tmp:
            image = self._render_pass(Path(tmp) / "image.png", label=False)
            mask, instances = decode_labels(self._render_pass(Path(tmp) / "label.png", label=True), len(sample.defects))
        out_dir = Path(out_dir)
        write_png(out_dir / "images" / f"{sample.id}.png", image)
        write_png(out_dir / "masks" / f"{sample.id}.png", mask)
        write_png(out_dir / "instances" / f"{sample.id}.png", instances)
        row = {"id": sample.id, "split": sample.split, "object": "plate", "view": 0, "light": "hex"}
        n_stains = len(np.unique(instances[mask == STAIN]))
        return row | sample.index_row() | {"n_water_stain_instances": n_stains}


def decode_labels(label: np.ndarray, n_defects: int) -> tuple[np.ndarray, np.ndarray]:
    """Class mask (uint8) and instance mask (uint16) from a raw 16-bit label render.

    Channels hold index / 255, so 16-bit values are index * 257 exactly; anything else means
    the label render was filtered or colour-managed, which is an error.
    """
    channels = label[..., :2].astype(np.int64)
    if (channels % 257).any():
        raise ValueError("label render is not exact: values are not multiples of 257")
    mask, instances = (channels // 257).transpose(2, 0, 1)
    if not np.isin(mask[instances > 0], DEFECT_INDICES).all():
        raise ValueError("defect instance pixels carry a non-defect class")
    stains, _ = ndimage.label(mask == STAIN, structure=np.ones((3, 3), dtype=bool))
    instances = np.where(stains > 0, stains + n_defects, instances)
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
        rows.append(scene.render(sample, out_dir))
        print(f"[{k}/{len(samples)}] {sample.id}: {time.perf_counter() - start:.2f} s", flush=True)
    return pd.DataFrame(rows)
