"""The clutch part's geometry in Blender: a procedural clutch-like body, or a user's mesh, with face regions.

The procedural body (seed 004 R5; no CAD of the paper's part is published): a flange disc whose outer rim
rises into a drum wall with an inner surface, a hub on the axis with a threaded bore, bolt holes and
windows through the flange floor, and bevelled edges. Every cut is an EXACT boolean, the result is baked
(no object transform, no modifier), so mesh coordinates are world coordinates in metres with the part
standing on the table at z = 0, axis along z.

Regions (`clutch_plan.REGIONS`, the face's material index): faces looking up are `fine_turned` on the hub's
top and `milled` elsewhere (flange floor, drum rim); walls around the axis (normal radial) are `turned`;
the other walls (bore, bolt holes, windows) and the underside are `brushed`; faces between flat and upright
(the bevels) are the `transition`. The rule reads face normals and centres only, so it classifies an
imported mesh too (given its axis along z).
"""

import hashlib
import math
from pathlib import Path

import bpy
import bmesh
import numpy as np
from mathutils import Matrix

from defectlab.synth.clutch_plan import REGIONS

SEGMENTS = 192  # around the outer circles: a facet of the 60 mm flange spans 2 mm
BEVEL_SEGMENTS = 3
BEVEL_ANGLE = math.radians(40)  # edges sharper than this are bevelled
SHARP_ANGLE = math.radians(10)  # edges sharper than this shade as creases: a flat face shades flat however the
# booleans triangulate it (its rim vertices keep its own normal), the circles' facets (<= 6 deg) shade round
THREAD_POINTS_PER_TURN = 48
THREAD_PROFILE = 8
UP, WALL = 0.9, 0.15  # |normal.z| above UP: flat; below WALL: upright; between: transition
TURNED_TOLERANCE = 2e-4  # m: a facet's centre lies this close to its circle's radius
RADIAL = 0.95  # a wall whose normal is this close to radial faces the axis (turned)
WELD_DISTANCE = 1e-9  # mesh units: corners this close are one vertex
MESH_SUFFIXES = {".stl": "stl_import", ".obj": "obj_import", ".ply": "ply_import"}


def _cylinder(
    name: str, radius: float, z0: float, z1: float, segments: int, at: tuple = (0.0, 0.0)
) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cone(
        bm, cap_ends=True, segments=segments, radius1=radius, radius2=radius, depth=z1 - z0,
        matrix=Matrix.Translation((at[0], at[1], (z0 + z1) / 2)),
    )  # fmt: skip
    bm.to_mesh(mesh)
    bm.free()
    return _link(name, mesh)


def _box(
    name: str, size: tuple[float, float, float], centre: tuple[float, float, float], angle: float
) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    bmesh.ops.create_cube(
        bm, size=1.0, matrix=Matrix.Translation(centre) @ Matrix.Rotation(angle, 4, "Z") @ Matrix.Diagonal((*size, 1.0))
    )
    bm.to_mesh(mesh)
    bm.free()
    return _link(name, mesh)


def _link(name: str, mesh: bpy.types.Mesh) -> bpy.types.Object:
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def bake(obj: bpy.types.Object) -> None:
    """Apply the object's modifiers and transform to its mesh (without bpy.ops), then drop them."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(
        obj.evaluated_get(depsgraph), preserve_all_data_layers=True, depsgraph=depsgraph
    )
    mesh.transform(obj.matrix_world)
    old = obj.data
    obj.modifiers.clear()
    obj.data = mesh
    obj.matrix_world = Matrix.Identity(4)
    bpy.data.meshes.remove(old)


def canonical(obj: bpy.types.Object) -> None:
    """Put vertices, edges and faces in an order of their own (by position): the EXACT boolean's output order can
    follow its threads, and the order decides the render's BVH, so the same settings give the same bytes."""
    bm = bmesh.new()
    bm.from_mesh(obj.data)
    _sort(bm.verts, lambda v: tuple(v.co))
    _sort(bm.edges, lambda e: tuple(sorted(v.index for v in e.verts)))
    _sort(bm.faces, lambda f: (f.material_index, *sorted(v.index for v in f.verts)))
    bm.to_mesh(obj.data)
    bm.free()


