"""Training FCN, DeepLabV3 and U-Net through the pipeline's one loop (`defectlab.training.train`), as the clutch
paper does (§5.1): BCE on the logits, AdamW, batches of intensity-biased random crops, the lr halved every
`lr_halving_epochs`, early stopping on the validation loss, and fine-tuning that starts from another run's weights
at a lower lr.

An epoch is one crop of every training image (spec R6.3: the paper does not define it): its order is a
permutation drawn from (seed, epoch), and each step takes the next `batch_size` images of it, wrapping around, so
every batch is full (DeepLabV3's image pooling cannot train on a batch of one). A crop's draws come from
(seed, epoch, slot), so a resumed run sees the batches an uninterrupted one would.

The validation loss is the BCE over every pixel of the val images at the evaluation's tiling (`evaluate.logit_map`),
the quantity the early-stopping rule watches.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from defectlab.models.segmentation.cache import Cache, read_cache
from defectlab.models.segmentation.evaluate import logit_map
from defectlab.models.segmentation.inputs import Augmentation, sample_rng, training_sample
from defectlab.models.segmentation.networks import build_network, logits
from defectlab.models.segmentation.settings import check_model, in_channels, resolve
from defectlab.seeds import derive_seed
from defectlab.training import EarlyStopping, TrainState, load_weights, seed_everything, train
from defectlab.training.checkpoint import read_settings

# where a run goes is no hyperparameter (a job may resume on another device); the per-dataset geometry is applied
# before training (settings.at), so the run's own scale, tile and pad multiple are the ones fingerprinted
NOT_FINGERPRINTED = ("device", "geometry")


def stored_settings(weights: str | Path) -> dict[str, Any]:
    """The settings `train_segmentation` stored with the weights."""
    return read_settings(weights, "architecture", "train_segmentation")


def augmentation(block: Mapping[str, Any]) -> Augmentation:
    """The `augment` settings block as the inputs' `Augmentation` (flips: both axes at p = 0.5, or none)."""
    flip = 0.5 if block["flips"] else 0.0
    return Augmentation(
        enabled=True,
        rotation_max=float(block["rotation"]),
        noise_variance_max=float(block["noise_variance"]),
        exposure_stops=(float(block["exposure"][0]), float(block["exposure"][1])),
        blur_kernels=tuple(block["blur"]),
        horizontal_flip=flip,
        vertical_flip=flip,
        dark_noise_max=float(block["dark_noise"]),
    )


