"""Kitchen boards through the workflow: generated (no Blender), PatchCore and a baseline evaluated per test patch
inside each board's borders and off its stickers (the dataset's exclusions.json), the confusion matrix counting
exactly the patches the exclusions allow."""

import copy
import re
from pathlib import Path

import h5py
import pandas as pd
import yaml
from helpers import REPO, snakemake

from defectlab.data.exclusions import patch_positions, read_exclusions

SMALL = {
    "width": [320, 320],
    "height": [384, 384],
    "stickers": {"width": [30, 60], "height": [30, 80]},
    "frame": {"ramp": [8, 16]},
}
DATASETS = {
    # the thesis's training grid: a stride above the patch size, no flush edges (tiles of 64 every 96 px)
    "kb-train": {
        "generator": "boards",
        "split": "train",
        "count": 3,
        "patches": {"stride": 96, "edges": "none"},
        **copy.deepcopy(SMALL),
    },
    "kb-val": {
        "generator": "boards",
        "split": "val",
        "count": 2,
        "anomalies": {"min": 2, "max": 3},
        **copy.deepcopy(SMALL),
    },
    "kb-test": {
        "generator": "boards",
        "split": "test",
        "count": 2,
        "anomalies": {"min": 2, "max": 4},
        **copy.deepcopy(SMALL),
    },
}
GRID = {"size": 64, "stride": 32}
PATCH_UNIT = {"unit": "patch", "test": "kb-test"}
EXPERIMENTS = {
    "kb-patchcore": {
        **PATCH_UNIT,
        "train": ["kb-train"],
        "val": "kb-val",
        "patch": dict(GRID),
        "threshold": {"rule": "youden"},
    },
    "kb-deviation": {
        **PATCH_UNIT,
        "model": "deviation",
        "train": ["kb-train"],
        "patch": dict(GRID),
        "threshold": {"rule": "f1", "fit_on": "test"},
    },
}


def test_boards_are_evaluated_per_patch_inside_their_exclusions(tmp_path: Path):
    extra = tmp_path / "boards.yaml"
    extra.write_text(yaml.safe_dump({"datasets": DATASETS, "experiments": EXPERIMENTS}))
    targets = [f"results/metrics/{name}.parquet" for name in EXPERIMENTS]
    args = ["--profile", str(REPO / "profiles/local"), "--cores", "2"]
    result = snakemake(tmp_path, *targets, *args, "--configfile", str(REPO / "config/tiny.yaml"), str(extra))
    assert result.returncode == 0, result.stderr[-5000:]
    ran = set(re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, flags=re.M))
    assert {"generate", "coreset_shard", "patchcore_maps", "baseline_maps", "evaluate"} <= ran and "render" not in ran
    test = tmp_path / "results/datasets/kb-test"
    index = pd.read_parquet(test / "index.parquet")
    exclusions = read_exclusions(test / "exclusions.json", {f"{i}.png": (320, 384) for i in index["id"]})
    expected = sum(len(patch_positions(e, 64, 32)) for e in exclusions.values())
    for target in targets:
        rows = pd.read_parquet(tmp_path / target).set_index("metric")["value"]
        counts = rows[["patch_tn", "patch_fp", "patch_fn", "patch_tp"]]
        assert counts.sum() == expected and counts["patch_tp"] + counts["patch_fn"] > 0
        assert 0 <= rows["patch_auroc"] <= 1
    assert set(pd.read_parquet(tmp_path / targets[0])["threshold_rule"]) == {"youden"}
    with h5py.File(tmp_path / "results/patches/kb-train/shard-0.h5") as h5:
        corners = {(int(x), int(y)) for x, y in zip(h5["source"]["x"], h5["source"]["y"], strict=True)}
        assert h5.attrs["stride"] == 96 and h5.attrs["edges"] == "none"
        assert corners <= {(x, y) for x in (0, 96, 192) for y in (0, 96, 192, 288)}  # 320 x 384, no flush tiles


def tiny_study() -> dict:
    """The shipped kitchen-board study, cut down: two categories of tiny boards, three of its experiments."""
    study = yaml.safe_load((REPO / "config/kitchen-boards.yaml").read_text())
    keep = (
        "kb-white-train",
        "kb-white-test",
        "kb-edges-train",
        "kb-edges-test",
        "kb-edges-train-dn",
        "kb-edges-test-dn",
    )
    study["datasets"] = {name: study["datasets"][name] for name in keep}
    for name, counts in (("kb-white-train", 3), ("kb-white-test", 2), ("kb-edges-train", 2), ("kb-edges-test", 2)):
        study["datasets"][name].update(copy.deepcopy(SMALL), count=counts)
    study["datasets"]["kb-white-test"]["anomalies"] = {"min": 2, "max": 3}
    study["datasets"]["kb-edges-test"]["anomalies"] = {"min": 2, "max": 3}
    study["datasets"]["kb-white-train"]["patches"]["stride"] = 128  # the thesis's training stride above the patch
    study["datasets"]["kb-edges-train"]["patches"]["stride"] = 112
    study["patches"].update(size=64, stride=32)
    kept = ("pc-edges-r50-blur", "pc-white-r18", "pc-white-r18-sequential", "cp-white-r18", "cp-edges-r18-blur")
    study["experiments"] = {name: {**study["experiments"][name], "patch": dict(GRID)} for name in kept}
    study["experiments"]["pc-white-r18-sequential"]["coreset"] = {"method": "sequential", "size": 40, "meld_size": 40}
    for name in ("cp-white-r18", "cp-edges-r18-blur"):  # CutPaste: a few steps of a few pairs of 64-pixel patches
        study["experiments"][name]["steps"] = 4
    study["cutpaste"].update(
        batch_pairs=4,
        train_stride=32,
        early_stopping={"every": 2, "patience": 2},
        density={"max_samples": 100},
        augment={"arc_radius": [12, 20], "scar_length": [10, 20]},
        map_sigma=8,
    )
    study["report"]["kitchen_rows"] = {"pc-edges-r50-blur": 1, "pc-white-r18": 6, "cp-white-r18": 4}
    return study


