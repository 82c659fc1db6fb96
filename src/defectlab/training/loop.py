"""The training loop: steps, schedulers, validation with early stopping, checkpoints, resume, progress, timings.

A model family defines what one step does; the loop owns the rest, so every family resumes, stops early, logs
and records timings the same way. One step may update several optimisers (the AAE's critic and generator), so the
step itself calls `zero_grad`, `backward` and `optimizer.step()`; the loop steps the schedulers.

Resume is exact: the checkpoint holds the weights, the optimiser and scheduler states, every random state, the
early-stopping state and the losses; batches are a function of the step number (`defectlab.training.data`). A
killed job rerun with the same arguments ends with the same bytes as a run that was never interrupted.
"""

import json
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader

from defectlab.runtime import resolve_device
from defectlab.seeds import derive_seed
from defectlab.training import checkpoint as files
from defectlab.training.data import BatchSource, to_device
from defectlab.training.early_stopping import EarlyStopping
from defectlab.training.progress import postfix, progress_bar
from defectlab.training.seeding import deterministic, rng_state, seed_everything, set_rng_state


@dataclass
class TrainState:
    """What a step and a validation see: the modules, optimisers and schedulers by name, the device, and the number
    of the step being run (1..steps)."""

    models: dict[str, nn.Module]
    optimizers: dict[str, Optimizer]
    schedulers: dict[str, LRScheduler]
    device: torch.device
    steps: int
    step: int = 0
    losses: dict[str, list[float]] = field(default_factory=dict)

    @property
    def model(self) -> nn.Module:
        """The module, where there is one."""
        return only(self.models, "model")

    @property
    def optimizer(self) -> Optimizer:
        """The optimiser, where there is one."""
        return only(self.optimizers, "optimizer")


Step = Callable[[Any, TrainState], Mapping[str, float | torch.Tensor]]
Validate = Callable[[TrainState], float | torch.Tensor]
Snapshot = Callable[[TrainState], torch.Tensor]
STALE = ("refuse", "restart")


def only(named: Mapping[str, Any], what: str) -> Any:
    if len(named) != 1:
        raise AttributeError(f"this run has {len(named)} {what}s ({sorted(named)}): take state.{what}s[name]")
    return next(iter(named.values()))


def named(value: Any, default: str, kind: type) -> dict[str, Any]:
    """One object or a mapping of them, as {name: object}."""
    if value is None:
        return {}
    if isinstance(value, kind):
        return {default: value}
    if isinstance(value, Mapping) and all(isinstance(v, kind) for v in value.values()):
        return dict(value)
    raise TypeError(f"expected a {kind.__name__} or a mapping of names to them, got {type(value).__name__}")


def positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"training: {name} must be an integer >= 1, got {value!r}")


def device_of(device: str) -> torch.device:
    chosen = torch.device(resolve_device(device))
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"training: device {device!r} asked for, but this machine has no visible CUDA GPU")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise RuntimeError(f"training: device {device!r} asked for, but only {torch.cuda.device_count()} GPU(s)")
    return chosen


def device_name(device: torch.device) -> str:
    """What the device is: the GPU's name, or the CPU's architecture and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads"


def optimizer_settings(optimizer: Optimizer) -> dict[str, Any]:
    """An optimiser's class and the hyperparameters of each parameter group (with its size), for the fingerprint."""
    groups = [
        {**{k: v for k, v in group.items() if k != "params"}, "params": sum(p.numel() for p in group["params"])}
        for group in optimizer.param_groups
    ]
    return {"class": type(optimizer).__qualname__, "param_groups": groups}


