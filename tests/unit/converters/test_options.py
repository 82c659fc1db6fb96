"""Converter options (`sources:` in the config) and dataset sources, checked before any job starts."""

import inspect

import pytest

from defectlab.classes import CLASSES
from defectlab.data.converters import (
    CATEGORIES,
    CONVERTERS,
    OPTIONS,
    check_dataset_sources,
    check_options,
    source_categories,
)
from defectlab.data.registry import load_registry


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _refused(check, value, registry) -> str:
    with pytest.raises(ValueError) as failure:
        check(value, registry)
    return str(failure.value)


def test_each_converter_declares_exactly_the_options_it_takes():
    """`root` is read by the workflow; every other declared option is a keyword argument of `convert`."""
    for name, convert in CONVERTERS.items():
        keywords = {
            p.name for p in inspect.signature(convert).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        assert set(OPTIONS[name]["properties"]) == {"root", *keywords}, name


def test_good_options_pass(registry):
    check_options(
        {
            "mvtec_ad": {"splits": {"val_fraction": 0.2, "val_from": "test", "seed": 7}, "classes": {"crack": "dent"}},
            "magnetic_tile": {"root": "Magnetic-tile-defect-datasets.-master"},
            "fraunhofer_plates": {"splits": {"by_group": {"plate_01": "train", "plate_17": "val"}}},
        },
        registry,
    )


def test_unknown_option_is_refused_with_the_known_ones(registry):
    message = _refused(check_options, {"mvtec_ad": {"split": {"val_fraction": 0.2}}}, registry)
    assert message == "config: sources.mvtec_ad.split: unknown option (known: root, splits, classes)"


def test_unknown_nested_key_and_wrong_types_are_refused_by_key(registry):
    options = {"splits": {"val_fraction": "half", "fraction": 0.2, "val_from": "val"}, "classes": {"rust": "rusty"}}
    lines = _refused(check_options, {"mvtec_ad": options}, registry).splitlines()
    assert lines == [
        f"config: sources.mvtec_ad.classes.rust: 'rusty' is not one of {[c.name for c in CLASSES]}",
        "config: sources.mvtec_ad.splits.fraction: unknown key (known: val_fraction, val_from, seed)",
        "config: sources.mvtec_ad.splits.val_fraction: 'half' is not of type 'number'",
        "config: sources.mvtec_ad.splits.val_from: 'val' is not one of ['train', 'test']",
    ]


def test_by_group_is_an_option_of_the_plates_only(registry):
    message = _refused(check_options, {"kolektorsdd2": {"splits": {"by_group": {"a": "train"}}}}, registry)
    assert message.startswith("config: sources.kolektorsdd2.splits.by_group: unknown key")


@pytest.mark.parametrize("root", ["../elsewhere", "/data/mvtec", "a/../../b", ""])
def test_root_stays_inside_the_extracted_folder(registry, root):
    message = _refused(check_options, {"mvtec_ad": {"root": root}}, registry)
    assert (
        message
        == f"config: sources.mvtec_ad.root: {root!r} is not a 'relative path below resources/extracted/<entry>/'"
    )


def test_unknown_entry_is_refused_with_the_dataset_entries(registry):
    message = _refused(check_options, {"mvtec": {}}, registry)
    assert message.startswith("config: sources.mvtec: no registry entry 'mvtec' in ")
    assert "(datasets: mvtec_ad, kolektorsdd2, dagm2007," in message and "resnet50" not in message


def test_entry_without_converter_is_refused_with_its_reason_and_what_to_do(registry):
    message = _refused(check_options, {"csem_misd": {}}, registry)
    assert message.startswith(
        f"config: sources.csem_misd: csem_misd has no converter yet: {registry['csem_misd'].no_converter}"
    )
    assert "add a converter module to defectlab.data.converters" in message
    message = _refused(check_options, {"resnet50": {}}, registry)
    assert message == "config: sources.resnet50: resnet50 is a weights entry of the registry, not a dataset"


def test_every_problem_is_listed_at_once(registry):
    message = _refused(check_options, {"csem_misd": {}, "mvtec_ad": {"splts": {}}, "nope": {}}, registry)
    assert len(message.splitlines()) == 3


def test_a_dataset_of_an_entry_without_converter_is_refused(registry):
    datasets = {"gears-train": {"split": "train", "source": {"entry": "csem_misd"}}}
    message = _refused(check_dataset_sources, datasets, registry)
    assert message.startswith("config: datasets.gears-train.source.entry: csem_misd has no converter yet: ")


def test_objects_of_an_entry_with_categories_are_its_categories(registry):
    datasets = {
        "screw": {"split": "train", "source": {"entry": "mvtec_ad", "objects": ["screw", "srew"]}},
        "tiles": {"split": "train", "source": {"entry": "magnetic_tile", "objects": ["anything"]}},  # no categories
        "plates": {"split": "train", "count": 2},
    }
    message = _refused(check_dataset_sources, datasets, registry)
    assert message == (
        "config: datasets.screw.source.objects: srew: not a category of mvtec_ad (known: "
        + ", ".join(CATEGORIES["mvtec_ad"])
        + ")"
    )


def test_a_source_takes_the_categories_it_names_or_all(registry):
    assert source_categories({"entry": "mvtec_ad", "objects": ["screw", "tile"]}, registry) == ("screw", "tile")
    assert source_categories({"entry": "mvtec_ad"}, registry) == CATEGORIES["mvtec_ad"]
    assert len(CATEGORIES["mvtec_ad"]) == 15 and CATEGORIES["dagm2007"][-1] == "Class10"
    assert source_categories({"entry": "kolektorsdd2", "objects": ["kolektor_part"]}, registry) == ()


def test_pad_to_needs_both_sides_as_positive_integers(registry):
    options = {"kolektorsdd2": {"pad_to": {"width": 256}}, "magnetic_tile": {"pad_to": {"width": 0, "height": 448}}}
    lines = _refused(check_options, options, registry).splitlines()
    assert "config: sources.kolektorsdd2.pad_to: 'height' is a required property" in lines
    assert "config: sources.magnetic_tile.pad_to.width: 0 is less than the minimum of 1" in lines
