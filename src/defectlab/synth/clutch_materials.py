"""The clutch's machined-aluminium looks, one material per region, with the label emission in the same graph.

Four anisotropic textures (seed 004, Fig. 1) and the transition: the lay of each machining process gives
both the direction of the anisotropic highlight (the Principled BSDF's tangent) and a fine relief (a wave
or noise height through a Bump node):
    milled       fly-cutter arcs: rings around a point far off the axis, tangent along the arcs
    turned       grooves around the axis (bands along z), tangent around the axis
    fine_turned  finer concentric rings, tangent around the axis
    brushed      straight lay along x (noise stretched across it)
    transition   isotropic fine noise
Per object the values `texture.roughness`, `texture.normal_strength`, `texture.scale` (lay spacing factor)
and `texture.offset` (the pattern's phase: its seed) are set on each region's graph (`set_texture`).
A defect's material is a copy of its region's after those are set, with `label.class` and `label.instance`.
The label's third channel is the region (index + 1; 0 the table), so each view knows which textures it shows.
"""

import math

import bpy

from defectlab.classes import class_index
from defectlab.synth.clutch_plan import REGIONS
from defectlab.synth.nodes import Graph, label_emission, material_output

BASE_COLOR = (0.91, 0.92, 0.92)  # aluminium reflectance (linear), as the plates'
RELIEF = 2e-5  # m: Bump distance of the machining relief (its height is in [0, 1])
WAVE_TO_PERIOD = 2 * math.pi / 20  # Blender's wave texture: period = this / scale
LAY_PERIOD = {"milled": 4e-4, "turned": 1.2e-4, "fine_turned": 6e-5, "brushed": 2e-4, "transition": 1e-4}  # m
ANISOTROPY = {"milled": 0.7, "turned": 0.8, "fine_turned": 0.85, "brushed": 0.6, "transition": 0.2}
MILL_CENTRE = (0.0, -0.15, 0.0)  # m: the fly cutter's centre of rotation, far off the part's axis
TABLE_ALBEDO = 0.01  # black velvet


def _lay(g: Graph, region: str, p: bpy.types.NodeSocket) -> tuple[bpy.types.NodeSocket, bpy.types.NodeSocket | None]:
    """The relief height in [0, 1] of a region's lay at object point `p`, and the highlight's tangent (None: none)."""
    scale = g.math("DIVIDE", WAVE_TO_PERIOD / LAY_PERIOD[region], g.value("texture.scale"))
    if region in ("milled", "turned", "fine_turned"):
        wave = g.node("ShaderNodeTexWave", wave_type="BANDS" if region == "turned" else "RINGS")
        if region == "turned":
            wave.bands_direction = "Z"
        centred = g.vmath("SUBTRACT", p, MILL_CENTRE) if region == "milled" else p
        g.feed(wave.inputs["Vector"], centred)
        g.feed(wave.inputs["Scale"], scale)
        g.feed(wave.inputs["Phase Offset"], g.value("texture.offset"))
        g.feed(wave.inputs["Distortion"], 0.5)
        if region == "milled":
            tangent = g.vmath("NORMALIZE", g.vmath("CROSS_PRODUCT", (0.0, 0.0, 1.0), centred))
        else:
            tangent = g.node("ShaderNodeTangent", direction_type="RADIAL", axis="Z").outputs["Tangent"]
        return wave.outputs["Fac"], tangent
    noise = g.node("ShaderNodeTexNoise", noise_dimensions="3D")
    stretch = (1 / 20, 1.0, 1.0) if region == "brushed" else (1.0, 1.0, 1.0)
    g.feed(noise.inputs["Vector"], g.vmath("ADD", g.vmath("MULTIPLY", p, stretch), g.vector("texture.shift")))
    g.feed(noise.inputs["Scale"], scale)
    g.feed(noise.inputs["Detail"], 2.0)
    return noise.outputs["Fac"], (1.0, 0.0, 0.0) if region == "brushed" else None


def region_material(region: str) -> bpy.types.Material:
    """A region's machined-aluminium material (label emission: `label.class`, `label.instance`, 0 by default)."""
    material = bpy.data.materials.new(region)
    material.use_nodes = True
    material.cycles.emission_sampling = "NONE"  # the label emission is read by camera rays, never a light
    g = Graph(material.node_tree)
    g.tree.nodes.clear()
    p = g.node("ShaderNodeTexCoord").outputs["Object"]
    height, tangent = _lay(g, region, p)
    bump = g.node("ShaderNodeBump")
    g.feed(bump.inputs["Strength"], g.value("texture.normal_strength"))
    g.feed(bump.inputs["Distance"], RELIEF)
    g.feed(bump.inputs["Height"], height)
    metal = g.node("ShaderNodeBsdfPrincipled")
    g.feed(metal.inputs["Base Color"], (*BASE_COLOR, 1.0))
    g.feed(metal.inputs["Metallic"], 1.0)
    g.feed(metal.inputs["Roughness"], g.value("texture.roughness"))
    g.feed(metal.inputs["Anisotropic"], ANISOTROPY[region])
    if tangent is not None:
        g.feed(metal.inputs["Tangent"], tangent)
    g.feed(metal.inputs["Normal"], bump.outputs["Normal"])
    label = label_emission(g, g.value("label.class"), g.value("label.instance"), (REGIONS.index(region) + 1) / 255)
    material_output(g, metal.outputs[0], label)
    return material


def set_texture(material: bpy.types.Material, region: str, texture: dict) -> None:
    """One object's drawn texture of a region (clutch_plan: roughness, normal_strength, scale, offset)."""
    g = Graph(material.node_tree)
    g.set("texture.roughness", texture["roughness"])
    g.set("texture.normal_strength", texture["normal_strength"])
    g.set("texture.scale", texture["scale"])
    if "texture.offset" in g.tree.nodes:  # a wave's phase
        g.set("texture.offset", texture["offset"])
    else:  # a noise's position
        g.set("texture.shift", (texture["offset"], 0.0, 0.0))


def defect_material(region: bpy.types.Material, cls: str, instance: int, name: str) -> bpy.types.Material:
    """A copy of a region's material (same look, same drawn texture) whose label is (cls, instance)."""
    material = region.copy()
    material.name = name
    g = Graph(material.node_tree)
    g.set("label.class", (0 if cls == "background" else class_index(cls)) / 255)
    g.set("label.instance", instance / 255)
    return material


def table_material() -> bpy.types.Material:
    """The black velvet table: diffuse, albedo TABLE_ALBEDO, labelled background."""
    material = bpy.data.materials.new("table")
    material.use_nodes = True
    material.cycles.emission_sampling = "NONE"
    g = Graph(material.node_tree)
    g.tree.nodes.clear()
    velvet = g.node("ShaderNodeBsdfDiffuse")
    g.feed(velvet.inputs["Color"], (TABLE_ALBEDO, TABLE_ALBEDO, TABLE_ALBEDO, 1.0))
    material_output(g, velvet.outputs[0], label_emission(g, 0.0, 0.0))
    return material


def region_materials() -> list[bpy.types.Material]:
    """One material per region, in REGIONS order (a face's material index is its region)."""
    return [region_material(region) for region in REGIONS]
