"""The clutch generator in the workflow: one render job per object, the objects assembled into a checked dataset
with object-wise splits and the gallery; a bad range stops the run before any job, naming its key."""

from pathlib import Path

import pandas as pd
import yaml
from helpers import REPO, jobs, snakemake

from defectlab.data.layout import check_dataset, load_sample

TINY = {"views": {"examined": 2, "extra": 1}, "camera": {"resolution": [48, 40]}}
DATASETS = {
    "clutch-train": {"generator": "clutch", "split": "train", "count": 2, **TINY},
    "clutch-test": {"generator": "clutch", "split": "test", "count": 1, "defective": 1, **TINY},
}


def configfile(tmp_path: Path, datasets: dict) -> list[str]:
    path = tmp_path / "clutch.yaml"
    path.write_text(yaml.safe_dump({"seed": 3, "render": {"samples": 2}, "datasets": datasets}, sort_keys=False))
    return ["--configfile", str(path)]


def test_a_tiny_clutch_dataset_renders_end_to_end_with_object_wise_splits_and_the_gallery(tmp_path: Path):
    result = snakemake(tmp_path, "--cores", "2", *configfile(tmp_path, DATASETS), timeout=900)
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert jobs(said)["render_clutch"] == 3 and "metrics_table" not in said  # no experiment
    objects = {}
    for name, spec in DATASETS.items():
        root = tmp_path / "results/datasets" / name
        index = check_dataset(root)
        assert len(index) == spec["count"] * 3 and set(index["split"]) == {spec["split"]}
        assert index.groupby("object")["examined"].sum().tolist() == [2] * spec["count"]
        objects[name] = set(index["object"])
        sample = load_sample(root, index["id"].iloc[0])
        assert sample.image.shape == (40, 48, 3)
        assert (sample.image[..., 0] == sample.image[..., 2]).all()  # grayscale
    assert not objects["clutch-train"] & objects["clutch-test"]
    train = pd.read_parquet(tmp_path / "results/datasets/clutch-train/index.parquet")
    assert train.groupby("object")["defective"].first().tolist() == [True, False]
    assert (tmp_path / "results/figures/clutch-gallery.png").stat().st_size > 0
    assert len(list((tmp_path / "results/benchmarks/render_clutch").rglob("*.tsv"))) == 3


def test_a_reversed_defect_range_stops_the_run_before_any_job_naming_the_key(tmp_path: Path):
    bad = {**DATASETS, "clutch-test": {**DATASETS["clutch-test"], "defects": {"dent": {"depth": [0.001, 0.0001]}}}}
    result = snakemake(tmp_path, "-n", "--cores", "1", *configfile(tmp_path, bad))
    assert result.returncode != 0 and "Job stats" not in result.stdout
    assert "datasets.clutch-test: defects.dent.depth: range [0.001, 0.0001]" in result.stdout + result.stderr


def test_the_full_clutch_config_plans_a_render_job_per_object_with_both_profiles(tmp_path: Path):
    for profile in ("local", "slurm"):
        config = ["--configfile", str(REPO / "config/clutch.yaml")]
        result = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / profile), *config)
        assert result.returncode == 0, result.stderr
        assert jobs(result.stdout)["render_clutch"] == 28 + 4 + 8 + 2 + 4
        assert jobs(result.stdout)["clutch_gallery"] == 1
