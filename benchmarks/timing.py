"""Interleaved timing, so that ratios survive a shared, loaded machine.

Contenders timed one after the other meet different load: a burst during one of them skews
their ratio by any factor. Here they take turns, round after round (the order rotated each
round, so that no contender always runs first), and a ratio is taken per round, between
samples that met about the same load; medians over the rounds and their spread (min-max) are
what gets reported. The standard library only, so a Blender worker can import it cheaply.
"""

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rounds:
    """Per contender, its seconds and return value in each round (index i: round i)."""

    seconds: dict[str, list[float]]
    values: dict[str, list[object]]

    def ratio(self, numerator: str, denominator: str) -> list[float]:
        """numerator_i / denominator_i seconds per round."""
        return divide(self.seconds[numerator], self.seconds[denominator])

    def rate(self, name: str, work: float) -> list[float]:
        """`work` per second (e.g. flops) in each round."""
        return [work / s for s in self.seconds[name]]

    def records(self) -> list[dict[str, object]]:
        """Every sample, one record per round and contender, for a CSV."""
        return [
            {"round": i, "contender": name, "seconds": s}
            for name, samples in self.seconds.items()
            for i, s in enumerate(samples)
        ]


@dataclass(frozen=True)
class Spread:
    """The median of some samples and their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))

    def text(self, spec: str = ".3f") -> str:
        return f"{self.median:{spec}} ({self.low:{spec}}-{self.high:{spec}})"

    def columns(self, name: str) -> dict[str, float]:
        """CSV columns: `name` holds the median, `name_min` and `name_max` the range."""
        return {name: self.median, f"{name}_min": self.low, f"{name}_max": self.high}


def interleave(contenders: Mapping[str, Callable[[], object]], rounds: int, warmup: bool = False) -> Rounds:
    """Run every contender once per round, taking turns; `warmup` runs each once first, untimed."""
    names = list(contenders)
    if warmup:
        for name in names:
            contenders[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    values: dict[str, list[object]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            values[name].append(contenders[name]())
            seconds[name].append(time.perf_counter() - start)
    return Rounds(seconds, values)


def divide(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Round by round quotients."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def load() -> str:
    """The load average now, over 1, 5 and 15 minutes."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
