"""Early stopping on a validation loss: the rule and its state, which a checkpoint carries so that a resumed run
stops at the step an uninterrupted one would."""

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class EarlyStopping:
    """Stop after `patience` evaluations in a row without improvement; an improvement is a value below the best so
    far by more than `min_delta`.

    The remaining fields are the state: the best value and the step it was reached at, the evaluations since then
    without improvement, and the step training stopped at (None while it runs).
    """

    patience: int
    min_delta: float = 0.0
    best: float = math.inf
    best_step: int | None = None
    bad_evaluations: int = 0
    stopped_at: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"early stopping: patience must be an integer >= 1, got {self.patience!r}")
        if not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise ValueError(f"early stopping: min_delta must be a finite number >= 0, got {self.min_delta!r}")

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    def update(self, value: float, step: int) -> bool:
        """Take the validation loss after `step`; True when it is a new best (so its weights are worth keeping)."""
        if value < self.best - self.min_delta:
            self.best, self.best_step, self.bad_evaluations = value, step, 0
            return True
        self.bad_evaluations += 1
        if self.bad_evaluations >= self.patience:
            self.stopped_at = step
        return False

    def rule(self) -> dict[str, Any]:
        """The settings (part of a run's fingerprint), without the state."""
        return {"patience": self.patience, "min_delta": self.min_delta}

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("best", "best_step", "bad_evaluations", "stopped_at"):
            setattr(self, key, state[key])
