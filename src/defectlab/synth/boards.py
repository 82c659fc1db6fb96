"""Kitchen boards (seed 002 §11.2): a 2-D procedural stand-in for the thesis's line-scan images of white kitchen
boards, generator `boards`. The real boards are proprietary; these look and behave like them for the patch
protocol: a board on a black conveyor, seen by a line-scan camera (per-column gain and offset, a few "hot"
columns: the vertical RGB stripes; a fall-off of the line light towards the ends; per-row gain jitter; sensor
noise; a slight blur; a JPEG round trip, as the raw data is JPEG), paper stickers (the JSON `labels`), small
dark specks the manufacturer does not count as defects, and on anomalous boards the thesis's seven anomaly
kinds with exact masks. Category `edges` adds a raised panel whose ramp shades a bright and a dark edge and
whose inner corners are darkened (the false positives the thesis reports).

Every drawn value comes from `derive_seed(seed, dataset, i, aspect)`, one stream per aspect (geometry,
stickers, specks, anomalies, texture, sensor), so a board with and without its anomalies (`anomalies.max: 0`)
differs only where the anomalies are, up to the blur and the JPEG blocks. Masks: the anomaly's class where
its albedo or height changed (precedence defect > sticker > speck), the sticker's class on the sticker and
its shadow, the speck class on the specks. The dataset gets `exclusions.json` (the thesis's format: `borders`
the board's inner rectangle inset a few pixels, `labels` each sticker's box plus a margin), keyed by image file.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from defectlab.classes import class_index
from defectlab.data.exclusions import Exclusion, as_json, intersects
from defectlab.data.layout import write_png
from defectlab.seeds import derive_seed

KINDS = ("black_hole", "bump", "splash", "white_scar", "black_scar", "irregular", "dirt")
CATEGORIES = ("white", "edges")
ALBEDO = {"white": (0.74, 0.76, 0.64), "edges": (0.78, 0.80, 0.68)}  # seed 002 §11.2, slightly yellow-white
DEFAULTS = {
    "category": "white",
    "width": [3900, 4250],  # image size in pixels (full scale: mean about 4074 x 4730)
    "height": [4500, 4950],
    "board": {"width": [0.78, 0.88], "height": [0.70, 0.82]},  # board rectangle, shares of the image
    "background": [8, 20],  # conveyor grey, below the > 31 patch filter
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
    albedo: tuple[float, float, float]
    stickers: tuple[Sticker, ...]
    specks: tuple[tuple[int, int, int], ...]  # x, y, diameter
    anomalies: tuple[Anomaly, ...]
    seeds: dict  # aspect -> seed
    spec: dict  # the resolved settings


def settings_of(spec: Mapping) -> dict:
    """The defaults overlaid with the spec's generator keys (nested blocks key by key), checked."""
    merged = {}
    for key, default in DEFAULTS.items():
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
    anomalies = []
    kinds = own["anomalies"]["kinds"]
    for _ in range(integer(rng, (own["anomalies"]["min"], own["anomalies"]["max"]))):
        kind = kinds[int(rng.integers(len(kinds)))]
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
    """Gaussian-filtered white noise scaled to unit sd (float32)."""
    field = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
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


