"""The clutch segmentation study in the workflow: tiny rendered clutch datasets, each network trained (U-Net on a
two-point grid), a fine-tuning run from the U-Net's selected weights, maps, metrics and Table 1; the full study
config plans with both profiles, its training jobs asking for a GPU."""

import os
import re
from pathlib import Path

import pandas as pd
import yaml
from helpers import REPO, jobs, snakemake

from defectlab.maps import read_maps
from defectlab.models.segmentation.train import stored_settings
from defectlab.training import read_record

# large dents, so that 64 x 48 views of the whole part show defect pixels to fit thresholds on
TINY = {
    "views": {"examined": 4, "extra": 0},
    "camera": {"resolution": [64, 48]},
    "defects": {"count": [7, 7], "classes": ["dent"], "dent": {"diameter": [0.006, 0.008], "depth": [0.0005, 0.001]}},
}
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
        "epochs": 1,
        "scale": 1.0,
        "tile": [32, 32],
        "pad_multiple": 32,
        "geometry": {"synth": {"scale": 0.5}},  # the synthetic views read halved: its own cache, its own tiling
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


def test_a_tiny_clutch_segmentation_study_runs_end_to_end(tmp_path: Path):
    config = tmp_path / "segmentation.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    result = snakemake(tmp_path, "--cores", "2", "--configfile", str(config), timeout=1500)
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout + result.stderr)
    assert counts["train_segmentation"] == 2 + 1 + 1 + 1 and counts["segmentation_cache"] == 2
    caches = sorted(p.relative_to(tmp_path / "results/cache").as_posix() for p in tmp_path.glob("results/cache/*/*"))
    assert caches == ["real/segmentation-x1.h5", "synth/segmentation-x0.5.h5"]
    assert stored_settings(tmp_path / "results/models/unet-synth/model.pt")["scale"] == 0.5  # its val's geometry
    assert read_maps([tmp_path / "results/maps/unet-synth/synth/maps.h5"]).maps.shape == (4, 48, 64)
    grid = pd.read_parquet(tmp_path / "results/models/unet-synth/grid.parquet")
    assert grid[["lr", "weight_decay"]].values.tolist() == [[0.01, 0.0001], [0.001, 0.0001]]
    assert grid["selected"].sum() == 1
    chosen = grid.loc[grid["selected"], "weight_decay"].item()
    tuned = tmp_path / "results/models/unet-synth-ft/model.pt"
    assert (stored_settings(tuned)["lr"], stored_settings(tuned)["weight_decay"]) == (0.0001, chosen)
    assert read_record(tuned)["steps_done"] == 2  # 4 views, batch 2: 2 steps an epoch, 1 epoch
    metrics = pd.read_parquet(tmp_path / "results/tables/metrics.parquet")
    f1 = metrics[metrics["metric"] == "pixel_f1"].set_index("experiment")["value"]
    assert sorted(f1.index) == sorted(CONFIG["experiments"]) and f1.between(0, 1).all()
    table = (tmp_path / "results/tables/clutch-table1.md").read_text()
    assert "| 13 | SynthClutch (FT) | – (69.6) |" in table  # no FCN fine-tuning configured
    assert "networks start from random initialisation" in table
    assert re.search(r"\| 15 \| SynthClutch \(EX\) \| [0-9.]+ \(58\.1\)", table)  # the exposure-stacked FCN


def test_the_full_study_plans_every_row_with_both_profiles_and_trains_on_gpus(tmp_path: Path):
    configs = [str(REPO / "config" / name) for name in ("clutch.yaml", "clutch-segmentation.yaml")]
    planar = str(REPO / "config/clutch-segmentation-planar.yaml")
    credentials = {**os.environ, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "key"}  # Severstal's, never used
    # per network: 6 clutch rows (4 trained on a grid of 4, 2 fine-tuned), then 4 planar rows and their 4 FT rows
    plans = (("local", [], 3 * (4 * 4 + 2), 18), ("slurm", [planar], 3 * (4 * 4 + 2 + 4 * 4 + 4), 18 + 24))
    for profile, extra, trained, selected in plans:
        profile = str(REPO / "profiles" / profile)
        result = snakemake(tmp_path, "-n", "--profile", profile, "--configfile", *configs, *extra, env=credentials)
        assert result.returncode == 0, result.stderr
        counts = jobs(result.stdout)
        assert counts["train_segmentation"] == trained and counts["select_segmentation"] == selected
        assert counts["segmentation_table"] == 1
    full_size = re.findall(r"results/cache/([a-z0-9]+-(?:train|val))/segmentation-x1\.h5", result.stdout)
    planar_sets = [f"{name}-{split}" for name in ("dagm", "ksdd2", "mtd", "severstal") for split in ("train", "val")]
    assert sorted(set(full_size)) == planar_sets
    training = re.search(r"rule train_segmentation:.*?resources: ([^\n]*)", result.stdout, flags=re.S)
    assert "gpu=1" in training.group(1)


def test_bad_segmentation_settings_stop_the_run_before_any_job_naming_the_key(tmp_path: Path):
    experiments = {
        **CONFIG["experiments"],
        "deeplabv3-synth": {**CONFIG["experiments"]["deeplabv3-synth"], "batch_size": 1},
        "unet-synth-ft": {**CONFIG["experiments"]["unet-synth-ft"], "exposure_stack": True},
        "unet-synth-ft2": {**CONFIG["experiments"]["unet-synth-ft"], "weights": str(REPO / "README.md")},
        "fcn-synth": {**CONFIG["experiments"]["fcn-synth"], "augment": {"blur": [2]}},
    }
    segmentation = {**CONFIG["segmentation"], "geometry": {"synth": {"scale": 0.5}, "nowhere": {"scale": 1.0}}}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "segmentation": segmentation, "experiments": experiments}))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(config))
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "experiments.deeplabv3-synth.batch_size: deeplabv3 needs batch_size >= 2" in said
    assert "experiments.unet-synth-ft.exposure_stack: 'unet-synth-ft' fine-tunes 'unet-synth'" in said
    assert "experiments.unet-synth-ft2.weights: 'unet-synth-ft2' fine-tunes 'unet-synth': it cannot also" in said
    assert said.count("segmentation.geometry: names no dataset of the config: nowhere") == 1
    assert "segmentation.augment.blur must be a list of odd kernel sizes" in said


def test_the_planar_config_without_kaggle_credentials_stops_before_any_job_saying_what_to_set(tmp_path: Path):
    names = ("clutch.yaml", "clutch-segmentation.yaml", "clutch-segmentation-planar.yaml")
    bare = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    result = snakemake(tmp_path, "-n", "--configfile", *(str(REPO / "config" / name) for name in names), env=bare)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "set KAGGLE_USERNAME and KAGGLE_KEY, then place resources/downloads/severstal/" in said


def test_the_real_clutch_config_stops_before_any_job_saying_where_the_data_goes(tmp_path: Path):
    names = ("clutch.yaml", "clutch-segmentation.yaml", "clutch-segmentation-real.yaml")
    result = snakemake(tmp_path, "-n", "--configfile", *(str(REPO / "config" / name) for name in names))
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "config needs real data that is not here yet" in said
    assert "resources/downloads/clutch/realclutch.zip" in said
