"""Procedural 2-D datasets of the autoencoder study (seed 003, §3.1): generators `chess` and `noise`.

chess  a board of equal black and white squares (`size`, `square`, `phase`, `black`, `white`); an anomalous
       image is the board with `anomaly.regions` rectangles (sides `anomaly.region` x size) deformed
       elastically after Simard et al. (2003): dx, dy = alpha * (G_sigma * U(-1, 1)), drawn per pixel, zero
       outside the rectangles, resampled bilinearly. Its mask: `changed` (pixels of a rectangle whose grey
       value moved by more than half the black-white contrast) or `region` (the whole rectangles).
noise  i.i.d. grey values N(`mean`, `std`) clipped to [0, 1]; an anomalous image has a noisy line
       y(x) = a (x - W/2) + b + eps(x) of `anomaly.thickness` px and grey `anomaly.value` drawn on top
       (atan(a) ~ U(`anomaly.angle`) degrees, b ~ U(`anomaly.intercept`) x H, eps ~ N(0, `anomaly.jitter`^2)
       per column). Its mask: the drawn pixels.

A dataset with an `anomaly` key is anomalous. With `twin_of` (regime `paper`, the default) image i is the
base image i of the twin source plus an anomaly, bit-identical to it outside the mask; `regime: heldout`
draws new base images under the dataset's own name. Every random draw is seeded with
`derive_seed(seed, base, i, aspect)`, `base` being the dataset whose images are drawn (`draws` of
`resolve_spec`, or the dataset itself when held out): an image depends on nothing but the spec, the seed and
its index, so two anomalous twins of one source that differ only in `anomaly.mask` (or in alpha) share
their base images and random fields and differ only in their masks (or the fields' scale).
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage

from defectlab.classes import OTHER_DEFECT, class_index
from defectlab.data.layout import write_png
from defectlab.seeds import derive_seed
from defectlab.synth.plan import resolve_spec

SIZE_STEP = 16  # the autoencoders halve the image four times (seed 003, §3)
CHESS = {"size": 256, "square": 16, "phase": "random", "black": 0, "white": 255, "regime": "paper"}
CHESS_ANOMALY = {"alpha": 200.0, "sigma": 4.0, "regions": 1, "region": (0.15, 0.35), "mask": "changed"}
NOISE = {"size": 256, "mean": 0.5, "std": 0.15, "regime": "paper"}
NOISE_ANOMALY = {"angle": (-60.0, 60.0), "intercept": (0.25, 0.75), "jitter": 1.5, "thickness": 3, "value": 1.0}
PHASES = ("random", "fixed")
CHESS_MASKS = ("changed", "region")
REGIMES = ("paper", "heldout")
MASK_CLASS = OTHER_DEFECT  # the class of every anomalous pixel (a defect, in DEFECT_INDICES)
RMS_FACTOR = 1 / math.sqrt(12 * math.pi)  # rms of G_sigma * U(-1, 1) is RMS_FACTOR / sigma (sigma >~ 2)
LINE_SHIFT = 4  # fractional bits of the polyline's points (cv2.polylines `shift`)


@dataclass(frozen=True)
class Region:
    """An axis-aligned rectangle of pixels: columns x0 .. x0 + w - 1, rows y0 .. y0 + h - 1."""

    x0: int
    y0: int
    w: int
    h: int

    def indicator(self, size: int) -> np.ndarray:
        inside = np.zeros((size, size), bool)
        inside[self.y0 : self.y0 + self.h, self.x0 : self.x0 + self.w] = True
        return inside


@dataclass(frozen=True)
class Deformation:
    """The elastic anomaly of a chess image: its rectangles, Simard's alpha and sigma, the field's seed."""

    alpha: float
    sigma: float
    regions: tuple[Region, ...]
    mask: str  # "changed" or "region"
    field_seed: int


@dataclass(frozen=True)
class Line:
    """The noisy line of a noise image: y(x) = slope (x - W/2) + intercept + eps(x), eps ~ N(0, jitter^2)."""

    angle: float  # degrees, atan(slope)
    slope: float
    intercept: float  # px: y at the centre column
    jitter: float
    thickness: int
    value: float  # grey value in [0, 1]
    jitter_seed: int


@dataclass(frozen=True)
class ProceduralSample:
    """Everything one image needs; the pixels are a function of this alone (`make`)."""

    id: str
    generator: str  # "chess" or "noise"
    split: str
    seed: int  # derive_seed(seed, base, i)
    base_id: str  # the normal image this one is drawn from (its own id when normal)
    regime: str
    size: int
    params: Mapping  # chess: square, phase_x, phase_y, black, white; noise: mean, std, pixel_seed
    anomaly: Deformation | Line | None

    @property
    def defects(self) -> int:
        """Anomalous regions the sample holds (a line is one)."""
        if self.anomaly is None:
            return 0
        return len(self.anomaly.regions) if isinstance(self.anomaly, Deformation) else 1

    @property
    def label(self) -> str:
        if self.anomaly is None:
            return "normal"
        return "elastic_deformation" if self.generator == "chess" else "noisy_line"


@dataclass(frozen=True)
class Picture:
    """A generated image: the normal base, the image itself (equal to it when normal), the anomalous pixels and
    their instance ids (region k + 1; the line is 1), and what was measured while making it."""

    normal: np.ndarray  # (H, W) uint8
    image: np.ndarray  # (H, W) uint8
    mask: np.ndarray  # (H, W) bool
    instances: np.ndarray  # (H, W) uint16
    measured: Mapping  # chess anomalies: displacement_rms (px, both components, over the rectangles)


# ---------------------------------------------------------------- planning


def _settings(spec: Mapping, defaults: Mapping, anomaly_defaults: Mapping) -> tuple[dict, dict | None]:
    own = {**defaults, **{k: spec[k] for k in defaults if k in spec}}
    anomaly = spec.get("anomaly")
    return own, None if anomaly is None else {**anomaly_defaults, **anomaly}


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{key}: {message}")


def _check_range(bounds, key: str, low: float, high: float, what: str) -> tuple[float, float]:
    _check(len(bounds) == 2, key, f"{list(bounds)} is not a range [low, high]")
    lo, hi = (float(v) for v in bounds)
    _check(low <= lo <= hi <= high, key, f"[{lo:g}, {hi:g}]: need {low:g} <= low <= high <= {high:g} ({what})")
    return lo, hi


def _check_common(own: dict) -> None:
    size = own["size"]
    _check(
        isinstance(size, int) and size >= SIZE_STEP and size % SIZE_STEP == 0,
        "size",
        f"{size} must be a positive multiple of {SIZE_STEP} (the autoencoders halve the image four times)",
    )
    _check(own["regime"] in REGIMES, "regime", f"{own['regime']!r}: known {', '.join(REGIMES)}")


def _base(name: str, spec: Mapping, regime: str) -> str:
    """The dataset whose base images this one shows: its twin source's (`draws`), or its own when held out."""
    return name if regime == "heldout" else spec.get("draws", name)


