"""A dataset of the config from converted real data: the images of one split (and of some objects).

The conversion of an entry is one folder, or one folder per category (`CATEGORIES` of its converter), each in
the common layout; a dataset takes the folders of the categories it names and merges their indexes.
"""

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from defectlab.data.exclusions import EXCLUSIONS
from defectlab.data.layout import read_index

LAYOUT_FOLDERS = ("images", "masks", "instances")


def select(converted: Sequence[Path | str], split: str, objects: Sequence[str] | None, out: Path | str) -> pd.DataFrame:
    """Copy the images of `split` (and of `objects`, all when none) from the converted folders into the new
    folder `out` with their merged index, and their entries of the folders' exclusions.json (the kitchen boards'
    borders and labels) into one; return the index. An object or split with no image is an error."""
    parts = []
    for folder in map(Path, converted):
        index = read_index(folder)
        index["_folder"] = str(folder)
        parts.append(index)
    index = pd.concat(parts, ignore_index=True)
    where = ", ".join(map(str, converted))
    twice = sorted(index.loc[index["id"].duplicated(), "id"])
    if twice:
        raise ValueError(f"{where}: image ids in more than one converted folder: {', '.join(twice[:5])}")
    if objects:
        unknown = sorted(set(objects) - set(index["object"]))
        if unknown:
            raise ValueError(f"{where}: no object {unknown}; it has {sorted(set(index['object']))}")
        index = index[index["object"].isin(objects)]
    chosen = index[index["split"] == split]
    if chosen.empty:
        raise ValueError(f"{where}: no image of split {split!r} and objects {objects}")
    out = Path(out)
    for name in LAYOUT_FOLDERS:
        (out / name).mkdir(parents=True)
    for image_id, folder in zip(chosen["id"], chosen["_folder"], strict=True):
        for name in LAYOUT_FOLDERS:
            shutil.copy2(Path(folder) / name / f"{image_id}.png", out / name / f"{image_id}.png")
    _select_exclusions(chosen, out)
    chosen = chosen.drop(columns="_folder").reset_index(drop=True)
    chosen.to_parquet(out / "index.parquet", index=False)
    return chosen


def _select_exclusions(chosen: pd.DataFrame, out: Path) -> None:
    """The chosen images' entries of their folders' exclusions.json, as one file (none when no folder has one)."""
    entries = {}
    for folder, images in chosen.groupby("_folder", sort=False)["id"]:
        path = Path(folder) / EXCLUSIONS
        if path.exists():
            data = json.loads(path.read_text())
            entries.update({f"{i}.png": data[f"{i}.png"] for i in images if f"{i}.png" in data})
    if entries:
        (out / EXCLUSIONS).write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
