"""CutPaste's settings: every key, its default, and the checks that refuse a bad value by name.

Defaults are the kitchen-board thesis's (seed 002 §5.4.3 and §6.3.1; spec §5): SGD at lr 1e-4, momentum 0.9,
weight decay 3e-5, cosine annealing over 15 epochs (LilitYolyan's CosineAnnealingWarmRestarts, stepped per
epoch), batch 64 read as 32 pairs, at most 2500 steps, early stopping, the binary variant over the four custom
defects, a 128-d projection head on a ResNet, Gaussian density on the embeddings of normal training patches.
Where the thesis is silent the spec's proposals [P] are used; each is marked.
"""

from collections.abc import Mapping
from typing import Any

from defectlab.models.cutpaste.augment import VARIANTS, AugmentSettings
from defectlab.models.cutpaste.density import DEFAULTS as DENSITY_DEFAULTS
from defectlab.models.cutpaste.density import GaussianDensity

DEFAULTS: dict[str, Any] = {
    "backbone": {"name": "resnet18", "weights": "none"},  # thesis: torchvision ResNet-18 / -50 (ImageNet)
    "head": "auto",  # thesis: [512 x 7, 128] (2048 first for ResNet-50); auto = [backbone dim, 512 x 6, 128]
    "variant": "binary-custom",  # thesis: normal vs one of scar, black dot, white dot, arc scar
    "augment": {},  # AugmentSettings overrides (ranges of the augmentations; the thesis's by default)
    "embedding": "head",  # thesis / LilitYolyan: the 128-d head output | backbone: its pooled vector (Runinho)
    "train_stride": "auto",  # grid of the training patches; auto = patches.stride (the thesis: 112)
    "lr": 1e-4,
    "momentum": 0.9,
    "weight_decay": 3e-5,
    "cosine_epochs": 15,  # T_0 of the cosine annealing, in epochs of the training patches
    "batch_pairs": 32,  # [P] "batch 64, a mix of normal and augmented": 32 patches + their 32 augmented views
    "steps": 2500,  # the most optimiser steps (the thesis's White run: 2500)
    "epochs": None,  # the most epochs; training stops at whichever of steps and epochs comes first
    "freeze_steps": 0,  # steps at the start with the backbone frozen (only the head learns); 0 = none
    "early_stopping": {
        "enabled": True,  # thesis: "applied in all experiments"
        "val_fraction": 0.1,  # [P] held-out normal training patches, with fixed seeded augmented views
        "every": 100,  # [P] steps between evaluations of the validation loss
        "patience": 3,  # [P]
    },
    "checkpoint_every": 100,
    "density": {**DENSITY_DEFAULTS, "max_samples": None},  # GDE (Ledoit-Wolf) on normal embeddings
    "maps": "gde",  # gde: each patch's score over its footprint | gradcam: Grad-CAM per patch (spec §5.6)
    "map_sigma": 28.0,  # [P] Gaussian smoothing of the stitched map in pixels (s / 4 for 224 patches)
    "gradcam": {"layer": "conv1", "target": 1},  # thesis: encoder.conv1, class 1 (anomaly); or "predicted"
    "batch_size": 64,  # patches embedded at once when scoring
    "device": "auto",
}
CHOICES = {"variant": tuple(VARIANTS), "embedding": ("head", "backbone"), "maps": ("gde", "gradcam")}
POSITIVE_INTS = ("batch_pairs", "steps", "checkpoint_every", "batch_size", "cosine_epochs")
POSITIVE_FLOATS = ("lr",)
NOT_FINGERPRINTED = ("device", "maps", "map_sigma", "gradcam", "batch_size", "density")  # not in the weights


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {unknown}; the settings are {sorted(defaults)}")
    return {**defaults, **given}


def _integer(value: Any, minimum: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def resolve(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults overlaid with `settings` (nested blocks key by key); unknown keys and bad values are refused,
    naming the key."""
    merged = _merge(DEFAULTS, dict(settings or {}), "cutpaste")
    for block in ("backbone", "early_stopping", "density", "gradcam"):
        merged[block] = _merge(DEFAULTS[block], dict(merged[block] or {}), f"cutpaste.{block}")
    for key, allowed in CHOICES.items():
        if merged[key] not in allowed:
            raise ValueError(f"cutpaste.{key} must be one of {list(allowed)}, got {merged[key]!r}")
    for key in POSITIVE_INTS:
        if not _integer(merged[key], 1):
            raise ValueError(f"cutpaste.{key} must be an integer >= 1, got {merged[key]!r}")
    if not _integer(merged["freeze_steps"], 0):
        raise ValueError(f"cutpaste.freeze_steps must be an integer >= 0, got {merged['freeze_steps']!r}")
    if merged["epochs"] is not None and not _integer(merged["epochs"], 1):
        raise ValueError(f"cutpaste.epochs must be null or an integer >= 1, got {merged['epochs']!r}")
    if merged["train_stride"] != "auto" and not _integer(merged["train_stride"], 1):
        raise ValueError(f"cutpaste.train_stride must be 'auto' or an integer >= 1, got {merged['train_stride']!r}")
    for key in ("lr", "momentum", "weight_decay", "map_sigma"):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (key == "lr" and not value):
            raise ValueError(f"cutpaste.{key} must be a number {'> 0' if key == 'lr' else '>= 0'}, got {value!r}")
    head = merged["head"]
    if head != "auto" and not (isinstance(head, list) and len(head) >= 2 and all(_integer(d, 1) for d in head)):
        raise ValueError(f"cutpaste.head must be 'auto' or a list of at least 2 layer widths, got {head!r}")
    stopping = merged["early_stopping"]
    if not 0 < stopping["val_fraction"] < 1:
        raise ValueError(f"cutpaste.early_stopping.val_fraction must lie in (0, 1), got {stopping['val_fraction']!r}")
    for key in ("every", "patience"):
        if not _integer(stopping[key], 1):
            raise ValueError(f"cutpaste.early_stopping.{key} must be an integer >= 1, got {stopping[key]!r}")
    target = merged["gradcam"]["target"]
    if target != "predicted" and not _integer(target, 0):
        raise ValueError(f"cutpaste.gradcam.target must be a class index or 'predicted', got {target!r}")
    AugmentSettings.from_config(merged["augment"])  # refuses unknown keys and bad ranges by name
    GaussianDensity.from_config(merged["density"])
    return merged


def classes(variant: str) -> int:
    """Classes of the classifier: normal plus one per augmentation of the variant (2, or 3 for 3way)."""
    return 1 + len(VARIANTS[variant])
