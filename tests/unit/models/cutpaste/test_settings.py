"""CutPaste's settings: the defaults resolve, nested blocks merge key by key, unknown keys and bad values are
refused by name, and the config schema's `cutpaste` section carries exactly `settings.DEFAULTS`."""

import copy
from pathlib import Path

import pytest
import yaml

from defectlab.models.cutpaste.augment import AugmentSettings
from defectlab.models.cutpaste.density import DEFAULTS as DENSITY_DEFAULTS
from defectlab.models.cutpaste.settings import DEFAULTS, classes, resolve

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[4] / "config/schema/config.schema.yaml").read_text())


def test_the_defaults_resolve_to_themselves():
    before = copy.deepcopy(DEFAULTS)
    assert resolve(None) == DEFAULTS
    assert resolve({}) == DEFAULTS
    assert before == DEFAULTS  # resolving never changes the defaults
    assert DEFAULTS["density"] == DENSITY_DEFAULTS
    assert AugmentSettings.from_config(DEFAULTS["augment"]) == AugmentSettings()


def test_nested_blocks_merge_key_by_key():
    resolved = resolve({"backbone": {"name": "resnet50"}, "early_stopping": {"patience": 7}, "steps": 10})
    assert resolved["backbone"] == {"name": "resnet50", "weights": "none"}
    assert resolved["early_stopping"] == {**DEFAULTS["early_stopping"], "patience": 7}
    assert resolved["steps"] == 10 and resolved["lr"] == DEFAULTS["lr"]
    assert resolve({"density": {"density": "kde"}})["density"] == {**DENSITY_DEFAULTS, "density": "kde"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"foo": 1}, r"cutpaste: unknown setting\(s\) \['foo'\]"),
        ({"early_stopping": {"foo": 1}}, r"cutpaste\.early_stopping: unknown setting\(s\) \['foo'\]"),
        ({"density": {"foo": 1}}, r"cutpaste\.density: unknown setting\(s\) \['foo'\]"),
        ({"backbone": {"foo": 1}}, r"cutpaste\.backbone: unknown setting\(s\) \['foo'\]"),
        ({"gradcam": {"foo": 1}}, r"cutpaste\.gradcam: unknown setting\(s\) \['foo'\]"),
        ({"augment": {"foo": 1}}, r"unknown CutPaste setting\(s\) \['foo'\]"),
    ],
)
def test_unknown_keys_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        resolve(settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"steps": 0}, r"cutpaste\.steps must be an integer >= 1, got 0"),
        ({"steps": 2.5}, r"cutpaste\.steps must be an integer >= 1, got 2\.5"),
        ({"steps": True}, r"cutpaste\.steps must be an integer >= 1, got True"),
        ({"batch_pairs": 0}, r"cutpaste\.batch_pairs must be an integer >= 1"),
        ({"variant": "x"}, r"cutpaste\.variant must be one of \[.*'binary-custom'.*\], got 'x'"),
        ({"embedding": "pooled"}, r"cutpaste\.embedding must be one of \['head', 'backbone'\]"),
        ({"maps": "sum"}, r"cutpaste\.maps must be one of \['gde', 'gradcam'\]"),
        ({"head": [3]}, r"cutpaste\.head must be 'auto' or a list of at least 2 layer widths, got \[3\]"),
        ({"head": [512, 0]}, r"cutpaste\.head must be 'auto' or a list"),
        ({"head": "big"}, r"cutpaste\.head must be 'auto' or a list"),
        ({"gradcam": {"target": -1}}, r"cutpaste\.gradcam\.target must be a class index or 'predicted', got -1"),
        ({"freeze_steps": -1}, r"cutpaste\.freeze_steps must be an integer >= 0, got -1"),
        ({"epochs": 0}, r"cutpaste\.epochs must be null or an integer >= 1, got 0"),
        ({"train_stride": 0}, r"cutpaste\.train_stride must be 'auto' or an integer >= 1, got 0"),
        ({"lr": 0}, r"cutpaste\.lr must be a number > 0, got 0"),
        ({"momentum": -0.1}, r"cutpaste\.momentum must be a number >= 0, got -0\.1"),
        ({"map_sigma": "wide"}, r"cutpaste\.map_sigma must be a number >= 0"),
        ({"early_stopping": {"val_fraction": 1.0}}, r"val_fraction must lie in \(0, 1\), got 1\.0"),
        ({"early_stopping": {"patience": 0}}, r"cutpaste\.early_stopping\.patience must be an integer >= 1"),
        ({"augment": {"transparency": 100}}, r"CutPaste setting transparency must be a percentage"),
        ({"density": {"fit_on": "all"}}, r"fit_on must be one of"),
    ],
)
def test_bad_values_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        resolve(settings)


def test_good_non_default_values_pass():
    resolved = resolve(
        {"head": [512, 64], "gradcam": {"target": "predicted"}, "epochs": 3, "train_stride": 16, "freeze_steps": 0}
    )
    assert resolved["head"] == [512, 64] and resolved["gradcam"]["target"] == "predicted"


@pytest.mark.parametrize(("variant", "count"), [("binary-custom", 2), ("binary", 2), ("scar", 2), ("3way", 3)])
def test_classes_of_each_variant(variant, count):
    assert classes(variant) == count


def schema_defaults(properties: dict) -> dict:
    """A section's defaults as the settings see them: a block with properties is the dict of their defaults."""
    return {
        key: schema_defaults(sub["properties"]) if "properties" in sub else sub["default"]
        for key, sub in properties.items()
    }


def test_the_schema_section_has_every_setting_with_its_default_and_nothing_else():
    section = SCHEMA["properties"]["cutpaste"]["properties"]
    assert set(section) == set(DEFAULTS)
    defaults = schema_defaults(section)
    for key, value in DEFAULTS.items():
        assert defaults[key] == value, key
    assert defaults == DEFAULTS
    overrides = SCHEMA["$defs"]["models"]["cutpaste"]["properties"]
    assert set(overrides) == set(DEFAULTS) | {"repeat"}
