"""PatchCore's jobs from a config: which experiments share shard coresets, and the paths of their files."""

import copy
from pathlib import Path

import yaml

from defectlab.config.sections import fill_defaults
from defectlab.jobs import patchcore as jobs

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/schema/config.schema.yaml").read_text())


def config_with(experiments: dict, patchcore: dict | None = None) -> dict:
    config = {
        "datasets": {"a": {"split": "train", "count": 2}, "t": {"split": "test", "count": 2}},
        "patches": {"shards": 2},
        "patchcore": copy.deepcopy(patchcore or {}),
        "experiments": experiments,
    }
    fill_defaults(config, SCHEMA)
    return config


def test_experiments_with_the_sections_settings_share_plain_and_augmented_shard_coresets():
    config = config_with(
        {
            "e1": {"train": ["a"], "test": "t"},
            "e2": {"train": ["a"], "test": "t", "size": 64},  # meld size only: same shard coresets
            "e3": {"train": ["a"], "test": "t", "augment": True},
            "e4": {"train": ["a"], "test": "t", "coreset": {"augment": {"enabled": True}}},
        }
    )
    assert [jobs.variant_of(config, n) for n in ("e1", "e2", "e3", "e4")] == [
        "plain",
        "plain",
        "augmented",
        "augmented",
    ]
    assert jobs.shard_coresets(config, "e1") == [
        "results/coresets/a/plain/shard-0.h5",
        "results/coresets/a/plain/shard-1.h5",
    ]
    assert set(jobs.variants(config)) == {"plain", "augmented"}


def test_an_experiment_with_its_own_backbone_or_coreset_gets_its_own_shard_coresets_shared_by_its_twins():
    config = config_with(
        {
            "base": {"train": ["a"], "test": "t"},
            "wide": {"train": ["a"], "test": "t", "backbone": {"pool": 3}},
            "wide-again": {"train": ["a"], "test": "t", "backbone": {"pool": 3}, "augment": True},
            "big": {"train": ["a"], "test": "t", "coreset": {"size": 1024}},
            "melded": {"meld": ["base", "wide"], "test": "t"},
        }
    )
    variants = [jobs.variant_of(config, n) for n in ("base", "wide", "wide-again", "big")]
    assert variants == ["plain", "wide-plain", "wide-augmented", "big-plain"]
    found = jobs.variants(config)
    assert set(found) == {"plain", "wide-plain", "wide-augmented", "big-plain"}
    assert found["wide-plain"]["backbone"]["pool"] == 3 and found["plain"]["backbone"]["pool"] == 2
    assert found["big-plain"]["coreset"]["size"] == 1024 and "enabled" not in found["plain"]["coreset"]["augment"]
    assert jobs.meld_inputs(config, "melded") == ["results/coresets/base.h5", "results/coresets/wide.h5"]
    assert jobs.trained(config) == ["base", "wide", "wide-again", "big"]


def test_a_non_patchcore_experiment_is_not_patchcores():
    config = config_with({"e": {"train": ["a"], "test": "t"}})
    config["experiments"]["other"] = {"model": "cae", "train": ["a"], "test": "t"}
    assert jobs.experiments(config) == ["e"]
    assert jobs.outputs(config)[-1] == "results/figures/e-coreset.png"
    assert jobs.maps(config, "e", "t") == ["results/maps/e/t/shard-0.h5", "results/maps/e/t/shard-1.h5"]
