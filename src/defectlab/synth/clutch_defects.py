"""Dents and scratches carved into the clutch's geometry (seed 004 R5.3-R5.4), each labelled by its own material.

Both cutters share one profile: an ellipse whose semi-axis along the surface normal is 2 * depth, centred
depth above the surface, so it reaches exactly `depth` below the surface and meets it at
half-width = a * sin(60 deg) (a the in-plane semi-axis). A dent is that ellipsoid (major axis `elongation`
times the minor, along its angle); a scratch is that cross-section swept along a polyline (sideways sine of
`curving_strength` and `curving_frequency` cycles) projected onto the surface point by point, capped.

All cutters go into one EXACT boolean with material_mode TRANSFER: the faces a cutter carves take its
material, a copy of the look of the region it sits on whose label emission carries (class, instance).
Defects are numbered 1..k in plan order; insignificant defects follow, labelled `insignificant_defect` or,
in the paper's masks (`label: background`), not at all. A defect-free twin carves only the insignificant
ones, so the two meshes agree everywhere but near the defects.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import bpy
import bmesh
import numpy as np
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from defectlab.synth.clutch_geometry import boolean
from defectlab.synth.clutch_plan import REGIONS, ClutchObject, DefectPlan

PROFILE = 16  # vertices around a scratch's cross-section
DENT_SEGMENTS = (32, 16)  # UV sphere: around, pole to pole
SCRATCH_STEP = 0.0005  # m between polyline points
SCRATCH_POINTS = (8, 96)
PLACEMENT_TRIES = 64
UNDERSIDE = -0.5  # faces whose normal's z is below this are not examined (the part lies on them)
EDGE_ANGLE = math.radians(20)  # edges whose faces meet at more than this are sharp
HALF_WIDTH = math.sin(math.radians(60))  # profile half-width at the surface, over its semi-axis


@dataclass(frozen=True)
class Carved:
    """One carved defect as placed on the mesh: where, along which normal, how deep it was planned."""

    instance: int  # its instance id in the label render (0: not labelled)
    cls: str  # class in the class map: dent, scratch or insignificant_defect (background when unlabelled)
    kind: str  # dent or scratch
    point: tuple[float, float, float]
    normal: tuple[float, float, float]
    depth: float
    region: str
    extent: float


class Surface:
    """Area-uniform points on the faces of some regions, and the nearest surface point of any point."""

    def __init__(self, obj: bpy.types.Object, regions: list[str]) -> None:
        mesh = obj.data
        mesh.calc_loop_triangles()
        self.mesh = mesh
        wanted = {REGIONS.index(r) for r in regions}
        self.triangles = [
            t
            for t in mesh.loop_triangles
            if mesh.polygons[t.polygon_index].material_index in wanted and t.normal.z > UNDERSIDE and t.area > 0
        ]
        if not self.triangles:
            raise ValueError(f"defects.regions: the part has no examined faces in {regions}")
        self.cumulative = np.cumsum([t.area for t in self.triangles])
        self.bvh = BVHTree.FromObject(obj, bpy.context.evaluated_depsgraph_get())

    def point(self, u: float, v: float, w: float) -> tuple[Vector, Vector, int]:
        """The point that three uniform numbers pick: a triangle by area, then barycentric coordinates."""
        k = min(int(np.searchsorted(self.cumulative, u * self.cumulative[-1])), len(self.triangles) - 1)
        triangle = self.triangles[k]
        if v + w > 1:
            v, w = 1 - v, 1 - w
        a, b, c = (self.mesh.vertices[i].co for i in triangle.vertices)
        return (
            a + (b - a) * v + (c - a) * w,
            triangle.normal.copy(),
            self.mesh.polygons[triangle.polygon_index].material_index,
        )

    def nearest(self, q: Vector) -> tuple[Vector, Vector]:
        location, normal, _, _ = self.bvh.find_nearest(q)
        return location, normal


class SharpEdges:
    """Points beside the mesh's edges sharper than EDGE_ANGLE (where insignificant defects sit: hole rims, the
    thread, the steps of the bevels), picked by uniform numbers."""

    def __init__(self, obj: bpy.types.Object) -> None:
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        self.edges = []
        for edge in bm.edges:
            faces = [f.index for f in edge.link_faces if f.normal.z > UNDERSIDE]
            if faces and edge.is_manifold and edge.calc_face_angle(0.0) > EDGE_ANGLE:
                self.edges.append((edge.verts[0].index, edge.verts[1].index, faces))
        bm.free()
        if not self.edges:
            raise ValueError("insignificant_defects: the part has no sharp edge on its examined faces")
        self.mesh = obj.data
        lengths = [(self.mesh.vertices[a].co - self.mesh.vertices[b].co).length for a, b, _ in self.edges]
        self.cumulative = np.cumsum(lengths)

    def point(self, u: float, v: float, w: float, distance: float, surface: "Surface") -> tuple[Vector, Vector, int]:
        """A point `distance` from a sharp edge into one of its faces (w picks which), projected onto the surface
        (a narrow bevel face may end before it), with the normal and region of the face it lands on."""
        k = min(int(np.searchsorted(self.cumulative, u * self.cumulative[-1])), len(self.edges) - 1)
        a, b, faces = self.edges[k]
        face = self.mesh.polygons[faces[min(int(w * len(faces)), len(faces) - 1)]]
        start, end = self.mesh.vertices[a].co, self.mesh.vertices[b].co
        on_edge = start.lerp(end, v)
        inward = face.normal.cross(end - start).normalized()
        if inward.dot(face.center - on_edge) < 0:
            inward = -inward
        location, normal, index, _ = surface.bvh.find_nearest(on_edge + inward * distance)
        return location, normal, self.mesh.polygons[index].material_index


def _frame(normal: Vector, angle: float) -> tuple[Vector, Vector]:
    """Two unit tangents of a surface point: `angle` from a fixed reference direction, and across it."""
    reference = Vector((1.0, 0.0, 0.0)) if abs(normal.x) < 0.9 else Vector((0.0, 1.0, 0.0))
    first = (reference - normal * reference.dot(normal)).normalized()
    second = normal.cross(first)
    along = first * math.cos(angle) + second * math.sin(angle)
    return along, normal.cross(along)


def _semi_axes(plan: DefectPlan) -> tuple[float, float]:
    """In-plane semi-axis of the profile for its surface size, and the normal semi-axis (module docstring)."""
    return plan.size / 2 / HALF_WIDTH, 2 * plan.depth


def _mesh_object(name: str, bm: bmesh.types.BMesh, material: bpy.types.Material) -> bpy.types.Object:
    bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def dent_cutter(
    name: str, point: Vector, normal: Vector, plan: DefectPlan, material: bpy.types.Material
) -> bpy.types.Object:
    a, c = _semi_axes(plan)
    along, across = _frame(normal, plan.angle)
    rotation = Matrix((along, across, normal)).transposed().to_4x4()
    matrix = (
        Matrix.Translation(point + normal * plan.depth) @ rotation @ Matrix.Diagonal((a * plan.elongation, a, c, 1.0))
    )
    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=DENT_SEGMENTS[0], v_segments=DENT_SEGMENTS[1], radius=1.0, matrix=matrix)
    return _mesh_object(name, bm, material)


def scratch_path(surface: Surface, point: Vector, normal: Vector, plan: DefectPlan) -> list[tuple[Vector, Vector]]:
    """The scratch's centre line on the surface: (point, normal) pairs, the sideways sine projected point by point."""
    along, across = _frame(normal, plan.angle)
    n = int(np.clip(round(plan.length / SCRATCH_STEP), *SCRATCH_POINTS))
    path = []
    for t in np.linspace(0.0, 1.0, n):
        sideways = plan.curving_strength * math.sin(2 * math.pi * plan.curving_frequency * t)
        path.append(surface.nearest(point + along * ((t - 0.5) * plan.length) + across * sideways))
    return path


