"""The run configuration checked at start-up: files read strictly, the schema, then checks across keys.

    where = check_files(paths)              syntax errors and repeated keys, with file, line and column
    check_schema(config, where, schema)     names, older sections moved, generator and model keys, then the
                                            schema (strict integers), one line per error; returns warnings
    fill_defaults(config, schema)           the schema's defaults, never into an experiment's overrides
    check_config(config, where, ...)        what the schema cannot say (twins, tiles, backbones, report)

`where` (each key's `file:line`, from reading the files once) lets every later message point at the line.

Every refusal is a `ConfigError` whose message has one line per problem, `file:line: key: what`.
"""

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from defectlab.config import checks
from defectlab.config.schema import ConfigError, locate, schema_errors
from defectlab.config.sections import fill_defaults, key_problems, load_schema, move_legacy_sections
from defectlab.config.yaml_files import ConfigFileError, KeyPath, Location, locate_keys, read_config_file

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "check_config",
    "check_files",
    "check_schema",
    "fill_defaults",
    "read_config_file",
]


def _refuse(lines: list[str]) -> None:
    if lines:
        raise ConfigError("\n".join(["config refused:", *(f"  {line}" for line in lines)]))


def check_files(paths: Iterable[str | Path]) -> dict[KeyPath, Location]:
    """Each config file is YAML holding a mapping, with no key given twice; returns where each key was given
    (the last file that gives it)."""
    return locate_keys(paths)


def check_schema(config: dict, where: dict[KeyPath, Location], schema: str | Path) -> list[str]:
    """Safe names first (a bad name must never reach a path), then older top-level PatchCore sections moved
    into `patchcore` (in `config` and `where`), the keys of each generator and model, and the JSON Schema.
    Returns the warnings (sections moved)."""
    _refuse([f"{locate(key, where, shown=key[:1])}: {message}" for key, message in checks.name_problems(config)])
    moved, warnings = move_legacy_sections(config, where)
    _refuse([f"{locate(key, where)}: {message}" for key, message in moved])
    rules = load_schema(schema)
    _refuse([f"{locate(key, where)}: {message}" for key, message in key_problems(config, rules, where)])
    _refuse(schema_errors(config, rules, where))
    return warnings


def check_config(
    config: dict,
    where: Mapping[KeyPath, Location],
    *,
    weights_dir: Path,
    known_weights: set[str],
    backbone: bool = True,
) -> list[str]:
    """Checks across keys of a schema-valid config with defaults filled in; returns the warnings.

    `backbone` builds the backbone on the meta device to check layers, stride and weights (imports
    torch: the main Snakemake process does it once, jobs need not).
    """
    problems = _problems(config, weights_dir, known_weights, backbone)
    lines = [f"{locate(key, where)}: {message}" for key, message in problems]
    _refuse(list(dict.fromkeys(lines)))  # a family section's problem is found once per experiment reading it
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
    yield from checks.thesis_problems(config)
    yield from checks.segmentation_problems(config)
    yield from checks.latent_problems(config)
    strides = {}
    for key, (settings, names) in checks.backbones(config).items():
        weights = list(checks.weights_problems(settings, key, weights_dir, known_weights))
        yield from weights
        if backbone:
            from defectlab.features.backbones import check_backbone, weights_path

            try:
                given = "none" if weights else settings["weights"]
                stride = check_backbone(settings["name"], tuple(settings["layers"]), given, weights_dir)
                path = weights_path(settings["name"], given, weights_dir)
            except ValueError as error:
                yield key, str(error)
                continue
            if path and path.parent == weights_dir and path.name not in known_weights and not path.is_file():
                yield (*key, "weights"), f"{path}: neither a weights file of the registry nor placed there by hand"
            strides |= dict.fromkeys(names, stride)
    yield from checks.patch_problems(config, strides)
