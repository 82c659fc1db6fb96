"""The config checked against its JSON Schema, with one short line per error, naming key, file and line.

Two differences from a plain `jsonschema` validation, both against silently wrong runs:
- "integer" means a YAML integer: `seed: 4.0` or `count: 4.0` is refused, where JSON Schema accepts
  a float of integral value (seeds derive from the value's text, so `4.0` would give other data).
- An error inside `oneOf`/`anyOf` is reported by its most relevant cause, and never with the schema.
"""

from collections.abc import Mapping

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from defectlab.config.yaml_files import KeyPath, Location

MAX_ERRORS = 10


def _is_integer(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


class ConfigError(ValueError):
    """A config that is refused before any job starts; the message holds one line per problem."""


def key_name(path: KeyPath) -> str:
    """`datasets.plates-train.count` for a key path (list items by index)."""
    return ".".join(path) or "(top level)"


def locate(path: KeyPath, where: Mapping[KeyPath, Location], shown: KeyPath | None = None) -> str:
    """`file:line: key` for a key path, from the nearest enclosing key that a config file gave; `shown` is
    the key to print when it is not the path itself (a bad name is shown as its section)."""
    shown = path if shown is None else shown
    for end in range(len(path), 0, -1):
        if path[:end] in where:
            return f"{where[path[:end]]}: {key_name(shown)}"
    return key_name(shown)


def _describe(error: ValidationError) -> tuple[KeyPath, str]:
    """The key path and message of an error's most relevant cause (inside oneOf/anyOf alternatives)."""
    error = best_match([error])
    path = tuple(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unexpected = [key for key in error.instance if key not in allowed]
        if unexpected:  # the key's own line, not its parent's
            return (*path, str(unexpected[0])), error.message
    return path, error.message


def schema_errors(config: dict, schema: dict, where: Mapping[KeyPath, Location]) -> list[str]:
    """One line per schema violation (at most MAX_ERRORS), in the order of the config's keys."""
    errors = sorted(StrictValidator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    lines = []
    for error in errors[:MAX_ERRORS]:
        path, message = _describe(error)
        lines.append(f"{locate(path, where)}: {message}")
    if len(errors) > MAX_ERRORS:
        lines.append(f"... and {len(errors) - MAX_ERRORS} more")
    return lines
