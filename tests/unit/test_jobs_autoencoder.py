"""The autoencoders' jobs: weights shared by experiments that differ only in evaluation, seeds by what trains."""

from pathlib import Path

import yaml

from defectlab.config.sections import fill_defaults
from defectlab.jobs import autoencoder as jobs

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/schema/config.schema.yaml").read_text())


def config_with(experiments: dict) -> dict:
    config = {
        "seed": 7,
        "datasets": {"a": {"split": "train", "count": 2}, "t": {"split": "test", "count": 2}},
        "experiments": experiments,
    }
    fill_defaults(config, SCHEMA)
    return config


def test_experiments_differing_only_in_evaluation_share_weights_and_seed():
    config = config_with(
        {
            "oracle": {"model": "cae", "train": ["a"], "test": "t", "threshold": {"fit_on": "test"}},
            "honest": {"model": "cae", "train": ["a"], "val": "t", "test": "t", "device": "cpu"},
            "again": {"model": "cae", "train": ["a"], "test": "t", "repeat": 1},
            "longer": {"model": "cae", "train": ["a"], "test": "t", "steps": 10},
            "vae": {"model": "vae", "train": ["a"], "test": "t"},
            "patchcore": {"train": ["a"], "test": "t", "val": "t"},
        }
    )
    assert jobs.experiments(config) == ["oracle", "honest", "again", "longer", "vae"]
    assert jobs.weights(config, "honest") == jobs.weights(config, "oracle") == "results/models/oracle/model.pt"
    assert jobs.owners(config) == ["oracle", "again", "longer", "vae"]
    assert jobs.seed(config, "honest") == jobs.seed(config, "oracle") == jobs.seed(config, "longer")
    assert len({jobs.seed(config, n) for n in ("oracle", "again", "vae")}) == 3
    assert jobs.maps(config, "honest", "t") == jobs.maps(config, "oracle", "t") == ["results/maps/oracle/t/maps.h5"]
    assert jobs.first_repeats(config) == ["oracle", "longer", "vae"]  # the figure of training: no repeat 1
    assert jobs.training_label(config, "vae") == "VAE on a"


def test_the_schema_exposes_every_setting_of_the_family_and_nothing_else():
    from defectlab.models.autoencoders import DEFAULTS

    section = SCHEMA["properties"]["autoencoder"]["properties"]
    assert set(section) == set(DEFAULTS)
    assert {k: v["default"] for k, v in section.items()} == DEFAULTS
    overrides = SCHEMA["$defs"]["families"]["autoencoder"]["properties"]
    assert set(overrides) == set(DEFAULTS) | {"repeat"}