def plan_chess(name: str, spec: Mapping, seed: int, i: int) -> ProceduralSample:
    """Sample `i` of chess dataset `name` (a spec from `resolve_spec`); raises ValueError naming a bad key."""
    own, anomaly = _settings(spec, CHESS, CHESS_ANOMALY)
    _check_common(own)
    size, square = own["size"], own["square"]
    _check(
        isinstance(square, int) and 1 <= square <= size // 2,
        "square",
        f"{square}: need 1 <= square <= size / 2 = {size // 2} (at least two squares across)",
    )
    _check(own["phase"] in PHASES, "phase", f"{own['phase']!r}: known {', '.join(PHASES)}")
    black, white = own["black"], own["white"]
    for key in ("black", "white"):
        _check(isinstance(own[key], int) and 0 <= own[key] <= 255, key, f"{own[key]}: a grey value 0..255")
    _check(black != white, "white", f"equals black ({black}): the board would be blank")
    base = _base(name, spec, own["regime"])
    if own["phase"] == "random":
        phase = np.random.default_rng(derive_seed(seed, base, i, "phase")).integers(0, 2 * square, 2)
    else:
        phase = np.zeros(2, int)
    params = {"square": square, "phase_x": int(phase[0]), "phase_y": int(phase[1]), "black": black, "white": white}
    deformation = None
    if anomaly is not None:
        alpha, sigma, count = anomaly["alpha"], anomaly["sigma"], anomaly["regions"]
        _check(alpha >= 0, "anomaly.alpha", f"{alpha}: a displacement scale >= 0 (px)")
        _check(sigma > 0, "anomaly.sigma", f"{sigma}: the Gaussian's sigma must be > 0 (px)")
        _check(isinstance(count, int) and count >= 1, "anomaly.regions", f"{count}: at least 1 region")
        _check(anomaly["mask"] in CHESS_MASKS, "anomaly.mask", f"{anomaly['mask']!r}: known {', '.join(CHESS_MASKS)}")
        lo, hi = _check_range(anomaly["region"], "anomaly.region", 0.0, 1.0, "sides as fractions of size")
        _check(lo > 0, "anomaly.region", f"[{lo:g}, {hi:g}]: sides must be > 0")
        rng = np.random.default_rng(derive_seed(seed, base, i, "anomaly"))
        regions = []
        for _ in range(count):
            w, h = (max(1, min(size, round(rng.uniform(lo, hi) * size))) for _ in range(2))
            x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
            regions.append(Region(x0, y0, w, h))
        deformation = Deformation(
            float(alpha), float(sigma), tuple(regions), anomaly["mask"], derive_seed(seed, base, i, "field")
        )
    return _sample("chess", name, spec, seed, i, base, own, params, deformation)


