"""The clutch segmentation study in the workflow: tiny rendered clutch datasets, each network trained (U-Net on a
two-point grid), a fine-tuning run from the U-Net's selected weights, maps, metrics and Table 1; the full study
config plans with both profiles, its training jobs asking for a GPU."""

import re
from pathlib import Path

import pandas as pd
import yaml
from helpers import REPO, snakemake

from defectlab.training import checkpoint as files

TINY = {"views": {"examined": 3, "extra": 0}, "camera": {"resolution": [64, 48]}}
CONFIG = {
    "seed": 5,
    "render": {"samples": 2},
    "datasets": {
        "synth": {"generator": "clutch", "split": "train", "count": 1, "defective": 1, **TINY},
        "real": {"generator": "clutch", "split": "test", "domain": "real", "count": 1, "defective": 1, **TINY},
    },
    "segmentation": {
        "lr": 0.001,
        "weight_decay": 0.0001,
        "batch_size": 2,
        "crop": 32,
        "epochs": 2,
        "scale": 1.0,
        "tile": [32, 32],
        "pad_multiple": 32,
    },
    "experiments": {
        "unet-synth": {"model": "unet", "train": ["synth"], "val": "synth", "test": "real", "lr": [0.01, 0.001]},
        "unet-synth-ft": {
            "model": "unet",
            "train": ["real"],
            "val": "real",
            "test": "real",
            "pretrained": "unet-synth",
        },
        "fcn-synth": {"model": "fcn", "train": ["synth"], "val": "synth", "test": "real", "exposure_stack": True},
        "deeplabv3-synth": {"model": "deeplabv3", "train": ["synth"], "val": "synth", "test": "real"},
    },
}


def jobs(said: str) -> dict[str, int]:
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", said, flags=re.M)}


def test_a_tiny_clutch_segmentation_study_runs_end_to_end(tmp_path: Path):
    config = tmp_path / "segmentation.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    result = snakemake(tmp_path, "--cores", "2", "--configfile", str(config), timeout=1500)
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout + result.stderr)
    assert counts["train_segmentation"] == 2 + 1 + 1 + 1 and counts["segmentation_cache"] == 2
    grid = pd.read_parquet(tmp_path / "results/models/unet-synth/grid.parquet")
    assert grid[["lr", "weight_decay"]].values.tolist() == [[0.01, 0.0001], [0.001, 0.0001]]
    assert grid["selected"].sum() == 1
    chosen = grid.loc[grid["selected"], "weight_decay"].item()
    tuned = files.load(tmp_path / "results/models/unet-synth-ft/model.pt")
    settings = files.load(tmp_path / "results/models/unet-synth-ft/model.pt")["settings"]
    assert '"lr": 0.0001' in settings and f'"weight_decay": {chosen}' in settings
    assert tuned["record"]["steps_done"] == 2 * 2  # 3 views, batch 2: 2 steps an epoch
    metrics = pd.read_parquet(tmp_path / "results/tables/metrics.parquet")
    f1 = metrics[metrics["metric"] == "pixel_f1"].set_index("experiment")["value"]
    assert sorted(f1.index) == sorted(CONFIG["experiments"]) and f1.between(0, 1).all()
    table = (tmp_path / "results/tables/clutch-table1.md").read_text()
    assert "| 13 | SynthClutch (FT) | – (69.6) |" in table  # no FCN fine-tuning configured
    assert "random" in table and re.search(r"\| 12 \| SynthClutch \| [0-9.]+ \(59\.3\)", table)


def test_the_full_study_plans_every_row_with_both_profiles_and_trains_on_gpus(tmp_path: Path):
    configs = [str(REPO / "config" / name) for name in ("clutch.yaml", "clutch-segmentation.yaml")]
    for profile in ("local", "slurm"):
        result = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / profile), "--configfile", *configs)
        assert result.returncode == 0, result.stderr
        counts = jobs(result.stdout)
        assert counts["train_segmentation"] == 3 * (4 * 4 + 2) and counts["select_segmentation"] == 18
        assert counts["segmentation_table"] == 1
    training = re.search(r"rule train_segmentation:.*?resources: ([^\n]*)", result.stdout, flags=re.S)
    assert "gpu=1" in training.group(1)
