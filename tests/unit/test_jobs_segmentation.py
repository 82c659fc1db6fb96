"""The segmentation jobs: each dataset read at its own geometry (cache scale, prediction tiles), the training at
its validation dataset's."""

from pathlib import Path

import pytest
import yaml

from defectlab.config.sections import fill_defaults
from defectlab.jobs import segmentation as jobs

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/schema/config.schema.yaml").read_text())


@pytest.fixture
def config() -> dict:
    config = {
        "seed": 7,
        "datasets": {name: {"split": "train", "count": 1} for name in ("planar", "planar-val", "part", "part-val")},
        "segmentation": {"tile": [64, 64], "geometry": {"planar": {"scale": 1.0}, "planar-val": {"scale": 1.0}}},
        "experiments": {
            "on-planar": {"model": "unet", "train": ["planar"], "val": "planar-val", "test": "part"},
            "tuned": {"model": "unet", "train": ["part"], "val": "part-val", "test": "part", "pretrained": "on-planar"},
        },
    }
    fill_defaults(config, SCHEMA)
    return config


def test_each_dataset_is_cached_and_predicted_at_its_own_geometry(config):
    assert jobs.training_caches(config, "on-planar") == ["results/cache/planar/segmentation-x1.h5"]
    assert jobs.validation_cache(config, "on-planar") == "results/cache/planar-val/segmentation-x1.h5"
    assert jobs.validation_cache(config, "tuned") == "results/cache/part-val/segmentation-x0.5.h5"
    # a dataset's entry replaces only what it names: the tile stays the section's, not the schema's default
    assert jobs.dataset_geometry(config, "on-planar", "planar") == {"scale": 1.0, "tile": [64, 64], "pad_multiple": 96}
    assert jobs.dataset_geometry(config, "on-planar", "part") == {"scale": 0.5, "tile": [64, 64], "pad_multiple": 96}


def test_a_training_run_takes_its_validation_datasets_geometry_and_no_table(config):
    planar, tuned = jobs.training_settings(config, "on-planar"), jobs.training_settings(config, "tuned")
    assert "geometry" not in planar and planar["scale"] == 1.0 and tuned["scale"] == 0.5
