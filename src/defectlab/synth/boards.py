"""Kitchen boards (seed 002 §11.2): a 2-D procedural stand-in for the thesis's line-scan images of white kitchen
boards, generator `boards`. The real boards are proprietary; these look and behave like them for the patch
protocol: a board on a dark conveyor belt, seen by a line-scan camera (per-column gain and offset, a few "hot"
columns: the vertical RGB stripes; a fall-off of the line light towards the ends; per-row gain jitter; a slight
optical blur; sensor noise; a JPEG round trip, as the raw data is JPEG), paper stickers (the JSON `labels`), small
dark specks the manufacturer does not count as defects, and on anomalous boards the thesis's seven anomaly
kinds with exact masks. Category `edges` adds a raised panel whose ramp shades a bright and a dark edge and
whose inner corners are darkened (the false positives the thesis reports).

The scene across the line: black (`background`, below the thesis's > 31 patch filter) beside a dark brown belt
(`belt`, about the board's width, a mean grey of 37-46: above the filter) that runs the whole image height, the
board on it. Calibrated against the thesis's statistics (seed 002 §11.7, `calibration`, tested in
`tests/unit/test_boards.py`), which a board alone on black can not give: the patches along a board's edge are
few, so the training patches (224 px at stride 112, the > 31 filter) would be about 90 % board pixels and their
pooled std about 0.19, not the thesis's 0.27-0.29. With the belt above and below the board in the kept patches
(about 30 % of their pixels) the category mean and std come within 0.01 of the thesis's and 71-81 % of the
positions are kept; the belt's blue is low, as the thesis's blue std is as large as red's with a blue mean 0.08
lower. The board shares, the albedo and the belt are the calibrated values; With edges boards are a little
larger (`CATEGORY_DEFAULTS`; Table 5.2 keeps more of their positions).

A full-scale test dataset takes `anomalies` of `TEST_ANOMALIES`: White 2-4 per board, With edges 2, so that
about 2.7 % and 1.8 % of its test patches are positive, as in the thesis's confusion matrices (§3.5). That is
fewer anomalies than the thesis's estimated 4-5 and 3, as these boards hold about 640 and 700 test patches, not
834 and 874. While a board's anomalies are all of one kind, the next is drawn among the other kinds, so a board
with two anomalies has two kinds (the thesis: "most images exhibit more than one type").

Every drawn value comes from `derive_seed(seed, dataset, i, aspect)`, one stream per aspect (geometry,
stickers, specks, anomalies, texture, sensor), so a board with and without its anomalies (`anomalies.max: 0`)
differs only where the anomalies are, up to the blur and the JPEG blocks. Masks: the anomaly's class where
its albedo or height changed (precedence defect > sticker > speck), the sticker's class on the sticker and
its shadow, the speck class on the specks. The dataset gets `exclusions.json` (the thesis's format: `borders`
the board's inner rectangle inset a few pixels, `labels` each sticker's box plus a margin), keyed by image file.
A full-scale board renders in about 1.2-2.3 s on 2 cores: the camera model runs in bands of rows, wide noise
fields on a coarser grid, the shading only where the height changes.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from defectlab.classes import class_index
from defectlab.data.exclusions import Exclusion, as_json, intersects, patch_positions
from defectlab.data.layout import write_png
from defectlab.seeds import derive_seed
from defectlab.synth.plan import resolve_spec

KINDS = ("black_hole", "bump", "splash", "white_scar", "black_scar", "irregular", "dirt")
CATEGORIES = ("white", "edges")
# slightly yellow-white (seed 002 §11.2: about (0.74, 0.76, 0.64) and (0.78, 0.80, 0.68)), calibrated (§11.7)
ALBEDO = {"white": (0.765, 0.769, 0.663), "edges": (0.816, 0.839, 0.712)}
BELT_TINT = (1.205, 1.18, 0.615)  # the belt's colour: its grey level times these (mean 1), dark brown
DEFAULTS = {
    "category": "white",
    "width": [3900, 4250],  # image size in pixels (full scale: mean about 4074 x 4730)
    "height": [4500, 4950],
    "board": {"width": [0.67, 0.74], "height": [0.68, 0.74]},  # board rectangle, shares of the image
    "background": [8, 20],  # black beside the belt, below the > 31 patch filter
    "belt": {"width": [0.96, 1.04], "grey": [37, 46]},  # the belt: share of the board's width, mean grey level
    "inset": [4, 12],  # borders inset from the board edge
    "stickers": {"min": 1, "max": 2, "width": [300, 700], "height": [250, 1300], "margin": [3, 10]},
    "specks": {"min": 0, "max": 6, "diameter": [2, 5]},
    "anomalies": {"min": 0, "max": 0, "kinds": list(KINDS), "spacing": 20},
    "frame": {"inset": [0.08, 0.15], "ramp": [20, 60], "occlusion": [0.05, 0.15], "occlusion_sigma": [20, 40]},
    "texture": [0.005, 0.015],  # fine albedo texture amplitude
    "mottling": [0.005, 0.01],  # low-frequency albedo variation
    "falloff": [0.04, 0.10],  # line-light fall-off at the ends of the line
    "noise": [1.5, 2.5],  # sensor noise sd, grey levels
    "blur": 0.6,  # optical blur sigma, pixels
    "jpeg": [90, 95],  # JPEG quality of the round trip; 0 = none
}
CATEGORY_DEFAULTS = {"edges": {"board": {"width": [0.68, 0.74], "height": [0.72, 0.78]}}}  # over DEFAULTS
# the `anomalies` of a full-scale test dataset per category: the thesis's positive share of test patches
TEST_ANOMALIES = {"white": {"min": 2, "max": 4}, "edges": {"min": 2, "max": 2}}
LIGHT_ELEVATION = math.radians(38)  # the line light, elevated along the scan direction (y)
ANOMALY_SIZES = {  # seed 002 §11.2, pixels at native scale
    "black_hole": (6, 20),  # diameter
    "bump": (8, 30),  # radius of the 10 % contour
    "splash": (60, 250),  # region side
    "white_scar": (30, 200),  # length
    "black_scar": (20, 150),
    "irregular": (15, 80),  # ellipse diameter
    "dirt": (30, 150),
}
BAND = 256  # rows the camera model renders at a time


@dataclass(frozen=True)
class Anomaly:
    """One anomaly: its kind, centre, extent (pixels), and the seed of its shape and contrast draws."""

    kind: str
    x: int
    y: int
    extent: int
    seed: int


@dataclass(frozen=True)
class Sticker:
    x: int
    y: int
    w: int
    h: int
    margin: int
    seed: int


@dataclass(frozen=True)
class BoardSample:
    """Everything drawn for one board (no pixels yet)."""

    id: str
    dataset: str
    index: int
    category: str
    width: int
    height: int
    board: tuple[int, int, int, int]  # x, y, w, h
    border: tuple[int, int, int, int]
    background: float
    belt: tuple[int, int]  # first column, width: the belt runs the image height
    belt_grey: float
    albedo: tuple[float, float, float]
    stickers: tuple[Sticker, ...]
    specks: tuple[tuple[int, int, int], ...]  # x, y, diameter
    anomalies: tuple[Anomaly, ...]
    seeds: dict  # aspect -> seed
    spec: dict  # the resolved settings


def settings_of(spec: Mapping) -> dict:
    """The defaults overlaid with the spec's generator keys (nested blocks key by key), checked."""
    merged = {}
    defaults = {**DEFAULTS, **CATEGORY_DEFAULTS.get(spec.get("category", DEFAULTS["category"]), {})}
    for key, default in defaults.items():
        value = spec.get(key, default)
        merged[key] = {**default, **value} if isinstance(default, dict) and isinstance(value, dict) else value
    if merged["category"] not in CATEGORIES:
        raise ValueError(f"boards: category must be one of {list(CATEGORIES)}, got {merged['category']!r}")
    unknown = sorted(set(merged["anomalies"]["kinds"]) - set(KINDS))
    if unknown or not merged["anomalies"]["kinds"]:
        raise ValueError(f"boards: anomalies.kinds must name some of {list(KINDS)}, got {merged['anomalies']['kinds']}")
    for block in ("stickers", "specks", "anomalies"):
        low, high = merged[block]["min"], merged[block]["max"]
        if not 0 <= low <= high:
            raise ValueError(f"boards: {block}: need 0 <= min <= max, got min {low}, max {high}")
    smallest = min(merged["width"][0], merged["height"][0])
    if smallest < 64:
        raise ValueError(f"boards: width and height must be at least 64 pixels, got {smallest}")
    return merged


