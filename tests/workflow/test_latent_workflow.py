"""The latent-space study in the workflow: tiny rendered plates cut into defect crops, EfficientNet-Lite0 embeddings
before and after one epoch of fine-tuning, the three reductions, the screen, the evaluation and the report; the
shipped configs plan with both profiles, the fine-tuning asking for a GPU; bad latent keys refused by name."""

import re
from pathlib import Path

import pandas as pd
import yaml
from helpers import REPO, jobs, snakemake

from defectlab.data.layout import check_dataset

PLATES = {"defects": {"min": 3, "max": 4}, "water_stains": {"fraction": 0.3}, "camera": {"frame": 0.135}}
CONFIG = {
    "seed": 3,
    "render": {"resolution": 128, "samples": 4},
    "datasets": {
        "t-train": {"split": "train", "count": 6, **PLATES},
        "t-val": {"split": "val", "count": 4, **PLATES},
        "t-test": {"split": "test", "count": 3, **PLATES},
    },
    "latent": {
        "items": {
            "crop": {"window_px": 24, "item_size": 32, "min_area_px": 4, "min_other_px": 4},
            "train": {"dataset": "t-train"},
            "val": {"dataset": "t-val"},
            "test": {"dataset": "t-test"},
        },
        "input_size": 32,
        "anomalies": {"isolation_forest": {"n_outliers": 2}},
        "finetune": {"epochs": 1, "input_size": 32},
    },
}


def test_a_tiny_latent_study_runs_end_to_end(tmp_path: Path):
    config = tmp_path / "latent.yaml"
    config.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    result = snakemake(tmp_path, "--cores", "2", "--configfile", str(config), timeout=1500)
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout + result.stderr)
    assert counts["latent_reduce"] == 6 and counts["train_classifier"] == 1 and counts["latent_items"] == 3
    latent = tmp_path / "results/latent"
    for split in ("train", "val", "test"):
        check_dataset(latent / "items" / split)
    screen = pd.read_parquet(latent / "screen/items.parquet")
    assert not screen.loc[screen["fine_tune"], "role"].eq("ambiguous").any()
    assert screen["isolation_forest_outlier"].sum() == 2
    silhouette = pd.read_parquet(latent / "screen/silhouette.parquet")
    assert silhouette["cell"].nunique() == 18
    tables, figures = tmp_path / "results/tables", tmp_path / "results/figures"
    table1 = (tables / "latent-table1.md").read_text()
    assert "squeuclidean" in table1 and "0.205" in table1
    assert "lite0" in (tables / "latent-table2.md").read_text()
    metrics = pd.read_parquet(latent / "evaluation/metrics.parquet").set_index("metric")["value"]
    assert -1 <= metrics["ari_all"] <= 1 and 0 <= metrics["review_share_test"] <= 1
    assert 0 <= metrics["cluster_accuracy_pretrained"] <= 1 and 0 <= metrics["cluster_accuracy"] <= 1
    for figure in ("table3-train-pretrained", "table4-val-finetuned", "review-sheet", "items"):
        assert (figures / f"latent-{figure}.png").stat().st_size > 10_000


def test_bad_latent_keys_stop_the_run_before_any_job_naming_them(tmp_path: Path):
    latent = {
        **CONFIG["latent"],
        "items": {**CONFIG["latent"]["items"], "val": {"dataset": "nowhere", "counts": {"dirt": 3}}},
        "compare": ["lite0", "resnet99"],
    }
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "latent": latent}))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(config))
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "latent.items.val.dataset: names 'nowhere', which is not under datasets" in said
    assert "latent.items.val.counts: counts dirt: neither a curated class (bump, dent, scratch) nor ambiguous" in said
    assert "latent.compare: resnet99: not under latent.backbones (lite0)" in said


def test_the_full_study_fine_tunes_every_backbone_on_a_gpu_and_reduces_once_per_state_and_method(tmp_path: Path):
    # both profiles dry-run every shipped config in test_dry_runs; here what the plan holds
    profile = str(REPO / "profiles/slurm")
    result = snakemake(tmp_path, "-n", "--profile", profile, "--configfile", str(REPO / "config/latent-space.yaml"))
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout)
    assert counts["train_classifier"] == 5 and counts["latent_reduce"] == 6 and counts["latent_report"] == 1
    assert counts["latent_features"] == 4  # the analysed backbone: train and val before fine-tuning, val and test after
    training = re.search(r"rule train_classifier:.*?resources: ([^\n]*)", result.stdout, flags=re.S)
    assert "gpu=1" in training.group(1)


def test_the_paint_config_says_where_the_export_goes_and_plans_the_papers_backbones_once_it_is_there(tmp_path: Path):
    paint = str(REPO / "config/latent-space-paint.yaml")
    result = snakemake(tmp_path, "-n", "--configfile", paint)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "resources/downloads/paint_defects/final-year-car-paint-defect.zip" in said
    export = tmp_path / "resources/downloads/paint_defects/final-year-car-paint-defect.zip"
    export.parent.mkdir(parents=True)
    export.touch()  # a dry-run reads no archive
    result = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles/slurm"), "--configfile", paint)
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout)
    assert counts["weights"] == 4 and counts["train_classifier"] == 4 and counts["select_dataset"] == 3
    assert "resnet50-0676ba61.pth" in result.stdout  # IMAGENET1K_V1, the legacy pretrained=True weights
