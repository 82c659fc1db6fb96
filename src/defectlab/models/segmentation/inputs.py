"""The segmentation networks' inputs (the clutch paper, R6.2–R6.5): grey images centred to [-1, 1], optionally
exposure-stacked, and for training one intensity-biased, augmented crop per image and epoch, drawn from
(seed, epoch, image index) so a rerun is identical whatever the number of workers.

Everything here works on one grey uint8 image (H, W) and its binary defect target at the working scale (see
`cache`); the network's batches are stacks of what `training_sample` and `eval_input` return.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from defectlab.seeds import derive_seed

EXPOSURES = (0, 1, 2)  # the annotators' f(x) = x * 2^a


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one training sample: independent of the order and the worker it is drawn in."""
    return np.random.default_rng(derive_seed(seed, "sample", epoch, index))


def exposure_stack(grey: np.ndarray, exponents: Sequence[float] = EXPOSURES) -> np.ndarray:
    """(len(exponents), H, W) float32 grey levels clip(x * 2^a, 0, 255): the image as the annotators saw it at
    each exposure, stacked so the network sees the dark regions brightened and the bright ones saturated."""
    x = grey.astype(np.float32)
    return np.stack([np.minimum(x * np.float32(2.0**a), 255) for a in exponents])


def centre(x: np.ndarray) -> np.ndarray:
    """Grey levels [0, 255] as the paper's network input range [-1, 1]."""
    return (np.asarray(x, np.float32) / np.float32(127.5) - 1).astype(np.float32, copy=False)


def eval_input(grey: np.ndarray, exposure: bool) -> np.ndarray:
    """The network input (C, H, W) float32 in [-1, 1] of a grey image: its exposure stack (C = 3) or the image
    itself (C = 1). Evaluation images go in as they are, training crops after their augmentation."""
    channels = exposure_stack(grey) if exposure else grey[None].astype(np.float32)
    return centre(channels)


def pad_to(grey: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image and target zero-padded at the bottom and right to at least `size` (h, w), so that every image,
    however small, holds a full crop; larger images are returned as they are."""
    height, width = size
    pad = ((0, max(height - grey.shape[0], 0)), (0, max(width - grey.shape[1], 0)))
    if not any(after for _, after in pad):
        return grey, mask
    return np.pad(grey, pad), np.pad(mask, pad)


def window_on(candidates: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> tuple[int, int, bool]:
    """(top, left, fell_back) of a size (h, w) window centred on a uniformly drawn pixel of the boolean map
    `candidates` (any pixel when none is set: fell_back), shifted to stay inside the image.

    The shift keeps every crop full-size and still holding the drawn pixel (it only moves the window when the
    pixel lies within h/2 or w/2 of the border)."""
    height, width = candidates.shape
    h, w = size
    if height < h or width < w:
        raise ValueError(f"image {height}x{width} is smaller than the crop {h}x{w}: pad it first (pad_to)")
    pixels = np.flatnonzero(candidates)
    fell_back = len(pixels) == 0
    pixel = int(rng.integers(height * width)) if fell_back else int(pixels[rng.integers(len(pixels))])
    y, x = divmod(pixel, width)
    top = min(max(y - h // 2, 0), height - h)
    left = min(max(x - w // 2, 0), width - w)
    return top, left, fell_back


def crop_window(
    grey: np.ndarray, size: tuple[int, int], threshold: float, rng: np.random.Generator
) -> tuple[int, int, bool]:
    """The paper's intensity-biased crop: (top, left, fell_back) of a window centred on a uniformly drawn pixel
    brighter than `threshold` (uniform over the image, fell_back, when none is); see `window_on`."""
    return window_on(grey > threshold, size, rng)


@dataclass(frozen=True)
class Augmentation:
    """The paper's training augmentations (R6.5), with its ranges as defaults (rotation: 30° for the clutch
    sets, 90° for the planar ones)."""

    enabled: bool = True
    rotation_max: float = 30.0  # degrees, angle ~ U(-max, max)
    noise_variance_max: float = 10.0  # grey levels², Gaussian noise of variance ~ U(0, max)
    exposure_stops: tuple[float, float] = (0.0, 1.0)  # x * 2^a, a ~ U(lo, hi)
    blur_kernels: tuple[int, ...] = (1, 3)  # Gaussian blur of a uniformly chosen size (1: none), OpenCV's sigma
    horizontal_flip: float = 0.5  # probability
    vertical_flip: float = 0.5  # probability
    dark_noise_max: float = 0.0  # uniform noise U(0, max) added (the synthetic images' dark noise)

    def __post_init__(self) -> None:
        if not self.blur_kernels or any(k < 1 or k % 2 == 0 for k in self.blur_kernels):
            raise ValueError(f"augmentation: blur kernel sizes must be odd and >= 1, got {self.blur_kernels}")
        if self.exposure_stops[0] > self.exposure_stops[1]:
            raise ValueError(f"augmentation: exposure stops (lo, hi) need lo <= hi, got {self.exposure_stops}")
        if min(self.rotation_max, self.noise_variance_max, self.dark_noise_max) < 0:
            raise ValueError("augmentation: rotation, noise variance and dark noise maxima must be >= 0")
        if not (0 <= self.horizontal_flip <= 1 and 0 <= self.vertical_flip <= 1):
            raise ValueError("augmentation: flip probabilities must lie in [0, 1]")


def geometric(
    grey: np.ndarray, masks: Sequence[np.ndarray], aug: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The same motion for the image and its masks: a rotation about the centre (bilinear for the image,
    nearest for the masks, so they keep their values; fill 0), then the flips. Masks keep their dtype."""
    angle = rng.uniform(-aug.rotation_max, aug.rotation_max)
    flips = [code for code, p in ((1, aug.horizontal_flip), (0, aug.vertical_flip)) if rng.random() < p]
    planes = [m.astype(np.uint8) for m in masks]
    if angle:
        height, width = grey.shape
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)

        def rotate(plane: np.ndarray, interpolation: int) -> np.ndarray:
            return cv2.warpAffine(plane, matrix, (width, height), flags=interpolation, borderValue=0)

        grey = rotate(grey, cv2.INTER_LINEAR)
        planes = [rotate(p, cv2.INTER_NEAREST) for p in planes]
    for code in flips:  # OpenCV's flip codes: 1 about the vertical axis (horizontal flip), 0 vertical flip
        grey = cv2.flip(grey, code)
        planes = [cv2.flip(p, code) for p in planes]
    return grey, [p.astype(m.dtype, copy=False) for p, m in zip(planes, masks, strict=True)]


