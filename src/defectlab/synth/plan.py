"""Per-sample parameters of synthetic plate datasets, drawn before (and without) Blender.

Every sample draws from generators seeded with `derive_seed(seed, name, i, aspect)`, one per
aspect (texture, defects, stains, fingerprints, stickers), so a sample's parameters do not
depend on how the dataset is split into shards, and a twin dataset (`twin_of`) that adds
impurities keeps exactly the texture and defects of its source. Lengths are in metres, in
plate coordinates: the plate is centred on the origin, its long side along x, and brushed
along x.
"""

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from defectlab.seeds import derive_seed

PLATE_SIZE = (0.12, 0.10)  # x, y extent of the plate (m)
MAX_DEFECTS = 4  # defect slots in the node graph
MAX_FINGERPRINTS = 2  # fingerprint slots in the node graph
MAX_STICKERS = 2  # sticker objects in the scene
EDGE_MARGIN = 0.008  # defects and impurities stay this far from the plate edges (m)
DEFECT_GAP = 0.003  # defects keep this distance between each other (m), so instances never touch
PLACEMENT_TRIES = 200  # rejection-sampling attempts per feature before giving up
WHOLE_PLATE_FRAME = 0.135  # m of the plate plane across the image: the plate plus a black margin

# Light variants of the ring light (Appendix A): rotation about the optical axis (deg) and scale.
LIGHTS = {"hex": (0.0, 1.0), "hex-rot90": (90.0, 1.0), "hex-2x": (0.0, 2.0)}

ANISOTROPY = (0.5, 0.8)  # Principled BSDF anisotropy of the brushed finish
TEXTURE_OFFSET = (0.0, 100.0)  # which slice z of the 3-D brushing noise the plate shows: the texture seed
DEFAULT_TEXTURE = {"roughness": (0.25, 0.35), "normal_strength": (0.15, 0.3), "scale": (0.8, 1.25)}
DEFAULT_DEFECT_CLASSES = ("scratch", "dent", "bump")
DEFAULT_SHAPES = {  # ranges of each defect class's parameters (m; curvature in 1/m)
    "scratch": {
        "length": (0.012, 0.035),
        "width": (0.0006, 0.0012),
        "depth": (0.00008, 0.0002),
        "curvature": (-30, 30),
    },
    "dent": {"radius": (0.002, 0.005), "depth": (0.0004, 0.0008)},
    "bump": {"radius": (0.003, 0.007), "height": (0.0004, 0.0009)},
}
DEFAULT_FINGERPRINT = {  # semi-major axis (m), minor/major ratio, ridge period (m), reflectance drop on a ridge
    "size": (0.007, 0.011),
    "aspect": (0.6, 0.8),
    "ridge_period": (0.0004, 0.0006),
    "contrast": (0.06, 0.12),
}
DEFAULT_STICKER = {"width": (0.016, 0.026), "height": (0.01, 0.016), "bubbles": (0.1, 0.4)}
STAIN_OFFSET = 10.0  # stain grid shifted by up to this (m) per sample: the stain seed


