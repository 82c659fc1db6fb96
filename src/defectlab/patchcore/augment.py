"""Data augmentation of training patches inside the coreset epochs (the paper's DA).

The sequential coreset re-reads its stream every epoch, so each epoch can show it new
variations of the nominal patches without holding more than one batch in memory. The paper
"randomly increase[s] brightness and contrast, flip[s] along both axes, and appl[ies] Gaussian
blur and noise", and masks out a region so that rendered plates, which fill the whole image,
also teach the coreset the sharp transition from surface texture to black background.

Per patch, in this order, in float32:

1. contrast: x <- (x - m) * c + m, with m the patch mean (all pixels and channels) and
   c ~ U(contrast);
2. brightness: x <- x + b, b ~ U(brightness) grey levels, the same for every pixel and channel;
3. flips (when `flip`): left-right with probability 1/2, then up-down with probability 1/2;
4. Gaussian blur, sigma ~ U(blur_sigma) pixels, kernel side 2 * ceil(3 sigma) + 1, OpenCV's
   reflected border; skipped when sigma < 0.1 (a kernel of side 1 would change nothing);
5. Gaussian noise, std ~ U(noise_std) grey levels, drawn independently per pixel and channel;
6. with probability `border_mask`, a band at one side (top, bottom, left or right, uniformly)
   set to 0; its width is a whole number of pixels drawn uniformly from 1 to
   max(1, floor(border_mask_max * side));
7. clip to [0, 255] and round to the nearest integer (uint8).

Seeding: patch b of a batch whose first patch has stream index i gets its own generator,
`numpy.random.default_rng(derive_seed(seed, "augment", epoch, i + b))`, where i counts patches
over all the stores in stream order. An epoch's augmented stream is therefore the same whatever
the batch size, differs between epochs and is reproducible from the config seed. All the scalar
parameters are drawn first, in the order above and whether or not their step is active, and the
noise field last, so switching one step off does not change the draws of the others.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import cv2
import numpy as np

from defectlab.seeds import derive_seed

_MIN_SIGMA = 0.1
_SIDES = ("top", "bottom", "left", "right")


def _range(name: str, value: object) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    if not lo <= hi:
        raise ValueError(f"augment.{name}: lower bound {lo} above upper bound {hi}")
    return lo, hi


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the per-patch augmentation; the defaults are those of config/schema (coreset.augment)."""

    brightness: tuple[float, float] = (0.0, 25.0)
    contrast: tuple[float, float] = (1.0, 1.3)
    flip: bool = True
    blur_sigma: tuple[float, float] = (0.0, 1.5)
    noise_std: tuple[float, float] = (0.0, 4.0)
    border_mask: float = 0.5
    border_mask_max: float = 0.5

    def __post_init__(self) -> None:
        # Normalise lists from YAML to float tuples, and refuse ranges that would fail deep inside numpy.
        for name in ("brightness", "contrast", "blur_sigma", "noise_std"):
            object.__setattr__(self, name, _range(name, getattr(self, name)))
        for name in ("contrast", "blur_sigma", "noise_std"):
            if getattr(self, name)[0] < 0:
                raise ValueError(f"augment.{name}: must not be negative, got {getattr(self, name)}")
        for name in ("border_mask", "border_mask_max"):
            value = float(getattr(self, name))
            if not 0 <= value <= 1:
                raise ValueError(f"augment.{name}: must lie in [0, 1], got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "flip", bool(self.flip))

    @classmethod
    def from_config(cls, cfg: Mapping[str, object]) -> "Augmentation | None":
        """The augmentation of a `coreset.augment` config block, or None when it is not enabled.

        Missing keys take the schema defaults; unknown keys are refused, as the schema does.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(cfg) - known - {"enabled"}
        if unknown:
            raise ValueError(f"augment: unknown keys {sorted(unknown)}")
        if not cfg.get("enabled", False):
            return None
        return cls(**{k: v for k, v in cfg.items() if k in known})  # type: ignore[arg-type]


def augment_patches(patches: np.ndarray, aug: Augmentation, seed: int, epoch: int, first_index: int) -> np.ndarray:
    """A new (B, P, P, 3) uint8 array: patch b augmented with the generator of stream index first_index + b."""
    if patches.dtype != np.uint8 or patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"expected uint8 patches (B, P, P, 3), got {patches.dtype} {patches.shape}")
    out = np.empty_like(patches)
    for b, patch in enumerate(patches):
        rng = np.random.default_rng(derive_seed(seed, "augment", epoch, first_index + b))
        out[b] = _augment_one(patch, aug, rng)
    return out


def _augment_one(patch: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """One patch, following the steps of the module docstring."""
    height, width = patch.shape[:2]
    # Every scalar first, in a fixed order, so disabling a step leaves the other draws unchanged.
    contrast = rng.uniform(*aug.contrast)
    brightness = rng.uniform(*aug.brightness)
    flip_lr, flip_ud = rng.random(2) < 0.5
    sigma = rng.uniform(*aug.blur_sigma)
    noise_std = rng.uniform(*aug.noise_std)
    masked = rng.random() < aug.border_mask
    side = _SIDES[rng.integers(4)]
    fraction = rng.random()  # of the band width, scaled to the side it lands on below

    x = patch.astype(np.float32)
    if contrast != 1.0:
        mean = x.mean(dtype=np.float64)
        x = (x - np.float32(mean)) * np.float32(contrast) + np.float32(mean)
    x += np.float32(brightness)
    if aug.flip and flip_lr:
        x = x[:, ::-1]
    if aug.flip and flip_ud:
        x = x[::-1]
    if sigma >= _MIN_SIGMA:
        k = 2 * math.ceil(3 * sigma) + 1
        x = cv2.GaussianBlur(np.ascontiguousarray(x), (k, k), sigmaX=sigma, sigmaY=sigma)
    if noise_std > 0:
        x = x + rng.normal(0.0, noise_std, x.shape).astype(np.float32)
    if masked:
        across = height if side in ("top", "bottom") else width
        widest = max(1, math.floor(aug.border_mask_max * across))
        band = 1 + int(fraction * widest)  # uniform over 1..widest, as 0 <= fraction < 1
        x = np.array(x)  # writable even after the flips' views
        if side == "top":
            x[:band] = 0
        elif side == "bottom":
            x[-band:] = 0
        elif side == "left":
            x[:, :band] = 0
        else:
            x[:, -band:] = 0
    return np.rint(np.clip(x, 0, 255)).astype(np.uint8)
