"""Fine-tuning a backbone as a classifier of the curated items (the paper's §4.3, spec §2.6) through the pipeline's one
loop (`defectlab.training.train`), which owns seeds, checkpoints, resume after a kill, device and timings.

The backbone's 1000-way head is replaced by a linear layer of C classes (timm's `reset_classifier(C)`) and every
parameter trains: SGD (lr 1e-3, momentum 0.9, no weight decay, a constant rate), batches of 8 in a seeded order per
epoch, the last one shorter (drop_last False), cross-entropy. A training item is flipped left-right with probability
`hflip` (0.5), its draw made from (seed, epoch, item index) like the augmentation of `defectlab.patchcore.augment`, so
a resumed run flips exactly as an uninterrupted one; validation, prediction and embedding never flip. Images are
resized and normalised as `defectlab.latent.embedding` does (the input of the latent vectors of the same network).

Output: the loop's final weights file (its settings name the backbone, the weights it started from, whether those were
pretrained, the classes and the input statistics) and beside it `<stem>.epochs.parquet` (`epochs_path`), one row per
epoch: `epoch`, `step` (the last of the epoch), `loss` and `train_accuracy` over the epoch's items (each batch weighted
by its size), `val_accuracy` after the epoch when `val` is given (the loop records its validation value 1 − accuracy,
so the record's best step is the best epoch's), `seconds` of the epoch's training steps (forward, backward and update,
synchronised; validation and checkpoint writes not counted) and the `device` they ran on. The seconds travel in the
checkpoint with the batches' state, as the loop does not time steps: a resumed run's table is whole, which the final
weights file, written by the loop, could not hold.
"""

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from defectlab.data.layout import listed
from defectlab.latent.embedding import Network, build_network, finetuned_network, item_batches, load_images, outputs
from defectlab.runtime import atomic_output
from defectlab.seeds import derive_seed
from defectlab.training import TrainState, read_record, seed_everything, train
from defectlab.training import checkpoint as files

KEEP = ("last", "best")