@dataclass(frozen=True)
class Defect:
    """One geometric defect: a groove along a (possibly bent) segment, or a radial dent or bump.

    `size` is the full groove width of a scratch and the radius of a dent or bump; `depth`
    is positive (a bump rises by it, scratches and dents sink by it); `angle` (rad),
    `length` and `curvature` (1/m, the bend of the centre line) describe a scratch and are
    0 for radial defects.
    """

    cls: str
    x: float
    y: float
    size: float
    depth: float
    angle: float = 0.0
    length: float = 0.0
    curvature: float = 0.0

    @property
    def half_width(self) -> float:
        """Distance from the centre line at which the height profile reaches 0."""
        return self.size / 2 if self.cls == "scratch" else self.size

    @property
    def height(self) -> float:
        """Signed height at the defect's deepest (or highest) point."""
        return self.depth if self.cls == "bump" else -self.depth

    @property
    def sagitta(self) -> float:
        """How far the bent centre line's ends leave the chord's middle (m)."""
        return abs(self.curvature) * self.length**2 / 8

    @property
    def extent(self) -> float:
        """Radius of the circle around (x, y) that contains the whole defect."""
        return math.hypot(self.length / 2, self.sagitta) + self.half_width

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance of plate points to the centre line, exactly as the shader computes it.

        In the defect's frame (u along the chord, v across) the centre line is
        v = curvature * t^2 / 2 for t in [-length/2, length/2]; the vertical offset to it
        is divided by the line's slope factor, so it is the distance for gentle bends.
        """
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = (x - self.x) * c + (y - self.y) * s
        v = -(x - self.x) * s + (y - self.y) * c
        t = np.clip(u, -self.length / 2, self.length / 2)
        across = (v - self.curvature * t * t / 2) / np.sqrt(1 + (self.curvature * t) ** 2)
        return np.sqrt((u - t) ** 2 + across**2)


@dataclass(frozen=True)
class Fingerprint:
    """An elliptical fingerprint: ridges of `ridge_period` around its core, lowering reflectance by up to `contrast`."""

    x: float
    y: float
    angle: float
    semi_major: float
    semi_minor: float
    ridge_period: float
    contrast: float
    warp_offset: float  # slice of the noise that bends the ridges: the ridge pattern's seed

    @property
    def extent(self) -> float:
        return self.semi_major


@dataclass(frozen=True)
class Sticker:
    """A numbered label stuck on the plate, with air bubbles under part of it."""

    x: float
    y: float
    angle: float
    width: float
    height: float
    number: int
    bubbles: float  # share of the bubble cells that hold a bubble
    bubble_offset: float  # slice of the bubble pattern: its seed

    @property
    def extent(self) -> float:
        return math.hypot(self.width, self.height) / 2


@dataclass(frozen=True)
class StainModel:
    """Parameters of Algorithm 1 (water stains) shared by a dataset."""

    cell: float = 0.03  # G: jittered-grid cell size (m)
    radius: float = 0.008  # r (m)
    frequency: float = 250.0  # f: Perlin frequency (1/m)
    amplitude: float = 0.002  # A: radius perturbation (m)
    gamma: float = 3.0  # reflectance decay towards the rim
    alpha: float = -0.35  # reflectance change at the rim (< 0 darkens)
    fraction: float = 0.5  # share of grid cells that hold a stain

    def __post_init__(self) -> None:
        if self.radius + self.amplitude > self.cell:
            raise ValueError(
                f"water_stains: radius + amplitude ({self.radius + self.amplitude:g} m) must not exceed the cell "
                f"size {self.cell:g} m, or the 27-cell search of Algorithm 1 misses stains"
            )


@dataclass(frozen=True)
class PlateSample:
    """Everything the renderer needs for one plate (one image per view); nothing else varies between samples."""

    id: str
    split: str
    seed: int
    roughness: float
    anisotropy: float
    normal_strength: float
    texture_scale: float
    texture_offset: float
    defects: tuple[Defect, ...]
    water_stains: bool
    stain_offset: tuple[float, float, float]
    stain_model: StainModel = field(default_factory=StainModel)
    fingerprints: tuple[Fingerprint, ...] = ()
    stickers: tuple[Sticker, ...] = ()
    light: str = "hex"
    frame: float = WHOLE_PLATE_FRAME
    views: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    sensor_noise: float = 0.0
    blur: float = 0.0  # Gaussian blur sigma (px) of the lens, applied to the image only
    exposure: float = 0.0  # stops

    def image_id(self, view: int) -> str:
        """The image id of one view: the sample id when the plate is seen once."""
        return self.id if len(self.views) == 1 else f"{self.id}-v{view:02d}"

    def index_row(self) -> dict:
        """Flat generator parameters for index.parquet (defects and impurities as JSON lists)."""
        classes = [d.cls for d in self.defects]
        return {
            "plate": self.id,
            "seed": self.seed,
            "roughness": self.roughness,
            "anisotropy": self.anisotropy,
            "normal_strength": self.normal_strength,
            "texture_scale": self.texture_scale,
            "texture_offset": self.texture_offset,
            "n_defects": len(self.defects),
            **{f"n_{name}": classes.count(name) for name in DEFAULT_DEFECT_CLASSES},
            "defects": json.dumps([asdict(d) for d in self.defects]),
            "n_fingerprints": len(self.fingerprints),
            "fingerprints": json.dumps([asdict(f) for f in self.fingerprints]),
            "n_stickers": len(self.stickers),
            "stickers": json.dumps([asdict(s) for s in self.stickers]),
            "water_stains": self.water_stains,
            **{f"stain_offset_{axis}": v for axis, v in zip("xyz", self.stain_offset, strict=True)},
            **{f"stain_{k}": v for k, v in asdict(self.stain_model).items()},
            "light": self.light,
            "frame": self.frame,
            "sensor_noise": self.sensor_noise,
            "blur": self.blur,
            "exposure": self.exposure,
        }


def _uniform(rng: np.random.Generator, bounds: tuple[float, float] | list[float]) -> float:
    low, high = bounds
    if low > high:
        raise ValueError(f"range [{low}, {high}]: low above high")
    return float(rng.uniform(low, high))


def _count(rng: np.random.Generator, spec: dict, what: str, most: int) -> int:
    low, high = spec.get("min", 0), spec.get("max", 0)
    if not 0 <= low <= high <= most:
        raise ValueError(f"{what} min {low}, max {high}: need 0 <= min <= max <= {most}")
    return int(rng.integers(low, high + 1))


def _draw_shape(rng: np.random.Generator, cls: str, shapes: dict) -> Defect:
    """A defect of class `cls` centred on the origin."""
    if cls not in DEFAULT_SHAPES:
        raise ValueError(f"no defect model for class {cls!r}; known: {', '.join(DEFAULT_DEFECT_CLASSES)}")
    r = {key: _uniform(rng, bounds) for key, bounds in {**DEFAULT_SHAPES[cls], **shapes.get(cls, {})}.items()}
    if cls == "scratch":
        return Defect(cls, 0.0, 0.0, r["width"], r["depth"], _uniform(rng, (0.0, math.pi)), r["length"], r["curvature"])
    return Defect(cls, 0.0, 0.0, r["radius"], r["depth"] if cls == "dent" else r["height"])


def _spot(rng: np.random.Generator, extent: float, clear_of: list, gap: float, what: str) -> tuple[float, float]:
    """A random centre for a feature of radius `extent` inside the plate's margin, `gap` clear of `clear_of`."""
    free_x = PLATE_SIZE[0] / 2 - EDGE_MARGIN - extent
    free_y = PLATE_SIZE[1] / 2 - EDGE_MARGIN - extent
    for _ in range(PLACEMENT_TRIES):
        x, y = float(rng.uniform(-free_x, free_x)), float(rng.uniform(-free_y, free_y))
        if all(math.hypot(x - f.x, y - f.y) >= extent + f.extent + gap for f in clear_of):
            return x, y
    raise RuntimeError(f"no room for a {what} after {PLACEMENT_TRIES} tries")


