"""Defect crops as a dataset of their own: one item per defect instance of a rendered (or converted) dataset, the
window around it resized to a fixed size, labelled with the instance's class (seed 000 stand-in, spec §5.2).

The paper's items are photographs around paint defects; the plates' instance masks give the same thing with exact
labels. A fixed window keeps size as a cue (as fixed-size photographs do) and grows only for an instance larger
than it. An item whose window holds another instance is "multi" (the paper's "multiple evident defects"); the
curated classes stand for the paper's three, everything else the config names is the ambiguous pool.
"""

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from defectlab.classes import CLASSES
from defectlab.data.layout import Sample, image_shape, listed, load_sample, read_index, write_png
from defectlab.data.windows import bounding_box, centred_window
from defectlab.runtime import atomic_output
from defectlab.seeds import derive_seed

AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class CropRule:
    """How a window is cut around an instance (pixels of the source image) and the size items are stored at."""

    window_px: int = 96  # side of the window at least (spec §5.2: 96 px at 384-px plates)
    margin: float = 0.25  # a larger instance's window: its longer side x (1 + 2 margin)
    min_area_px: int = 12  # smaller instances are skipped (a few pixels say nothing about a class)
    min_other_px: int = 16  # pixels of another instance that make the window "multi"
    item_size: int = 224  # side of the stored item


@dataclass(frozen=True)
class Candidate:
    """One instance of a source image and its window; `skipped` says why it cannot become an item."""

    id: str
    source_image: str
    instance: int
    cls: str
    area_px: int
    bbox: tuple[int, int, int, int]  # y0, y1, x0, x1 inclusive
    window: tuple[int, int, int]  # top, left, side
    multi: bool
    other_classes: tuple[str, ...]
    truncated: bool
    skipped: str | None = None


@dataclass(frozen=True)
class Roles:
    """Which classes are curated (the paper's three, under their stand-in class names) and which feed the ambiguous
    pool as well as the multi-instance crops; any other class is left out."""

    curated: tuple[str, ...] = ("bump", "dent", "scratch")
    ambiguous: tuple[str, ...] = ("water_stain",)
    counts: Mapping[str, int] = field(default_factory=dict)  # class or "ambiguous" -> items to keep

    def role(self, candidate: Candidate) -> str | None:
        if candidate.cls in self.curated and not candidate.multi:
            return "curated"
        if candidate.cls in self.curated or candidate.cls in self.ambiguous:
            return AMBIGUOUS
        return None


def candidates(sample: Sample, rule: CropRule) -> Iterator[Candidate]:
    """Every instance of a sample (ascending id) with its window, multi and truncation flags."""
    height, width = sample.instances.shape
    for instance in (int(i) for i in np.unique(sample.instances) if i > 0):
        pixels = sample.instances == instance
        area = int(pixels.sum())
        box = bounding_box(pixels)
        cls = CLASSES[int(sample.mask[pixels][0])].name  # an instance has one class (the renderer's precedence)
        longer = max(box[1] - box[0] + 1, box[3] - box[2] + 1)
        side = max(rule.window_px, math.ceil((1 + 2 * rule.margin) * longer))
        top, left, side = centred_window(box, side, height, width)
        inside = sample.instances[top : top + side, left : left + side]
        ids, counts = np.unique(inside, return_counts=True)
        others = [int(j) for j, n in zip(ids, counts, strict=True) if j not in (0, instance) and n >= rule.min_other_px]
        other_classes = sorted({CLASSES[int(sample.mask[sample.instances == j][0])].name for j in others})
        yield Candidate(
            id=f"{sample.id}-i{instance:03d}",
            source_image=sample.id,
            instance=instance,
            cls=cls,
            area_px=area,
            bbox=box,
            window=(top, left, side),
            multi=bool(others),
            other_classes=tuple(other_classes),
            truncated=int(pixels[top : top + side, left : left + side].sum()) < area,
            skipped="small" if area < rule.min_area_px else None,
        )


