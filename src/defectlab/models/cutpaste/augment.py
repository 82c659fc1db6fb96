"""CutPaste augmentations (Li et al., CVPR 2021) and the thesis's four custom defects (§5.4.1), in pixel space.

Every augmentation takes a uint8 (H, W, 3) RGB patch and a `numpy.random.Generator` and returns the augmented
uint8 patch and the (H, W) bool footprint of the change: the pixels it may have altered (all others are
returned byte for byte). All colour work (jitter, blending) happens here on uint8/float pixels, *before* any
normalisation: ColorJitter on ImageNet-normalised tensors divides by zero in RGB→HSV and gives NaN
(`models-notes.md` §1.5), so normalised (float) input is refused.

Kinds:

- `cutpaste` (paper, "CutPaste normal"): a rectangle of area ratio `area_ratio` of the patch and aspect ratio
  (width / height) log-uniform in `aspect_ratio` (0.3 to 3.3, i.e. (0.3, 1) ∪ (1, 3.3)), cut at one place,
  colour-jittered, pasted at another, opaque;
- `cutpaste_scar` (paper): a `paper_scar_width` × `paper_scar_length` strip (2–16 × 10–25 px) cut, jittered,
  rotated by `scar_rotation` (−45°..45°) and pasted, opaque;
- thesis custom set (`binary-custom`, spec §5.2), each blended with peak alpha 1 − `transparency`/100 (0.85)
  and placed where the mean grey under the footprint exceeds `min_mean` (31, on the board):
  - `scar`: as `cutpaste_scar` with the thesis's ranges, width 2–12 px, length 20–50 px;
  - `black_dot`: a dot of diameter 6–10 px, colour RGB in [0, 40], alpha falling linearly to 0 over the outer
    `feather` (40 %) of the radius;
  - `white_dot`: an inner white dot (diameter 6–12 px, RGB in [225, 255]) inside a black border of thickness
    max(1, round(`white_dot_border` · d)) = max(1, round(0.25 d)), feathered as the black dot;
  - `arc_scar`: a circular arc of radius 35–90 px, thickness 5 px, span 60°, start angle uniform in
    [0°, 360°), dark (RGB in [20, 70]) or bright (RGB in [200, 255]), alpha Gaussian across the thickness;
- `custom`: 1..`max_per_sample` distinct kinds of the custom set drawn uniformly and applied in turn.

Labels: `LABELS_3WAY` (normal 0, cutpaste 1, cutpaste_scar 2) for the paper's 3-way variant; the thesis's
binary variant labels normal 0 and any augmentation 1 (`views`).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import cv2
import numpy as np

from defectlab.seeds import derive_seed

CUSTOM_KINDS = ("scar", "black_dot", "white_dot", "arc_scar")
PAPER_KINDS = ("cutpaste", "cutpaste_scar")
KINDS = (*PAPER_KINDS, *CUSTOM_KINDS, "custom")
LABELS_3WAY = {"normal": 0, "cutpaste": 1, "cutpaste_scar": 2}
VARIANTS = {
    "binary": ("cutpaste",),  # the paper's CutPaste normal, 2 classes
    "scar": ("cutpaste_scar",),  # the paper's CutPaste-scar, 2 classes
    "3way": ("cutpaste", "cutpaste_scar"),  # labels 0, 1, 2
    "binary-custom": ("custom",),  # the thesis: normal 0, any custom defect 1
}
_PLACEMENT_TRIES = 50

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentSettings:
    """The augmentations' ranges; defaults from the CutPaste paper (paper kinds) and the thesis §5.4.1 / spec §5.2."""

    area_ratio: Range = (0.02, 0.15)
    aspect_ratio: Range = (0.3, 3.3)
    paper_scar_width: Range = (2, 16)
    paper_scar_length: Range = (10, 25)
    scar_width: Range = (2, 12)
    scar_length: Range = (20, 50)
    scar_rotation: Range = (-45.0, 45.0)
    jitter: float = 0.1  # ColorJitter(brightness, contrast, saturation, hue) of a cut piece; 0 turns it off
    black_dot_diameter: Range = (6.0, 10.0)
    black_dot_colour: Range = (0, 40)
    white_dot_diameter: Range = (6.0, 12.0)
    white_dot_colour: Range = (225, 255)
    white_dot_border: float = 0.25  # border thickness / inner diameter (the thesis: "scales proportionally")
    arc_radius: Range = (35.0, 90.0)
    arc_thickness: Range = (5.0, 5.0)
    arc_span: Range = (60.0, 60.0)  # degrees
    arc_colour: str = "dark"
    arc_dark: Range = (20, 70)
    arc_bright: Range = (200, 255)
    transparency: float = 15.0  # percent; peak alpha of the custom kinds = 1 - transparency / 100
    feather: float = 0.4  # fraction of a dot's radius over which its alpha falls to 0
    min_mean: float | None = 31.0  # custom kinds: mean grey under the footprint must exceed this (None: anywhere)
    max_per_sample: int = 1  # `custom`: up to this many distinct custom kinds on one sample

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == Range or f.type == "Range":
                if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
                    raise ValueError(f"CutPaste setting {f.name} must be a [low, high] pair, got {value!r}")
                lo, hi = (float(v) for v in value)
                if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                    raise ValueError(f"CutPaste setting {f.name} must have finite low <= high, got {value!r}")
                object.__setattr__(self, f.name, (value[0], value[1]))
        self._check("area_ratio", self.area_ratio[0] > 0 and self.area_ratio[1] < 1, "within (0, 1)")
        self._check("aspect_ratio", self.aspect_ratio[0] > 0, "positive")
        for name in ("paper_scar_width", "paper_scar_length", "scar_width", "scar_length"):
            lo, hi = getattr(self, name)
            self._check(name, lo >= 1 and float(lo).is_integer() and float(hi).is_integer(), "whole pixels >= 1")
            object.__setattr__(self, name, (int(lo), int(hi)))
        self._check("scar_rotation", self.scar_rotation[0] >= -180 and self.scar_rotation[1] <= 180, "in degrees")
        self._check("jitter", 0 <= self.jitter <= 0.5, "in [0, 0.5]")
        for name in ("black_dot_diameter", "white_dot_diameter", "arc_radius", "arc_thickness"):
            self._check(name, getattr(self, name)[0] > 0, "positive (pixels)")
        for name in ("black_dot_colour", "white_dot_colour", "arc_dark", "arc_bright"):
            lo, hi = getattr(self, name)
            self._check(name, lo >= 0 and hi <= 255, "grey levels in [0, 255]")
        self._check("white_dot_border", 0 < self.white_dot_border <= 2, "in (0, 2]")
        self._check("arc_span", self.arc_span[0] > 0 and self.arc_span[1] <= 360, "degrees in (0, 360]")
        self._check("arc_colour", self.arc_colour in ("dark", "bright"), "'dark' or 'bright'")
        self._check("transparency", 0 <= self.transparency < 100, "a percentage in [0, 100)")
        self._check("feather", 0 <= self.feather <= 1, "in [0, 1]")
        self._check("min_mean", self.min_mean is None or 0 <= self.min_mean < 255, "None or in [0, 255)")
        self._check(
            "max_per_sample",
            isinstance(self.max_per_sample, int) and 1 <= self.max_per_sample <= len(CUSTOM_KINDS),
            f"an integer in [1, {len(CUSTOM_KINDS)}]",
        )

    def _check(self, name: str, ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"CutPaste setting {name} must be {what}, got {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, config: Mapping | None) -> "AugmentSettings":
        """Settings from a config mapping (lists for ranges); unknown keys are refused by name."""
        config = dict(config or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown CutPaste setting(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

    @property
    def alpha_max(self) -> float:
        """Peak alpha of the custom kinds: "a CutPaste transparency of 15" read as 15 % (spec §5.2, a reading)."""
        return 1.0 - self.transparency / 100.0


# --------------------------------------------------------------------------------------------------- helpers


def _check_patch(patch: np.ndarray) -> np.ndarray:
    patch = np.asarray(patch)
    if patch.dtype != np.uint8 or patch.ndim != 3 or patch.shape[2] != 3:
        raise TypeError(
            f"CutPaste augments uint8 (H, W, 3) pixels before any normalisation, got {patch.dtype} {patch.shape}"
        )
    return patch


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y), float64, (H, W)."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    return xs + 0.5, ys + 0.5


def _blend(patch: np.ndarray, colour: np.ndarray, alpha: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """alpha · colour + (1 - alpha) · patch inside the footprint, rounded to uint8; the rest unchanged."""
    out = patch.copy()
    a = alpha[footprint][:, None]
    fg = colour[footprint] if colour.ndim == 3 else np.broadcast_to(colour, (a.shape[0], 3))
    mixed = a * fg.astype(np.float64) + (1.0 - a) * patch[footprint].astype(np.float64)
    out[footprint] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def _grey_mean(patch: np.ndarray, footprint: np.ndarray) -> float:
    return float(patch[footprint].mean()) if footprint.any() else 0.0


def _place(patch: np.ndarray, draw, min_mean: float | None):
    """Call draw() until its footprint lies where the mean grey exceeds min_mean; the brightest try otherwise."""
    best = None
    for _ in range(_PLACEMENT_TRIES if min_mean is not None else 1):
        shape = draw()
        mean = _grey_mean(patch, shape[0])
        if min_mean is None or mean > min_mean:
            return shape
        if best is None or mean > best[0]:
            best = (mean, shape)
    return best[1]


def _uniform_int(rng: np.random.Generator, lo: float, hi: float) -> int:
    return int(rng.integers(int(lo), int(hi) + 1))


def colour_jitter(piece: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """torchvision's ColorJitter(strength, strength, strength, strength) on uint8 pixels, in random order.

    Brightness, contrast and saturation factors are uniform in [1 - s, 1 + s], the hue shift in [-s, s] turns;
    computed in float [0, 1] (OpenCV's float HSV, which is finite for black and white), clipped, back to uint8.
    """
    piece = _check_patch(piece)
    if strength == 0 or piece.size == 0:
        return piece.copy()
    img = piece.astype(np.float32) / 255.0
    for op in rng.permutation(4):
        if op == 3:
            shift = rng.uniform(-strength, strength)
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * shift, 360.0)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        else:
            factor = rng.uniform(1 - strength, 1 + strength)
            grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            if op == 0:  # brightness: blend with black
                img = img * factor
            elif op == 1:  # contrast: blend with the mean grey
                img = factor * img + (1 - factor) * grey.mean()
            else:  # saturation: blend with the grey image
                img = factor * img + (1 - factor) * grey[..., None]
        img = np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0).astype(np.float32)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------- the augmentations


def cutpaste(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste normal: a jittered rectangle cut at one place and pasted (opaque) at another."""
    s = settings or AugmentSettings()
    patch = _check_patch(patch)
    h_img, w_img = patch.shape[:2]
    (a_lo, a_hi), (r_lo, r_hi) = s.area_ratio, s.aspect_ratio
    for _ in range(1000):  # integer sides whose area ratio and aspect still lie in range
        area = rng.uniform(a_lo, a_hi) * h_img * w_img
        aspect = math.exp(rng.uniform(math.log(r_lo), math.log(r_hi)))
        w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 1 <= w <= w_img and 1 <= h <= h_img and a_lo <= w * h / (h_img * w_img) <= a_hi and r_lo <= w / h <= r_hi:
            break
    else:
        raise ValueError(
            f"a {h_img}×{w_img} patch has no rectangle with area_ratio {s.area_ratio} and aspect_ratio {s.aspect_ratio}"
        )
    y0, x0 = _uniform_int(rng, 0, h_img - h), _uniform_int(rng, 0, w_img - w)
    y1, x1 = _uniform_int(rng, 0, h_img - h), _uniform_int(rng, 0, w_img - w)
    if (y1, x1) == (y0, x0) and (h < h_img or w < w_img):  # "at another place"
        while (y1, x1) == (y0, x0):
            y1, x1 = _uniform_int(rng, 0, h_img - h), _uniform_int(rng, 0, w_img - w)
    piece = colour_jitter(patch[y0 : y0 + h, x0 : x0 + w], rng, s.jitter)
    out = patch.copy()
    out[y1 : y1 + h, x1 : x1 + w] = piece
    footprint = np.zeros((h_img, w_img), dtype=bool)
    footprint[y1 : y1 + h, x1 : x1 + w] = True
    return out, footprint


def _scar(patch, rng, s: AugmentSettings, width: Range, length: Range, alpha: float, min_mean):
    h_img, w_img = patch.shape[:2]
    w, ln = _uniform_int(rng, *width), _uniform_int(rng, *length)
    if w > w_img or ln > h_img:
        raise ValueError(f"a {h_img}×{w_img} patch is too small for a {w}×{ln} scar")
    y0, x0 = _uniform_int(rng, 0, h_img - ln), _uniform_int(rng, 0, w_img - w)
    piece = colour_jitter(patch[y0 : y0 + ln, x0 : x0 + w], rng, s.jitter)  # (length, width, 3)
    theta = math.radians(rng.uniform(*s.scar_rotation))
    cos, sin = math.cos(theta), math.sin(theta)
    ex, ey = (w * abs(cos) + ln * abs(sin)) / 2, (w * abs(sin) + ln * abs(cos)) / 2
    if 2 * ex > w_img or 2 * ey > h_img:
        raise ValueError(f"a {h_img}×{w_img} patch is too small for a rotated {w}×{ln} scar")
    xs, ys = _grid((h_img, w_img))

    def draw():
        cx, cy = rng.uniform(ex, w_img - ex), rng.uniform(ey, h_img - ey)
        u = cos * (xs - cx) + sin * (ys - cy)  # across the scar
        v = -sin * (xs - cx) + cos * (ys - cy)  # along it
        return (np.abs(u) < w / 2) & (np.abs(v) < ln / 2), u, v

    footprint, u, v = _place(patch, draw, min_mean)
    colour = np.zeros_like(patch)
    cols = np.clip(np.floor(u[footprint] + w / 2).astype(int), 0, w - 1)
    rows = np.clip(np.floor(v[footprint] + ln / 2).astype(int), 0, ln - 1)
    colour[footprint] = piece[rows, cols]
    return _blend(patch, colour, np.full(footprint.shape, alpha), footprint), footprint


def cutpaste_scar(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste-scar (paper ranges): a thin jittered strip cut, rotated and pasted opaque anywhere."""
    s = settings or AugmentSettings()
    return _scar(_check_patch(patch), rng, s, s.paper_scar_width, s.paper_scar_length, 1.0, None)


def scar(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The thesis's CutPaste-Scar: width 2–12 px, length 20–50 px, blended with alpha_max on the board."""
    s = settings or AugmentSettings()
    return _scar(_check_patch(patch), rng, s, s.scar_width, s.scar_length, s.alpha_max, s.min_mean)


def _dot(patch, rng, s: AugmentSettings, inner_d: float, border: float, inner_rgb, border_rgb):
    h_img, w_img = patch.shape[:2]
    radius = inner_d / 2 + border
    if 2 * radius > min(h_img, w_img):
        raise ValueError(f"a {h_img}×{w_img} patch is too small for a dot of diameter {2 * radius:.1f}")
    xs, ys = _grid((h_img, w_img))

    def draw():
        cx, cy = rng.uniform(radius, w_img - radius), rng.uniform(radius, h_img - radius)
        rho = np.hypot(xs - cx, ys - cy)
        return rho < radius, rho

    footprint, rho = _place(patch, draw, s.min_mean)
    ramp = np.clip((radius - rho) / (s.feather * radius), 0, 1) if s.feather > 0 else np.ones_like(rho)
    colour = np.empty_like(patch)
    colour[:] = border_rgb
    colour[rho <= inner_d / 2] = inner_rgb
    return _blend(patch, colour, s.alpha_max * ramp, footprint), footprint


def _rgb(rng: np.random.Generator, levels: Range) -> np.ndarray:
    return rng.integers(int(levels[0]), int(levels[1]) + 1, size=3).astype(np.uint8)


def black_dot(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A dark dot of diameter 6–10 px, its alpha feathered to 0 at the rim."""
    s = settings or AugmentSettings()
    patch = _check_patch(patch)
    d = rng.uniform(*s.black_dot_diameter)
    rgb = _rgb(rng, s.black_dot_colour)
    return _dot(patch, rng, s, d, 0.0, rgb, rgb)


def white_dot_border(settings: AugmentSettings, inner_diameter: float) -> int:
    """The black border's thickness of a white dot: max(1, round(white_dot_border · d)), half rounded up."""
    return max(1, int(math.floor(settings.white_dot_border * inner_diameter + 0.5)))


def white_dot(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A white dot of diameter 6–12 px inside a proportional black border, feathered at the outer rim."""
    s = settings or AugmentSettings()
    patch = _check_patch(patch)
    d = rng.uniform(*s.white_dot_diameter)
    inner, border = _rgb(rng, s.white_dot_colour), _rgb(rng, s.black_dot_colour)
    return _dot(patch, rng, s, d, white_dot_border(s, d), inner, border)


def arc_scar(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A circular arc (radius 35–90 px, thickness 5 px, span 60°) lying wholly inside the patch."""
    s = settings or AugmentSettings()
    patch = _check_patch(patch)
    h_img, w_img = patch.shape[:2]
    radius, thickness = rng.uniform(*s.arc_radius), rng.uniform(*s.arc_thickness)
    span = math.radians(rng.uniform(*s.arc_span))
    rgb = _rgb(rng, s.arc_dark if s.arc_colour == "dark" else s.arc_bright)
    xs, ys = _grid((h_img, w_img))

    def draw():
        start = rng.uniform(0, 2 * math.pi)
        angles = start + np.linspace(0, span, 721)
        rim = np.concatenate(
            [(radius - thickness / 2) * np.ones_like(angles), (radius + thickness / 2) * np.ones_like(angles)]
        )
        ang = np.concatenate([angles, angles])
        dx, dy = rim * np.cos(ang), rim * np.sin(ang)
        lo_x, hi_x = -dx.min() + 1, w_img - dx.max() - 1
        lo_y, hi_y = -dy.min() + 1, h_img - dy.max() - 1
        if lo_x > hi_x or lo_y > hi_y:
            raise ValueError(
                f"a {h_img}×{w_img} patch is too small for an arc of radius {radius:.1f}: lower the CutPaste "
                f"setting arc_radius {list(s.arc_radius)} (cutpaste.augment) or use larger patches"
            )
        cx, cy = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
        rho = np.hypot(xs - cx, ys - cy)
        phi = np.mod(np.arctan2(ys - cy, xs - cx) - start, 2 * math.pi)
        return (np.abs(rho - radius) < thickness / 2) & (phi <= span), rho

    footprint, rho = _place(patch, draw, s.min_mean)
    alpha = s.alpha_max * np.exp(-0.5 * np.minimum(((rho - radius) / (thickness / 4)) ** 2, 200.0))
    return _blend(patch, np.asarray(rgb), alpha, footprint), footprint


AUGMENTATIONS = {
    "cutpaste": cutpaste,
    "cutpaste_scar": cutpaste_scar,
    "scar": scar,
    "black_dot": black_dot,
    "white_dot": white_dot,
    "arc_scar": arc_scar,
}


def custom(
    patch: np.ndarray, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The thesis's random scenario: 1..max_per_sample distinct custom kinds, drawn uniformly, applied in turn."""
    s = settings or AugmentSettings()
    out = _check_patch(patch)
    footprint = np.zeros(out.shape[:2], dtype=bool)
    count = _uniform_int(rng, 1, s.max_per_sample)
    for k in rng.choice(len(CUSTOM_KINDS), size=count, replace=False):
        out, fp = AUGMENTATIONS[CUSTOM_KINDS[k]](out, rng, s)
        footprint |= fp
    return out, footprint


AUGMENTATIONS["custom"] = custom


def augment(
    patch: np.ndarray, kind: str, rng: np.random.Generator, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one kind of `KINDS` by name."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown CutPaste augmentation {kind!r}; known: {list(KINDS)}")
    return AUGMENTATIONS[kind](patch, rng, settings)


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sample `index`: seeded by derive_seed(seed, "cutpaste", index), whatever the batching."""
    return np.random.default_rng(derive_seed(seed, "cutpaste", index))


def augment_batch(
    patches: np.ndarray, kind: str, seed: int, start: int = 0, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Augment (N, H, W, 3) uint8 patches; sample i draws from sample_rng(seed, start + i).

    Returns the (N, H, W, 3) uint8 patches and the (N, H, W) bool footprints. The same sample gets the same bytes
    in any batch, of any size.
    """
    patches = np.asarray(patches)
    if patches.ndim != 4:
        raise TypeError(f"augment_batch takes (N, H, W, 3) uint8 patches, got {patches.dtype} {patches.shape}")
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown CutPaste augmentation {kind!r}; known: {list(KINDS)}")
    out = np.empty_like(patches)
    footprints = np.zeros(patches.shape[:3], dtype=bool)
    for i, patch in enumerate(patches):
        out[i], footprints[i] = AUGMENTATIONS[kind](patch, sample_rng(seed, start + i), settings)
    return out, footprints


def views(
    patches: np.ndarray, variant: str, seed: int, start: int = 0, settings: AugmentSettings | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training views of a variant of `VARIANTS`: the normal patches (label 0), then one augmented copy per
    augmentation of the variant (labels 1, 2, ...). Returns images (K·N, H, W, 3), labels (K·N,) int64 and
    footprints (K·N, H, W). Each augmentation seeds its own stream, derived from (seed, kind)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown CutPaste variant {variant!r}; known: {list(VARIANTS)}")
    patches = np.asarray(patches)
    images, labels, footprints = [patches], [np.zeros(len(patches), np.int64)], [np.zeros(patches.shape[:3], bool)]
    for label, kind in enumerate(VARIANTS[variant], start=1):
        aug, fp = augment_batch(patches, kind, derive_seed(seed, kind), start, settings)
        images.append(aug)
        labels.append(np.full(len(patches), label, np.int64))
        footprints.append(fp)
    return np.concatenate(images), np.concatenate(labels), np.concatenate(footprints)