def _draw_defects(rng: np.random.Generator, spec: dict) -> tuple[Defect, ...]:
    classes = list(spec.get("classes", DEFAULT_DEFECT_CLASSES))
    placed: list[Defect] = []
    for _ in range(_count(rng, spec, "defects", MAX_DEFECTS)):
        shape = _draw_shape(rng, str(rng.choice(classes)), spec)
        x, y = _spot(rng, shape.extent, placed, DEFECT_GAP, shape.cls)
        placed.append(Defect(shape.cls, x, y, shape.size, shape.depth, shape.angle, shape.length, shape.curvature))
    return tuple(placed)


def _draw_stickers(rng: np.random.Generator, spec: dict, defects: tuple[Defect, ...]) -> tuple[Sticker, ...]:
    """Stickers keep clear of defects (a covered defect is no longer a visible one) and of each other."""
    ranges = {**DEFAULT_STICKER, **spec}
    placed: list = list(defects)
    for _ in range(_count(rng, spec, "stickers", MAX_STICKERS)):
        width, height, angle = (
            _uniform(rng, ranges["width"]),
            _uniform(rng, ranges["height"]),
            _uniform(rng, (0, math.pi)),
        )
        x, y = _spot(rng, math.hypot(width, height) / 2, placed, DEFECT_GAP, "sticker")
        bubbles, offset = _uniform(rng, ranges["bubbles"]), _uniform(rng, TEXTURE_OFFSET)
        placed.append(Sticker(x, y, angle, width, height, int(rng.integers(1, 100)), bubbles, offset))
    return tuple(placed[len(defects) :])


def _draw_fingerprints(rng: np.random.Generator, spec: dict, stickers: tuple[Sticker, ...]) -> tuple[Fingerprint, ...]:
    """Fingerprints may lie over defects (as on real plates) but not under stickers or on each other."""
    ranges = {**DEFAULT_FINGERPRINT, **spec}
    placed: list = list(stickers)
    for _ in range(_count(rng, spec, "fingerprints", MAX_FINGERPRINTS)):
        major = _uniform(rng, ranges["size"])
        x, y = _spot(rng, major, placed, 0.0, "fingerprint")
        placed.append(
            Fingerprint(
                x,
                y,
                _uniform(rng, (0.0, math.pi)),
                major,
                major * _uniform(rng, ranges["aspect"]),
                _uniform(rng, ranges["ridge_period"]),
                _uniform(rng, ranges["contrast"]),
                _uniform(rng, TEXTURE_OFFSET),
            )
        )
    return tuple(placed[len(stickers) :])