def test_the_kitchen_study_runs_patchcore_and_cutpaste_as_the_thesis_configures_them(tmp_path: Path):
    config = tmp_path / "kitchen-tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_study()))
    args = ["--profile", str(REPO / "profiles/local"), "--cores", "2"]
    result = snakemake(tmp_path, *args, "--configfile", str(config))
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    # the coreset: 1 % of the training feature rows (patches x 6 x 6 cells of ind_knn_ad's pooling at 64 pixels)
    with h5py.File(results / "patches/kb-white-train/shard-0.h5") as h5:
        rows = len(h5["patches"]) * 6 * 6
    with h5py.File(results / "coresets/pc-white-r18.h5") as h5:
        assert len(h5["features"]) == int(0.01 * rows) and h5["features"].shape[1] == 128 + 256
        assert str(h5.attrs["normalisation"]).startswith("train: mean")
    # each test patch scored on its own (the reweighted score), exactly the patches the exclusions allow
    test = results / "datasets/kb-white-test"
    ids = sorted(pd.read_parquet(test / "index.parquet")["id"])
    exclusions = read_exclusions(test / "exclusions.json", {f"{i}.png": (320, 384) for i in ids})
    expected = {(i, x, y) for i in ids for x, y in patch_positions(exclusions[f"{i}.png"], 64, 32)}
    with h5py.File(results / "maps/pc-white-r18/kb-white-test/shard-0.h5") as h5:
        group = h5["patch_scores"]
        scored = {(i.decode(), int(x), int(y)) for i, x, y in zip(group["image"], group["x"], group["y"], strict=True)}
        assert scored == expected and len(h5["scores"]) == len(ids)
    rows = pd.read_parquet(results / "metrics/pc-white-r18.parquet").set_index("metric")
    assert rows.loc[["patch_tn", "patch_fp", "patch_fn", "patch_tp"], "value"].sum() == len(expected)
    assert set(rows.loc["patch_kind_recall", "class"]) <= {
        "black_hole",
        "bump",
        "splash",
        "white_scar",
        "black_scar",
        "irregular",
        "dirt",
    }
    table61 = (results / "tables/kitchen-table61.md").read_text()
    assert "PatchCore R18, white (Exp. 6)" in table61 and "0.7662" in table61 and "0.7451" in table61
    parquet = pd.read_parquet(results / "tables/kitchen-table61.parquet")
    assert parquet.set_index("experiment").loc["pc-edges-r50-blur", "blur"]
    assert (results / "tables/kitchen-table52.md").read_text().count("| white | ") == 4  # strides 112 .. 512
    assert (results / "figures/kitchen-roc.png").stat().st_size > 10_000
    stats = (results / "patches/kb-edges-train-dn/statistics.json").read_text()
    assert '"stride": 32' in stats and '"mean"' in stats
    # CutPaste: the density's score of every test patch the exclusions allow, the image score their maximum
    with h5py.File(results / "maps/cp-white-r18/kb-white-test/shard-0.h5") as h5:
        group = h5["patch_scores"]
        scored = {(i.decode(), int(x), int(y)) for i, x, y in zip(group["image"], group["x"], group["y"], strict=True)}
        assert scored == expected and h5.attrs["model"] == "cutpaste"
        best = pd.DataFrame({"image": [i.decode() for i in group["image"]], "score": group["score"][:]})
        assert list(h5["scores"]) == list(best.groupby("image")["score"].max().loc[ids])
    with h5py.File(results / "maps/cp-white-r18/kb-white-test/shard-0.embeddings.h5") as h5:
        assert h5["embedding"].shape == (len(expected), 128)
    table62 = (results / "tables/kitchen-table62.md").read_text()
    assert "CutPaste R18, white (Exp. 4)" in table62 and "0.8090" in table62  # the thesis's Exp. 4 ROC beside ours
    assert "PatchCore" not in table62 and "CutPaste" not in table61
    assert "CutPaste" in (results / "tables/kitchen-table6364.md").read_text()
    for figure in ("kitchen-tsne", "cutpaste-gallery", "cutpaste-training"):
        assert (results / f"figures/{figure}.png").stat().st_size > 10_000
