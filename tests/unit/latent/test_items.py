"""Defect crops: windows around instances, their flags and roles, the seeded selection, the items on disk."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset

from defectlab.classes import class_index
from defectlab.data.layout import Sample, check_dataset, load_sample
from defectlab.latent.items import CropRule, Roles, candidates, select, write_items

RULE = CropRule(window_px=10, margin=0.25, min_area_px=4, min_other_px=2, item_size=16)


def plate() -> Sample:
    """40 x 40: a scratch at the top-right border, a dent and a bump in each other's windows, a one-pixel bump."""
    mask = np.zeros((40, 40), np.uint8)
    instances = np.zeros((40, 40), np.uint16)
    for instance, cls, rows, cols in (
        (1, "scratch", slice(1, 3), slice(30, 39)),
        (2, "dent", slice(20, 24), slice(20, 24)),
        (3, "bump", slice(24, 27), slice(24, 27)),
        (4, "bump", slice(10, 11), slice(5, 6)),
    ):
        mask[rows, cols], instances[rows, cols] = class_index(cls), instance
    image = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    return Sample("p-0", image, mask, instances)


def test_windows_flags_and_skips_are_the_hand_computed_ones():
    found = {c.instance: c for c in candidates(plate(), RULE)}
    assert [c.id for c in found.values()] == ["p-0-i001", "p-0-i002", "p-0-i003", "p-0-i004"]
    # scratch 2 x 9: side ceil(1.5 * 9) = 14, centred on (1, 34), moved inside the image: top 0, left 40 - 14
    assert found[1].window == (0, 26, 14) and not found[1].multi and found[1].cls == "scratch"
    # dent 4 x 4: the 10-px window at (16, 16) holds 4 pixels of the bump, and the bump's window 16 of the dent
    assert found[2].window == (16, 16, 10) and found[2].multi and found[2].other_classes == ("bump",)
    assert found[3].window == (20, 20, 10) and found[3].multi and found[3].other_classes == ("dent",)
    assert found[4].skipped == "small" and found[4].area_px == 1
    assert not any(c.truncated for c in found.values())
    roles = Roles()
    assert [roles.role(found[i]) for i in (1, 2, 3)] == ["curated", "ambiguous", "ambiguous"]


def test_an_instance_longer_than_the_image_is_cut_to_the_shorter_side_and_marked_truncated():
    mask = np.zeros((20, 40), np.uint8)
    instances = np.zeros((20, 40), np.uint16)
    mask[10, 5:35], instances[10, 5:35] = class_index("scratch"), 1
    (found,) = candidates(Sample("s", np.zeros((20, 40, 3), np.uint8), mask, instances), RULE)
    assert found.window == (0, 9, 20) and found.truncated  # centred on column (5 + 34) // 2


def table(ids: list[str], role: str, cls: str) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "role": role, "class": cls, "skipped": None})


def test_the_selection_is_seeded_independent_of_input_order_and_refuses_a_shortfall():
    dents = table([f"d{k:02d}" for k in range(20)], "curated", "dent")
    pool = pd.concat([dents, table(["w1", "w2"], "ambiguous", "water_stain")])
    roles = Roles(counts={"dent": 5, "ambiguous": 2})
    first = select(pool, roles, seed=3, dataset="train")["id"].tolist()
    assert first == select(pool.sample(frac=1, random_state=1), roles, seed=3, dataset="train")["id"].tolist()
    assert first != select(pool, roles, seed=4, dataset="train")["id"].tolist()
    assert len(first) == 7 and {"w1", "w2"} <= set(first)
    with pytest.raises(ValueError, match=r"train: too few candidates: \[dent 20 of 30\]; render more plates"):
        select(pool, Roles(counts={"dent": 30}), seed=3, dataset="train")


def test_items_hold_their_instance_carry_its_class_and_rerun_to_the_same_bytes(tmp_path: Path):
    sample = plate()
    source = write_dataset(tmp_path / "plates", {"p-0": (sample.image, sample.mask, sample.instances)}, "train")
    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        index = write_items(source, out, RULE, Roles(counts={"scratch": 1, "ambiguous": 2}), 5, "train", "items")
        runs.append(out)
    check_dataset(runs[0])
    assert index["id"].tolist() == ["p-0-i001", "p-0-i002", "p-0-i003"]
    assert index["label"].tolist() == ["scratch", "ambiguous", "ambiguous"]
    for row in index.to_dict("records"):
        item = load_sample(runs[0], row["id"])
        assert item.image.shape == (16, 16, 3)
        assert (item.instances == row["instance"]).any()
        assert set(np.unique(item.mask[item.instances == row["instance"]])) == {class_index(row["class"])}
    for folder in ("images", "masks", "instances"):
        for path in sorted((runs[0] / folder).iterdir()):
            assert path.read_bytes() == (runs[1] / folder / path.name).read_bytes()
    candidates_table = pd.read_parquet(runs[0] / "candidates.parquet").set_index("id")
    assert candidates_table["kept"].tolist() == [True, True, True, False]
    assert candidates_table.loc["p-0-i004", "skipped"] == "small"


def test_images_mode_makes_one_item_per_image_labelled_from_the_index(tmp_path: Path):
    rng = np.random.default_rng(1)
    blank = np.zeros((20, 30), np.uint8)
    images = {
        f"i-{k}": (rng.integers(0, 255, (20, 30, 3), dtype=np.uint8), blank, blank.astype(np.uint16)) for k in range(3)
    }
    source = write_dataset(tmp_path / "paint", images, "train")
    index = pd.read_parquet(source / "index.parquet").assign(label=["dirt", "scratch|water marks", ""])
    index.to_parquet(source / "index.parquet")
    roles = Roles(curated=("dirt", "runs", "scratch"), ambiguous=("water marks",))
    items = write_items(source, tmp_path / "items", RULE, roles, 5, "train", "paint", mode="images")
    assert items["id"].tolist() == ["i-0", "i-1"] and items["label"].tolist() == ["dirt", "ambiguous"]
    item = load_sample(tmp_path / "items", "i-0")
    assert item.image.shape == (16, 16, 3)  # the centred 20 x 20 square, resized
    skipped = pd.read_parquet(tmp_path / "items" / "candidates.parquet").set_index("id").loc["i-2", "skipped"]
    assert skipped == "no known label"