def train(
    model: nn.Module | Mapping[str, nn.Module],
    optimizer: Optimizer | Mapping[str, Optimizer],
    step: Step,
    data: DataLoader | Callable[[int], Any],
    *,
    steps: int,
    seed: int,
    output: str | Path,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    scheduler: LRScheduler | Mapping[str, LRScheduler] | None = None,
    scheduler_every: int = 1,
    validate: Validate | None = None,
    validate_every: int = 100,
    early_stopping: EarlyStopping | None = None,
    keep_best: bool = False,
    snapshot: Snapshot | None = None,
    snapshot_steps: Sequence[int] = (),
    stale_checkpoint: str = "refuse",
    device: str = "auto",
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> dict[str, Any]:
    """Train for `steps` steps (or until early stopping), resuming from `checkpoint` if one is there; write the
    final weights and the run's record to `output` and return the record.

    - `model`, `optimizer`, `scheduler`: one object each, or mappings by name (several modules or optimisers).
      Build the model after `seed_everything(seed)`: its initial weights are part of the run's fingerprint.
    - `step(batch, state)`: one training step on `batch` (already on `state.device`); it updates the weights and
      returns its losses by name (the same names every step). NaN or inf stops the run with an error.
    - `data`: a callable `batch(step)` or a DataLoader (see `defectlab.training.data`).
    - `scheduler_every`: the schedulers step after every that many steps (steps per epoch for per-epoch rules).
    - `validate(state)`: a validation loss, evaluated every `validate_every` steps with the models in eval mode
      and no gradients; with `early_stopping`, it decides when to stop. `keep_best`: the output holds the weights
      of the best validation rather than those of the last step.
    - `snapshot(state)`: a tensor recorded after each step of `snapshot_steps` (0: before the first step), with
      the models in eval mode, no gradients and the random state restored afterwards, so snapshots never change
      the training (what a model outputs for a fixed input as it learns). Kept in the checkpoint and the output
      (`read_snapshots`).
    - `checkpoint`: written atomically every `checkpoint_every` steps and at the end (default:
      `checkpoint_path(output)`). A checkpoint from other settings is refused: `settings` (the model family's
      configuration) is part of the fingerprint, with the loop's settings, the modules' parameter shapes and
      initial weights, and the optimisers' classes and defaults. `stale_checkpoint="restart"` starts over
      instead, saying so: for a workflow job, which reruns only because its settings changed.
    - `device`: "auto", "cpu", "cuda" or "cuda:N" (`runtime.resolve_device`). The loop moves the modules there
      (their parameters stay the same objects, so optimisers built before still hold them) and each batch.

    Bit-identical resume on the CPU assumes the same torch build and thread count (the record names both).
    """
    for name, value in (
        ("steps", steps),
        ("checkpoint_every", checkpoint_every),
        ("scheduler_every", scheduler_every),
        ("validate_every", validate_every),
    ):
        positive(name, value)
    if early_stopping is not None and validate is None:
        raise ValueError("training: early_stopping needs a validate callable")
    if keep_best and validate is None:
        raise ValueError("training: keep_best needs a validate callable")
    if stale_checkpoint not in STALE:
        raise ValueError(f"training: stale_checkpoint must be one of {list(STALE)}, got {stale_checkpoint!r}")
    snapshot_at = checked_snapshot_steps(snapshot_steps, steps, snapshot)
    models = named(model, "model", nn.Module)
    optimizers = named(optimizer, "optimizer", Optimizer)
    schedulers = named(scheduler, "scheduler", LRScheduler)
    if not models or not optimizers:
        raise ValueError("training: at least one module and one optimiser are needed")
    chosen = device_of(device)
    source = BatchSource(data, seed)
    output = Path(output)
    checkpoint = Path(checkpoint) if checkpoint is not None else files.checkpoint_path(output)
    if checkpoint == output:
        raise ValueError(f"training: the checkpoint and the output must be different files, both are {output}")
    # Without early stopping, validation still tracks the best loss: a rule that never stops.
    tracker = early_stopping if early_stopping is not None else EarlyStopping(patience=sys.maxsize)

    config = {
        "seed": seed,
        "steps": steps,
        "scheduler_every": scheduler_every,
        "validate_every": validate_every if validate is not None else None,
        "early_stopping": early_stopping.rule() if early_stopping is not None else None,
        "keep_best": keep_best,
        "snapshot_steps": sorted(snapshot_at),
        "data": source.describe(),
        "models": {
            name: {
                "class": type(m).__qualname__,
                "parameters": [[key, list(t.shape), str(t.dtype)] for key, t in m.state_dict().items()],
            }
            for name, m in models.items()
        },
        "initial_weights": files.weights_digest(models),
        "optimizers": {name: optimizer_settings(o) for name, o in optimizers.items()},
        "schedulers": {name: {"class": type(s).__qualname__, **s.state_dict()} for name, s in schedulers.items()},
        "settings": dict(settings or {}),
    }
    config = json.loads(files.canonical(config))
    print_ = files.fingerprint(config)

    for m in models.values():
        m.to(chosen)
    state = TrainState(models, optimizers, schedulers, chosen, steps)
    best_weights: dict[str, dict[str, torch.Tensor]] | None = None
    segments: list[dict[str, Any]] = []
    validation: dict[str, list] = {"step": [], "value": []}
    snapshots: dict[str, list] = {"step": [], "value": []}

    payload = files.load(checkpoint) if checkpoint.exists() else None
    if payload is not None and payload["format"] != files.CHECKPOINT:
        raise ValueError(f"{checkpoint}: a final weights file, not a checkpoint; give another checkpoint path")
    if payload is not None and payload["fingerprint"] != print_:
        stale = (
            f"{checkpoint}: written by another training configuration (fingerprint {payload['fingerprint']}, "
            f"this run {print_}): {files.differences(json.loads(payload['settings']), config)}"
        )
        if stale_checkpoint == "refuse":
            raise ValueError(f"{stale}. Delete the checkpoint to start over, or rerun with its settings")
        print(f"{desc}: {stale}; starting over", file=sys.stderr, flush=True)
        payload = None
    if payload is not None:
        for name, m in models.items():
            m.load_state_dict(payload["models"][name])
        for name, o in optimizers.items():
            o.load_state_dict(payload["optimizers"][name])
        for name, s in schedulers.items():
            s.load_state_dict(payload["schedulers"][name])
        tracker.load_state_dict(payload["early_stopping"])
        best_weights = payload["best_weights"]
        source.load_state_dict(payload["data"])
        state.step = payload["step"]
        state.losses = payload["losses"]
        validation = payload["validation"]
        snapshots = payload["snapshots"]
        segments = payload["segments"]
        set_rng_state(payload["rng"])
        print(f"{desc}: resuming from {checkpoint} at step {state.step} of {steps}", file=sys.stderr, flush=True)
    else:
        seed_everything(derive_seed(seed, "steps"))  # the steps' draws, apart from the draws of the initial weights

    def record(final: bool) -> dict[str, Any]:
        wall = sum(s["wall_s"] for s in segments)
        done = tracker.stopped_at if tracker.stopped else state.step
        return {
            "seed": seed,
            "steps": steps,
            "steps_done": done,
            "stopped_early": early_stopping is not None and tracker.stopped,
            "stopped_at": tracker.stopped_at if early_stopping is not None else None,
            "best_validation": tracker.best if tracker.best_step is not None else None,
            "best_step": tracker.best_step,
            "final_losses": {name: values[-1] for name, values in state.losses.items()} if state.losses else {},
            "wall_s": wall,
            "steps_per_s": sum(s["end"] - s["start"] for s in segments) / wall if wall > 0 else None,
            "device": segments[-1]["device"] if segments else str(chosen),
            "device_name": segments[-1]["device_name"] if segments else device_name(chosen),
            "segments": segments,
            "fingerprint": print_,
            "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
            "final": final,
        }

    def weights() -> dict[str, dict[str, torch.Tensor]]:
        return {name: {k: t.detach().cpu().clone() for k, t in m.state_dict().items()} for name, m in models.items()}

    def save_checkpoint() -> None:
        files.save_atomic(
            {
                "format": files.CHECKPOINT,
                "fingerprint": print_,
                "settings": files.canonical(config),
                "step": state.step,
                "models": weights(),
                "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
                "schedulers": {name: s.state_dict() for name, s in schedulers.items()},
                "early_stopping": tracker.state_dict(),
                "best_weights": best_weights,
                "data": source.state_dict(),
                "rng": rng_state(),
                "losses": state.losses,
                "validation": validation,
                "snapshots": snapshots,
                "segments": segments,
                "record": record(final=False),
            },
            checkpoint,
        )

    def take_snapshot() -> None:
        snapshots["step"].append(state.step)
        snapshots["value"].append(run_snapshot(snapshot, state))

    if state.step == 0 and 0 in snapshot_at and not snapshots["step"]:
        take_snapshot()
    started = time.perf_counter()
    if state.step < steps and not tracker.stopped:
        segment = {"device": str(chosen), "device_name": device_name(chosen), "start": state.step, "end": state.step}
        segment["wall_s"] = 0.0
        segments.append(segment)
        bar = progress_bar(steps, state.step, desc, progress)
        non_blocking = isinstance(data, DataLoader) and data.pin_memory
        with deterministic(chosen), bar:
            for batch in source.batches(state.step + 1, steps):
                state.step += 1
                losses = {
                    name: float(value) for name, value in step(to_device(batch, chosen, non_blocking), state).items()
                }
                check_losses(losses, state, checkpoint, segment["end"])
                if state.step % scheduler_every == 0:
                    for s in schedulers.values():
                        s.step()
                if validate is not None and state.step % validate_every == 0:
                    value = run_validation(validate, state)
                    validation["step"].append(state.step)
                    validation["value"].append(value)
                    if tracker.update(value, state.step) and keep_best:
                        best_weights = weights()
                if state.step in snapshot_at:
                    take_snapshot()
                stopping = early_stopping is not None and tracker.stopped
                bar.set_postfix(postfix(losses, tracker.best if tracker.best_step is not None else None), refresh=False)
                bar.update(1)
                if state.step % checkpoint_every == 0 or state.step == steps or stopping:
                    segment["end"], segment["wall_s"] = state.step, time.perf_counter() - started
                    save_checkpoint()
                if stopping:
                    print(
                        f"{desc}: early stop at step {state.step}: {tracker.describe()} "
                        f"(best {tracker.best:.6g} at step {tracker.best_step})",
                        file=sys.stderr,
                        flush=True,
                    )
                    break

    final = record(final=True)
    files.save_atomic(
        {
            "format": files.FINAL,
            "fingerprint": print_,
            "settings": files.canonical(config),
            "models": best_weights if keep_best and best_weights is not None else weights(),
            "losses": state.losses,
            "validation": validation,
            "snapshots": snapshots,
            "record": final,
        },
        output,
    )
    rate = f"{final['steps_per_s']:.3g} steps/s" if final["steps_per_s"] else "no steps run"
    print(
        f"{desc}: {final['steps_done']} steps on {final['device']} in {final['wall_s']:.1f} s ({rate}) -> {output}",
        file=sys.stderr,
        flush=True,
    )
    return final


def check_losses(losses: dict[str, float], state: TrainState, checkpoint: Path, saved: int) -> None:
    """Refuse NaN or inf losses, and losses whose names change from step to step."""
    for name, value in losses.items():
        if not math.isfinite(value):
            where = f"the checkpoint {checkpoint} holds step {saved}" if saved else "no checkpoint of this run yet"
            raise FloatingPointError(
                f"training: loss {name!r} is {value} at step {state.step} of {state.steps}; stopped ({where}). "
                f"Lower the learning rate or check the data"
            )
    if state.losses and set(losses) != set(state.losses):
        raise ValueError(
            f"training: step {state.step} returned losses {sorted(losses)}, earlier steps {sorted(state.losses)}"
        )
    for name, value in losses.items():
        state.losses.setdefault(name, []).append(value)


def checked_snapshot_steps(snapshot_steps: Sequence[int], steps: int, snapshot: Snapshot | None) -> set[int]:
    at = set(snapshot_steps)
    if at and snapshot is None:
        raise ValueError("training: snapshot_steps needs a snapshot callable")
    bad = sorted(s for s in at if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= steps)
    if bad:
        raise ValueError(f"training: snapshot_steps must be integers in [0, steps={steps}], got {bad}")
    return at


def evaluated(function: Callable[[TrainState], Any], state: TrainState) -> Any:
    """`function(state)` with every module in eval mode and no gradients; the modes are restored afterwards."""
    modes = {name: [(sub, sub.training) for sub in m.modules()] for name, m in state.models.items()}
    try:
        for m in state.models.values():
            m.eval()
        with torch.no_grad():
            return function(state)
    finally:
        for pairs in modes.values():
            for sub, training in pairs:
                sub.training = training


def run_snapshot(snapshot: Snapshot, state: TrainState) -> torch.Tensor:
    """A snapshot on the CPU, taken without changing any random state (the training goes on as without it)."""
    saved = rng_state()
    try:
        return evaluated(snapshot, state).detach().cpu().clone()
    finally:
        set_rng_state(saved)


def run_validation(validate: Validate, state: TrainState) -> float:
    """The validation loss with every module in eval mode and no gradients."""
    value = float(evaluated(validate, state))
    if not math.isfinite(value):
        raise FloatingPointError(f"training: validation loss is {value} at step {state.step} of {state.steps}")
    return value
