"""The segmentation family's settings (models fcn, deeplabv3, unet of seed 004): every key, its default, and the
checks that refuse a bad value by name.

The paper (§5.1) states the crop (256², biased to intensity > 10), batch 16, at most 1000 epochs, lr halved every
50 epochs, early stopping on a relative decrease of the validation loss under 0.01 for 5 validations, a 2x2 grid
of lr x weight decay picked by validation F1, inputs in [-1, 1], the exposure stack x·2^a, a ∈ {0, 1, 2}, and
the evaluation's halving, padding to a multiple of 96 and 416 x 352 tiles. The grid values and the fine-tuning
lr are garbled in the text (spec R2): the most plausible reading is the default here.
"""

from collections.abc import Mapping
from typing import Any

MODELS = ("fcn", "deeplabv3", "unet")

DEFAULTS: dict[str, Any] = {
    "lr": [1e-2, 1e-3],  # paper §5.1 (garbled, spec R2): the grid's learning rates
    "weight_decay": [1e-3, 1e-4],  # paper §5.1 (garbled, spec R2): the grid's AdamW weight decays
    "finetune_lr": 1e-4,  # paper §5.1 (garbled exponent, spec R2): the starting lr of fine-tuning
    "batch_size": 16,  # paper §5.1
    "crop": 256,  # paper §5.1: square training crops
    "intensity_threshold": 10,  # paper §5.1: crops centred on a random pixel brighter than this
    "epochs": 1000,  # paper §5.1: at most
    "lr_halving_epochs": 50,  # paper §5.1
    "early_stopping": {"patience": 5, "min_relative_decrease": 0.01, "reference": "previous"},  # paper §5.1
    "validate_every_epochs": 1,  # default (the paper does not say)
    "exposure_stack": False,  # paper §4.3: the EX rows of Table 1
    "scale": 0.5,  # paper §5.1: images halved (for evaluation; training assumed at the same scale, spec R6.2)
    "tile": [352, 416],  # paper §5.1: evaluation tiles, H x W
    "pad_multiple": 96,  # paper §5.1; [h, w] for the planar sets' fixed sizes (§5.2)
    "geometry": {},  # dataset name -> its own scale, tile, pad_multiple (the planar sets' sizes, §5.2)
    "augment": {
        "rotation": 30.0,  # paper §5.3 (SynthClutch): at most 30 degrees; the planar sets: 90
        "noise_variance": 10.0,  # paper §5.2: Gaussian noise of variance < 10 (grey levels²)
        "exposure": [0.0, 1.0],  # paper §5.2: exposures in [0, 1] stops
        "blur": [1, 3],  # paper §5.2: Gaussian blur kernel sizes
        "flips": True,  # paper §5.2: horizontal and vertical
        "dark_noise": 0.0,  # paper §3.3: uniform noise at training time; its amplitude is not given
    },
    "weights": None,  # default: random initialisation (the paper's, §5.1); else a local state dict
    "checkpoint_every": 100,  # default: steps between checkpoints
    "device": "auto",  # default: auto | cpu | cuda | cuda:N (not part of the fingerprint)
}
AUGMENT_KEYS = tuple(DEFAULTS["augment"])
GEOMETRY_KEYS = ("scale", "tile", "pad_multiple")
REFERENCES = ("previous", "best")


def _number(key: str, value: Any, minimum: float = 0.0, strict: bool = True) -> None:
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"segmentation.{key} must be a number {relation} {minimum:g}, got {value!r}")


def _integer(key: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"segmentation.{key} must be an integer >= {minimum}, got {value!r}")


def _grid(key: str, value: Any) -> list[float]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"segmentation.{key} must be a number or a non-empty list of numbers, got []")
    for v in values:
        _number(key, v, 0.0, strict=key == "lr")
    return [float(v) for v in values]