def plan_noise(name: str, spec: Mapping, seed: int, i: int) -> ProceduralSample:
    """Sample `i` of noise dataset `name` (a spec from `resolve_spec`); raises ValueError naming a bad key."""
    own, anomaly = _settings(spec, NOISE, NOISE_ANOMALY)
    _check_common(own)
    _check(0 <= own["mean"] <= 1, "mean", f"{own['mean']}: a grey value in [0, 1]")
    _check(own["std"] >= 0, "std", f"{own['std']}: a standard deviation >= 0")
    base = _base(name, spec, own["regime"])
    params = {"mean": float(own["mean"]), "std": float(own["std"]), "pixel_seed": derive_seed(seed, base, i, "noise")}
    line = None
    if anomaly is not None:
        lo, hi = _check_range(anomaly["angle"], "anomaly.angle", -89.0, 89.0, "degrees of the slope")
        b_lo, b_hi = _check_range(anomaly["intercept"], "anomaly.intercept", 0.0, 1.0, "fractions of the height")
        jitter, thickness, value = anomaly["jitter"], anomaly["thickness"], anomaly["value"]
        _check(jitter >= 0, "anomaly.jitter", f"{jitter}: a standard deviation >= 0 (px)")
        _check(isinstance(thickness, int) and thickness >= 1, "anomaly.thickness", f"{thickness}: at least 1 px")
        _check(0 <= value <= 1, "anomaly.value", f"{value}: a grey value in [0, 1]")
        rng = np.random.default_rng(derive_seed(seed, base, i, "line"))
        angle = float(rng.uniform(lo, hi))
        intercept = float(rng.uniform(b_lo, b_hi)) * own["size"]
        line = Line(
            angle,
            math.tan(math.radians(angle)),
            intercept,
            float(jitter),
            thickness,
            float(value),
            derive_seed(seed, base, i, "jitter"),
        )
    return _sample("noise", name, spec, seed, i, base, own, params, line)


def _sample(generator, name, spec, seed, i, base, own, params, anomaly) -> ProceduralSample:
    return ProceduralSample(
        id=f"{name}-{i:04d}",
        generator=generator,
        split=spec["split"],
        seed=derive_seed(seed, base, i),
        base_id=f"{base}-{i:04d}",
        regime=own["regime"],
        size=own["size"],
        params=params,
        anomaly=anomaly,
    )


PLANNERS = {"chess": plan_chess, "noise": plan_noise}


def plan_dataset(name: str, spec: Mapping, seed: int) -> list[ProceduralSample]:
    """All `spec["count"]` samples of dataset `name` (a spec from `resolve_spec`), in id order."""
    plan = PLANNERS[spec["generator"]]
    return [plan(name, spec, seed, i) for i in range(spec["count"])]


