"""Early stopping on a validation loss: the rule and its state, which a checkpoint carries so that a resumed run
stops at the step an uninterrupted one would.

Two readings of "improvement" are in use: below the best value so far by more than `min_delta` (the default), and
the clutch paper's (seed 004 §5.1) "relative decrease in validation loss under 0.01 for 5 consecutive
validations", a decrease relative to the previous validation (`relative=True, reference="previous"`).
"""

import math
from dataclasses import asdict, dataclass
from typing import Any

REFERENCES = ("best", "previous")


@dataclass
class EarlyStopping:
    """Stop after `patience` evaluations in a row without improvement; an improvement is a value below the
    reference (`reference`: the best so far, or the previous evaluation) by more than `min_delta`, or with
    `relative` by more than `min_delta` times the reference's magnitude. The first evaluation always improves.

    The remaining fields are the state: the best value and the step it was reached at, the previous value, the
    evaluations in a row without improvement, and the step training stopped at (None while it runs).
    """

    patience: int
    min_delta: float = 0.0
    relative: bool = False
    reference: str = "best"
    best: float = math.inf
    best_step: int | None = None
    previous: float = math.inf
    bad_evaluations: int = 0
    stopped_at: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"early stopping: patience must be an integer >= 1, got {self.patience!r}")
        if not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise ValueError(f"early stopping: min_delta must be a finite number >= 0, got {self.min_delta!r}")
        if self.reference not in REFERENCES:
            raise ValueError(f"early stopping: reference must be one of {list(REFERENCES)}, got {self.reference!r}")

    @property
    def stopped(self) -> bool:
        return self.stopped_at is not None

    def update(self, value: float, step: int) -> bool:
        """Take the validation loss after `step`; True when it is a new best (so its weights are worth keeping)."""
        reference = self.best if self.reference == "best" else self.previous
        margin = self.min_delta * abs(reference) if self.relative and math.isfinite(reference) else self.min_delta
        improved = value < reference - margin
        self.bad_evaluations = 0 if improved else self.bad_evaluations + 1
        if self.bad_evaluations >= self.patience:
            self.stopped_at = step
        self.previous = value
        new_best = improved if self.reference == "best" else value < self.best
        if new_best:
            self.best, self.best_step = value, step
        return new_best

    def rule(self) -> dict[str, Any]:
        """The settings (part of a run's fingerprint), without the state; the readings beyond the default only where
        chosen, so that runs of the default rule keep their fingerprints."""
        rule: dict[str, Any] = {"patience": self.patience, "min_delta": self.min_delta}
        if self.relative or self.reference != "best":
            rule.update(relative=self.relative, reference=self.reference)
        return rule

    def describe(self) -> str:
        """The rule in words, for the log line of an early stop."""
        against = "the best so far" if self.reference == "best" else "the previous evaluation"
        by = f"{self.min_delta:g} of it" if self.relative else f"{self.min_delta:g}"
        return f"no decrease of the validation loss by more than {by} against {against} in {self.patience} evaluations"

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("best", "best_step", "bad_evaluations", "stopped_at"):
            setattr(self, key, state[key])
        self.previous = state.get("previous", math.inf)  # checkpoints of the default rule before it was kept
