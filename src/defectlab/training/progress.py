"""Training progress in the job's log: a tqdm bar with steps per second and the latest losses.

Snakemake jobs write to a log file (`runtime.log_to`), not a terminal: there the bar is printed as one plain line
every 30 s instead of being redrawn with carriage returns many times a second.
"""

import sys
from typing import Any, TextIO

from tqdm import tqdm

TTY_INTERVAL_S = 0.5
LOG_INTERVAL_S = 30.0


class Lines:
    """A stream for tqdm that turns each redraw into a line of its own (for log files)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int, initial: int, desc: str, enabled: bool = True) -> tqdm:
    stream = sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="step",
        file=stream if tty else Lines(stream),
        mininterval=TTY_INTERVAL_S if tty else LOG_INTERVAL_S,
        dynamic_ncols=tty,
        ascii=not tty,
        smoothing=0.1 if tty else 0.0,  # a log line shows the mean rate since the start of this segment
        disable=not enabled,
    )


def postfix(losses: dict[str, float], best: float | None) -> dict[str, Any]:
    shown: dict[str, Any] = {name: f"{value:.4g}" for name, value in losses.items()}
    if best is not None:
        shown["best_val"] = f"{best:.4g}"
    return shown
