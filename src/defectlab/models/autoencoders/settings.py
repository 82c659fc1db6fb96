"""The autoencoder family's settings: every key, its default, and the checks that refuse a bad value by name.

The paper (seed 003) fixes the architecture (Tables 2–4), Adam, and that CAE, VAE and AAE share images, epochs,
learning rate and batch size; every other value is a default the spec proposes (§3.8) or one chosen here. One
flat dict serves all three models; keys a model does not use (kl_weight for the CAE) are kept, so that the three
models of one config carry the same settings.
"""

from collections.abc import Mapping
from typing import Any

MODELS = ("cae", "vae", "aae")

DEFAULTS: dict[str, Any] = {
    # networks (Tables 2-4)
    "architecture": "synthetic",  # paper Table 2: synthetic (5+5 layers) | industrial (6+6)
    "channels": 1,  # paper Table 2: n_c; 1 = grey (channel mean of the layout's RGB), 3 = RGB
    "size": "auto",  # default: network input W = H, multiple of 16; auto = the training images' common size
    "hidden": 1024,  # paper Table 3: r
    "latent": 100,  # paper Table 3: n_z
    "leaky_slope": 0.01,  # spec §3.1 [D]: PyTorch's default
    "downsample": "stride",  # spec §3.1 [D]: stride-2 conv | maxpool
    "upsample": "transposed",  # spec §3.1 [D]: transposed conv | nearest (+ conv)
    "decoder_stride1": "deconv5",  # spec §3.2 [D], industrial only: the decoder layer kept at stride 1
    # optimisation (§3)
    "lr": 1e-3,  # spec §3.6 [D]; the paper: Adam, the same lr for all three, value not given
    "betas": [0.9, 0.999],  # spec §3.6 [D]: Adam's defaults
    "batch_size": 4,  # spec §3.6 [D]: the 4 training images (32 for patches, spec)
    "steps": 2000,  # spec §3.6 [D]: optimiser steps (study scale), no early stopping
    "checkpoint_every": 100,  # default
    "snapshots": 6,  # default: reconstructions of the probe kept over training (Fig. 8); 0 = none
    "sampling": "auto",  # default: whole | patches (random size² crops) | auto = patches when images are larger
    # VAE (§2.2)
    "kl_weight": "auto",  # spec §3.5 [D]: β; auto = 1 / (n_c·H·W)
    "sigma_output": "log_sigma",  # spec §3.3 (paper §2.2.1 wording) | log_var
    "test_latent": "mean",  # spec §3.5 [D]: z = μ at test time | sample
    # AAE (§2.3)
    "prior": "normal",  # spec §3.5 [D]: N(0, I)
    "clip": 0.01,  # spec §3.5 [D]: WGAN's c
    "n_critic": 5,  # spec §3.5 [D]: critic steps per generator step (WGAN)
    "critic_output": "leaky_relu",  # paper Table 4 (as printed) | none
    # prediction
    "tile_stride": "auto",  # default: stride of tiles over images larger than size; auto = size
    "device": "auto",  # default: auto | cpu | cuda | cuda:N (not part of the fingerprint)
}

CHOICES: dict[str, tuple[Any, ...]] = {
    "architecture": ("synthetic", "industrial"),
    "channels": (1, 3),
    "downsample": ("stride", "maxpool"),
    "upsample": ("transposed", "nearest"),
    "decoder_stride1": ("deconv4", "deconv5"),
    "sampling": ("auto", "whole", "patches"),
    "sigma_output": ("log_sigma", "log_var"),
    "test_latent": ("mean", "sample"),
    "prior": ("normal",),
    "critic_output": ("leaky_relu", "none"),
}
POSITIVE_INTS = ("hidden", "latent", "batch_size", "steps", "checkpoint_every", "n_critic")
POSITIVE_FLOATS = ("lr", "clip")


def resolve(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults overlaid with `settings`; unknown keys and bad values are refused, naming the key."""
    given = dict(settings or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"autoencoder: unknown setting(s) {unknown}; the settings are {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **given}
    for key, allowed in CHOICES.items():
        if merged[key] not in allowed:
            raise ValueError(f"autoencoder.{key} must be one of {list(allowed)}, got {merged[key]!r}")
    for key in POSITIVE_INTS:
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"autoencoder.{key} must be an integer >= 1, got {value!r}")
    if isinstance(merged["snapshots"], bool) or not isinstance(merged["snapshots"], int) or merged["snapshots"] < 0:
        raise ValueError(f"autoencoder.snapshots must be an integer >= 0, got {merged['snapshots']!r}")
    for key in POSITIVE_FLOATS:
        if isinstance(merged[key], bool) or not isinstance(merged[key], int | float) or merged[key] <= 0:
            raise ValueError(f"autoencoder.{key} must be a number > 0, got {merged[key]!r}")
    auto_or = {"size": int, "tile_stride": int, "kl_weight": int | float}
    for key, kind in auto_or.items():
        value = merged[key]
        if value != "auto" and (isinstance(value, bool) or not isinstance(value, kind) or value <= 0):
            raise ValueError(f"autoencoder.{key} must be 'auto' or a number > 0, got {value!r}")
    if not isinstance(merged["leaky_slope"], int | float) or isinstance(merged["leaky_slope"], bool):
        raise ValueError(f"autoencoder.leaky_slope must be a number, got {merged['leaky_slope']!r}")
    betas = merged["betas"]
    if not (isinstance(betas, list | tuple) and len(betas) == 2 and all(0 <= b < 1 for b in betas)):
        raise ValueError(f"autoencoder.betas must be two numbers in [0, 1), got {betas!r}")
    merged["betas"] = [float(b) for b in betas]
    return merged


def check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"autoencoder: model must be one of {list(MODELS)}, got {model!r}")


def network_arguments(settings: Mapping[str, Any], model: str, size: int) -> dict[str, Any]:
    """The `Autoencoder` constructor's arguments for `model` at input `size`."""
    return {
        "architecture": settings["architecture"],
        "channels": settings["channels"],
        "size": size,
        "hidden": settings["hidden"],
        "latent": settings["latent"],
        "leaky_slope": settings["leaky_slope"],
        "variational": model == "vae",
        "sigma_output": settings["sigma_output"],
        "test_latent": settings["test_latent"],
        "downsample": settings["downsample"],
        "upsample": settings["upsample"],
        "decoder_stride1": settings["decoder_stride1"],
    }


def kl_weight(settings: Mapping[str, Any], size: int) -> float:
    """β: the set value, or for "auto" 1 / (n_c·H·W), which makes MSE + β·KL the Gaussian decoder's ELBO per pixel."""
    value = settings["kl_weight"]
    return 1.0 / (settings["channels"] * size * size) if value == "auto" else float(value)
