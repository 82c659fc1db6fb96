"""Every shipped config dry-runs with both profiles, and bad config stops before any job."""

import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO, snakemake

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
PROFILES = ["local", "slurm"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_dry_runs(config: Path, profile: str, tmp_path: Path):
    result = snakemake(tmp_path, "-n", "--profile", str(REPO / "profiles" / profile), "--configfile", str(config))
    assert result.returncode == 0, result.stderr
    assert "render" in result.stdout and "meld" in result.stdout and "metrics_table" in result.stdout


def test_local_profile_gives_the_one_gpu_to_gpu_rules_only(tmp_path: Path):
    """Workstation: GPU rules hold the profile's single `gpu` resource, so they never run two at a time."""
    args = ("-n", "--profile", str(REPO / "profiles/local"), "--configfile", str(REPO / "config/tiny.yaml"))
    result = snakemake(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    takes_gpu = {
        rule: "gpu=1" in block
        for rule, block in re.findall(r"^rule (\w+):\n(.*?)(?=^\n|\Z)", result.stdout, flags=re.M | re.S)
    }
    assert takes_gpu["coreset_shard"] and takes_gpu["anomaly_maps"]
    assert not any(takes_gpu[rule] for rule in ("render", "patches", "meld", "evaluate"))


def _refused(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(REPO / "config/config.yaml"), str(path))
    assert result.returncode != 0
    assert "Job stats" not in result.stdout
    return result.stdout + result.stderr


def test_unknown_key_is_refused_by_name(tmp_path: Path):
    assert "'sampels' was unexpected" in _refused(tmp_path, {"render": {"sampels": 4}})


def test_wrong_type_is_refused_by_name(tmp_path: Path):
    message = _refused(tmp_path, {"patches": {"stride": "wide"}})
    assert "'wide' is not of type 'integer'" in message
    assert "stride" in message


def test_experiment_naming_an_unknown_dataset_is_refused(tmp_path: Path):
    message = _refused(
        tmp_path, {"experiments": {"plates": {"train": ["nowhere"], "val": "plates-val", "test": "plates-test"}}}
    )
    assert "experiments.plates.train names dataset 'nowhere'" in message


def test_conda_env_pins_agree_with_requirements():
    requirements = {
        line.split("#")[0].strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    env = yaml.safe_load((REPO / "envs/pipeline.yaml").read_text())
    pins = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pins) <= requirements


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"twin_of": "nowhere"}, "config: datasets.plates-train-ws: datasets.plates-train-ws.twin_of names 'nowhere'"),
        ({"water_stains": {"cell": 0.01, "radius": 0.009}}, "config: datasets.plates-train-ws: water_stains: radius"),
        ({"defects": {"max": 1, "scratch": {"width": [0.002, 0.001]}}}, "range [0.002, 0.001]: low above high"),
        ({"light": "dome"}, "'dome' is not one of ['hex', 'hex-rot90', 'hex-2x']"),
    ],
)
def test_bad_dataset_is_refused_before_any_job(tmp_path: Path, dataset: dict, message: str):
    spec = {"split": "train", "count": 16, **dataset}
    assert message in _refused(tmp_path, {"datasets": {"plates-train-ws": spec}})
