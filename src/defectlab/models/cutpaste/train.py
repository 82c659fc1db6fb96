"""Training CutPaste through the pipeline's one loop (`defectlab.training.train`): this module builds the network,
SGD, the cosine schedule, the step and the validation; the loop owns seeds, checkpoints, resume, device,
early stopping and timings.

Per step: `batch_pairs` normal patches and their augmented views, cross-entropy over normal (0) and the
augmentations (1, 2: equation 4.11). The schedule is LilitYolyan's CosineAnnealingWarmRestarts(T_0 =
cosine_epochs), stepped once per epoch of the training patches. Early stopping watches the same loss on a
held-out share of the normal training patches with fixed augmented views; the weights of the best evaluation
are kept ("automatic checkpointing ensures the best-performing model is saved", §5.4.3).
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from defectlab.models.cutpaste.augment import AugmentSettings
from defectlab.models.cutpaste.data import PairBatches, TrainingPatches, hold_out, validation_batches
from defectlab.models.cutpaste.model import CutPasteNet, build_network
from defectlab.models.cutpaste.settings import NOT_FINGERPRINTED, classes, resolve
from defectlab.training import EarlyStopping, TrainState, seed_everything, train


def network_of(settings: Mapping[str, Any], weights_dir: Path | None = None) -> CutPasteNet:
    backbone = settings["backbone"]
    return build_network(
        backbone["name"],
        backbone["weights"],
        settings["head"],
        classes(settings["variant"]),
        settings["embedding"],
        weights_dir,
    )


def cutpaste_step(freeze_steps: int):
    """The step: cross-entropy of the views; the backbone gets no gradient for the first `freeze_steps` steps."""

    def step(batch: tuple[torch.Tensor, torch.Tensor], state: TrainState) -> dict[str, torch.Tensor]:
        images, labels = batch
        network, optimizer = state.model, state.optimizer
        network.backbone.requires_grad_(state.step > freeze_steps)
        optimizer.zero_grad(set_to_none=True)
        logits, _ = network(network.normalise(images))
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        accuracy = (logits.detach().argmax(dim=1) == labels).float().mean()
        return {"loss": loss.detach(), "accuracy": accuracy}

    return step


def validation_loss(patches: TrainingPatches, rows: np.ndarray, settings: Mapping[str, Any], seed: int):
    """validate(state): the mean cross-entropy over the held-out patches and their fixed views."""
    augment = AugmentSettings.from_config(settings["augment"])

    def validate(state: TrainState) -> float:
        total, count = 0.0, 0
        for images, labels in validation_batches(
            patches, rows, settings["batch_pairs"], settings["variant"], augment, seed
        ):
            logits, _ = state.model(state.model.normalise(images.to(state.device)))
            total += float(F.cross_entropy(logits, labels.to(state.device), reduction="sum"))
            count += len(labels)
        return total / count

    return validate


def train_cutpaste(
    settings: Mapping[str, Any],
    datasets: Sequence[str | Path],
    patches: Mapping[str, Any],
    output: str | Path,
    seed: int,
    weights_dir: Path | None = None,
    stale_checkpoint: str = "refuse",
) -> dict:
    """Train CutPaste on the tiles of `datasets` and write the final (best, with early stopping) weights to
    `output` (a checkpoint beside it while running); return the loop's record.

    `patches`: the pipeline's patch settings (size, stride, edges, min_mean_intensity); the tiles are
    `size` pixels at `settings["train_stride"]` ("auto": patches' stride) with the mean filter.
    """
    resolved = resolve(settings)
    stride = patches["stride"] if resolved["train_stride"] == "auto" else resolved["train_stride"]
    edges, minimum = patches.get("edges", "flush"), patches["min_mean_intensity"]
    tiles = TrainingPatches(datasets, patches["size"], stride, edges, minimum)
    stopping = resolved["early_stopping"]
    if stopping["enabled"]:
        rows, held = hold_out(len(tiles), stopping["val_fraction"], seed)
    else:
        rows, held = np.arange(len(tiles)), None
    augment = AugmentSettings.from_config(resolved["augment"])
    data = PairBatches(tiles, rows, resolved["batch_pairs"], resolved["variant"], augment, seed)
    epochs = resolved["epochs"]
    steps = resolved["steps"] if epochs is None else min(resolved["steps"], epochs * data.steps_per_epoch)
    stored = {
        **{k: v for k, v in resolved.items() if k not in NOT_FINGERPRINTED},
        "patch_size": patches["size"],
        "train_stride": stride,
        "edges": edges,
        "min_mean_intensity": patches["min_mean_intensity"],
        "data": {
            "datasets": [Path(d).name for d in datasets],
            "patches": len(tiles),
            "train_patches": len(rows),
            "validation_patches": 0 if held is None else len(held),
            "steps_per_epoch": data.steps_per_epoch,
        },
    }
    seed_everything(seed)
    network = network_of(stored, weights_dir)
    stored["head_widths"] = network.widths  # the layer list, recorded with the weights (spec §5.3)
    optimizer = torch.optim.SGD(
        network.parameters(), lr=resolved["lr"], momentum=resolved["momentum"], weight_decay=resolved["weight_decay"]
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=resolved["cosine_epochs"])
    early = {}
    if held is not None:
        early = {
            "validate": validation_loss(tiles, held, stored, seed),
            "validate_every": stopping["every"],
            "early_stopping": EarlyStopping(patience=stopping["patience"]),
            "keep_best": True,
        }
    record = train(
        {"cutpaste": network},
        {"sgd": optimizer},
        cutpaste_step(resolved["freeze_steps"]),
        data,
        steps=steps,
        seed=seed,
        output=output,
        checkpoint_every=resolved["checkpoint_every"],
        scheduler={"cosine": scheduler},
        scheduler_every=data.steps_per_epoch,
        stale_checkpoint=stale_checkpoint,
        device=resolved["device"],
        settings=stored,
        desc=f"train cutpaste {stored['backbone']['name']}",
        **early,
    )
    epochs_done = record["steps_done"] / data.steps_per_epoch
    print(f"cutpaste: {record['steps_done']} steps = {epochs_done:.2f} epochs of {len(rows)} patches", flush=True)
    return record
