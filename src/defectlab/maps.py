"""The maps contract: every model writes its per-pixel maps through `write_maps`; the evaluation reads them
with `read_maps` only, so it never needs to know which model made them.

A maps file (`results/maps/{experiment}/{dataset}/….h5`, one or more per dataset) holds
- `ids`: the image ids, in the dataset's layout;
- `maps`: (N, H, W) float32, one value per pixel, higher = more anomalous;
- `scores` (optional): (N,) float64 image scores where the model has its own (a density, a classifier),
  else the evaluation takes each map's maximum;
- `patch_scores` (optional): a group of columns `image`, `x`, `y`, `score`, one row per patch the model
  scored on its own (the kitchen-board thesis's reweighted PatchCore score); the patch unit then takes a
  test patch's score from here instead of the map's maximum over its window;
- attributes `model` (e.g. patchcore), `score` (what a value means, for the reader of a table), `format`,
  and the model's settings as a JSON text `settings`.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from defectlab.data.layout import listed
from defectlab.hdf5 import open_h5
from defectlab.runtime import atomic_output

FORMAT = 1


@dataclass(frozen=True)
class Maps:
    """The maps of one dataset, from one file or several concatenated in order."""

    ids: list[str]
    maps: np.ndarray  # (N, H, W) float32
    scores: np.ndarray | None  # (N,) image scores of the model, or None
    model: str
    score: str
    settings: dict
    patch_scores: pd.DataFrame | None = None  # image, x, y, score of the patches the model scored, or None

    def image_scores(self) -> np.ndarray:
        """The model's image scores, else each map's maximum."""
        if self.scores is not None:
            return self.scores
        return self.maps.reshape(len(self.maps), -1).max(axis=1).astype(np.float64)


def _refuse_non_finite(path: str | Path, ids: Sequence[str], values: np.ndarray, what: str, made_from: str) -> None:
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if not finite.all():
        bad = [image for image, ok in zip(ids, finite, strict=True) if not ok]
        raise ValueError(
            f"{path}: refusing to write {what} with NaN or inf values, of images {listed(bad)}; made from {made_from}"
        )


def write_maps(
    path: str | Path,
    ids: Sequence[str],
    maps: np.ndarray,
    *,
    model: str,
    score: str,
    made_from: str,
    scores: np.ndarray | None = None,
    settings: Mapping[str, object] | None = None,
    patch_scores: pd.DataFrame | None = None,
) -> None:
    """Write a maps file atomically. Values with NaN or inf are refused, naming what they were made from
    (`made_from`, e.g. the coreset and patch store), since every metric of them would be NaN."""
    if patch_scores is not None:
        _check_patch_scores(path, ids, patch_scores, made_from)
    maps = np.asarray(maps)
    if maps.ndim != 3 or len(maps) != len(ids):
        raise ValueError(f"{path}: maps must be (N, H, W) for {len(ids)} ids, got {maps.shape}")
    _refuse_non_finite(path, ids, maps, "maps", made_from)
    if scores is not None:
        scores = np.asarray(scores, np.float64)
        if scores.shape != (len(ids),):
            raise ValueError(f"{path}: image scores must be ({len(ids)},), got {scores.shape}")
        _refuse_non_finite(path, ids, scores, "image scores", made_from)
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("ids", data=np.array(list(ids), dtype=h5py.string_dtype()), track_times=False)
        h5.create_dataset("maps", data=maps.astype(np.float32, copy=False), compression="gzip", track_times=False)
        if scores is not None:
            h5.create_dataset("scores", data=scores, track_times=False)
        if patch_scores is not None:
            group = h5.create_group("patch_scores", track_order=True)
            group.create_dataset(
                "image", data=np.array(list(patch_scores["image"]), dtype=h5py.string_dtype()), track_times=False
            )
            for column, dtype in (("x", np.int64), ("y", np.int64), ("score", np.float64)):
                group.create_dataset(column, data=patch_scores[column].to_numpy(dtype), track_times=False)
        h5.attrs.update(
            {"format": FORMAT, "model": model, "score": score, "settings": json.dumps(dict(settings or {}))}
        )


def _check_patch_scores(path: str | Path, ids: Sequence[str], table: pd.DataFrame, made_from: str) -> None:
    missing = {"image", "x", "y", "score"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: patch scores need the columns image, x, y, score; missing {sorted(missing)}")
    _refuse_non_finite(path, list(table["image"]), table["score"].to_numpy(np.float64), "patch scores", made_from)
    unknown = sorted(set(table["image"]) - set(ids))
    if unknown:
        raise ValueError(f"{path}: patch scores of images {listed(unknown)} that have no map")
    if table.duplicated(["image", "x", "y"]).any():
        raise ValueError(f"{path}: a patch (image, x, y) is scored twice")


def _read_patch_scores(h5: h5py.File) -> pd.DataFrame | None:
    if "patch_scores" not in h5:
        return None
    group = h5["patch_scores"]
    images = [s.decode() if isinstance(s, bytes) else s for s in group["image"][:]]
    return pd.DataFrame({"image": images, "x": group["x"][:], "y": group["y"][:], "score": group["score"][:]})


def read_maps(paths: Sequence[str | Path]) -> Maps:
    """The maps of several files of one dataset, concatenated in order. Files must name the same model and
    either all or none hold image scores (and patch scores); a file with NaN or inf values is refused, named."""
    if not paths:
        raise ValueError("no maps file given")
    ids: list[str] = []
    maps, scores, heads, patches = [], [], [], []
    for path in paths:
        with open_h5(path) as h5:
            if h5.attrs.get("format") != FORMAT or "maps" not in h5 or "ids" not in h5:
                raise ValueError(f"{path}: not a maps file of format {FORMAT}; delete it and rerun the job")
            ids += [s.decode() if isinstance(s, bytes) else s for s in h5["ids"][:]]
            maps.append(h5["maps"][:])
            scores.append(h5["scores"][:] if "scores" in h5 else None)
            patches.append(_read_patch_scores(h5))
            heads.append((str(h5.attrs["model"]), str(h5.attrs["score"]), json.loads(h5.attrs["settings"])))
        if not np.isfinite(maps[-1]).all() or (scores[-1] is not None and not np.isfinite(scores[-1]).all()):
            raise ValueError(f"{path}: maps hold NaN or inf; delete it and rerun the job that writes it")
    kinds = {(s is None, p is None) for s, p in zip(scores, patches, strict=True)}
    if len({(model, score) for model, score, _ in heads}) > 1 or len(kinds) > 1:
        raise ValueError(f"{', '.join(map(str, paths))}: maps files of different models or kinds of score")
    model, score, settings = heads[0]
    return Maps(
        ids=ids,
        maps=np.concatenate(maps),
        scores=None if scores[0] is None else np.concatenate(scores),
        model=model,
        score=score,
        settings=settings,
        patch_scores=None if patches[0] is None else pd.concat(patches, ignore_index=True),
    )
