"""What every pipeline job needs: its output in its log file, atomic outputs, a chosen device, a clean exit."""

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from defectlab import arrow_exit


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path and rename it onto `path` only if the block succeeds.

    A killed or failed job then leaves a `.tmp` file at most, never a file that
    looks complete under the output name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """The folder twin of `atomic_output`: yield a fresh temporary sibling path (not created) and put it in
    place of `path` only if the block succeeds; a failed block leaves neither a partial `path` nor the
    temporary folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def log_to(path: str | os.PathLike) -> None:
    """Send this process's stdout and stderr (Python and C level) to the job's log file, line-buffered.

    Every job calls this first, so it also makes the exit wait for Arrow's worker threads
    (`defectlab.arrow_exit`): without that, a job that touched Parquet can abort after its work is done.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    log = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the process
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(log.fileno(), stream.fileno())
    sys.stdout = sys.stderr = log
    arrow_exit.wait_at_exit()


def resolve_device(device: str) -> str:
    """Map "auto" to "cuda" when a GPU is visible, else "cpu"; pass explicit choices through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
