"""Per-sample parameters of synthetic plate datasets, drawn before (and without) Blender.

Every sample draws from its own generator seeded with `derive_seed(seed, name, i)`, so a
sample's parameters do not depend on how the dataset is split into shards. Lengths are in
metres, in plate coordinates: the plate is centred on the origin, its long side along x,
and brushed along x.
"""

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from defectlab.seeds import derive_seed

PLATE_SIZE = (0.12, 0.10)  # x, y extent of the plate (m)
MAX_DEFECTS = 4  # defect slots in the node graph
EDGE_MARGIN = 0.008  # defects stay this far from the plate edges (m)
DEFECT_GAP = 0.003  # defects keep this distance between each other (m), so instances never touch
PLACEMENT_TRIES = 200  # rejection-sampling attempts per defect before giving up

ANISOTROPY = (0.5, 0.8)  # Principled BSDF anisotropy of the brushed finish
TEXTURE_OFFSET = (0.0, 100.0)  # which slice z of the 3-D brushing noise the plate shows: the texture seed
SCRATCH_LENGTH = (0.012, 0.035)  # m
SCRATCH_WIDTH = (0.0006, 0.0012)  # full groove width (m)
SCRATCH_DEPTH = (0.00008, 0.0002)  # m
DENT_RADIUS = (0.002, 0.005)  # m
DENT_DEPTH = (0.0004, 0.0008)  # m
BUMP_RADIUS = (0.003, 0.007)  # m
BUMP_HEIGHT = (0.0004, 0.0009)  # m

STAIN_CELL = 0.03  # G: jittered-grid cell size (m)
STAIN_RADIUS = 0.008  # r (m)
STAIN_NOISE_FREQUENCY = 250.0  # f: Perlin frequency (1/m)
STAIN_NOISE_AMPLITUDE = 0.002  # A: radius perturbation (m)
STAIN_GAMMA = 3.0  # reflectance decay towards the rim
STAIN_ALPHA = -0.35  # reflectance change at the rim (< 0 darkens)
STAIN_FRACTION = 0.5  # share of grid cells that hold a stain
STAIN_OFFSET = 10.0  # stain grid shifted by up to this (m) per sample: the stain seed

DEFAULT_TEXTURE = {"roughness": (0.25, 0.35), "bump_strength": (0.15, 0.3)}
DEFAULT_DEFECT_CLASSES = ("scratch", "dent", "bump")