def concatenated(caches: Sequence[Cache]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    greys = [grey for cache in caches for grey in cache.greys]
    targets = [target for cache in caches for target in cache.targets]
    return greys, targets


class CropBatches:
    """batch(step): `batch_size` training samples (x (C, h, w) in [-1, 1], y (1, h, w) in {0, 1}) of the step's
    slice of its epoch's permutation."""

    def __init__(self, greys: Sequence[np.ndarray], targets: Sequence[np.ndarray], settings: Mapping, seed: int):
        self.greys, self.targets, self.seed = list(greys), list(targets), seed
        self.batch_size, self.crop = settings["batch_size"], settings["crop"]
        self.threshold, self.exposure = settings["intensity_threshold"], settings["exposure_stack"]
        self.augment = augmentation(settings["augment"])
        self.steps_per_epoch = math.ceil(len(self.greys) / self.batch_size)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, within = divmod(step - 1, self.steps_per_epoch)
        order = np.random.default_rng(derive_seed(self.seed, "epoch order", epoch)).permutation(len(self.greys))
        xs, ys = [], []
        for j in range(self.batch_size):
            slot = within * self.batch_size + j
            index = int(order[slot % len(order)])
            x, y = training_sample(
                self.greys[index],
                self.targets[index],
                (self.crop, self.crop),
                self.threshold,
                self.augment,
                self.exposure,
                sample_rng(self.seed, epoch, slot),
            )
            xs.append(torch.from_numpy(x))
            ys.append(torch.from_numpy(y))
        return torch.stack(xs), torch.stack(ys)


def bce_step(batch: tuple[torch.Tensor, torch.Tensor], state: TrainState) -> dict[str, torch.Tensor]:
    x, y = batch
    state.optimizer.zero_grad(set_to_none=True)
    loss = F.binary_cross_entropy_with_logits(logits(state.model, x), y)
    loss.backward()
    state.optimizer.step()
    return {"bce": loss.detach()}


def validation_loss(val: Cache, settings: Mapping[str, Any]) -> Callable[[TrainState], float]:
    """The pooled BCE of the val images' logit maps at the evaluation tiling."""

    def validate(state: TrainState) -> float:
        total, pixels = 0.0, 0
        for grey, target in zip(val.greys, val.targets, strict=True):
            z = logit_map(state.model, grey, settings, state.device)
            y = torch.from_numpy(target.astype(np.float32))
            total += float(F.binary_cross_entropy_with_logits(z, y, reduction="sum"))
            pixels += target.size
        return total / pixels

    return validate


def start_weights(network: torch.nn.Module, pretrained: str | Path) -> tuple[str, str]:
    """Load a pretrained run's weights into `network` (fine-tuning); the initialisation's name for the record and
    the pretrained run's fingerprint, taken from the record the load returns."""
    record = load_weights(pretrained, network)
    network.train()
    return f"fine-tuned from {Path(pretrained).parent.name}", record["fingerprint"]


def train_segmentation(
    model: str,
    settings: Mapping[str, Any],
    train_caches: Sequence[str | Path],
    val_cache: str | Path,
    output: str | Path,
    *,
    lr: float,
    weight_decay: float,
    seed: int,
    pretrained: str | Path | None = None,
    device: str = "auto",
    stale_checkpoint: str = "refuse",
    progress: bool = True,
) -> dict:
    """Train `model` ("fcn", "deeplabv3" or "unet") at one point of the grid (`lr`, `weight_decay`) on the image
    caches `train_caches`, stopping early on the loss of `val_cache`; write the final weights to `output` (a
    checkpoint beside it while running) and return the loop's record.

    `pretrained`: the weights of another run to start from (fine-tuning: the caller passes the lower lr); its
    architecture and input channels must match. `settings["weights"]`, a local state dict, is the other
    non-random start. `device` overrides `settings["device"]` unless "auto".
    """
    check_model(model)
    resolved = resolve(settings)
    if resolved["geometry"]:
        raise ValueError(
            "train_segmentation takes the settings at the validation dataset's geometry (settings.at), "
            f"not the per-dataset table {sorted(resolved['geometry'])}"
        )
    if model == "deeplabv3" and resolved["batch_size"] < 2:
        raise ValueError("segmentation.batch_size must be >= 2 for deeplabv3: its image pooling cannot train on one")
    caches = [read_cache(path) for path in train_caches]
    val = read_cache(val_cache)
    greys, targets = concatenated(caches)
    if pretrained is not None and resolved["weights"] is not None:
        raise ValueError(f"start from {pretrained} or from segmentation.weights {resolved['weights']}, not both")
    if pretrained is not None:
        before = stored_settings(pretrained)
        if (before["architecture"], before["in_channels"]) != (model, in_channels(resolved)):
            raise ValueError(
                f"{pretrained}: a {before['architecture']} on {before['in_channels']} channel(s) cannot start a "
                f"{model} on {in_channels(resolved)}"
            )
    data = CropBatches(greys, targets, resolved, seed)
    epochs, per_epoch = resolved["epochs"], data.steps_per_epoch
    stored = {
        "architecture": model,
        **{k: v for k, v in resolved.items() if k not in NOT_FINGERPRINTED},
        "lr": lr,
        "weight_decay": weight_decay,
        "grid": {"lr": resolved["lr"], "weight_decay": resolved["weight_decay"]},
        "in_channels": in_channels(resolved),
        "steps_per_epoch": per_epoch,
        "data": {
            "train": [Path(p).name for p in train_caches],
            "val": Path(val_cache).name,
            "images": len(greys),
            "val_images": len(val.greys),
        },
    }
    seed_everything(seed)
    network = build_network(model, stored["in_channels"], resolved["weights"])
    stored["initialisation"], stored["pretrained"] = "random initialisation", None
    if resolved["weights"] is not None:
        stored["initialisation"] = "local weights"
    if pretrained is not None:
        stored["initialisation"], stored["pretrained"] = start_weights(network, pretrained)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=resolved["lr_halving_epochs"], gamma=0.5)
    stopping = resolved["early_stopping"]
    return train(
        network,
        optimizer,
        bce_step,
        data,
        steps=epochs * per_epoch,
        seed=seed,
        output=output,
        checkpoint_every=resolved["checkpoint_every"],
        scheduler=scheduler,
        scheduler_every=per_epoch,
        validate=validation_loss(val, stored),
        validate_every=resolved["validate_every_epochs"] * per_epoch,
        early_stopping=EarlyStopping(
            patience=stopping["patience"],
            min_delta=stopping["min_relative_decrease"],
            relative=True,
            reference=stopping["reference"],
        ),
        stale_checkpoint=stale_checkpoint,
        device=device if device != "auto" else resolved["device"],
        settings=stored,
        progress=progress,
        desc=f"train {model} (lr {lr:g}, weight decay {weight_decay:g})",
    )
