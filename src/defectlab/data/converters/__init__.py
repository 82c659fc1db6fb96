"""Converters: each real dataset, as extracted from its official archive, into the common layout.

    from defectlab.data.converters import CONVERTERS
    index = CONVERTERS["mvtec_ad"](source, out, splits={"val_fraction": 0.5, "val_from": "test", "seed": 7})

Every converter is `convert(source, out, *, splits=None, classes=None) -> pd.DataFrame`:
    source    the dataset's folder as extracted, in the dataset's own layout (see each module's docstring,
              which says where its layout description comes from)
    out       the common layout (`defectlab.data.layout`): images/, masks/, instances/, index.parquet
    splits    `Splits` or its config mapping: the dataset's own train/test split is kept; `val_fraction`
              of `val_from` is carved into "val", seeded and stratified (`common.Splits`)
    classes   extra or replaced entries of the dataset's class table: {dataset name: project class}
and returns the index it wrote (columns `common.INDEX_COLUMNS`). Each module's CLASS_MAP is the dataset's
documented table onto `defectlab.classes`; a name missing from it stops the conversion with the known
names. Defects of kinds the plates lack map to "other_defect".

CSEM-MISD (the 004 study's fifth planar dataset, its reference [24]) has no converter: no description of
its archive's folder tree or annotation files could be found.
"""

from pathlib import Path

import pandas as pd

from defectlab.data.converters import (
    dagm2007,
    fraunhofer_plates,
    kolektorsdd2,
    magnetic_tile,
    mvtec_ad,
    paint_defects,
    severstal,
)
from defectlab.data.converters.common import INDEX_COLUMNS, ClassTable, Converter, Splits

MODULES = (mvtec_ad, kolektorsdd2, dagm2007, magnetic_tile, fraunhofer_plates, paint_defects, severstal)
CONVERTERS: dict[str, Converter] = {module.NAME: module.convert for module in MODULES}
CLASS_MAPS: dict[str, ClassTable] = {module.NAME: module.CLASS_MAP for module in MODULES}


def convert(name: str, source: Path | str, out: Path | str, **options) -> pd.DataFrame:
    """Run the converter of a dataset by name (an unknown name lists the known ones)."""
    try:
        converter = CONVERTERS[name]
    except KeyError:
        raise ValueError(f"no converter for dataset {name!r}; known: {', '.join(CONVERTERS)}") from None
    return converter(source, out, **options)


__all__ = ["CLASS_MAPS", "CONVERTERS", "INDEX_COLUMNS", "Splits", "convert"]
