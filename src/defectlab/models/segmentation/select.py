"""The grid search of the clutch paper (§5.1): of the runs at each lr x weight decay point, keep the one with the
highest validation F1 (at its own F1-maximising threshold, pooled over the val pixels). Ties keep the first point
in grid order (lr-major), so the choice is deterministic.
"""

import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from defectlab.models.segmentation.cache import read_cache
from defectlab.models.segmentation.evaluate import validation_f1
from defectlab.models.segmentation.predict import load_segmentation
from defectlab.runtime import atomic_output


def grid_table(runs: Sequence[str | Path], val_cache: str | Path, device: str = "auto") -> pd.DataFrame:
    """One row per run: its grid point, how its training ended, and its validation precision, recall and F1."""
    val = read_cache(val_cache)
    rows = []
    for point, run in enumerate(runs):
        network, settings, record = load_segmentation(run, device)
        rows.append(
            {
                "point": point,
                "lr": settings["lr"],
                "weight_decay": settings["weight_decay"],
                "steps_done": record["steps_done"],
                "stopped_early": record["stopped_early"],
                "best_validation_loss": record["best_validation"],
                **{f"val_{key}": value for key, value in validation_f1(network, val, settings).items()},
                "weights": str(run),
            }
        )
    return pd.DataFrame(rows)


def select_grid_point(
    runs: Sequence[str | Path], val_cache: str | Path, output: str | Path, table: str | Path, device: str = "auto"
) -> pd.Series:
    """Copy the best run's weights to `output`, write the grid's table to `table` (Parquet); return the best row."""
    if not runs:
        raise ValueError("segmentation grid: no run to select from")
    grid = grid_table(runs, val_cache, device)
    grid["selected"] = False
    best = int(grid["val_f1"].to_numpy().argmax())  # the first of equal maxima
    grid.loc[best, "selected"] = True
    with atomic_output(output) as tmp:
        shutil.copyfile(runs[best], tmp)
    with atomic_output(table) as tmp:
        grid.to_parquet(tmp, index=False)
    return grid.loc[best]
