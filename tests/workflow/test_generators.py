"""The chess and noise generators in the workflow: every configured dataset is made by a `generate` job beside the
default plates run, a bad key stops the run before any job, and a real run of their targets writes datasets
the layout check accepts, and their gallery."""

from pathlib import Path

import yaml
from helpers import REPO, jobs, snakemake

from defectlab.data.layout import check_dataset, load_sample

DATASETS = {
    "chess-train": {"generator": "chess", "split": "train", "count": 4, "size": 64},
    "chess-test": {
        "generator": "chess",
        "split": "test",
        "count": 4,
        "twin_of": "chess-train",
        "anomaly": {"alpha": 200, "sigma": 4, "region": [0.2, 0.3], "mask": "changed"},
    },
    "noise-train": {"generator": "noise", "split": "train", "count": 4, "size": 64},
    "noise-test": {"generator": "noise", "split": "test", "count": 4, "twin_of": "noise-train", "anomaly": {}},
}
TARGETS = [*(f"results/datasets/{name}" for name in DATASETS), "results/figures/procedural-gallery.png"]


def configfiles(tmp_path: Path, datasets: dict) -> list[str]:
    """The default config (plates and their experiment) plus `datasets` (last: --configfile takes every
    argument after it)."""
    path = tmp_path / "chess-noise.yaml"
    path.write_text(yaml.safe_dump({"datasets": datasets}, sort_keys=False))
    return ["--configfile", str(REPO / "config/config.yaml"), str(path)]


def test_a_config_with_chess_and_noise_dry_runs_a_generate_job_per_dataset(tmp_path: Path):
    result = snakemake(tmp_path, "-n", "--cores", "1", *configfiles(tmp_path, DATASETS))
    assert result.returncode == 0, result.stderr
    counts = jobs(result.stdout)
    assert counts["generate"] == len(DATASETS)  # every configured dataset is made, used by an experiment or not
    assert counts["render"] > 0 and counts["meld"] == 1  # the plates run is unchanged beside them
    gallery = snakemake(tmp_path, TARGETS[-1], "-n", "--cores", "1", *configfiles(tmp_path, DATASETS))
    assert gallery.returncode == 0, gallery.stderr
    assert jobs(gallery.stdout) == {"generate": 2, "procedural_gallery": 1, "total": 3}  # the anomalous two


def test_a_size_not_divisible_by_16_stops_the_run_before_any_job(tmp_path: Path):
    bad = {**DATASETS, "chess-train": {**DATASETS["chess-train"], "size": 72}}
    result = snakemake(tmp_path, "-n", "--cores", "1", *configfiles(tmp_path, bad))
    assert result.returncode != 0 and "Job stats" not in result.stdout
    said = result.stdout + result.stderr
    # the twin inherits the size: both are named
    assert "datasets.chess-train: size: 72 must be a positive multiple of 16" in said
    assert "datasets.chess-test: size: 72" in said


def test_a_real_run_of_the_generated_targets_writes_checked_datasets_and_the_gallery(tmp_path: Path):
    result = snakemake(tmp_path, *TARGETS, "--cores", "2", *configfiles(tmp_path, DATASETS), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "render" not in jobs(result.stdout)
    for name, spec in DATASETS.items():
        index = check_dataset(tmp_path / "results/datasets" / name)
        assert len(index) == spec["count"] and set(index["split"]) == {spec["split"]}
        assert bool((index["label"] == "normal").all()) is ("anomaly" not in spec)
        sample = load_sample(tmp_path / "results/datasets" / name, index["id"][0])
        assert sample.image.shape == (64, 64, 3) and (bool((sample.mask > 0).any()) is ("anomaly" in spec))
    assert (tmp_path / "results/figures/procedural-gallery.png").stat().st_size > 0
    assert not list((tmp_path / "results/datasets").glob(".*"))  # no temporary folder left