def _sort(elements: bmesh.types.BMVertSeq | bmesh.types.BMEdgeSeq | bmesh.types.BMFaceSeq, key) -> None:
    """Sort a bmesh sequence by a tuple key (bmesh sorts by numbers: the rank of each element's key)."""
    elements.index_update()
    order = sorted(range(len(elements)), key=lambda i, items=list(elements): key(items[i]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    elements.sort(key=lambda element: int(rank[element.index]))
    elements.index_update()


def boolean(
    obj: bpy.types.Object, cutters: list[bpy.types.Object], operation: str = "DIFFERENCE", transfer: bool = False
) -> None:
    """One EXACT boolean of `obj` with `cutters` (a collection operand when several), baked; cutters removed.

    With `transfer`, faces that come from a cutter keep the cutter's material (the defects' labels)."""
    modifier = obj.modifiers.new("boolean", "BOOLEAN")
    modifier.operation, modifier.solver = operation, "EXACT"
    if transfer:
        modifier.material_mode = "TRANSFER"
    collection = None
    if len(cutters) == 1:
        modifier.object = cutters[0]
    else:
        collection = bpy.data.collections.new("cutters")
        for cutter in cutters:
            collection.objects.link(cutter)
        modifier.operand_type, modifier.collection = "COLLECTION", collection
    bake(obj)
    canonical(obj)
    for cutter in cutters:
        mesh = cutter.data
        bpy.data.objects.remove(cutter, do_unlink=True)
        bpy.data.meshes.remove(mesh)
    if collection is not None:
        bpy.data.collections.remove(collection)


def _thread_cutter(part: dict) -> bpy.types.Object:
    """A helical tube of radius thread_depth on the bore's wall, from below the hub's foot to above its top."""
    pitch, radius = part["thread_pitch"], part["bore_radius"]
    z0, z1 = -pitch, part["hub_height"] + pitch
    turns = (z1 - z0) / pitch
    n = int(turns * THREAD_POINTS_PER_TURN) + 1
    t = np.linspace(0.0, turns * 2 * math.pi, n)
    curve = bpy.data.curves.new("thread", "CURVE")
    curve.dimensions = "3D"
    spline = curve.splines.new("POLY")
    spline.points.add(n - 1)
    points = np.stack([radius * np.cos(t), radius * np.sin(t), z0 + t / (2 * math.pi) * pitch, np.ones(n)], axis=1)
    spline.points.foreach_set("co", points.ravel())
    curve.bevel_depth, curve.bevel_resolution = part["thread_depth"], THREAD_PROFILE // 4 - 1
    curve.use_fill_caps = True
    obj = _link("thread", curve)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    bpy.data.objects.remove(obj, do_unlink=True)
    bpy.data.curves.remove(curve)
    return _link("thread-mesh", mesh)


def build_part(part: dict) -> bpy.types.Object:
    """The procedural clutch-like body of `part` (clutch_plan.PART's keys, checked by `part_of`), baked."""
    flange, top = part["flange_radius"], part["flange_thickness"] + part["drum_height"]
    body = _cylinder("clutch", flange, 0.0, top, SEGMENTS)
    drum = _cylinder("drum", part["drum_inner_radius"], part["flange_thickness"], top + 0.01, SEGMENTS)
    boolean(body, [drum])
    hub = _cylinder("hub", part["hub_radius"], part["flange_thickness"] / 2, part["hub_height"], SEGMENTS // 2)
    boolean(body, [hub], "UNION")
    holes = [_cylinder("bore", part["bore_radius"], -0.01, part["hub_height"] + 0.01, SEGMENTS // 2)]
    for k in range(part["bolt_holes"]):
        a = 2 * math.pi * k / part["bolt_holes"]
        at = (part["bolt_circle_radius"] * math.cos(a), part["bolt_circle_radius"] * math.sin(a))
        holes.append(_cylinder(f"bolt{k}", part["bolt_hole_radius"], -0.01, top + 0.01, 64, at))
    for k in range(part["windows"]):
        a = 2 * math.pi * (k + 0.5) / part["windows"]
        r = part["window_circle_radius"]
        length, width = part["window_size"]
        holes.append(_box(f"window{k}", (width, length, top + 0.02), (r * math.cos(a), r * math.sin(a), top / 2), a))
    boolean(body, holes)
    if part["bevel"] > 0:
        bevel = body.modifiers.new("bevel", "BEVEL")
        bevel.width, bevel.segments = part["bevel"], BEVEL_SEGMENTS
        bevel.limit_method, bevel.angle_limit = "ANGLE", BEVEL_ANGLE
        bake(body)
    if part["thread_depth"] > 0:
        boolean(body, [_thread_cutter(part)])
    finish(body, (part["flange_radius"], part["drum_inner_radius"], part["hub_radius"]))
    return body


def import_mesh(path: str | Path, scale: float = 1.0) -> bpy.types.Object:
    """A user's part from an .stl, .obj or .ply file (axis along z, lengths in metres times `scale`), baked
    and lifted so it stands on the table."""
    path = Path(path)
    operator = MESH_SUFFIXES.get(path.suffix.lower())
    if operator is None:
        raise ValueError(f"part.mesh: {path.name} is not one of {', '.join(MESH_SUFFIXES)}")
    if not path.is_file():
        raise ValueError(f"part.mesh: no file {path}")
    before = set(bpy.data.objects)
    getattr(bpy.ops.wm, operator)(filepath=str(path), forward_axis="Y", up_axis="Z")  # the file's axes as they are
    meshes = [o for o in set(bpy.data.objects) - before if o.type == "MESH"]
    if len(meshes) != 1:
        raise ValueError(f"part.mesh: {path.name} holds {len(meshes)} mesh objects, need exactly 1")
    obj = meshes[0]
    obj.name = "clutch"
    obj.scale = [s * scale for s in obj.scale]
    bake(obj)
    bm = bmesh.new()  # STL stores each triangle's own corners: weld them, so the mesh is closed
    bm.from_mesh(obj.data)
    bmesh.ops.remove_doubles(bm, verts=bm.verts, dist=WELD_DISTANCE * scale)
    bm.to_mesh(obj.data)
    bm.free()
    lowest = min(v.co.z for v in obj.data.vertices)
    obj.data.transform(Matrix.Translation((0.0, 0.0, -lowest)))
    finish(obj)
    return obj


def finish(obj: bpy.types.Object, turned_radii: tuple[float, ...] | None = None) -> None:
    """Smooth shading with creases at sharp edges, and the face regions as material indices."""
    mesh = obj.data
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))
    mesh.set_sharp_from_angle(angle=SHARP_ANGLE)
    mesh.polygons.foreach_set("material_index", classify_regions(mesh, turned_radii).astype(np.int32))
    mesh.update()


def classify_regions(mesh: bpy.types.Mesh, turned_radii: tuple[float, ...] | None = None) -> np.ndarray:
    """Each face's region index (into REGIONS) from its normal and centre, see the module docstring.

    `turned_radii`: the radii of the turned walls (the procedural part's); a bolt hole's wall is radial where it
    faces the axis, so without them (an imported mesh) every radial wall counts as turned."""
    n = len(mesh.polygons)
    normals, centres = np.empty(n * 3), np.empty(n * 3)
    mesh.polygons.foreach_get("normal", normals)
    mesh.polygons.foreach_get("center", centres)
    normals, centres = normals.reshape(n, 3), centres.reshape(n, 3)
    top = centres[:, 2].max()
    radius = np.hypot(centres[:, 0], centres[:, 1])
    radial = np.abs((normals[:, 0] * centres[:, 0] + normals[:, 1] * centres[:, 1]) / np.maximum(radius, 1e-9))
    hub = radius < radius.max() / 2
    region = np.full(n, REGIONS.index("transition"))
    upright = np.abs(normals[:, 2]) < WALL
    region[upright] = REGIONS.index("brushed")
    turned = upright & (radial > RADIAL)
    if turned_radii is not None:
        turned &= np.any([np.abs(radius - r) < TURNED_TOLERANCE for r in turned_radii], axis=0)
    region[turned] = REGIONS.index("turned")
    region[normals[:, 2] > UP] = REGIONS.index("milled")
    region[(normals[:, 2] > UP) & hub & (centres[:, 2] > top - 1e-4)] = REGIONS.index("fine_turned")
    region[normals[:, 2] < -UP] = REGIONS.index("brushed")
    return region


def open_edges(obj: bpy.types.Object) -> int:
    """Edges not shared by exactly two faces (0 for a watertight, manifold mesh)."""
    bm = bmesh.new()
    bm.from_mesh(obj.data)
    count = sum(1 for e in bm.edges if not e.is_manifold)
    bm.free()
    return count


def mesh_hash(obj: bpy.types.Object) -> str:
    """SHA-256 of the vertex coordinates, the faces' vertex lists and material indices: same mesh, same hash."""
    mesh = obj.data
    digest = hashlib.sha256()
    coords = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
    mesh.vertices.foreach_get("co", coords)
    loops = np.empty(len(mesh.loops), dtype=np.int32)
    mesh.loops.foreach_get("vertex_index", loops)
    materials = np.empty(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("material_index", materials)
    for array in (coords, loops, materials):
        digest.update(array.tobytes())
    return digest.hexdigest()