def scratch_cutter(
    name: str, path: list[tuple[Vector, Vector]], plan: DefectPlan, material: bpy.types.Material
) -> bpy.types.Object:
    a, c = _semi_axes(plan)
    bm = bmesh.new()
    rings = []
    for k, (p, n) in enumerate(path):
        tangent = path[min(k + 1, len(path) - 1)][0] - path[max(k - 1, 0)][0]
        side = tangent.cross(n).normalized()
        up = side.cross(tangent).normalized()
        if up.dot(n) < 0:
            up = -up
        rings.append(
            [
                bm.verts.new(p + up * (plan.depth + c * math.cos(theta)) + side * (a * math.sin(theta)))
                for theta in np.linspace(0.0, 2 * math.pi, PROFILE, endpoint=False)
            ]
        )
    for first, second in zip(rings, rings[1:], strict=False):
        for j in range(PROFILE):
            bm.faces.new((first[j], first[(j + 1) % PROFILE], second[(j + 1) % PROFILE], second[j]))
    bm.faces.new(rings[0])
    bm.faces.new(rings[-1][::-1])
    return _mesh_object(name, bm, material)


def _place(
    plan: DefectPlan, pick: Callable[[float, float, float], tuple], taken: list[tuple[Vector, float]], gap: float
) -> tuple[Vector, Vector, int]:
    """The plan's point, or (where it comes within `gap` of a defect already placed) the first of a seeded
    sequence of other draws that keeps clear; the last draw when none does."""
    draws = np.random.default_rng([int(u * 2**32) for u in plan.placement])
    placement = plan.placement
    for _ in range(PLACEMENT_TRIES):
        point, normal, region = pick(*placement)
        if all((point - other).length > plan.extent + extent + gap for other, extent in taken):
            break
        placement = tuple(draws.random(3))
    return point, normal, region


