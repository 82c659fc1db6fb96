"""The run configuration checked at start-up: files read strictly, the schema, then checks across keys.

    check_files(paths)                      syntax errors and repeated keys, with file, line and column
    check_schema(config, paths, schema)     names, then the schema (strict integers), one line per error
    check_config(config, paths, ...)        what the schema cannot say (names, twins, tiles, backbone, report)

Every refusal is a `ConfigError` whose message has one line per problem, `file:line: key: what`.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path

from defectlab.config import checks
from defectlab.config.schema import ConfigError, locate, schema_errors
from defectlab.config.yaml_files import ConfigFileError, KeyPath, locate_keys, read_config_file

__all__ = ["ConfigError", "ConfigFileError", "check_config", "check_files", "check_schema", "read_config_file"]


def _refuse(lines: list[str]) -> None:
    if lines:
        raise ConfigError("\n".join(["config refused:", *(f"  {line}" for line in lines)]))


def check_files(paths: Iterable[str | Path]) -> None:
    """Each config file is YAML holding a mapping, with no key given twice."""
    for path in paths:
        read_config_file(path)


def check_schema(config: dict, paths: Iterable[str | Path], schema: str | Path) -> None:
    """Safe names first (a bad name must never reach a path), then the JSON Schema."""
    where = locate_keys(paths)
    _refuse([f"{locate(key, where, shown=key[:1])}: {message}" for key, message in checks.name_problems(config)])
    _refuse(schema_errors(config, schema, where))


def check_config(
    config: dict,
    paths: Iterable[str | Path],
    *,
    weights_dir: Path,
    known_weights: set[str],
    backbone: bool = True,
) -> list[str]:
    """Checks across keys of a schema-valid config with defaults filled in; returns the warnings.

    `backbone` builds the backbone on the meta device to check layers, stride and weights (imports
    torch: the main Snakemake process does it once, jobs need not).
    """
    where = locate_keys(paths)
    _refuse(
        [f"{locate(key, where)}: {message}" for key, message in _problems(config, weights_dir, known_weights, backbone)]
    )
    return list(checks.warnings(config))


def _problems(
    config: dict, weights_dir: Path, known_weights: set[str], backbone: bool
) -> Iterator[tuple[KeyPath, str]]:
    yield from checks.label_problems(config["experiments"])
    experiment_problems = list(checks.experiment_problems(config))
    dataset_problems = list(checks.dataset_problems(config))
    yield from experiment_problems
    yield from dataset_problems
    if experiment_problems or dataset_problems:
        return
    yield from checks.evaluation_problems(config)
    yield from checks.report_problems(config)
    yield from checks.coreset_problems(config)
    weights = list(checks.weights_problems(config, weights_dir, known_weights))
    yield from weights
    stride = None
    if backbone:
        from defectlab.features.backbones import check_backbone

        settings = config["backbone"]
        try:
            given = "none" if weights else settings["weights"]
            stride = check_backbone(settings["name"], tuple(settings["layers"]), given)
        except ValueError as error:
            yield ("backbone",), str(error)
    yield from checks.patch_problems(config, stride)
