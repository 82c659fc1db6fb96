"""Config files read strictly: a syntax error or a repeated key names its file, line and column.

PyYAML keeps the last of two equal keys without a word, so a config that sets `seed` twice
silently runs with the second. Reading the files again here, before Snakemake uses them, turns
that and every syntax error into a one-line message, and records where each key was written so
later checks can point at the line too.
"""

from collections.abc import Iterable
from pathlib import Path

import yaml

Location = str  # "file:line"
KeyPath = tuple[str, ...]


class ConfigFileError(ValueError):
    """A config file that cannot be read as YAML, or repeats a key."""


def _where(path: Path, mark: yaml.Mark) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def _walk(node: yaml.Node, path: Path, keys: KeyPath, seen: dict[KeyPath, Location]) -> None:
    """Record each mapping key's location and refuse a key given twice in one mapping."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path, (*keys, str(i)), seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first: dict[str, yaml.Mark] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in first:
            raise ConfigFileError(
                f"{_where(path, key_node.start_mark)}: key {'.'.join((*keys, key))!r} given twice "
                f"(first at line {first[key].line + 1}); YAML would silently keep the last"
            )
        first[key] = key_node.start_mark
        seen[(*keys, key)] = f"{path}:{key_node.start_mark.line + 1}"
        _walk(value_node, path, (*keys, key), seen)


def read_config_file(path: str | Path) -> tuple[dict, dict[KeyPath, Location]]:
    """The mapping in a YAML config file and the `file:line` of every key in it."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigFileError(f"{path}: cannot read config file ({error.strerror})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        value = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = _where(path, mark) if mark else str(path)
        raise ConfigFileError(f"{where}: YAML syntax error: {error.problem or error.context}") from None
    if value is None:
        return {}, {}
    if not isinstance(value, dict):
        raise ConfigFileError(f"{path}: a config file holds a mapping of keys, not {type(value).__name__}")
    seen: dict[KeyPath, Location] = {}
    _walk(node, path, (), seen)
    return value, seen


def locate_keys(paths: Iterable[str | Path]) -> dict[KeyPath, Location]:
    """Where each key was last given over several config files (later files override earlier ones)."""
    where: dict[KeyPath, Location] = {}
    for path in paths:
        where.update(read_config_file(path)[1])
    return where