def regions_of(spec: Mapping) -> int:
    """Anomalous regions every image of a (resolved) spec holds: 0 for a normal dataset."""
    if "anomaly" not in spec:
        return 0
    return spec["anomaly"].get("regions", CHESS_ANOMALY["regions"]) if spec["generator"] == "chess" else 1


# ---------------------------------------------------------------- pixels


def chessboard(size: int, square: int, phase_x: int, phase_y: int, black: int, white: int) -> np.ndarray:
    """(size, size) uint8: squares of `square` px, the board shifted by the phase; white where
    floor((x + phase_x) / square) + floor((y + phase_y) / square) is even."""
    cells = (np.arange(size)[None, :] + phase_x) // square + (np.arange(size)[:, None] + phase_y) // square
    return np.where(cells % 2 == 0, white, black).astype(np.uint8)


def displacement_field(rng: np.random.Generator, size: int, alpha: float, sigma: float) -> tuple[np.ndarray, ...]:
    """Simard et al.'s field: dy, dx each alpha * (G_sigma * U(-1, 1)), drawn per pixel, filtered with
    `scipy.ndimage.gaussian_filter(mode="constant")`; rms of each component ~ alpha * RMS_FACTOR / sigma."""
    return tuple(
        alpha * ndimage.gaussian_filter(rng.uniform(-1.0, 1.0, (size, size)), sigma, mode="constant") for _ in range(2)
    )


