"""Blender helpers shared by the rendered generators (plates, clutch): terse shader-node building, the label
emission that one node graph carries beside the appearance, the Cycles device choice, exact label decoding.

Labels: every labelled material has a `label_mode` Value node; at 1 it shows an emission whose red and green
channels are class / 255 and instance / 255, rendered raw at one sample per pixel centre, so the 16-bit
values are multiples of 257 exactly (`exact_labels`).
"""

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import bpy
import cv2
import numpy as np

Input = bpy.types.NodeSocket | float | tuple[float, ...]
LABEL_FILTER_WIDTH = 0.01  # px: label pixels sample their centre only (Cycles' smallest width)
IMAGE_FILTER_WIDTH = 1.5  # px, Blender's default Gaussian


class Graph:
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


def label_emission(
    g: Graph, label_class: Input, label_instance: Input, label_extra: Input = 0.0
) -> bpy.types.NodeSocket:
    """An emission shader whose colour carries class / 255 (red), instance / 255 (green) and a generator's own
    index / 255 (blue: the clutch's surface region)."""
    colour = g.node("ShaderNodeCombineXYZ")
    g.feed(colour.inputs["X"], label_class)
    g.feed(colour.inputs["Y"], label_instance)
    g.feed(colour.inputs["Z"], label_extra)
    emission = g.node("ShaderNodeEmission")
    g.feed(emission.inputs["Color"], colour.outputs[0])
    return emission.outputs[0]


def material_output(g: Graph, appearance: bpy.types.NodeSocket, label: bpy.types.NodeSocket) -> None:
    """Show `appearance`, or `label` when the material's `label_mode` value is 1."""
    shader = g.node("ShaderNodeMixShader")
    g.feed(shader.inputs["Fac"], g.value("label_mode"))
    g.feed(shader.inputs[1], appearance)
    g.feed(shader.inputs[2], label)
    g.feed(g.node("ShaderNodeOutputMaterial").inputs["Surface"], shader.outputs[0])


def use_device(scene: bpy.types.Scene, device: str) -> None:
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


def configure_cycles(
    scene: bpy.types.Scene, render_cfg: dict, resolution: tuple[int, int], bounces: tuple[int, int, int]
) -> None:
    """Cycles settings of every rendered generator: `resolution` (W, H), the device and threads of `render_cfg`,
    a kept scene between renders, plain PNG output, a fixed seed, and (max, glossy, diffuse) `bounces`; the
    passes differ only in what `render_pass` sets."""
    scene.render.engine = "CYCLES"
    use_device(scene, render_cfg.get("device", "CPU"))
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    if render_cfg.get("threads"):  # the job's cores, not the node's: Cycles would take them all
        scene.render.threads_mode, scene.render.threads = "FIXED", render_cfg["threads"]
    scene.render.use_persistent_data = True
    scene.render.use_compositing = scene.render.use_sequencer = False
    scene.render.dither_intensity = 0.0
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.compression = 0
    scene.view_settings.look = "None"
    scene.cycles.pixel_filter_type = "GAUSSIAN"
    scene.cycles.use_animated_seed = False
    scene.cycles.max_bounces, scene.cycles.glossy_bounces, scene.cycles.diffuse_bounces = bounces
    scene.cycles.transmission_bounces = scene.cycles.volume_bounces = scene.cycles.transparent_max_bounces = 0
    scene.cycles.caustics_reflective = scene.cycles.caustics_refractive = False


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
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


def render_pass(
    scene: bpy.types.Scene, graphs: list[Graph], path: Path, label: bool, image: dict, colour: str = "RGB"
) -> np.ndarray:
    """Render the appearance (8-bit sRGB, `colour` RGB or BW) or the label colours (16-bit RGB, raw, one sample
    at each pixel's centre) and read the PNG back (RGB order, or one channel for BW).

    `image`: the appearance pass's samples, adaptive_sampling, denoise and exposure (stops)."""
    cycles = scene.cycles
    for graph in graphs:
        graph.set("label_mode", 1.0 if label else 0.0)
    cycles.samples = 1 if label else image["samples"]
    cycles.use_adaptive_sampling = image["adaptive_sampling"] and not label
    cycles.use_denoising = image["denoise"] and not label
    cycles.filter_width = LABEL_FILTER_WIDTH if label else IMAGE_FILTER_WIDTH
    scene.view_settings.view_transform = "Raw" if label else "Standard"
    scene.view_settings.exposure = 0.0 if label else image["exposure"]
    scene.render.image_settings.color_mode = "RGB" if label else colour
    scene.render.image_settings.color_depth = "16" if label else "8"
    scene.render.filepath = str(path)
    with quiet_stdout():
        bpy.ops.render.render(write_still=True)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise RuntimeError(f"Blender wrote no image to {path}")
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def exact_labels(label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class, instance and extra (blue) indices (int64) of a raw 16-bit label render, refused unless exact."""
    channels = label.astype(np.int64)
    if (channels % 257).any():
        raise ValueError("label render is not exact: values are not multiples of 257")
    mask, instances, extra = (channels // 257).transpose(2, 0, 1)
    return mask, instances, extra
