"""What a dataset's generator and an experiment's model make of the config: their keys, settings and defaults.

Datasets name their generator (`generator:`, default plates) and experiments their model (`model:`,
default patchcore). Each has its own block in the schema (`$defs/generators/<name>`,
`$defs/models/<name>`), so the keys one takes are data, not code: a new generator or model adds a
block, and the refusals here name it. A model takes its settings from its family's top-level section
(`patchcore:`), which an experiment overrides under the same keys.

Defaults are filled here rather than by Snakemake's `validate(set_default=True)`, which would also
fill them into an experiment's overrides (marked `x-override` in the schema) and so silently replace
the section's values with the schema's defaults.
"""

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path

import jsonschema
import yaml

from defectlab.config.yaml_files import KeyPath, Location
from defectlab.synth.plan import resolve_spec

DEFAULT_GENERATOR = "plates"
DEFAULT_MODEL = "patchcore"
# model -> its family: the top-level section holding the settings (where it has one), and the rule file running it
FAMILY = {
    "patchcore": "patchcore",
    "cae": "autoencoder",
    "vae": "autoencoder",
    "aae": "autoencoder",
    "intensity": "baseline",
    "deviation": "baseline",
}
UNTRAINED = {"intensity"}  # models that take no training data
# Sections of older configs that are now PatchCore's: read as patchcore.<key>, with a warning.
LEGACY_SECTIONS = {"backbone": "patchcore", "coreset": "patchcore", "scoring": "patchcore"}

Problem = tuple[KeyPath, str]


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def generator_of(spec: Mapping) -> str:
    """The generator of a dataset spec (real data has none: see `converted`)."""
    return spec.get("generator", DEFAULT_GENERATOR)


def model_of(spec: Mapping) -> str:
    return spec.get("model", DEFAULT_MODEL)


def family_of(spec: Mapping) -> str:
    return FAMILY[model_of(spec)]


def experiments_of(config: Mapping, family: str) -> list[str]:
    """The experiments whose model is of `family`, in config order."""
    return [name for name, spec in config["experiments"].items() if family_of(spec) == family]


def move_legacy_sections(config: dict, where: dict[KeyPath, Location]) -> tuple[list[Problem], list[str]]:
    """Top-level `backbone`, `coreset` and `scoring` moved into `patchcore` (and their key locations with them):
    (problems, warnings). Giving a section in both places is refused: which one wins would be a guess."""
    problems, warnings = [], []
    for key, family in LEGACY_SECTIONS.items():
        if key not in config:
            continue
        section = config.setdefault(family, {})
        if not isinstance(section, dict):
            return problems, warnings  # the schema names it
        if key in section:
            problems.append(((key,), f"given here and as {family}.{key}: keep only {family}.{key}"))
            continue
        section[key] = config.pop(key)
        for path in [p for p in where if p[0] == key]:
            where[(family, *path)] = where[path]
        warnings.append(f"top-level `{key}` is read as `{family}.{key}`, its place since models have sections")
    return problems, warnings


def key_problems(config: dict, schema: dict) -> Iterator[Problem]:
    """Unknown generators and models (listing the known ones), and keys the named one does not take
    (listing those it takes): clearer than the schema's 'unevaluated properties'."""
    defs = schema["$defs"]
    checks = (
        ("datasets", "generator", DEFAULT_GENERATOR, defs["dataset"], defs["generators"]),
        ("experiments", "model", DEFAULT_MODEL, defs["experiment"], defs["models"]),
    )
    for section, kind, default, common, blocks in checks:
        for name, spec in (config.get(section) or {}).items():
            if not isinstance(spec, dict):
                continue
            chosen = spec.get(kind, default)
            known = common["properties"][kind]["enum"]
            if chosen not in known:
                yield (section, name, kind), f"unknown {kind} {chosen!r}; known: {', '.join(map(str, known))}"
                continue
            if kind == "generator" and "generator" in spec and "source" in spec:
                yield (section, name), "give `generator` (generated images) or `source` (real data), not both"
            own = _resolve(blocks[chosen]["$ref"], schema) if "$ref" in blocks[chosen] else blocks[chosen]
            own = own.get("properties", {})
            for key in spec:
                if key not in common["properties"] and key not in own:
                    takes = ", ".join([*common["properties"], *own])
                    yield (section, name, key), f"{kind} {chosen!r} takes no key {key!r}; it takes: {takes}"


def fill_defaults(instance: object, schema: dict, root: dict | None = None) -> None:
    """Fill the schema's defaults into a valid config in place, as JSON Schema's properties say, following
    `$ref` and the `then` of every `if` that holds; never inside a block marked `x-override`."""
    root = schema if root is None else root
    if not isinstance(instance, dict) or schema.get("x-override"):
        return
    if "$ref" in schema:
        fill_defaults(instance, _resolve(schema["$ref"], root), root)
    for part in schema.get("allOf", []):
        if "if" in part and jsonschema.Draft202012Validator(part["if"]).is_valid(instance):
            fill_defaults(instance, part.get("then", {}), root)
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in instance:
            if key not in properties:
                fill_defaults(instance[key], extra, root)


def _resolve(ref: str, root: dict) -> dict:
    node: object = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]  # type: ignore[index]
    return node  # type: ignore[return-value]


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """`base` with `override`'s values, nested mappings merged key by key."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def experiment_settings(config: Mapping, name: str) -> dict:
    """The settings an experiment runs with: its family's section, overridden by the experiment's own keys."""
    spec = config["experiments"][name]
    section = config.get(family_of(spec), {})
    return deep_merge(section, {key: spec[key] for key in section if key in spec})


def patch_settings(config: Mapping, dataset: str) -> dict:
    """The patch stores' settings of a dataset: the top-level `patches`, its own `patches` block over them (a
    twin inherits its source's block, as every key)."""
    return {**config["patches"], **resolve_spec(dataset, dict(config["datasets"])).get("patches", {})}