def photometric(grey: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Exposure x * 2^a (clipped at 255, as an overexposed sensor saturates), Gaussian noise, blur and dark
    noise, in that order, then clipped back to uint8. Every range at zero (and kernels (1,)) is the identity."""
    stops = rng.uniform(*aug.exposure_stops)
    sigma = np.sqrt(rng.uniform(0, aug.noise_variance_max))
    kernel = int(rng.choice(aug.blur_kernels))
    x = np.minimum(grey.astype(np.float32) * np.float32(2.0**stops), 255)
    if sigma:
        x += np.float32(sigma) * rng.standard_normal(x.shape, dtype=np.float32)
    if kernel > 1:
        x = cv2.GaussianBlur(x, (kernel, kernel), 0)
    if aug.dark_noise_max:
        x += np.float32(aug.dark_noise_max) * rng.random(x.shape, dtype=np.float32)
    return np.rint(np.clip(x, 0, 255)).astype(np.uint8)


def augment(
    grey: np.ndarray, target: np.ndarray, aug: Augmentation, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A whole image and its target augmented: the geometric ops on both (`geometric`), then the photometric
    ones on the image (`photometric`); unchanged when the augmentation is disabled."""
    if not aug.enabled:
        return grey, target
    grey, (target,) = geometric(grey, [target], aug, rng)
    return photometric(grey, aug, rng), target


def training_sample(
    grey: np.ndarray,
    target: np.ndarray,
    size: tuple[int, int],
    threshold: float,
    aug: Augmentation,
    exposure: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """One training crop: x (C, h, w) float32 in [-1, 1] and its target y (1, h, w) float32 in {0, 1}.

    Order: pad to the crop size; threshold the acquired image (the paper's intensity mask, before any
    augmentation or exposure change); rotate and flip the whole image, its target and the intensity mask
    together; draw the window on the moved intensity mask (`window_on`); cut it; photometric augmentation of
    the crop; exposure stack; centre.

    Why the window is drawn after the motion: rotating the whole image avoids the black corners of a rotated
    crop, but moves the pixels, so a window drawn before would no longer hold the drawn bright pixel. Carrying
    the mask of the acquired image through the motion (nearest, like the target) keeps the paper's rule: the
    window holds, and away from the border is centred on, a pixel that was above the threshold in the acquired
    image, drawn uniformly among those still in the image after the rotation. When there is none (a dark
    image, or a rotation that pushed them all out) the window is uniform (the fallback). Without augmentation
    this is exactly `crop_window` on the padded image. The photometric ops act on the crop only: they are per
    pixel (the 3x3 blur sees the crop's border as OpenCV sees any image edge), and noising the whole image for
    one crop would cost ~20 times more at the clutch's size.
    """
    grey, target = pad_to(grey, target, size)
    bright = grey > threshold
    if aug.enabled:
        grey, (target, bright) = geometric(grey, [target, bright], aug, rng)
    top, left, _ = window_on(bright, size, rng)
    h, w = size
    crop = grey[top : top + h, left : left + w]
    if aug.enabled:
        crop = photometric(crop, aug, rng)
    y = (target[top : top + h, left : left + w] > 0).astype(np.float32)[None]
    return eval_input(crop, exposure), y