def item_labels(dataset: str | Path, ids: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """(N,) int64 class indices of the items `ids`: their `label` in the dataset's index, as a position in `classes`.
    An id the index lacks, or whose label is not one of the classes (an ambiguous item), is refused, named."""
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must be at least two distinct names, got {list(classes)}")
    index = pd.read_parquet(Path(dataset) / "index.parquet", columns=["id", "label"])
    labels = dict(zip(index["id"].astype(str), index["label"].astype(str), strict=True))
    ids = [str(i) for i in ids]
    unknown = [i for i in ids if i not in labels]
    if unknown:
        raise ValueError(f"{dataset}: items {listed(unknown)} are not in index.parquet")
    position = {name: k for k, name in enumerate(classes)}
    others = [f"{i} ({labels[i]})" for i in ids if labels[i] not in position]
    if others:
        raise ValueError(
            f"{dataset}: items {listed(others)} have labels that are not among the classes {list(classes)}; "
            f"train on the curated items of these classes only"
        )
    return np.array([position[labels[i]] for i in ids], dtype=np.int64)


def flipped(seed: int, epoch: int, index: int, p: float) -> bool:
    """Whether training item `index` (its position in the training ids) is flipped left-right in `epoch` (0-based)."""
    return bool(np.random.default_rng(derive_seed(seed, "hflip", epoch, index)).random() < p)


class TrainingItems:
    """batch(step): the step's slice of its epoch's seeded order, uint8 images (B, 3, S, S) flipped as `flipped`
    says, and their class indices (B,). It also keeps the seconds of each epoch's steps, checkpointed with the run."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray, batch_size: int, hflip: float, seed: int) -> None:
        self.images, self.labels = images, torch.from_numpy(labels)
        self.batch_size, self.hflip, self.seed = batch_size, hflip, seed
        self.steps_per_epoch = math.ceil(len(images) / batch_size)
        self.seconds: dict[int, float] = {}

    def epoch(self, step: int) -> int:
        return (step - 1) // self.steps_per_epoch

    def indices(self, step: int) -> np.ndarray:
        epoch, within = divmod(step - 1, self.steps_per_epoch)
        order = np.random.default_rng(derive_seed(self.seed, "classifier order", epoch)).permutation(len(self.images))
        return order[within * self.batch_size : (within + 1) * self.batch_size]

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        chosen = self.indices(step)
        epoch = self.epoch(step)
        images = self.images[torch.from_numpy(chosen)]
        flips = torch.tensor([flipped(self.seed, epoch, int(i), self.hflip) for i in chosen])
        images[flips] = images[flips].flip(-1)
        return images, self.labels[chosen]

    def timed(self, step: int, seconds: float) -> None:
        epoch = self.epoch(step)
        self.seconds[epoch] = self.seconds.get(epoch, 0.0) + seconds

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": dict(self.seconds)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seconds = dict(state["seconds"])


def classifier_step(items: TrainingItems):
    """The step: cross-entropy of the batch's logits, one SGD update; returns the loss and the batch's accuracy."""

    def step(batch: tuple[torch.Tensor, torch.Tensor], state: TrainState) -> dict[str, float]:
        start = time.perf_counter()
        images, labels = batch
        state.optimizer.zero_grad(set_to_none=True)
        logits = state.model(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        state.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == labels).float().mean()
        values = {"loss": float(loss.detach()), "accuracy": float(correct)}
        items.timed(state.step, time.perf_counter() - start)  # float() above waited for the device
        return values

    return step


def validation_error(images: torch.Tensor, labels: np.ndarray, batch_size: int):
    """validate(state): the share of the validation items classified wrongly (the loop minimises it)."""
    truth = torch.from_numpy(labels)

    def validate(state: TrainState) -> float:
        correct = 0
        for first in range(0, len(images), batch_size):
            logits = state.model(images[first : first + batch_size].to(state.device))
            correct += int((logits.argmax(dim=1).cpu() == truth[first : first + batch_size]).sum())
        return (len(images) - correct) / len(images)

    return validate


def digest(ids: Sequence[str], labels: np.ndarray) -> str:
    """A short hash of the items and their labels, so a checkpoint of other items is refused."""
    text = "\n".join(f"{i}\t{label}" for i, label in zip(ids, labels, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU thread count for the block (bit-identical CPU reruns need the same count), then the previous."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def epochs_path(output: str | Path) -> Path:
    """The per-epoch table beside the weights: classifier.pt -> classifier.epochs.parquet."""
    output = Path(output)
    return output.with_name(f"{output.stem}.epochs.parquet")


def train_classifier(
    backbone: str,
    weights: str,
    weights_dir: Path | None,
    dataset: str | Path,
    ids: Sequence[str],
    classes: Sequence[str],
    output: str | Path,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 8,
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    hflip: float = 0.5,
    input_size: int = 224,
    val: tuple[str | Path, Sequence[str]] | None = None,
    keep: str = "last",
    device: str = "auto",
    threads: int | None = None,
    checkpoint_every: int | None = None,
    stale_checkpoint: str = "refuse",
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune `backbone` (started from `weights`) on the items `ids` of `dataset`, labelled by their index's
    `label` among `classes`, for `epochs` epochs; write the final weights to `output` (the weights of the last
    epoch, or with `keep="best"` of the best validation accuracy) and the per-epoch table beside it (module
    docstring); return the loop's record. A checkpoint beside `output` is written every `checkpoint_every` steps
    (default: every epoch), and a rerun after a kill resumes from it.

    `val`: (dataset, ids) of validation items, classified after every epoch. `threads`: torch's CPU threads for the
    run (`device` and `threads` are not part of the fingerprint: a job may resume elsewhere).
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("input_size", input_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train_classifier: {name} must be an integer >= 1, got {value!r}")
    if not 0 <= hflip <= 1:
        raise ValueError(f"train_classifier: hflip must lie in [0, 1], got {hflip}")
    if keep not in KEEP or (keep == "best" and val is None):
        raise ValueError(f"train_classifier: keep must be one of {list(KEEP)} ('best' needs val), got {keep!r}")
    ids = [str(i) for i in ids]
    labels = item_labels(dataset, ids, classes)
    items = TrainingItems(load_images(dataset, ids, input_size), labels, batch_size, hflip, seed)
    validation: dict[str, Any] = {}
    stored_val = None
    if val is not None:
        val_dataset, val_ids = val[0], [str(i) for i in val[1]]
        val_labels = item_labels(val_dataset, val_ids, classes)
        val_images = load_images(val_dataset, val_ids, input_size)
        validation = {
            "validate": validation_error(val_images, val_labels, batch_size),
            "validate_every": items.steps_per_epoch,
            "keep_best": keep == "best",
        }
        stored_val = {"dataset": Path(val_dataset).name, "items": len(val_ids), "digest": digest(val_ids, val_labels)}
    seed_everything(seed)
    network = build_network(backbone, weights, weights_dir, classes=len(classes)).train()
    settings = {
        "backbone": backbone,
        "weights": str(weights),
        "pretrained": weights != "none",
        "classes": list(classes),
        "statistics": [list(network.statistics[0]), list(network.statistics[1])],
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "hflip": hflip,
        "input_size": input_size,
        "keep": keep,
        "train": {"dataset": Path(dataset).name, "items": len(ids), "digest": digest(ids, labels)},
        "val": stored_val,
        "steps_per_epoch": items.steps_per_epoch,
    }
    optimizer = torch.optim.SGD(network.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    with torch_threads(threads):
        record = train(
            {"classifier": network},
            {"sgd": optimizer},
            classifier_step(items),
            items,
            steps=epochs * items.steps_per_epoch,
            seed=seed,
            output=output,
            checkpoint_every=checkpoint_every or items.steps_per_epoch,
            stale_checkpoint=stale_checkpoint,
            device=device,
            settings=settings,
            progress=progress,
            desc=f"train classifier {backbone}",
            **validation,
        )
    table = epoch_table(output, items, len(val[1]) if val is not None else None)
    with atomic_output(epochs_path(output)) as tmp:
        table.to_parquet(tmp, index=False)
    pretrained = "pretrained" if settings["pretrained"] else "random init, not pretrained"
    print(f"classifier {backbone} ({pretrained}): {len(table)} epochs of {len(ids)} items -> {output}", flush=True)
    return record


def epoch_table(output: str | Path, items: TrainingItems, val_items: int | None) -> pd.DataFrame:
    """One row per epoch of the finished run at `output` (columns in the module docstring)."""
    payload = files.load(output)
    losses, checked, segments = payload["losses"], payload["validation"], payload["record"]["segments"]
    n, steps = len(items.images), items.steps_per_epoch
    sizes = np.array([min(items.batch_size, n - k * items.batch_size) for k in range(steps)])
    after = dict(zip(checked["step"], checked["value"], strict=True))
    rows = []
    for epoch in range(len(losses.get("loss", [])) // steps):
        span = slice(epoch * steps, (epoch + 1) * steps)
        last = (epoch + 1) * steps
        correct = sum(round(a * s) for a, s in zip(losses["accuracy"][span], sizes, strict=True))
        row = {
            "epoch": epoch + 1,
            "step": last,
            "loss": float(np.dot(losses["loss"][span], sizes) / n),
            "train_accuracy": correct / n,
        }
        if val_items is not None:
            row["val_accuracy"] = (val_items - round(after[last] * val_items)) / val_items
        row["seconds"] = items.seconds.get(epoch, math.nan)
        row["device"] = next((s["device_name"] for s in segments if s["start"] < last <= s["end"]), "")
        rows.append(row)
    return pd.DataFrame(rows)


def load_classifier(path: str | Path, device: str = "auto") -> tuple[Network, dict[str, Any], dict[str, Any]]:
    """The fine-tuned classifier at `path` (eval mode, on `device`), its settings and the run's record."""
    network, settings = finetuned_network(path, device)
    return network, settings, read_record(path)


def predict(
    network: Network,
    dataset: str | Path,
    ids: Sequence[str],
    input_size: int = 224,
    batch_size: int = 32,
    device: str = "auto",
) -> np.ndarray:
    """(N,) int64 predicted class indices of the items `ids` (no flip; eval mode)."""
    logits = outputs(network, item_batches(dataset, [str(i) for i in ids], input_size, batch_size), device, logits=True)
    return logits.argmax(axis=1).astype(np.int64)


def accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """The share of the items whose predicted class is their label."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.ndim != 1 or not len(labels):
        raise ValueError(f"accuracy: predictions {predicted.shape} and labels {labels.shape} must be equal, non-empty")
    return float((predicted == labels).mean())
