"""Per-object parameters of synthetic clutch datasets, drawn before (and without) Blender.

A clutch dataset is a set of objects (geometry instances of one part), each seen from every view of
the dataset's view plan. Everything random is drawn here from generators seeded with
`derive_seed(seed, draws, object, aspect)`, one per aspect (texture, defects, insignificant
defects, views), so an object does not depend on how the dataset is split into jobs, and a twin
(`twin_of`) that switches defects off keeps its source's textures, insignificant defects and views.

Defect positions are not drawn here: the mesh decides where the surface is. Each defect carries
the uniform numbers (`placement`) that pick its point on the mesh (`clutch_defects.surface_point`),
so the same plan always carves the same geometry. Lengths are in metres, the part stands on the
table at z = 0 with its axis along z (seed 004, R5).
"""

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

from defectlab.seeds import derive_seed
from defectlab.synth.plan import resolve_spec

REGIONS = ("milled", "turned", "fine_turned", "brushed", "transition")  # Fig. 1: four textures, a transition
DEFECT_CLASSES = ("dent", "scratch")
PART = {  # the procedural part (clutch_geometry.build_part), metres
    "flange_radius": 0.060,
    "flange_thickness": 0.010,
    "hub_radius": 0.022,
    "hub_height": 0.032,
    "bore_radius": 0.011,
    "thread_pitch": 0.0015,
    "thread_depth": 0.0005,
    "drum_inner_radius": 0.052,
    "drum_height": 0.012,
    "bolt_holes": 6,
    "bolt_hole_radius": 0.0045,
    "bolt_circle_radius": 0.035,
    "windows": 6,
    "window_size": [0.010, 0.006],
    "window_circle_radius": 0.044,
    "bevel": 0.0008,
}
TEXTURE = {  # per region: roughness, normal perturbation strength, lay scale factor (R5.5: centred values)
    "milled": {"roughness": [0.18, 0.26], "normal_strength": [0.3, 0.6], "scale": [0.8, 1.25]},
    "turned": {"roughness": [0.14, 0.22], "normal_strength": [0.3, 0.6], "scale": [0.8, 1.25]},
    "fine_turned": {"roughness": [0.08, 0.12], "normal_strength": [0.2, 0.4], "scale": [0.8, 1.25]},
    "brushed": {"roughness": [0.32, 0.45], "normal_strength": [0.4, 0.8], "scale": [0.8, 1.25]},
    "transition": {"roughness": [0.2, 0.3], "normal_strength": [0.3, 0.6], "scale": [0.8, 1.25]},
}
DEFECTS = {  # seed 004 R5.3: the paper's diameters and widths, the other ranges assumed
    "count": [2, 7],
    "classes": list(DEFECT_CLASSES),
    "regions": ["milled", "turned", "fine_turned", "transition"],
    "gap": 0.002,
    "dent": {"diameter": [0.0002, 0.002], "depth": [0.00005, 0.0003], "elongation": [1.0, 1.5]},
    "scratch": {
        "width": [0.00005, 0.0003],
        "depth": [0.00002, 0.0001],
        "length": [0.003, 0.03],
        "curving_strength": [0.0, 0.002],
        "curving_frequency": [0.0, 3.0],
    },
}
INSIGNIFICANT = {  # R5.4: smaller, near sharp edges; in the geometry, never a defect
    "count": [3, 8],
    "label": "class",  # their own class in the masks (insignificant_defect), or "background" (the paper's)
    "classes": list(DEFECT_CLASSES),
    "edge_distance": [0.0002, 0.001],
    "dent": {"diameter": [0.00005, 0.0002], "depth": [0.00002, 0.00008], "elongation": [1.0, 2.0]},
    "scratch": {
        "width": [0.00003, 0.0001],
        "depth": [0.00001, 0.00004],
        "length": [0.0005, 0.002],
        "curving_strength": [0.0, 0.0002],
        "curving_frequency": [0.0, 1.0],
    },
}
VIEWS = {  # R5.2: 86 examined views above the part, 20 low ones of the non-examined surfaces
    "examined": 86,
    "extra": 20,
    "min_elevation": 25.0,
    "extra_elevation": [5.0, 20.0],
    "distance": 0.25,
    "target_offset": 0.5,
    "roll": [-180.0, 180.0],
}
CAMERA = {"resolution": [2448, 2050], "sensor_width_mm": 8.45, "focal_length_mm": 35.0}
LIGHT = {"radius": 0.045, "tube": 0.005, "offset": 0.005, "strength": 40.0}
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))


