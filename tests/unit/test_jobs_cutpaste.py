"""CutPaste's jobs: experiments share the weights (owner), the density (fitter) and the maps (scorer) exactly as far
as their settings allow: evaluation-only differences share all three, maps-only differences the weights and the
density, density differences the weights only, training differences nothing."""

from pathlib import Path

import jsonschema
import yaml

from defectlab.config.sections import fill_defaults
from defectlab.jobs import cutpaste as jobs

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/schema/config.schema.yaml").read_text())
BASE = {"model": "cutpaste", "train": ["a"], "val": "v", "test": "t"}


def config_with(experiments: dict, cutpaste: dict | None = None) -> dict:
    config = {
        "seed": 7,
        "datasets": {
            "a": {"split": "train", "count": 2},
            "b": {"split": "train", "count": 2},
            "v": {"split": "test", "count": 2},
            "t": {"split": "test", "count": 2},
        },
        "patches": {"shards": 2},
        "experiments": {name: {**BASE, **spec} for name, spec in experiments.items()},
    }
    if cutpaste is not None:
        config["cutpaste"] = cutpaste
    jsonschema.Draft202012Validator(SCHEMA).validate(config)  # the experiments are ones a user could write
    fill_defaults(config, SCHEMA)
    return config


def shared(config: dict, a: str, b: str) -> tuple[bool, bool, bool]:
    """Whether a and b share (owner, fitter, scorer)."""
    return tuple(getattr(jobs, f)(config, a) == getattr(jobs, f)(config, b) for f in ("owner", "fitter", "scorer"))


EXPERIMENTS = {
    "base": {},
    "threshold": {"threshold": {"rule": "youden"}},
    "oracle": {"threshold": {"fit_on": "test"}, "unit": "image"},
    "device": {"device": "cpu", "batch_size": 8},
    "gradcam": {"maps": "gradcam"},
    "sigma": {"map_sigma": 4.0},
    "kde": {"density": {"density": "kde"}},
    "steps": {"steps": 10},
    "head": {"head": [512, 128]},
    "augment": {"augment": {"transparency": 30}},
    "repeat": {"repeat": 1},
    "other_data": {"train": ["b"]},
    "patchcore": {"model": "patchcore"},
}


def test_sharing_follows_what_each_setting_changes():
    config = config_with(EXPERIMENTS)
    assert "patchcore" not in jobs.experiments(config)
    assert jobs.experiments(config) == [n for n in EXPERIMENTS if n != "patchcore"]
    for name in ("threshold", "oracle", "device"):
        assert shared(config, "base", name) == (True, True, True), name
    for name in ("gradcam", "sigma"):
        assert shared(config, "base", name) == (True, True, False), name
    assert shared(config, "base", "kde") == (True, False, False)
    for name in ("steps", "head", "augment", "repeat", "other_data"):
        assert shared(config, "base", name) == (False, False, False), name
    assert shared(config, "gradcam", "sigma") == (True, True, False)
    assert shared(config, "gradcam", "kde") == (True, False, False)


def test_the_files_of_shared_and_separate_jobs():
    config = config_with(EXPERIMENTS)
    assert jobs.owners(config) == ["base", "steps", "head", "augment", "repeat", "other_data"]
    assert jobs.fitters(config) == ["base", "kde", "steps", "head", "augment", "repeat", "other_data"]
    separate = ["steps", "head", "augment", "repeat", "other_data"]
    assert jobs.scorers(config) == ["base", "gradcam", "sigma", "kde", *separate]

    for name in ("threshold", "gradcam", "kde"):
        assert jobs.weights(config, name) == "results/models/base/model.pt"
    assert jobs.weights(config, "steps") == "results/models/steps/model.pt"
    assert jobs.density(config, "gradcam") == jobs.density(config, "threshold") == "results/models/base/density.npz"
    assert jobs.density(config, "kde") == "results/models/kde/density.npz"
    assert jobs.maps(config, "threshold", "t") == ["results/maps/base/t/shard-0.h5", "results/maps/base/t/shard-1.h5"]
    assert jobs.maps(config, "gradcam", "t") == [
        "results/maps/gradcam/t/shard-0.h5",
        "results/maps/gradcam/t/shard-1.h5",
    ]
    assert jobs.embeddings(config, "kde", "v") == [
        "results/maps/kde/v/shard-0.embeddings.h5",
        "results/maps/kde/v/shard-1.embeddings.h5",
    ]


def test_the_seed_depends_on_the_training_data_and_the_repeat_only():
    config = config_with(EXPERIMENTS)
    base = jobs.seed(config, "base")
    assert all(jobs.seed(config, n) == base for n in ("threshold", "gradcam", "kde", "steps", "head"))
    assert jobs.seed(config, "repeat") != base and jobs.seed(config, "other_data") != base
    assert jobs.seed(config, "repeat") != jobs.seed(config, "other_data")
    assert jobs.seed(config_with({"base": {}}) | {"seed": 8}, "base") != base


def test_the_section_and_an_experiments_own_keys_are_one_setting():
    config = config_with(
        {
            "plain": {},
            "explicit": {"steps": 10, "early_stopping": {"patience": 3}},  # patience 3 is the default
            "kde": {"density": {"density": "kde"}},
            "stopping": {"early_stopping": {"patience": 5}},
        },
        cutpaste={"steps": 10, "density": {"bandwidth": 2.0}},
    )
    assert shared(config, "plain", "explicit") == (True, True, True)
    assert shared(config, "plain", "kde") == (True, False, False)
    assert shared(config, "plain", "stopping") == (False, False, False)
    assert jobs.owners(config) == ["plain", "stopping"]


def test_the_order_of_keys_in_a_block_does_not_split_the_jobs():
    config = config_with(
        {
            "one": {"augment": {"jitter": 0.2, "transparency": 30}},
            "two": {"augment": {"transparency": 30, "jitter": 0.2}},
        }
    )
    assert shared(config, "one", "two") == (True, True, True)