def resolve(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults overlaid with `settings` (nested blocks key by key); unknown keys and bad values are refused,
    naming the key."""
    given = dict(settings or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"segmentation: unknown setting(s) {unknown}; the settings are {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **given}
    for block in ("augment", "early_stopping"):
        extra = sorted(set(given.get(block) or {}) - set(DEFAULTS[block]))
        if extra:
            raise ValueError(f"segmentation.{block}: unknown key(s) {extra}; it takes {sorted(DEFAULTS[block])}")
        merged[block] = {**DEFAULTS[block], **(given.get(block) or {})}
    merged["lr"], merged["weight_decay"] = _grid("lr", merged["lr"]), _grid("weight_decay", merged["weight_decay"])
    for key in ("batch_size", "crop", "epochs", "lr_halving_epochs", "validate_every_epochs", "checkpoint_every"):
        _integer(key, merged[key])
    _number("finetune_lr", merged["finetune_lr"])
    _number("intensity_threshold", merged["intensity_threshold"], 0.0, strict=False)
    _check_geometry("", merged)
    if not isinstance(merged["geometry"], Mapping):
        raise ValueError(f"segmentation.geometry must map dataset names to settings, got {merged['geometry']!r}")
    for dataset, own in merged["geometry"].items():
        extra = sorted(set(own or {}) - set(GEOMETRY_KEYS))
        if extra:
            raise ValueError(f"segmentation.geometry.{dataset}: unknown key(s) {extra}; it takes {list(GEOMETRY_KEYS)}")
        _check_geometry(f"geometry.{dataset}.", {**merged, **(own or {})})
    if not isinstance(merged["exposure_stack"], bool):
        raise ValueError(f"segmentation.exposure_stack must be true or false, got {merged['exposure_stack']!r}")
    stopping = merged["early_stopping"]
    _integer("early_stopping.patience", stopping["patience"])
    _number("early_stopping.min_relative_decrease", stopping["min_relative_decrease"], 0.0, strict=False)
    if stopping["reference"] not in REFERENCES:
        raise ValueError(f"segmentation.early_stopping.reference must be one of {list(REFERENCES)}")
    augment = merged["augment"]
    for key in ("rotation", "noise_variance", "dark_noise"):
        _number(f"augment.{key}", augment[key], 0.0, strict=False)
    low_high = augment["exposure"]
    if not (isinstance(low_high, list) and len(low_high) == 2 and low_high[0] <= low_high[1]):
        raise ValueError(f"segmentation.augment.exposure must be [low, high] stops, got {low_high!r}")
    kernels = augment["blur"]
    if not (isinstance(kernels, list) and kernels and all(isinstance(k, int) and k % 2 == 1 for k in kernels)):
        raise ValueError(f"segmentation.augment.blur must be a list of odd kernel sizes, got {kernels!r}")
    return merged


def _check_geometry(prefix: str, values: Mapping[str, Any]) -> None:
    """Scale, tile and pad multiple of the top level or of one dataset's geometry (`prefix` names which)."""
    multiple = values["pad_multiple"]
    pair = isinstance(multiple, list) and len(multiple) == 2 and all(isinstance(m, int) and m > 0 for m in multiple)
    if not pair:
        _integer(f"{prefix}pad_multiple", multiple)
    _number(f"{prefix}scale", values["scale"])
    if values["scale"] > 1:
        raise ValueError(f"segmentation.{prefix}scale must be in (0, 1], got {values['scale']!r}")
    tile = values["tile"]
    if not (isinstance(tile, list) and len(tile) == 2 and all(isinstance(t, int) and t > 0 for t in tile)):
        raise ValueError(f"segmentation.{prefix}tile must be [height, width] in pixels, got {tile!r}")


def at(settings: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """Resolved settings as they apply to reading `dataset`: its own geometry (scale, tile, pad multiple) over the
    top-level one, without the per-dataset table."""
    own = settings["geometry"].get(dataset) or {}
    return {**{k: v for k, v in settings.items() if k != "geometry"}, **own}


def geometry(settings: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The scale, tile and pad multiple `dataset` is read and predicted at."""
    applied = at(settings, dataset)
    return {key: applied[key] for key in GEOMETRY_KEYS}


def check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"segmentation: model must be one of {list(MODELS)}, got {model!r}")


def grid_points(settings: Mapping[str, Any]) -> list[dict[str, float]]:
    """The lr x weight decay grid of resolved settings, lr-major, as {lr, weight_decay} per point."""
    return [{"lr": lr, "weight_decay": wd} for lr in settings["lr"] for wd in settings["weight_decay"]]


def in_channels(settings: Mapping[str, Any]) -> int:
    """The network's input channels: the grey image, or its exposure stack [x, 2x, 4x]."""
    return 3 if settings["exposure_stack"] else 1