@dataclass(frozen=True)
class DefectPlan:
    """One carved defect: its shape, and the two uniform numbers that place it on the mesh."""

    cls: str
    size: float  # dent: diameter at the surface; scratch: width at the surface
    depth: float
    elongation: float = 1.0  # dent: major / minor axis
    length: float = 0.0  # scratch
    curving_strength: float = 0.0  # scratch: amplitude of its sideways sine (m)
    curving_frequency: float = 0.0  # scratch: sine cycles along its length
    angle: float = 0.0  # rad, orientation in the surface's tangent plane
    placement: tuple[float, float, float] = (0.0, 0.0, 0.0)  # uniform draws: which triangle / edge, where on it
    insignificant: bool = False
    edge_distance: float = 0.0  # insignificant: distance from the sharp edge it sits beside

    @property
    def extent(self) -> float:
        """Radius of a sphere around the centre that holds the whole cutter."""
        if self.cls == "dent":
            return self.size * self.elongation
        return math.hypot(self.length / 2, self.curving_strength) + self.size


@dataclass(frozen=True)
class View:
    """One camera pose: position, the point looked at, roll about the optical axis (rad), examined or not."""

    position: tuple[float, float, float]
    target: tuple[float, float, float]
    roll: float
    examined: bool


@dataclass(frozen=True)
class ClutchObject:
    """Everything the renderer needs for one object (one image per view)."""

    id: str
    split: str
    seed: int
    defective: bool
    finish: str
    texture: dict  # region -> {roughness, normal_strength, scale, offset}
    defects: tuple[DefectPlan, ...]
    insignificant: tuple[DefectPlan, ...]
    views: tuple[View, ...]
    exposure: float = 0.0
    blur: float = 0.0

    def image_id(self, view: int) -> str:
        return f"{self.id}-v{view:03d}"

    def index_row(self) -> dict:
        """Flat generator parameters for index.parquet (defects as JSON lists)."""
        classes = [d.cls for d in self.defects]
        return {
            "clutch": self.id,
            "seed": self.seed,
            "defective": self.defective,
            "texture_variant": self.finish,
            "texture": json.dumps(self.texture, sort_keys=True),
            "n_defects": len(self.defects),
            **{f"n_{name}": classes.count(name) for name in DEFECT_CLASSES},
            "defects": json.dumps([asdict(d) for d in self.defects]),
            "n_insignificant": len(self.insignificant),
            "exposure": self.exposure,
            "blur": self.blur,
        }


def _merged(defaults: dict, given: dict) -> dict:
    """`given` over `defaults`, one level of nested mappings deep."""
    return {
        key: {**value, **given.get(key, {})} if isinstance(value, dict) else given.get(key, value)
        for key, value in defaults.items()
    }


