"""Checkpoints and final weights on disk: written atomically (a killed job leaves the previous checkpoint, never
half a file), tagged with the fingerprint of the settings that produced them, and read back with
`weights_only=True` (a checkpoint holds tensors and plain values, nothing that runs code when loaded)."""

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from defectlab.runtime import atomic_output

CHECKPOINT = "defectlab.training.checkpoint/1"
FINAL = "defectlab.training.final/1"


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the checkpoint of the run writing `output` lives by default: beside it, model.pt -> model.checkpoint.pt.

    Not a Snakemake output: Snakemake deletes a failed job's outputs, and the checkpoint must survive a failure.
    """
    output = Path(output)
    return output.with_name(f"{output.stem}.checkpoint{output.suffix or '.pt'}")


def save_atomic(payload: dict[str, Any], path: str | os.PathLike) -> None:
    """torch.save to a temporary sibling, fsync, rename onto `path`, fsync the folder (so the rename is durable)."""
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "wb") as stream:
        torch.save(payload, stream)
        stream.flush()
        os.fsync(stream.fileno())
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint or final file, on the CPU; a file that is neither is refused, naming it."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable defectlab training file ({error}); delete it to start over") from None
    if not isinstance(payload, dict) or payload.get("format") not in (CHECKPOINT, FINAL):
        raise ValueError(f"{path}: not a defectlab training checkpoint or final weights file")
    return payload


def canonical(settings: Mapping[str, Any]) -> str:
    """The settings as canonical JSON (sorted keys; tuples as lists; anything else JSON lacks as its str)."""
    return json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))


def fingerprint(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(settings).encode()).hexdigest()[:16]


def flatten(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as {"a.b.c": value}, to name the keys two configurations differ in."""
    if isinstance(settings, dict | list) and settings:
        flat: dict[str, Any] = {}
        items = settings.items() if isinstance(settings, dict) else enumerate(settings)
        for key, value in items:
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: settings}


def differences(there: Mapping[str, Any], here: Mapping[str, Any], limit: int = 5) -> str:
    """The first keys whose values differ, as 'key: there -> here'."""
    a, b = flatten(json.loads(canonical(there))), flatten(json.loads(canonical(here)))
    keys = sorted(key for key in a.keys() | b.keys() if a.get(key, "<absent>") != b.get(key, "<absent>"))
    shown = [f"{key}: {a.get(key, '<absent>')} -> {b.get(key, '<absent>')}" for key in keys[:limit]]
    more = f" (and {len(keys) - limit} more)" if len(keys) > limit else ""
    return "; ".join(shown) + more


def weights_digest(models: Mapping[str, nn.Module]) -> str:
    """A hash of every tensor of the models' state dicts (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    for name, model in models.items():
        for key, tensor in model.state_dict().items():
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{name}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    """The record of a finished run (wall time, steps per second, device, steps, early stop, best validation, seed)."""
    payload = load(path)
    if payload["format"] != FINAL:
        raise ValueError(
            f"{path} is a training checkpoint (step {payload['step']} of {payload['record']['steps']}), not the final "
            f"weights of a finished run: rerun the training job to finish it"
        )
    return payload["record"]


def read_settings(path: str | os.PathLike, required: str, trainer: str) -> dict[str, Any]:
    """The model family's settings a run stored with its weights (`train(settings=...)`); a file whose settings
    lack `required` was not written by `trainer`, and is refused naming it."""
    settings = json.loads(load(path)["settings"]).get("settings", {})
    if required not in settings:
        raise ValueError(f"{path}: holds no settings of {trainer}; is it the output of {trainer}?")
    return settings


def read_snapshots(path: str | os.PathLike) -> tuple[list[int], list[torch.Tensor]]:
    """The steps and tensors a finished run recorded with `train(snapshot=...)` (none when it took none)."""
    read_record(path)  # refuses a checkpoint, saying so
    snapshots = load(path).get("snapshots") or {"step": [], "value": []}
    return list(snapshots["step"]), list(snapshots["value"])


def load_weights(
    path: str | os.PathLike, model: nn.Module | Mapping[str, nn.Module], device: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read the final weights of a run into `model` (one module, or the same names that were trained), move it to
    `device`, put it in eval mode, and return the run's record."""
    record = read_record(path)
    saved = load(path)["models"]
    models = {"model": model} if isinstance(model, nn.Module) else dict(model)
    if isinstance(model, nn.Module) and len(saved) == 1:
        models = {next(iter(saved)): model}
    if set(models) != set(saved):
        raise ValueError(f"{path} holds the weights of {sorted(saved)}, not of {sorted(models)}")
    for name, module in models.items():
        module.load_state_dict(saved[name])
        module.to(device).eval()
    return record
