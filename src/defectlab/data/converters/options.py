"""The options a converter takes from the config (`sources.<entry>`), declared as JSON Schema.

Each converter module declares `OPTIONS = options_schema(...)` beside its `convert`, from the pieces below, so
what a converter accepts is written down once. The workflow checks every `sources` entry against it when it
starts (`defectlab.data.converters.check_options`): a misspelt option or a wrong type is refused with its
config key before any job, instead of a TypeError inside the convert job.

    root      every converter: the dataset's folder inside the extracted archive(s), relative to
              resources/extracted/<entry>/, for an archive that wraps the dataset in a folder of its own
    splits    `common.Splits` as a mapping: val_fraction, val_from, seed (and by_group where a converter
              splits by top-level folder)
    classes   extra or replaced entries of the dataset's class table: {dataset's name: project class}
    pad_to    {width, height}: every image and mask zero-padded at the right and bottom to one size (datasets
              whose images vary in size, so that their maps share one file)
"""

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import jsonschema

from defectlab.classes import BY_NAME
from defectlab.data.converters.common import SPLITS

RELATIVE_PATH = "relative path below resources/extracted/<entry>/"
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks(RELATIVE_PATH)
def _relative_path(value: object) -> bool:
    """A path below the extracted folder: not absolute, no '..', '/' separators."""
    if not isinstance(value, str):
        return True  # the type keyword reports it
    path = PurePosixPath(value)
    return bool(value) and "\\" not in value and not path.is_absolute() and ".." not in path.parts


ROOT = {"type": "string", "format": RELATIVE_PATH}
_SPLIT_KEYS = {
    "val_fraction": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "val_from": {"enum": ["train", "test"]},
    "seed": {"type": "integer"},
}
SPLITS_OPTION = {"type": "object", "additionalProperties": False, "properties": _SPLIT_KEYS}
SPLITS_BY_GROUP_OPTION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**_SPLIT_KEYS, "by_group": {"type": "object", "additionalProperties": {"enum": list(SPLITS)}}},
}
CLASSES_OPTION = {"type": "object", "additionalProperties": {"enum": list(BY_NAME)}}
PAD_TO_OPTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["width", "height"],
    "properties": {"width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1}},
}


def options_schema(**options: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a converter's options: its keyword arguments, plus `root` (read by the workflow)."""
    return {"type": "object", "additionalProperties": False, "properties": {"root": ROOT, **options}}


def option_problems(schema: Mapping[str, Any], options: object, where: str) -> list[str]:
    """What is wrong with `options` under `schema`, one line per problem, each starting with its key."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=_FORMATS)
    problems = []
    for error in sorted(validator.iter_errors(options), key=lambda e: [str(p) for p in e.absolute_path]):
        at = ".".join([where, *map(str, error.absolute_path)])
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            what = "option" if not error.absolute_path else "key"
            for key in sorted(set(error.instance) - set(known)):
                problems.append(f"{at}.{key}: unknown {what} (known: {', '.join(known)})")
        else:
            problems.append(f"{at}: {error.message}")
    return problems