def stain_model(setting: bool | dict) -> StainModel:
    """The dataset's Algorithm 1 parameters: `true` takes the defaults, a mapping overrides some."""
    return StainModel(**setting) if isinstance(setting, dict) else StainModel()


def views(camera: dict) -> tuple[tuple[float, float], ...]:
    """Camera positions over the plate: the centres of a cols x rows grid of equal cells, row by row."""
    cols, rows = camera.get("grid", (1, 1))
    return tuple(
        ((c + 0.5) * PLATE_SIZE[0] / cols - PLATE_SIZE[0] / 2, PLATE_SIZE[1] / 2 - (r + 0.5) * PLATE_SIZE[1] / rows)
        for r in range(rows)
        for c in range(cols)
    )


def resolve_spec(name: str, datasets: dict) -> dict:
    """Dataset `name`'s spec with a twin's source filled in: the source's keys, overridden by the twin's own.

    The result's `draws` names the dataset whose seeds the samples use (the root of the twin chain).
    """
    spec, seen = {**datasets[name], "draws": name}, [name]
    while "twin_of" in spec:
        source = spec.pop("twin_of")
        if source not in datasets:
            raise ValueError(f"datasets.{seen[-1]}.twin_of names {source!r}, which is not under datasets")
        if source in seen:
            raise ValueError(f"datasets: twin_of forms a cycle: {' -> '.join([*seen, source])}")
        if spec["count"] > datasets[source]["count"]:
            raise ValueError(
                f"datasets.{seen[-1]}: count {spec['count']} exceeds the count of its twin source {source}, "
                f"{datasets[source]['count']}"
            )
        seen.append(source)
        spec = {**datasets[source], **spec, "draws": source}
    return spec


def plan_sample(name: str, spec: dict, seed: int, i: int) -> PlateSample:
    """Sample `i` of dataset `name`: depends on (seed, spec["draws"] or name, i) and the spec only."""
    draws = spec.get("draws", name)
    rng = {
        aspect: np.random.default_rng(derive_seed(seed, draws, i, aspect))
        for aspect in ("texture", "defects", "stains", "impurities")
    }
    texture = {**DEFAULT_TEXTURE, **spec.get("texture", {})}
    light = spec.get("light", "hex")
    if light not in LIGHTS:
        raise ValueError(f"light {light!r}: known {', '.join(LIGHTS)}")
    defects = _draw_defects(rng["defects"], spec.get("defects", {}))
    stickers = _draw_stickers(rng["impurities"], spec.get("stickers", {}), defects)
    camera = spec.get("camera", {})
    return PlateSample(
        id=f"{name}-{i:04d}",
        split=spec["split"],
        seed=derive_seed(seed, draws, i),
        roughness=_uniform(rng["texture"], texture["roughness"]),
        anisotropy=_uniform(rng["texture"], ANISOTROPY),
        normal_strength=_uniform(rng["texture"], texture["normal_strength"]),
        texture_scale=_uniform(rng["texture"], texture["scale"]),
        texture_offset=_uniform(rng["texture"], TEXTURE_OFFSET),
        defects=defects,
        water_stains=bool(spec.get("water_stains", False)),
        stain_offset=tuple(float(v) for v in rng["stains"].uniform(0.0, STAIN_OFFSET, 3)),
        stain_model=stain_model(spec.get("water_stains", False)),
        fingerprints=_draw_fingerprints(rng["impurities"], spec.get("fingerprints", {}), stickers),
        stickers=stickers,
        light=light,
        frame=camera.get("frame", WHOLE_PLATE_FRAME),
        views=views(camera),
        sensor_noise=float(spec.get("sensor_noise", 0.0)),
        blur=float(spec.get("blur", 0.0)),
        exposure=float(spec.get("exposure", 0.0)),
    )


def plan_dataset(name: str, spec: dict, seed: int) -> list[PlateSample]:
    """All `spec["count"]` samples of dataset `name` (a spec from `resolve_spec`), in id order."""
    return [plan_sample(name, spec, seed, i) for i in range(spec["count"])]