def deform(image: np.ndarray, dy: np.ndarray, dx: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The image resampled at (y + dy, x + dx) (bilinear, reflected at the border) inside `inside`, rounded to
    uint8; every pixel outside is the input's, bit for bit."""
    yy, xx = np.nonzero(inside)
    warped = ndimage.map_coordinates(
        image.astype(np.float64), [yy + dy[yy, xx], xx + dx[yy, xx]], order=1, mode="reflect"
    )
    out = image.copy()
    out[yy, xx] = np.rint(np.clip(warped, 0, 255)).astype(np.uint8)
    return out


def noise_image(size: int, mean: float, std: float, pixel_seed: int) -> np.ndarray:
    """(size, size) uint8: i.i.d. N(mean, std) grey values clipped to [0, 1], quantised to 0..255."""
    values = np.random.default_rng(pixel_seed).normal(mean, std, (size, size))
    return np.rint(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)


def line_pixels(size: int, line: Line) -> np.ndarray:
    """(size, size) bool: the pixels the noisy polyline covers (`cv2.polylines`, 8-connected, no anti-aliasing)."""
    x = np.arange(size, dtype=np.float64)
    eps = np.random.default_rng(line.jitter_seed).normal(0.0, 1.0, size) * line.jitter
    y = line.slope * (x - size / 2) + line.intercept + eps
    points = np.rint(np.stack([x, y], axis=1) * (1 << LINE_SHIFT)).astype(np.int32)
    canvas = np.zeros((size, size), np.uint8)
    cv2.polylines(canvas, [points], False, 1, thickness=line.thickness, lineType=cv2.LINE_8, shift=LINE_SHIFT)
    return canvas.astype(bool)


def make(sample: ProceduralSample) -> Picture:
    """The pixels of a planned sample: its normal base image, the image, the anomalous pixels and instances."""
    size, p = sample.size, sample.params
    empty = np.zeros((size, size), bool)
    if sample.generator == "chess":
        normal = chessboard(size, p["square"], p["phase_x"], p["phase_y"], p["black"], p["white"])
    else:
        normal = noise_image(size, p["mean"], p["std"], p["pixel_seed"])
    if sample.anomaly is None:
        return Picture(normal, normal, empty, np.zeros((size, size), np.uint16), {})
    instances = np.zeros((size, size), np.uint16)
    if isinstance(sample.anomaly, Line):
        mask = line_pixels(size, sample.anomaly)
        image = normal.copy()
        image[mask] = round(sample.anomaly.value * 255)
        instances[mask] = 1
        return Picture(normal, image, mask, instances, {})
    deformation = sample.anomaly
    inside = np.zeros((size, size), bool)
    for k, region in enumerate(deformation.regions):
        box = region.indicator(size)
        inside |= box
        instances[box] = k + 1
    rng = np.random.default_rng(deformation.field_seed)
    dy, dx = displacement_field(rng, size, deformation.alpha, deformation.sigma)
    image = deform(normal, dy * inside, dx * inside, inside)
    if deformation.mask == "changed":
        contrast = abs(p["white"] - p["black"])
        mask = inside & (np.abs(image.astype(np.int16) - normal.astype(np.int16)) > 0.5 * contrast)
    else:
        mask = inside
    instances[~mask] = 0
    rms = float(np.sqrt(np.mean(np.concatenate([dy[inside], dx[inside]]) ** 2)))
    return Picture(normal, image, mask, instances, {"displacement_rms": rms})


# ---------------------------------------------------------------- the layout


def index_row(sample: ProceduralSample, picture: Picture) -> dict:
    """The sample's row of index.parquet: the layout's columns, its label, base image and every parameter."""
    anomaly = sample.anomaly
    row = {
        "id": sample.id,
        "split": sample.split,
        "object": sample.generator,
        "view": 0,
        "light": "none",
        "seed": sample.seed,
        "generator": sample.generator,
        "label": sample.label,
        "base_id": sample.base_id,
        "regime": sample.regime,
        "size": sample.size,
        "anomalous_pixels": int(picture.mask.sum()),
        "mask_rule": "" if anomaly is None else anomaly.mask if isinstance(anomaly, Deformation) else "line",
    }
    if sample.generator == "chess":
        row.update({k: v for k, v in sample.params.items()})
        regions = anomaly.regions if anomaly is not None else ()
        first = regions[0] if regions else None
        row.update(
            {
                "alpha": anomaly.alpha if anomaly else math.nan,
                "sigma": anomaly.sigma if anomaly else math.nan,
                "displacement_rms": picture.measured.get("displacement_rms", math.nan),
                "displacement_rms_expected": anomaly.alpha * RMS_FACTOR / anomaly.sigma if anomaly else math.nan,
                **{f"region_{k}": getattr(first, k) if first else -1 for k in ("x0", "y0", "w", "h")},
                "regions": json.dumps([[r.x0, r.y0, r.w, r.h] for r in regions]),
            }
        )
    else:
        row.update(
            {
                "noise_mean": sample.params["mean"],
                "noise_std": sample.params["std"],
                **{
                    key: getattr(anomaly, attr) if anomaly else math.nan
                    for key, attr in (
                        ("angle", "angle"),
                        ("slope", "slope"),
                        ("intercept", "intercept"),
                        ("jitter", "jitter"),
                        ("line_value", "value"),
                    )
                },
                "thickness": anomaly.thickness if anomaly else -1,
            }
        )
    return row


def write_samples(samples: list[ProceduralSample], root: str | Path) -> pd.DataFrame:
    """Write the samples into the image layout under `root` (images RGB with three equal channels, masks class
    `MASK_CLASS` on anomalous pixels, instances, index.parquet last); returns the index."""
    root = Path(root)
    rows, cls = [], class_index(MASK_CLASS)
    for sample in samples:
        picture = make(sample)
        write_png(root / "images" / f"{sample.id}.png", np.repeat(picture.image[:, :, None], 3, axis=2))
        write_png(root / "masks" / f"{sample.id}.png", np.where(picture.mask, cls, 0).astype(np.uint8))
        write_png(root / "instances" / f"{sample.id}.png", picture.instances)
        rows.append(index_row(sample, picture))
    index = pd.DataFrame(rows)
    index.to_parquet(root / "index.parquet", index=False)
    return index


def gallery_datasets(datasets: Mapping[str, Mapping]) -> dict[str, str]:
    """The dataset the gallery shows per procedural generator: its first anomalous dataset, in config order."""
    shown: dict[str, str] = {}

    def resolved(name: str) -> dict:
        return resolve_spec(name, dict(datasets))

    for name, spec in datasets.items():
        generator = spec.get("generator")
        if generator in PLANNERS and "source" not in spec and generator not in shown and "anomaly" in resolved(name):
            shown[generator] = name
    return shown