def frame(sample: BoardSample, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The raised panel of a board with edges: its height field and the occlusion of its inner corners."""
    shape = (sample.height, sample.width)
    settings = sample.spec["frame"]
    bx, by, bw, bh = sample.board
    inset = uniform(rng, settings["inset"])
    px, py = bx + round(bw * inset), by + round(bh * inset)
    pw, ph = bw - 2 * round(bw * inset), bh - 2 * round(bh * inset)
    ramp = uniform(rng, settings["ramp"])
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    inside = np.minimum.reduce([xs - px, px + pw - xs, ys - py, py + ph - ys])  # distance into the panel
    profile = 0.5 - 0.5 * np.cos(np.pi * np.clip(inside / ramp, 0, 1))  # cosine ramp 0 -> 1
    height = (profile * ramp * 0.03).astype(np.float32)  # a gentle ramp: a few percent of shading
    occlusion = np.ones(shape, np.float32)
    depth, sigma = uniform(rng, settings["occlusion"]), uniform(rng, settings["occlusion_sigma"])
    for cx, cy in ((px, py), (px + pw, py), (px, py + ph), (px + pw, py + ph)):
        occlusion -= depth * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
    return height, np.clip(occlusion, 0, 1)


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


def sensor(sample: BoardSample, radiance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The line-scan camera: per-column gain and offset, hot columns, line-light fall-off, row-gain jitter,
    noise, blur; radiance in [0, 1] -> grey levels float."""
    height, width = radiance.shape[:2]
    spec = sample.spec
    gain = 1 + rng.normal(0, 0.01, (1, width, 3))
    offset = rng.normal(0, 1.5, (1, width, 3))
    hot = rng.random(width) < uniform(rng, (0.003, 0.01))
    offset[0, hot, rng.integers(0, 3, hot.sum())] += rng.uniform(5, 15, hot.sum())
    position = np.linspace(-1, 1, width)[None, :, None]
    falloff = 1 - uniform(rng, spec["falloff"]) * position**2
    rows = 1 + rng.normal(0, 0.003, (height, 1, 1))
    grey = radiance * 255 * gain * falloff * rows + offset
    grey = grey + rng.normal(0, uniform(rng, spec["noise"]), grey.shape)
    if spec["blur"] > 0:
        grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), spec["blur"])
    return grey


def make(sample: BoardSample, jpeg: bool = True) -> Picture:
    """The pixels of a planned board: image, class mask, instance mask and its exclusion areas."""
    shape = (sample.height, sample.width)
    rng = np.random.default_rng(sample.seeds["texture"])
    bx, by, bw, bh = sample.board
    albedo = np.full((*shape, 3), sample.background, np.float32)
    albedo += 0.01 * smooth_noise(rng, shape, 1.0)[..., None] * sample.background
    texture = uniform(rng, sample.spec["texture"]) * smooth_noise(rng, (bh, bw), 1.2)
    mottling = uniform(rng, sample.spec["mottling"]) * smooth_noise(rng, (bh, bw), max(bw, bh) / 20)
    albedo[by : by + bh, bx : bx + bw] = np.array(sample.albedo, np.float32) * (1 + texture + mottling)[..., None]
    height = np.zeros(shape, np.float32)
    occlusion = np.ones(shape, np.float32)
    if sample.category == "edges":
        height, occlusion = frame(sample, rng)
    mask = np.zeros(shape, np.uint8)
    instances = np.zeros(shape, np.uint16)
    instance = 0
    for x, y, d in sample.specks:
        instance += 1
        disc = np.zeros(shape, np.uint8)
        cv2.circle(disc, (x, y), max(1, d // 2), 1, thickness=-1, lineType=cv2.LINE_8)
        albedo[disc.astype(bool)] *= 0.15
        mask[disc.astype(bool)], instances[disc.astype(bool)] = class_index("speck"), instance
    for sticker in sample.stickers:
        instance += 1
        before = mask.copy()
        draw_sticker(sticker, albedo, mask, class_index("sticker"))
        instances[mask != before] = instance
    for anomaly in sample.anomalies:
        instance += 1
        drawn = draw_anomaly(anomaly, shape)
        area = (drawn.rows, drawn.cols)
        albedo[area] *= drawn.factor
        height[area] += drawn.height
        mask[area][drawn.footprint] = class_index(anomaly.kind)
        instances[area][drawn.footprint] = instance
    radiance = np.clip(albedo * (shading(height) * occlusion)[..., None], 0, 1.2)
    grey = sensor(sample, radiance, np.random.default_rng(sample.seeds["sensor"]))
    image = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    quality = sample.spec["jpeg"]
    if jpeg and quality:
        q = integer(np.random.default_rng(derive_seed(sample.seeds["sensor"], "jpeg")), quality)
        ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()
    labels = tuple((s.x - s.margin, s.y - s.margin, s.w + 2 * s.margin, s.h + 2 * s.margin) for s in sample.stickers)
    return Picture(image, mask, instances, Exclusion(borders=(sample.border,), labels=labels))


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