def crop(sample: Sample, window: tuple[int, int, int], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window (top, left, side) as an item: its image area-averaged when shrinking, linear when enlarging, its
    class and instance masks nearest."""
    top, left, side = window
    window = (slice(top, top + side), slice(left, left + side))
    smooth = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    image = cv2.resize(sample.image[window], (size, size), interpolation=smooth)
    mask = cv2.resize(sample.mask[window], (size, size), interpolation=cv2.INTER_NEAREST)
    instances = cv2.resize(sample.instances[window], (size, size), interpolation=cv2.INTER_NEAREST)
    return image, mask, instances


def select(table: pd.DataFrame, roles: Roles, seed: int, dataset: str) -> pd.DataFrame:
    """Keep `roles.counts` items per class (curated) and of the ambiguous pool: a seeded permutation of each group's
    candidates sorted by id, first n; without counts, every candidate with a role. A group short of candidates is
    refused, naming it and what there is."""
    table = table[table["role"].notna() & table["skipped"].isna()].sort_values("id")
    if not roles.counts:
        return table.reset_index(drop=True)
    kept, short = [], []
    for group, wanted in roles.counts.items():
        pool = table[table["role"] == AMBIGUOUS] if group == AMBIGUOUS else table[
            (table["role"] == "curated") & (table["class"] == group)
        ]
        if len(pool) < wanted:
            short.append(f"{group} {len(pool)} of {wanted}")
            continue
        order = np.random.default_rng(derive_seed(seed, "latent_items", dataset, group)).permutation(len(pool))
        kept.append(pool.iloc[np.sort(order[:wanted])])
    if short:
        raise ValueError(f"{dataset}: too few candidates: {listed(short)}; render more plates (count)")
    return pd.concat(kept).sort_values("id").reset_index(drop=True)


def candidate_table(source: str | Path, rule: CropRule, roles: Roles) -> pd.DataFrame:
    """Every instance of every image of `source` (sorted by id) as a row: window, flags, role, skip reason."""
    rows = []
    for image_id in sorted(read_index(source)["id"].astype(str)):
        for found in candidates(load_sample(source, image_id), rule):
            row = asdict(found)
            y0, y1, x0, x1 = row.pop("bbox")
            top, left, side = row.pop("window")
            row["class"] = row.pop("cls")
            row["other_classes"] = "|".join(found.other_classes)
            row["role"] = roles.role(found)
            rows.append(
                {**row, "bbox_y0": y0, "bbox_y1": y1, "bbox_x0": x0, "bbox_x1": x1,
                 "window_top": top, "window_left": left, "window_side": side}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def image_table(source: str | Path, roles: Roles) -> pd.DataFrame:
    """Images mode (the real paint export): every image is one candidate, its centred square window the item; its
    class is the index's `label` (raw names joined by "|"): exactly one curated name is curated, any other name
    of `roles` (or several) ambiguous, an image without one of them left out."""
    rows = []
    for record in read_index(source).sort_values("id").to_dict("records"):
        names = sorted(set(filter(None, str(record.get("label") or "").split("|"))))
        height, width = image_shape(source, str(record["id"]))
        side = min(height, width)
        single = len(names) == 1 and names[0] in roles.curated
        known = any(n in roles.curated or n in roles.ambiguous for n in names)
        rows.append(
            {"id": str(record["id"]), "source_image": str(record["id"]), "instance": 0, "class": "|".join(names),
             "area_px": height * width, "multi": len(names) > 1, "other_classes": "|".join(names[1:]),
             "truncated": False, "skipped": None if known else "no known label",
             "role": "curated" if single else AMBIGUOUS if known else None,
             "bbox_y0": 0, "bbox_y1": height - 1, "bbox_x0": 0, "bbox_x1": width - 1,
             "window_top": (height - side) // 2, "window_left": (width - side) // 2, "window_side": side}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


CANDIDATE_COLUMNS = [
    "id", "source_image", "instance", "class", "area_px", "multi", "other_classes", "truncated", "skipped", "role",
    "bbox_y0", "bbox_y1", "bbox_x0", "bbox_x1", "window_top", "window_left", "window_side",
]  # fmt: skip


def write_items(
    source: str | Path,
    out: str | Path,
    rule: CropRule,
    roles: Roles,
    seed: int,
    split: str,
    name: str,
    mode: str = "crops",
) -> pd.DataFrame:
    """Cut the selected items of `source` (`mode` crops: one per instance; images: one per image) into the common
    layout under `out` (images, masks, instances, an index with the item columns) and write `candidates.parquet`
    beside it; return the index."""
    out = Path(out)
    table = candidate_table(source, rule, roles) if mode == "crops" else image_table(source, roles)
    chosen = select(table, roles, seed, name)
    for source_image, rows in chosen.groupby("source_image", sort=True):
        sample = load_sample(source, str(source_image))
        for row in rows.itertuples(index=False):
            window = (row.window_top, row.window_left, row.window_side)
            planes = crop(sample, window, rule.item_size)
            for folder, array in zip(("images", "masks", "instances"), planes, strict=True):
                write_png(out / folder / f"{row.id}.png", array)
    index = chosen.assign(split=split, object="defect_crop", view=0, light="unknown", seed=seed)
    index["label"] = np.where(index["role"] == AMBIGUOUS, AMBIGUOUS, index["class"])
    table["kept"] = table["id"].isin(set(chosen["id"]))
    with atomic_output(out / "candidates.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_output(out / "index.parquet") as tmp:
        index.to_parquet(tmp, index=False)
    return index


def rule_of(settings: Mapping) -> CropRule:
    """The crop rule from a config block (keys of CropRule; missing keys keep their defaults)."""
    return CropRule(**{k: settings[k] for k in CropRule.__dataclass_fields__ if k in settings})


def roles_of(settings: Mapping, counts: Mapping[str, int] | None) -> Roles:
    """The roles from a config block (`curated`, `ambiguous` class lists) and one split's counts."""
    defaults = Roles()
    curated: Sequence[str] = settings.get("curated", defaults.curated)
    ambiguous: Sequence[str] = settings.get("ambiguous", defaults.ambiguous)
    return Roles(tuple(curated), tuple(ambiguous), dict(counts or {}))