def _range(bounds: list, key: str, low: float = 0.0, positive: bool = False) -> tuple[float, float]:
    """A [low, high] range, refused with its key when reversed or out of bounds."""
    lo, hi = float(bounds[0]), float(bounds[1])
    if lo > hi:
        raise ValueError(f"{key}: range [{lo:g}, {hi:g}] has its low end above its high end")
    if lo < low or (positive and lo <= 0):
        raise ValueError(f"{key}: range [{lo:g}, {hi:g}] must lie {'above' if positive else 'at or above'} {low:g}")
    return lo, hi


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _shape_ranges(spec: dict, key: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Every class's shape ranges, checked: sizes and depths positive, elongation at least 1."""
    checked = {}
    for cls in DEFECT_CLASSES:
        shape = spec[cls]
        checked[cls] = {
            name: _range(
                bounds,
                f"{key}.{cls}.{name}",
                low=1.0 if name == "elongation" else 0.0,
                positive=name in ("diameter", "width", "depth", "length"),
            )
            for name, bounds in shape.items()
        }
    return checked


def _draw_defect(rng: np.random.Generator, cls: str, shapes: dict, insignificant: bool, edge: tuple) -> DefectPlan:
    r = {name: _draw(rng, bounds) for name, bounds in shapes[cls].items()}
    common = {"angle": _draw(rng, (0.0, math.pi)), "placement": tuple(float(u) for u in rng.random(3))}
    if insignificant:
        common |= {"insignificant": True, "edge_distance": _draw(rng, edge)}
    if cls == "dent":
        return DefectPlan(cls, r["diameter"], r["depth"], elongation=r["elongation"], **common)
    return DefectPlan(
        cls,
        r["width"],
        r["depth"],
        length=r["length"],
        curving_strength=r["curving_strength"],
        curving_frequency=r["curving_frequency"],
        **common,
    )


def _draw_defects(rng: np.random.Generator, spec: dict, key: str, insignificant: bool) -> tuple[DefectPlan, ...]:
    low, high = (int(v) for v in spec["count"])
    if not 0 <= low <= high:
        raise ValueError(f"{key}.count: [{low}, {high}] needs 0 <= low <= high")
    classes = list(spec["classes"])
    unknown = sorted(set(classes) - set(DEFECT_CLASSES))
    if not classes or unknown:
        raise ValueError(f"{key}.classes: {unknown or 'none'}; known: {', '.join(DEFECT_CLASSES)}")
    shapes = _shape_ranges(spec, key)
    edge = _range(spec["edge_distance"], f"{key}.edge_distance") if insignificant else (0.0, 0.0)
    return tuple(
        _draw_defect(rng, str(rng.choice(classes)), shapes, insignificant, edge)
        for _ in range(int(rng.integers(low, high + 1)))
    )


def _texture_ranges(spec: dict, finish: dict) -> dict:
    """Each region's texture ranges: the defaults, under the dataset's `texture`, under the finish's."""
    for key, given in (
        ("texture", spec.get("texture", {})),
        (f"finishes.{finish['name']}.texture", finish.get("texture", {})),
    ):
        unknown = sorted(set(given) - set(REGIONS))
        if unknown:
            raise ValueError(f"{key}: unknown regions {unknown}; known: {', '.join(REGIONS)}")
    return _merged(_merged(TEXTURE, spec.get("texture", {})), finish.get("texture", {}))


def _draw_texture(rng: np.random.Generator, texture: dict) -> dict:
    drawn = {}
    for region in REGIONS:
        ranges = texture[region]
        drawn[region] = {
            name: _draw(rng, _range(ranges[name], f"texture.{region}.{name}", positive=name == "scale"))
            for name in ("roughness", "normal_strength", "scale")
        } | {"offset": _draw(rng, (0.0, 100.0))}
    return drawn


def plan_views(spec: dict, rng: np.random.Generator) -> tuple[View, ...]:
    """The view plan: Fibonacci points on the hemisphere above `min_elevation` (the examined views), then
    Fibonacci points in the low band `extra_elevation` (the non-examined surfaces' views), each looking at a
    point `target_offset` of the flange radius off the axis towards the camera, with a seeded roll."""
    v = {**VIEWS, **spec.get("views", {})}
    for key in ("examined", "extra"):
        if int(v[key]) < 0:
            raise ValueError(f"views.{key}: {v[key]} must be at least 0")
    if int(v["examined"]) + int(v["extra"]) == 0:
        raise ValueError("views: examined + extra is 0, no view to render")
    if not 0 <= float(v["min_elevation"]) < 90:
        raise ValueError(f"views.min_elevation: {v['min_elevation']} must lie in [0, 90)")
    band = _range(v["extra_elevation"], "views.extra_elevation")
    if band[1] > 90:
        raise ValueError(f"views.extra_elevation: {list(band)} must lie in [0, 90]")
    if float(v["distance"]) <= 0:
        raise ValueError(f"views.distance: {v['distance']} must be above 0")
    roll = _range(v["roll"], "views.roll", low=-360.0)
    radius = _merged(PART, spec.get("part", {}))["flange_radius"]
    z_low = math.sin(math.radians(float(v["min_elevation"])))
    groups = [
        (int(v["examined"]), z_low, 1.0, True),
        (int(v["extra"]), math.sin(math.radians(band[0])), math.sin(math.radians(band[1])), False),
    ]
    views = []
    for n, z_from, z_to, examined in groups:
        for i in range(n):
            z = z_to - (i + 0.5) / n * (z_to - z_from)
            azimuth = i * GOLDEN_ANGLE
            ring = math.sqrt(max(0.0, 1 - z * z))
            direction = (ring * math.cos(azimuth), ring * math.sin(azimuth), z)
            offset = float(v["target_offset"]) * radius * ring
            target = (offset * math.cos(azimuth), offset * math.sin(azimuth), 0.0)
            position = tuple(t + float(v["distance"]) * d for t, d in zip(target, direction, strict=True))
            views.append(View(position, target, math.radians(_draw(rng, roll)), examined))
    return tuple(views)


def finishes_of(spec: dict) -> list[dict]:
    """The dataset's finishes (texture variants): objects take them in turn; default one, `standard`."""
    finishes = spec.get("finishes") or [{"name": "standard"}]
    names = [f["name"] for f in finishes]
    if len(set(names)) != len(names):
        raise ValueError(f"finishes: names {names} repeat")
    return finishes


def defective_of(spec: dict) -> int:
    """How many of the dataset's objects carry defects (the first ones): default half, the paper's balance."""
    count, defective = spec["count"], spec.get("defective", spec["count"] // 2)
    if not 0 <= defective <= count:
        raise ValueError(f"defective: {defective} must lie in [0, count = {count}]")
    return defective


def plan_object(name: str, spec: dict, seed: int, i: int) -> ClutchObject:
    """Object `i` of clutch dataset `name`: depends on (seed, spec["draws"] or name, i) and the spec only."""
    draws = spec.get("draws", name)
    rng = {
        aspect: np.random.default_rng(derive_seed(seed, draws, i, aspect))
        for aspect in ("texture", "defects", "insignificant", "views")
    }
    finishes = finishes_of(spec)
    finish = finishes[i % len(finishes)]
    texture = _texture_ranges(spec, finish)
    defects = _draw_defects(rng["defects"], _merged(DEFECTS, spec.get("defects", {})), "defects", False)
    insignificant = _draw_defects(
        rng["insignificant"],
        _merged(INSIGNIFICANT, spec.get("insignificant_defects", {})),
        "insignificant_defects",
        True,
    )
    regions = spec.get("defects", {}).get("regions", DEFECTS["regions"])
    if not regions or set(regions) - set(REGIONS):
        raise ValueError(f"defects.regions: {regions}; known: {', '.join(REGIONS)}")
    check_camera(spec)
    light_of(spec)
    part_of(spec)
    defective = i < defective_of(spec)
    return ClutchObject(
        id=f"{name}-{i:03d}",
        split=spec["split"],
        seed=derive_seed(seed, draws, i),
        defective=defective,
        finish=finish["name"],
        texture=_draw_texture(rng["texture"], texture),
        defects=defects if defective else (),
        insignificant=insignificant,
        views=plan_views(spec, rng["views"]),
        exposure=float(spec.get("exposure", 0.0)),
        blur=float(spec.get("blur", 0.0)),
    )


def check_camera(spec: dict) -> dict:
    """The dataset's camera, checked: resolution [W, H] of positive ints, positive lens and sensor."""
    camera = {**CAMERA, **spec.get("camera", {})}
    width, height = camera["resolution"]
    if int(width) < 1 or int(height) < 1:
        raise ValueError(f"camera.resolution: {camera['resolution']} must be two positive pixel counts [W, H]")
    for key in ("sensor_width_mm", "focal_length_mm"):
        if float(camera[key]) <= 0:
            raise ValueError(f"camera.{key}: {camera[key]} must be above 0")
    return camera


def light_of(spec: dict) -> dict:
    light = {**LIGHT, **spec.get("light", {})}
    for key in ("radius", "tube", "strength"):
        if float(light[key]) <= 0:
            raise ValueError(f"light.{key}: {light[key]} must be above 0")
    return light


def part_of(spec: dict) -> dict:
    """The procedural part's dimensions, checked for the nesting the geometry needs (or a mesh file)."""
    part = {**PART, **spec.get("part", {})}
    if "mesh" in part:
        return part
    if (
        not part["bore_radius"] + part["thread_depth"]
        < part["hub_radius"]
        < part["drum_inner_radius"]
        < part["flange_radius"]
    ):
        raise ValueError(
            "part: need bore_radius + thread_depth < hub_radius < drum_inner_radius < flange_radius, got "
            f"{part['bore_radius']:g} + {part['thread_depth']:g}, {part['hub_radius']:g}, "
            f"{part['drum_inner_radius']:g}, {part['flange_radius']:g}"
        )
    if part["hub_height"] <= part["flange_thickness"]:
        raise ValueError(f"part.hub_height: {part['hub_height']:g} must exceed flange_thickness")
    return part


def plan_clutch_dataset(name: str, spec: dict, seed: int) -> list[ClutchObject]:
    """All `spec["count"]` objects of dataset `name` (a spec from `resolve_spec`), in id order."""
    return [plan_object(name, spec, seed, i) for i in range(spec["count"])]


def defect_bounds(spec: dict) -> tuple[int, int]:
    """Defects every object holds at least, and one object at most (the start-up checks ask)."""
    low, high = (int(v) for v in {**DEFECTS, **spec.get("defects", {})}["count"])
    defective = defective_of(spec)
    return (low if defective == spec["count"] else 0), (high if defective else 0)


def images_of(spec: dict) -> int:
    views = {**VIEWS, **spec.get("views", {})}
    return spec["count"] * (int(views["examined"]) + int(views["extra"]))


def gallery_datasets(datasets: dict) -> list[str]:
    """What the clutch gallery shows: the first generated clutch dataset with defective objects, then the first
    marked as the real domain (a stand-in), if any; none without a clutch dataset with defects."""
    clutch = [n for n, s in datasets.items() if s.get("generator") == "clutch" and "source" not in s]
    defective = [n for n in clutch if defective_of(resolve_spec(n, datasets)) > 0]
    if not defective:
        return []
    real = [n for n in clutch if n != defective[0] and resolve_spec(n, datasets).get("domain") == "real"]
    return [defective[0], *real[:1]]