def uniform(rng: np.random.Generator, bounds) -> float:
    low, high = bounds
    return float(rng.uniform(low, high))


def integer(rng: np.random.Generator, bounds) -> int:
    low, high = bounds
    return int(rng.integers(int(low), int(high) + 1))


def overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = 0) -> bool:
    """Whether `b` overlaps `a` grown by `gap` pixels on every side."""
    return intersects((a[0] - gap, a[1] - gap, a[2] + 2 * gap, a[3] + 2 * gap), b)


def plan_board(name: str, spec: Mapping, seed: int, i: int) -> BoardSample:
    """Board i of dataset `name`: its geometry, stickers, specks and anomalies, drawn from the seed."""
    own = settings_of(spec)
    seeds = {
        aspect: derive_seed(seed, name, i, aspect)
        for aspect in ("geometry", "stickers", "specks", "anomalies", "texture", "sensor")
    }
    rng = np.random.default_rng(seeds["geometry"])
    width, height = integer(rng, own["width"]), integer(rng, own["height"])
    bw, bh = round(width * uniform(rng, own["board"]["width"])), round(height * uniform(rng, own["board"]["height"]))
    bx, by = integer(rng, (0, width - bw)), integer(rng, (0, height - bh))
    inset = integer(rng, own["inset"])
    border = (bx + inset, by + inset, bw - 2 * inset, bh - 2 * inset)
    background = uniform(rng, own["background"]) / 255
    albedo = tuple(float(a + rng.uniform(-0.02, 0.02)) for a in ALBEDO[own["category"]])
    belt_width = min(width, round(bw * uniform(rng, own["belt"]["width"])))
    belt = (min(max(0, bx + (bw - belt_width) // 2), width - belt_width), belt_width)  # centred under the board
    belt_grey = uniform(rng, own["belt"]["grey"]) / 255

    occupied: list[tuple[int, int, int, int]] = []
    rng = np.random.default_rng(seeds["stickers"])
    stickers = []
    for _ in range(integer(rng, (own["stickers"]["min"], own["stickers"]["max"]))):
        sw = min(integer(rng, own["stickers"]["width"]), border[2] // 2)
        sh = min(integer(rng, own["stickers"]["height"]), border[3] // 2)
        margin = integer(rng, own["stickers"]["margin"])
        for _attempt in range(50):
            sx = integer(rng, (border[0] + margin, border[0] + border[2] - sw - margin))
            sy = integer(rng, (border[1] + margin, border[1] + border[3] - sh - margin))
            box = (sx - margin, sy - margin, sw + 2 * margin, sh + 2 * margin)
            if not any(overlaps(box, o) for o in occupied):
                occupied.append(box)
                stickers.append(Sticker(sx, sy, sw, sh, margin, int(rng.integers(2**31))))
                break
    rng = np.random.default_rng(seeds["specks"])
    specks = []
    for _ in range(integer(rng, (own["specks"]["min"], own["specks"]["max"]))):
        d = integer(rng, own["specks"]["diameter"])
        for _attempt in range(50):
            sx, sy = (
                integer(rng, (border[0] + d, border[0] + border[2] - d)),
                integer(rng, (border[1] + d, border[1] + border[3] - d)),
            )
            box = (sx - d, sy - d, 2 * d, 2 * d)
            if not any(overlaps(box, o) for o in occupied):
                occupied.append(box)
                specks.append((sx, sy, d))
                break
    rng = np.random.default_rng(seeds["anomalies"])
    anomalies: list[Anomaly] = []
    kinds = own["anomalies"]["kinds"]
    for _ in range(integer(rng, (own["anomalies"]["min"], own["anomalies"]["max"]))):
        shown = {a.kind for a in anomalies}
        # while the board's anomalies are all of one kind, the next is of another
        choices = [k for k in kinds if k not in shown] if len(shown) == 1 and len(set(kinds)) > 1 else kinds
        kind = choices[int(rng.integers(len(choices)))]
        extent = min(integer(rng, ANOMALY_SIZES[kind]), border[2] // 3, border[3] // 3)
        # half its extent from the centre; a bent stroke of length L reaches about 0.6 L
        reach = round(0.6 * extent) + 2 if kind in ("white_scar", "black_scar") else extent // 2 + 2
        for _attempt in range(100):
            ax = integer(rng, (border[0] + reach, border[0] + border[2] - reach))
            ay = integer(rng, (border[1] + reach, border[1] + border[3] - reach))
            box = (ax - reach, ay - reach, 2 * reach, 2 * reach)
            if not any(overlaps(box, o, own["anomalies"]["spacing"]) for o in occupied):
                occupied.append(box)
                anomalies.append(Anomaly(kind, ax, ay, extent, int(rng.integers(2**31))))
                break
    return BoardSample(
        id=f"{name}-{i:04d}",
        dataset=name,
        index=i,
        category=own["category"],
        width=width,
        height=height,
        board=(bx, by, bw, bh),
        border=border,
        background=background,
        belt=belt,
        belt_grey=belt_grey,
        albedo=albedo,
        stickers=tuple(stickers),
        specks=tuple(specks),
        anomalies=tuple(anomalies),
        seeds=seeds,
        spec=own,
    )


def plan_dataset(name: str, spec: Mapping, seed: int) -> list[BoardSample]:
    return [plan_board(name, spec, seed, i) for i in range(spec["count"])]


@dataclass
class Picture:
    image: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) uint8 class index
    instances: np.ndarray  # (H, W) uint16
    exclusion: Exclusion


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit sd (float32); a wide filter runs on a coarser grid (a step of
    about sigma / 4 pixels), resized."""
    step = max(1, int(sigma // 4))
    coarse = (-(-shape[0] // step) + 1, -(-shape[1] // step) + 1) if step > 1 else shape
    field = cv2.GaussianBlur(rng.standard_normal(coarse, dtype=np.float32), (0, 0), sigma / step)
    if step > 1:
        field = cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return field / max(float(field.std()), 1e-6)


def window(sample_shape: tuple[int, int], x: int, y: int, reach: int) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """The rows and columns around (x, y) within the image, with the offsets of each pixel from (x, y)."""
    height, width = sample_shape
    rows = slice(max(0, y - reach), min(height, y + reach + 1))
    cols = slice(max(0, x - reach), min(width, x + reach + 1))
    dy, dx = np.mgrid[rows, cols]
    return rows, cols, (dx - x).astype(np.float32), (dy - y).astype(np.float32)


def stroke(rng: np.random.Generator, shape: tuple[int, int], x: int, y: int, length: int, width: int) -> np.ndarray:
    """A quadratic Bézier stroke of `length` and `width` centred near (x, y), as a bool mask."""
    angle = rng.uniform(0, math.pi)
    half = np.array([math.cos(angle), math.sin(angle)]) * length / 2
    start, end = np.array([x, y]) - half, np.array([x, y]) + half
    bend = np.array([-half[1], half[0]]) * rng.uniform(-0.6, 0.6)
    t = np.linspace(0, 1, max(8, length // 4))[:, None]
    points = (1 - t) ** 2 * start + 2 * (1 - t) * t * (np.array([x, y]) + bend) + t**2 * end
    canvas = np.zeros(shape, np.uint8)
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 1, thickness=max(1, width), lineType=cv2.LINE_8)
    return canvas.astype(bool)


@dataclass
class Drawn:
    """One anomaly in its window of the image: albedo factor (h, w, 3), height (h, w), footprint (h, w)."""

    rows: slice
    cols: slice
    factor: np.ndarray
    height: np.ndarray
    footprint: np.ndarray


def draw_anomaly(anomaly: Anomaly, shape: tuple[int, int]) -> Drawn:
    """An anomaly's albedo factor and height in its window; its footprint: where either changes."""
    rng = np.random.default_rng(anomaly.seed)
    reach = anomaly.extent + 4
    rows, cols, dx, dy = window(shape, anomaly.x, anomaly.y, reach)
    r = np.hypot(dx, dy)
    local = np.ones((*r.shape, 3), np.float32)
    height = np.zeros(r.shape, np.float32)
    if anomaly.kind == "black_hole":
        radius, rim = anomaly.extent / 2, rng.uniform(1, 2)
        weight = np.clip((radius + rim - r) / rim, 0, 1)  # 1 inside, soft rim of 1-2 px
        local -= (1 - rng.uniform(0.05, 0.25)) * weight[..., None]
        height[...] = -rng.uniform(1.0, 3.0) * weight
    elif anomaly.kind == "bump":
        sigma = anomaly.extent / math.sqrt(2 * math.log(10))  # the 10 % contour at the drawn radius
        profile = np.clip((np.exp(-(r**2) / (2 * sigma**2)) - 0.1) / 0.9, 0, None)  # exactly 0 outside it
        height[...] = rng.uniform(0.03, 0.08) * sigma * 1.9 * profile
    elif anomaly.kind in ("white_scar", "black_scar"):
        width = integer(rng, (1, 4) if anomaly.kind == "white_scar" else (1, 5))
        mask = stroke(rng, r.shape, anomaly.x - cols.start, anomaly.y - rows.start, anomaly.extent, width)
        change = rng.uniform(1.04, 1.12) if anomaly.kind == "white_scar" else rng.uniform(0.2, 0.6)
        local[mask] = change
    elif anomaly.kind == "splash":
        darker = 1 - rng.uniform(0.03, 0.10)
        for _ in range(integer(rng, (5, 30))):
            cx, cy = rng.uniform(-anomaly.extent / 2, anomaly.extent / 2, 2)
            a, b = rng.uniform(1.5, 12.5, 2)
            theta = rng.uniform(0, math.pi)
            u = (dx - cx) * math.cos(theta) + (dy - cy) * math.sin(theta)
            v = -(dx - cx) * math.sin(theta) + (dy - cy) * math.cos(theta)
            inside = np.clip(1.5 * (1 - np.sqrt((u / a) ** 2 + (v / b) ** 2)), 0, 1)  # soft edges
            local = np.minimum(local, 1 - (1 - darker) * inside[..., None])
    elif anomaly.kind in ("irregular", "dirt"):
        a, b = anomaly.extent / 2, anomaly.extent / 2 * rng.uniform(0.5, 1.0)
        theta = rng.uniform(0, math.pi)
        u = dx * math.cos(theta) + dy * math.sin(theta)
        v = -dx * math.sin(theta) + dy * math.cos(theta)
        ellipse = np.clip(1 - np.sqrt((u / a) ** 2 + (v / b) ** 2), 0, 1)
        noise = smooth_noise(rng, r.shape, max(1.5, anomaly.extent / 12))
        if anomaly.kind == "irregular":
            blob = (noise > -0.3) & (ellipse > 0)
            change = rng.uniform(0.5, 0.85)
            tint = np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.9, 1.0)], np.float32)
            local[blob] = change * tint
        else:
            strength = np.clip(ellipse * 3, 0, 1) * np.clip(0.6 + 0.4 * noise, 0, 1)  # soft boundary
            darkening = 1 - rng.uniform(0.85, 0.95)
            brown = np.array([1.0, 0.93, 0.8], np.float32)
            local = 1 - strength[..., None] * (darkening + (1 - brown) * 0.5)
    footprint = (np.abs(local - 1).max(axis=2) > 1e-6) | (height != 0)
    return Drawn(rows, cols, local, height, footprint)


def shading(height: np.ndarray) -> np.ndarray:
    """Lambert shading of a height field under a light elevated along the scan direction, 1 on flat ground."""
    gy, gx = np.gradient(height)
    light = np.array([0.0, -math.cos(LIGHT_ELEVATION), math.sin(LIGHT_ELEVATION)], np.float32)
    norm = np.sqrt(gx**2 + gy**2 + 1)
    return ((-gx * light[0] - gy * light[1] + light[2]) / norm / light[2]).astype(np.float32)


def frame(sample: BoardSample, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """The raised panel of a board with edges: its height field, the darkening of its inner corners, and the
    panel's box (where the height changes)."""
    shape = (sample.height, sample.width)
    settings = sample.spec["frame"]
    bx, by, bw, bh = sample.board
    inset = uniform(rng, settings["inset"])
    px, py = bx + round(bw * inset), by + round(bh * inset)
    pw, ph = bw - 2 * round(bw * inset), bh - 2 * round(bh * inset)
    ramp = uniform(rng, settings["ramp"])

    def profile(positions: np.ndarray, start: int, length: int) -> np.ndarray:  # cosine ramp 0 -> 1 into the panel
        inside = np.minimum(positions - start, start + length - positions)
        return 0.5 - 0.5 * np.cos(np.pi * np.clip(inside / ramp, 0, 1))

    xs, ys = np.arange(shape[1], dtype=np.float32), np.arange(shape[0], dtype=np.float32)
    # the profile of the distance into the panel is the lesser of the profiles across and along it
    height = np.minimum(profile(ys, py, ph)[:, None], profile(xs, px, pw)[None, :]) * np.float32(ramp * 0.03)
    darkening = np.zeros(shape, np.float32)
    depth, sigma = uniform(rng, settings["occlusion"]), uniform(rng, settings["occlusion_sigma"])
    reach = math.ceil(5 * sigma)
    for cx, cy in ((px, py), (px + pw, py), (px, py + ph), (px + pw, py + ph)):
        rows, cols, dx, dy = window(shape, cx, cy, reach)
        darkening[rows, cols] += depth * np.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    return height, darkening, (slice(max(0, py), py + ph + 1), slice(max(0, px), px + pw + 1))


def lighting(
    sample: BoardSample, height: np.ndarray | None, darkening: np.ndarray | None, uneven: list[tuple[slice, slice]]
) -> np.ndarray | None:
    """Shading times occlusion, (H, W) float32, or None where both are 1 (a flat board without a frame). The
    shading is computed on the box around the areas where the height is `uneven` (grown by 3 pixels, so the
    box's rim is flat); it is 1 elsewhere."""
    if height is None and darkening is None:
        return None
    light = np.ones((sample.height, sample.width), np.float32)
    if height is not None and uneven:
        box = (
            slice(max(0, min(r.start for r, _ in uneven) - 3), min(sample.height, max(r.stop for r, _ in uneven) + 3)),
            slice(max(0, min(c.start for _, c in uneven) - 3), min(sample.width, max(c.stop for _, c in uneven) + 3)),
        )
        light[box] = shading(height[box])
    if darkening is not None:
        light *= np.clip(1 - darkening, 0, 1)
    return light


def camera(sample: BoardSample, albedo: np.ndarray, light: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The line-scan camera: the optical blur of the radiance (albedo times light, in [0, 1.2]), then per-column
    gain and offset, hot columns, line-light fall-off, row-gain jitter and sensor noise; uint8. Rendered in bands
    of rows (each blurred with the rows around it), so no full-size temporaries."""
    height, width = albedo.shape[:2]
    spec = sample.spec
    gain = 1 + rng.normal(0, 0.01, (1, width, 3))
    offset = rng.normal(0, 1.5, (1, width, 3))
    hot = rng.random(width) < uniform(rng, (0.003, 0.01))
    offset[0, hot, rng.integers(0, 3, hot.sum())] += rng.uniform(5, 15, hot.sum())
    position = np.linspace(-1, 1, width)[None, :, None]
    falloff = 1 - uniform(rng, spec["falloff"]) * position**2
    rows = (1 + rng.normal(0, 0.003, (height, 1, 1))).astype(np.float32)
    noise = uniform(rng, spec["noise"])
    scale, offset = (255 * gain * falloff).astype(np.float32), offset.astype(np.float32)
    blur = float(spec["blur"])
    halo = math.ceil(3 * blur) if blur > 0 else 0
    image = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, BAND):
        bottom = min(height, top + BAND)
        low, high = max(0, top - halo), min(height, bottom + halo)
        radiance = albedo[low:high] * light[low:high, :, None] if light is not None else albedo[low:high].copy()
        np.clip(radiance, 0, 1.2, out=radiance)
        if blur > 0:
            radiance = cv2.GaussianBlur(radiance, (2 * halo + 1, 2 * halo + 1), blur, borderType=cv2.BORDER_REFLECT_101)
        grey = radiance[top - low : bottom - low]
        grey *= scale
        grey *= rows[top:bottom]
        grey += offset
        grey += noise * rng.standard_normal(grey.shape, dtype=np.float32)
        np.rint(grey, out=grey)
        image[top:bottom] = np.clip(grey, 0, 255, out=grey)
    return image


def draw_sticker(sticker: Sticker, albedo: np.ndarray, mask: np.ndarray, index: int) -> None:
    """Paper with printed bars and a barcode, a 1-3 px shadow below and right; class `sticker` on all of it."""
    rng = np.random.default_rng(sticker.seed)
    x, y, w, h = sticker.x, sticker.y, sticker.w, sticker.h
    shadow = integer(rng, (1, min(3, sticker.margin)))
    albedo[y + shadow : y + h + shadow, x + shadow : x + w + shadow] *= 0.55
    mask[y + shadow : y + h + shadow, x + shadow : x + w + shadow] = index
    paper = rng.uniform(0.90, 0.95)
    albedo[y : y + h, x : x + w] = (paper * 0.97, paper * 0.98, paper)
    for _ in range(integer(rng, (3, 8))):  # text bars
        bh = max(1, h // 40)
        ty, tx = integer(rng, (y + 2, y + h - bh - 2)), integer(rng, (x + 2, x + w // 2))
        albedo[ty : ty + bh, tx : tx + integer(rng, (w // 6, max(w // 6, w // 2)))] = 0.08
    stripes = rng.integers(0, 2, size=max(4, w // 6)).astype(bool)
    bars = np.repeat(stripes, math.ceil(w / 2 / len(stripes)))[: w // 2]
    top = y + h - max(2, h // 4)
    region = albedo[top : y + h - 2, x + w // 4 : x + w // 4 + len(bars)]
    region[:, bars[: region.shape[1]]] = 0.08
    mask[y : y + h, x : x + w] = index


def exclusion_of(sample: BoardSample) -> Exclusion:
    """The board's exclusion areas: `borders` its inner rectangle, `labels` each sticker's box plus its margin."""
    labels = tuple((s.x - s.margin, s.y - s.margin, s.w + 2 * s.margin, s.h + 2 * s.margin) for s in sample.stickers)
    return Exclusion(borders=(sample.border,), labels=labels)


def make(sample: BoardSample, jpeg: bool = True) -> Picture:
    """The pixels of a planned board: image, class mask, instance mask and its exclusion areas."""
    shape = (sample.height, sample.width)
    rng = np.random.default_rng(sample.seeds["texture"])
    bx, by, bw, bh = sample.board
    albedo = np.empty((*shape, 3), np.float32)
    albedo[...] = sample.background
    belt_x, belt_width = sample.belt
    albedo[:, belt_x : belt_x + belt_width] = sample.belt_grey * np.array(BELT_TINT, np.float32)
    surface = uniform(rng, sample.spec["texture"]) * smooth_noise(rng, (bh, bw), 1.2)
    surface += uniform(rng, sample.spec["mottling"]) * smooth_noise(rng, (bh, bw), max(bw, bh) / 20)
    surface += 1
    np.multiply(surface[..., None], np.array(sample.albedo, np.float32), out=albedo[by : by + bh, bx : bx + bw])
    height = darkening = None
    uneven: list[tuple[slice, slice]] = []  # where the height changes
    if sample.category == "edges":
        height, darkening, panel = frame(sample, rng)
        uneven.append(panel)
    mask = np.zeros(shape, np.uint8)
    instances = np.zeros(shape, np.uint16)
    instance = 0
    for x, y, d in sample.specks:
        instance += 1
        rows, cols, dx, dy = window(shape, x, y, d)
        disc = np.zeros(dx.shape, np.uint8)
        cv2.circle(disc, (x - cols.start, y - rows.start), max(1, d // 2), 1, thickness=-1, lineType=cv2.LINE_8)
        disc = disc.astype(bool)
        albedo[rows, cols][disc] *= 0.15
        mask[rows, cols][disc], instances[rows, cols][disc] = class_index("speck"), instance
    for sticker in sample.stickers:
        instance += 1
        area = (slice(sticker.y, sticker.y + sticker.h + 4), slice(sticker.x, sticker.x + sticker.w + 4))
        before = mask[area].copy()
        draw_sticker(sticker, albedo, mask, class_index("sticker"))
        instances[area][mask[area] != before] = instance
    for anomaly, drawn in zip(sample.anomalies, anomaly_drawings(sample), strict=True):
        instance += 1
        area = (drawn.rows, drawn.cols)
        albedo[area] *= drawn.factor
        if np.any(drawn.height):
            if height is None:
                height = np.zeros(shape, np.float32)
            height[area] += drawn.height
            uneven.append(area)
        mask[area][drawn.footprint] = class_index(anomaly.kind)
        instances[area][drawn.footprint] = instance
    light = lighting(sample, height, darkening, uneven)
    image = camera(sample, albedo, light, np.random.default_rng(sample.seeds["sensor"]))
    quality = sample.spec["jpeg"]
    if jpeg and quality:
        q = integer(np.random.default_rng(derive_seed(sample.seeds["sensor"], "jpeg")), quality)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        image = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return Picture(image, mask, instances, exclusion_of(sample))


def anomaly_drawings(sample: BoardSample) -> list[Drawn]:
    """Each anomaly of the board in its window (its footprint is its pixels of the class mask)."""
    return [draw_anomaly(anomaly, (sample.height, sample.width)) for anomaly in sample.anomalies]


# Calibration against the thesis (seed 002 §3.2, §3.5, §11.7): the training patch statistics and the test
# patches' positive share, computed without patch stores.


@dataclass(frozen=True)
class PatchSums:
    """Training-grid counts of one or more images: positions, kept patches, their pixels, and the per-channel sums
    and sums of squares of those pixels (uint8 values, exact integers)."""

    positions: int
    kept: int
    pixels: int
    sums: tuple[int, int, int]
    squares: tuple[int, int, int]

    def __add__(self, other: "PatchSums") -> "PatchSums":
        return PatchSums(
            self.positions + other.positions,
            self.kept + other.kept,
            self.pixels + other.pixels,
            tuple(a + b for a, b in zip(self.sums, other.sums, strict=True)),
            tuple(a + b for a, b in zip(self.squares, other.squares, strict=True)),
        )

    @property
    def kept_fraction(self) -> float:
        return self.kept / self.positions

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std on the [0, 1] scale, pooled over every pixel of the kept patches (float64)."""
        sums, squares = np.array(self.sums, np.float64), np.array(self.squares, np.float64)
        mean = sums / self.pixels
        return mean / 255, np.sqrt(np.maximum(squares / self.pixels - mean**2, 0)) / 255


def training_sums(image: np.ndarray, size: int = 224, stride: int = 112, min_mean_intensity: float = 31) -> PatchSums:
    """The thesis's training patches of one RGB uint8 image (seed 002 §3.1): top-left corners x = stride * i,
    y = stride * j over the whole image, no flush column or row; a patch is kept iff the mean of its uint8 values
    over all three channels is above `min_mean_intensity` (`defectlab.data.patch_store.keeps`). Each patch is
    counted with all its pixels (neighbouring patches share pixels). Exact: summed per cell of gcd(size, stride)
    pixels in int64, then per patch from the cells' cumulative sums."""
    h, w = image.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than the patch size {size}")
    nx, ny = (w - size) // stride + 1, (h - size) // stride + 1
    cell = math.gcd(size, stride)
    cw, ch = (stride * (nx - 1) + size) // cell, (stride * (ny - 1) + size) // cell
    cells = np.zeros((2, ch + 1, cw + 1, 3), np.int64)  # sums and squares, a zero row and column first
    for j in range(ch):
        band = image[j * cell : (j + 1) * cell, : cw * cell].reshape(cell, cw, cell, 3)
        cells[0, j + 1, 1:] = band.sum(axis=(0, 2), dtype=np.int64)
        wide = band.astype(np.int32)
        cells[1, j + 1, 1:] = (wide * wide).sum(axis=(0, 2), dtype=np.int64)
    total = cells.cumsum(axis=1).cumsum(axis=2)
    k, s = size // cell, stride // cell
    ys, xs = np.arange(ny)[:, None] * s, np.arange(nx)[None, :] * s
    patches = total[:, ys + k, xs + k] - total[:, ys, xs + k] - total[:, ys + k, xs] + total[:, ys, xs]
    kept = patches[0].sum(axis=-1) > min_mean_intensity * size * size * 3
    sums, squares = patches[0][kept].sum(axis=0), patches[1][kept].sum(axis=0)
    return PatchSums(
        nx * ny, int(kept.sum()), int(kept.sum()) * size * size, tuple(map(int, sums)), tuple(map(int, squares))
    )


def positive_patches(sample: BoardSample, size: int = 224, stride: int = 112) -> tuple[int, int]:
    """(positive, all) test patches of a planned board (seed 002 §3.3-3.4): the border grid with the flush
    column and row, off the stickers' labels (`defectlab.data.exclusions.patch_positions`); positive iff it
    holds a defect pixel, i.e. a pixel of an anomaly's footprint (the defect classes of `make`'s mask), computed
    from the anomalies alone, without rendering the board."""
    drawn = [(d.rows.start, d.cols.start, d.footprint) for d in anomaly_drawings(sample)]
    positions = patch_positions(exclusion_of(sample), size, stride)
    positive = 0
    for x, y in positions:
        for top, left, footprint in drawn:
            rows = slice(max(0, y - top), max(0, y + size - top))
            cols = slice(max(0, x - left), max(0, x + size - left))
            if footprint[rows, cols].any():
                positive += 1
                break
    return positive, len(positions)


def calibration(samples: Iterable[BoardSample], pictures: Iterable[Picture] | None = None) -> dict:
    """The §11.7 numbers of some boards: with their pictures (normal training boards), the pooled channel mean and
    std of the training patches and the kept share of positions (overall, and per image); the positive share of
    the test patches from the plans; the share of anomalous boards with at least two kinds."""
    samples = list(samples)
    result: dict = {}
    if pictures is not None:
        per_image = [training_sums(picture.image) for picture in pictures]
        pooled = sum(per_image[1:], per_image[0])
        mean, std = pooled.mean_std()
        result |= {
            "mean": mean,
            "std": std,
            "kept": pooled.kept_fraction,
            "kept_per_image": [s.kept_fraction for s in per_image],
        }
    counts = [positive_patches(s) for s in samples if s.anomalies]
    if counts:
        result["positive_share"] = sum(p for p, _ in counts) / sum(n for _, n in counts)
        result["patches_per_image"] = sum(n for _, n in counts) / len(counts)
    anomalous = [s for s in samples if s.anomalies]
    if anomalous:
        result["two_kinds"] = sum(len({a.kind for a in s.anomalies}) >= 2 for s in anomalous) / len(anomalous)
    return result


def index_row(sample: BoardSample, picture: Picture, split: str) -> dict:
    kinds = sorted({a.kind for a in sample.anomalies})
    return {
        "id": sample.id,
        "split": split,
        "object": "board",
        "view": 0,
        "light": "line",
        "seed": sample.seeds["geometry"],
        "generator": "boards",
        "category": sample.category,
        "label": "normal" if not sample.anomalies else "anomalous",
        "width": sample.width,
        "height": sample.height,
        "anomalies": len(sample.anomalies),
        "kinds": ",".join(kinds),
        "stickers": len(sample.stickers),
        "specks": len(sample.specks),
        "defect_pixels": int(np.isin(picture.mask, [class_index(k) for k in KINDS]).sum()),
    }


def write_samples(samples: list[BoardSample], root: str | Path, split: str) -> pd.DataFrame:
    """Write the boards into the image layout with `exclusions.json`; return the index."""
    root = Path(root)
    rows, exclusions = [], {}
    for sample in samples:
        picture = make(sample)
        write_png(root / "images" / f"{sample.id}.png", picture.image)
        write_png(root / "masks" / f"{sample.id}.png", picture.mask)
        write_png(root / "instances" / f"{sample.id}.png", picture.instances)
        exclusions[f"{sample.id}.png"] = picture.exclusion
        rows.append(index_row(sample, picture, split))
    (root / "exclusions.json").write_text(json.dumps(as_json(exclusions), indent=1) + "\n")
    index = pd.DataFrame(rows)
    index.to_parquet(root / "index.parquet", index=False)
    return index


def gallery_datasets(datasets: Mapping[str, Mapping]) -> dict[str, dict[str, str | None]]:
    """What the boards gallery shows, per category in config order: its first generated boards dataset with
    anomalies (`anomalous`), and its first without (`normal`; None: the gallery renders the anomalous board's twin
    without its anomalies). A category without an anomalous dataset is left out; no boards, no gallery."""
    shown: dict[str, dict[str, str | None]] = {}
    normal: dict[str, str] = {}
    for name, spec in datasets.items():
        if spec.get("generator") != "boards" or "source" in spec:
            continue
        own = settings_of(resolve_spec(name, dict(datasets)))
        if own["anomalies"]["max"] > 0:
            shown.setdefault(own["category"], {"anomalous": name, "normal": None})
        else:
            normal.setdefault(own["category"], name)
    for category, names in shown.items():
        names["normal"] = normal.get(category)
    return shown
