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
