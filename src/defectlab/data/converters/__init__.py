"""Converters: each real dataset, as extracted from its official archive, into the common layout.

    from defectlab.data.converters import CONVERTERS
    index = CONVERTERS["mvtec_ad"](source, out, splits={"val_fraction": 0.5, "val_from": "test", "seed": 7})

Every converter module declares
    NAME          the converter's name, as the registry's `converter:` gives it
    CLASS_MAP     the dataset's documented class table onto `defectlab.classes`; a name missing from it
                  stops the conversion with the known names. Defects of kinds the plates lack map to
                  "other_defect".
    OPTIONS       the JSON Schema of the options it takes from the config's `sources.<entry>` (`options`)
    CATEGORIES    the dataset's categories, each converted on its own from `<extracted>/<category>/` (so
                  an edit to one category reconverts only that one); () for a dataset converted whole
    convert(source, out, *, splits=None, classes=None) -> pd.DataFrame
        source    the dataset's folder as extracted, in the dataset's own layout (see each module's
                  docstring, which says where its layout description comes from), or one category of it
        out       the common layout (`defectlab.data.layout`): images/, masks/, instances/, index.parquet,
                  and exclusions.json where the dataset has exclusion areas (`defectlab.data.exclusions`:
                  the kitchen boards' borders and labels, keyed by the converted file name `{id}.png`)
        splits    `Splits` or its config mapping: the dataset's own train/test split is kept; `val_fraction`
                  of `val_from` is carved into "val", seeded and stratified (`common.Splits`)
        classes   extra or replaced entries of the dataset's class table: {dataset name: project class}
    and returns the index it wrote (columns `common.INDEX_COLUMNS`).

A registry entry without a converter says so (`converter: null` and why, in `no_converter`): CSEM-MISD (the
004 study's fifth planar dataset, its reference [24]), whose archive layout is not described anywhere. The
clutch's is not either: its converter (`clutch`) reads a guessed layout, each guess stated in its docstring.
To add one, write a module as above, list it in MODULES and name it in the entry.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from defectlab.data.converters import (
    clutch,
    dagm2007,
    fraunhofer_plates,
    kitchen_boards,
    kolektorsdd2,
    magnetic_tile,
    mvtec_ad,
    paint_defects,
    severstal,
)
from defectlab.data.converters.common import INDEX_COLUMNS, ClassTable, Converter, Splits
from defectlab.data.converters.options import option_problems

if TYPE_CHECKING:
    from defectlab.data.registry import Registry

MODULES = (
    mvtec_ad,
    kolektorsdd2,
    dagm2007,
    magnetic_tile,
    fraunhofer_plates,
    paint_defects,
    severstal,
    kitchen_boards,
    clutch,
)
CONVERTERS: dict[str, Converter] = {module.NAME: module.convert for module in MODULES}
CLASS_MAPS: dict[str, ClassTable] = {module.NAME: module.CLASS_MAP for module in MODULES}
OPTIONS: dict[str, dict[str, Any]] = {module.NAME: module.OPTIONS for module in MODULES}
CATEGORIES: dict[str, tuple[str, ...]] = {module.NAME: module.CATEGORIES for module in MODULES}


def convert(name: str, source: Path | str, out: Path | str, **options) -> pd.DataFrame:
    """Run the converter of a dataset by name (an unknown name lists the known ones)."""
    try:
        converter = CONVERTERS[name]
    except KeyError:
        raise ValueError(f"no converter for dataset {name!r}; known: {', '.join(CONVERTERS)}") from None
    return converter(source, out, **options)


def categories(entry: str, registry: "Registry") -> tuple[str, ...]:
    """The categories of a registry entry's dataset, each converted on its own; () when converted whole."""
    return CATEGORIES[registry[entry].converter]


def source_categories(source: Mapping[str, Any], registry: "Registry") -> tuple[str, ...]:
    """The categories a dataset's `source` takes its images from: the `objects` it names, else all of its
    entry's; () for an entry converted whole."""
    known = categories(source["entry"], registry)
    return tuple(source.get("objects") or known) if known else ()


def check_options(sources: Mapping[str, Any], registry: "Registry") -> None:
    """The config's converter options (`sources`), checked when the workflow starts so a typo fails before
    any job: each entry is a dataset of the registry with a converter, and each option one that converter
    declares, of the declared type. A ValueError lists every problem with its config key."""
    problems = []
    for name, options in sources.items():
        where = f"config: sources.{name}"
        problem = _converter_problem(name, registry)
        if problem:
            problems.append(f"{where}: {problem}")
        else:
            problems += option_problems(OPTIONS[registry[name].converter], options, where)
    _raise(problems)


def check_dataset_sources(datasets: Mapping[str, Mapping[str, Any]], registry: "Registry") -> None:
    """The config's real datasets (`datasets.<name>.source`), checked when the workflow starts: the entry is a
    dataset of the registry with a converter, and the `objects` of an entry with categories are among them
    (each names the folder its images are converted from)."""
    problems = []
    for name, spec in datasets.items():
        source = spec.get("source")
        if source is None:
            continue
        where = f"config: datasets.{name}.source"
        problem = _converter_problem(source["entry"], registry)
        if problem:
            problems.append(f"{where}.entry: {problem}")
            continue
        known = categories(source["entry"], registry)
        unknown = [o for o in source.get("objects", []) if known and o not in known]
        if unknown:
            problems.append(
                f"{where}.objects: {', '.join(unknown)}: not a category of {source['entry']} "
                f"(known: {', '.join(known)})"
            )
    _raise(problems)


def _converter_problem(name: str, registry: "Registry") -> str | None:
    """Why the registry entry `name` cannot be converted, or None."""
    if name not in registry:
        known = ", ".join(e.name for e in registry if e.kind == "dataset")
        return f"no registry entry {name!r} in {registry.path} (datasets: {known})"
    entry = registry[name]
    if entry.kind != "dataset":
        return f"{name} is a {entry.kind} entry of the registry, not a dataset"
    if entry.converter is None:
        return (
            f"{name} has no converter yet: {entry.no_converter} To use it, add a converter module to "
            f"defectlab.data.converters (see its docstring) and name it as the entry's converter in {registry.path}."
        )
    return None


def _raise(problems: list[str]) -> None:
    if problems:
        raise ValueError("\n".join(problems))


__all__ = [
    "CATEGORIES",
    "CLASS_MAPS",
    "CONVERTERS",
    "INDEX_COLUMNS",
    "OPTIONS",
    "Splits",
    "categories",
    "check_dataset_sources",
    "check_options",
    "convert",
    "source_categories",
]