def carve(
    obj: bpy.types.Object,
    clutch: ClutchObject,
    regions: list[str],
    gap: float,
    label_insignificant: bool,
    material_for: Callable[[str, str, int], bpy.types.Material],
) -> list[Carved]:
    """Carve `clutch`'s defects (on `regions`) and insignificant defects (beside sharp edges) into `obj`.

    `material_for(region, class, instance)` gives the material whose faces show that region's look and
    carry that label. Returns what was carved, defects first, in instance order."""
    surface, edges = Surface(obj, regions), SharpEdges(obj)
    taken: list[tuple[Vector, float]] = []
    carved, cutters = [], []
    plans = [(plan, False) for plan in clutch.defects] + [(plan, True) for plan in clutch.insignificant]
    for k, (plan, insignificant) in enumerate(plans, 1):
        if insignificant:
            point, normal, region = _place(
                plan, lambda u, v, w, p=plan: edges.point(u, v, w, p.edge_distance, surface), taken, gap
            )
            labelled = label_insignificant
            cls = "insignificant_defect" if labelled else "background"
        else:
            point, normal, region = _place(plan, surface.point, taken, gap)
            labelled, cls = True, plan.cls
        taken.append((point, plan.extent))
        instance = k if labelled else 0
        material = material_for(REGIONS[region], cls, instance)
        name = f"cutter{k}"
        if plan.cls == "dent":
            cutters.append(dent_cutter(name, point, normal, plan, material))
        else:
            path = scratch_path(surface, point, normal, plan)
            point, normal = path[len(path) // 2]
            cutters.append(scratch_cutter(name, path, plan, material))
        carved.append(
            Carved(instance, cls, plan.cls, tuple(point), tuple(normal), plan.depth, REGIONS[region], plan.extent)
        )
    if cutters:
        boolean(obj, cutters, transfer=True)
        sharpen_rims(obj, len(REGIONS))
    return carved


def sharpen_rims(obj: bpy.types.Object, regions: int) -> None:
    """Mark the edges where a carved face (a material slot after the first `regions`) meets the surface as creases,
    so the surface around a defect keeps its own normals (smooth shading would otherwise tilt the long triangles
    the boolean makes from the rim across the face)."""
    mesh = obj.data
    materials = np.empty(len(mesh.polygons), np.int32)
    mesh.polygons.foreach_get("material_index", materials)
    carved = materials >= regions
    sides: dict[tuple[int, int], set[bool]] = {}
    for polygon in mesh.polygons:
        for key in polygon.edge_keys:
            sides.setdefault(key, set()).add(bool(carved[polygon.index]))
    sharp = mesh.attributes.get("sharp_edge") or mesh.attributes.new("sharp_edge", "BOOLEAN", "EDGE")
    flags = np.zeros(len(mesh.edges), dtype=bool)
    sharp.data.foreach_get("value", flags)
    rims = np.array([len(sides.get(edge.key, ())) == 2 for edge in mesh.edges])
    sharp.data.foreach_set("value", flags | rims)
    mesh.update()


def carved_depth(obj: bpy.types.Object, defect: Carved) -> float:
    """The depth below the planned surface point along its normal, by a ray cast from the cutter's top (3 depths
    over the surface: inside the carved hollow, below any other face of the part)."""
    normal = Vector(defect.normal)
    hit, location, _, _ = obj.ray_cast(Vector(defect.point) + normal * 3 * defect.depth, -normal)
    if not hit:
        raise ValueError(f"ray cast at defect {defect.instance} hit nothing")
    return (Vector(defect.point) - location).dot(normal)