@dataclass(frozen=True)
class Defect:
    """One geometric defect: a groove along a segment (scratch) or a radial dent or bump.

    `size` is the full groove width of a scratch and the radius of a dent or bump; `depth`
    is positive (a bump rises by it, scratches and dents sink by it); `angle` (rad) and
    `length` describe a scratch's segment and are 0 for radial defects.
    """

    cls: str
    x: float
    y: float
    size: float
    depth: float
    angle: float = 0.0
    length: float = 0.0

    @property
    def half_width(self) -> float:
        """Distance from the centre segment at which the height profile reaches 0."""
        return self.size / 2 if self.cls == "scratch" else self.size

    @property
    def height(self) -> float:
        """Signed height at the defect's deepest (or highest) point."""
        return self.depth if self.cls == "bump" else -self.depth

    @property
    def extent(self) -> float:
        """Radius of the circle around (x, y) that contains the whole defect."""
        return self.length / 2 + self.half_width

    @property
    def endpoints(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Ends of the centre segment (equal for radial defects)."""
        dx, dy = math.cos(self.angle) * self.length / 2, math.sin(self.angle) * self.length / 2
        return (self.x - dx, self.y - dy), (self.x + dx, self.y + dy)


@dataclass(frozen=True)
class StainModel:
    """Parameters of Algorithm 1 (water stains) shared by a dataset; defaults from the STAIN_* constants."""

    cell: float = STAIN_CELL
    radius: float = STAIN_RADIUS
    noise_frequency: float = STAIN_NOISE_FREQUENCY
    noise_amplitude: float = STAIN_NOISE_AMPLITUDE
    gamma: float = STAIN_GAMMA
    alpha: float = STAIN_ALPHA
    fraction: float = STAIN_FRACTION


@dataclass(frozen=True)
class PlateSample:
    """Everything the renderer needs for one plate image; nothing else varies between samples."""

    id: str
    split: str
    seed: int
    roughness: float
    anisotropy: float
    bump_strength: float
    texture_offset: float
    defects: tuple[Defect, ...]
    water_stains: bool
    stain_offset: tuple[float, float, float]
    stain_model: StainModel = field(default_factory=StainModel)

    def index_row(self) -> dict:
        """Flat generator parameters for index.parquet (defects as a JSON list)."""
        classes = [d.cls for d in self.defects]
        return {
            "id": self.id,
            "seed": self.seed,
            "roughness": self.roughness,
            "anisotropy": self.anisotropy,
            "bump_strength": self.bump_strength,
            "texture_offset": self.texture_offset,
            "n_defects": len(self.defects),
            **{f"n_{name}": classes.count(name) for name in DEFAULT_DEFECT_CLASSES},
            "defects": json.dumps([asdict(d) for d in self.defects]),
            "water_stains": self.water_stains,
            **{f"stain_offset_{axis}": v for axis, v in zip("xyz", self.stain_offset, strict=True)},
            **{f"stain_{k}": v for k, v in asdict(self.stain_model).items()},
        }


def _uniform(rng: np.random.Generator, bounds: tuple[float, float] | list[float]) -> float:
    low, high = bounds
    return float(rng.uniform(low, high))


def _draw_shape(rng: np.random.Generator, cls: str) -> Defect:
    """A defect of class `cls` centred on the origin."""
    if cls == "scratch":
        return Defect(
            cls,
            0.0,
            0.0,
            _uniform(rng, SCRATCH_WIDTH),
            _uniform(rng, SCRATCH_DEPTH),
            _uniform(rng, (0.0, math.pi)),
            _uniform(rng, SCRATCH_LENGTH),
        )
    if cls == "dent":
        return Defect(cls, 0.0, 0.0, _uniform(rng, DENT_RADIUS), _uniform(rng, DENT_DEPTH))
    if cls == "bump":
        return Defect(cls, 0.0, 0.0, _uniform(rng, BUMP_RADIUS), _uniform(rng, BUMP_HEIGHT))
    raise ValueError(f"no defect model for class {cls!r}; known: {', '.join(DEFAULT_DEFECT_CLASSES)}")


def _place(rng: np.random.Generator, shape: Defect, placed: list[Defect]) -> Defect:
    """Move `shape` to a random spot inside the plate's margin that keeps clear of `placed`."""
    free_x = PLATE_SIZE[0] / 2 - EDGE_MARGIN - shape.extent
    free_y = PLATE_SIZE[1] / 2 - EDGE_MARGIN - shape.extent
    for _ in range(PLACEMENT_TRIES):
        x, y = float(rng.uniform(-free_x, free_x)), float(rng.uniform(-free_y, free_y))
        if all(math.hypot(x - d.x, y - d.y) >= shape.extent + d.extent + DEFECT_GAP for d in placed):
            return Defect(shape.cls, x, y, shape.size, shape.depth, shape.angle, shape.length)
    raise RuntimeError(f"no room for a {shape.cls} after {PLACEMENT_TRIES} tries")


def _draw_defects(rng: np.random.Generator, spec: dict) -> tuple[Defect, ...]:
    low, high = spec.get("min", 0), spec.get("max", 0)
    if not 0 <= low <= high <= MAX_DEFECTS:
        raise ValueError(f"defects min {low}, max {high}: need 0 <= min <= max <= {MAX_DEFECTS}")
    classes = list(spec.get("classes", DEFAULT_DEFECT_CLASSES))
    placed: list[Defect] = []
    for _ in range(int(rng.integers(low, high + 1))):
        placed.append(_place(rng, _draw_shape(rng, str(rng.choice(classes))), placed))
    return tuple(placed)


def plan_sample(name: str, spec: dict, seed: int, i: int) -> PlateSample:
    """Sample `i` of dataset `name`: depends on (seed, name, i) and the spec only."""
    sample_seed = derive_seed(seed, name, i)
    rng = np.random.default_rng(sample_seed)
    texture = {**DEFAULT_TEXTURE, **spec.get("texture", {})}
    return PlateSample(
        id=f"{name}-{i:04d}",
        split=spec["split"],
        seed=sample_seed,
        roughness=_uniform(rng, texture["roughness"]),
        anisotropy=_uniform(rng, ANISOTROPY),
        bump_strength=_uniform(rng, texture["bump_strength"]),
        texture_offset=_uniform(rng, TEXTURE_OFFSET),
        defects=_draw_defects(rng, spec.get("defects", {})),
        water_stains=bool(spec.get("water_stains", False)),
        stain_offset=tuple(float(v) for v in rng.uniform(0.0, STAIN_OFFSET, 3)),
    )


def plan_dataset(name: str, spec: dict, seed: int) -> list[PlateSample]:
    """All `spec["count"]` samples of dataset `name` (one entry of the config's `datasets`), in id order."""
    return [plan_sample(name, spec, seed, i) for i in range(spec["count"])]
