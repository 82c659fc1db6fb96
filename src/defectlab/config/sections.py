"""What a dataset's generator and an experiment's model make of the config: their keys, settings and defaults.

Datasets name their generator (`generator:`, default plates) and experiments their model (`model:`,
default patchcore). Each has its own block in the schema (`$defs/generators/<name>`,
`$defs/models/<name>`), so the keys one takes are data, not code: a new generator or model adds a
block, and the refusals here name it. A model takes its settings from its family's top-level section
(`patchcore:`), which an experiment overrides under the same keys.

Defaults are filled here rather than by Snakemake's `validate(set_default=True)`, which would also
fill them into an experiment's overrides (marked `x-override` in the schema) and so silently replace
the section's values with the schema's defaults.

A dataset may instead derive from another dataset of the config: `denoise_of` (defectlab.data.denoise) takes
the images of the dataset it names, denoised, with that dataset's masks, exclusions and index; it names no
generator and takes only `DENOISE_KEYS`.
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
    "cutpaste": "cutpaste",
    "cae": "autoencoder",
    "vae": "autoencoder",
    "aae": "autoencoder",
    "intensity": "baseline",
    "deviation": "baseline",
    "fcn": "segmentation",
    "deeplabv3": "segmentation",
    "unet": "segmentation",
}
UNTRAINED = {"intensity"}  # models that take no training data
# Sections of older configs that are now PatchCore's: read as patchcore.<key>, with a warning.
LEGACY_SECTIONS = {"backbone": "patchcore", "coreset": "patchcore", "scoring": "patchcore"}

Problem = tuple[KeyPath, str]
# The keys a denoised dataset takes: its images are its source's (whatever made them), so no generator key.
DENOISE_KEYS = ("split", "denoise_of", "denoise", "patches", "domain")


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def generator_of(spec: Mapping) -> str:
    """The generator of a dataset spec (real data has none: see `converted`; nor has a denoised dataset)."""
    return spec.get("generator", DEFAULT_GENERATOR)


def denoised(spec: Mapping) -> bool:
    """Whether a dataset spec is a denoised twin of another dataset (`denoise_of`)."""
    return "denoise_of" in spec


def denoise_chain(name: str, datasets: Mapping[str, Mapping]) -> list[str]:
    """`name`, then the dataset it is denoised from, and so on, down to the first that is not denoised (the one
    whose generator or source made the images). A name not under datasets or a cycle is a ValueError (the
    start-up checks refuse both first, with the key's line)."""
    chain = [name]
    while denoised(datasets[chain[-1]]):
        source = datasets[chain[-1]]["denoise_of"]
        if source not in datasets:
            raise ValueError(f"datasets.{chain[-1]}.denoise_of names {source!r}, which is not under datasets")
        if source in chain:
            raise ValueError(f"datasets: denoise_of forms a cycle: {' -> '.join([*chain, source])}")
        chain.append(source)
    return chain


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


def key_problems(config: dict, schema: dict, where: Mapping[KeyPath, Location] | None = None) -> Iterator[Problem]:
    """Unknown generators and models (listing the known ones), and keys the named one does not take
    (listing those it takes): clearer than the schema's 'unevaluated properties'. With `where` (each key's
    `file:line`), a dataset's `source` may come over a `generator` of another file (an overlay)."""
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
            if kind == "generator" and "generator" in spec and "source" in spec and _one_file(where, section, name):
                yield (section, name), "give `generator` (generated images) or `source` (real data), not both"
            if kind == "generator" and denoised(spec):
                why = f"its images are those of {spec['denoise_of']!r}, denoised; it takes: {', '.join(DENOISE_KEYS)}"
                for key in spec:
                    if key not in DENOISE_KEYS:
                        yield (section, name, key), f"a denoised dataset (denoise_of) takes no key {key!r}: {why}"
                continue
            if kind == "generator" and "denoise" in spec:
                yield (section, name, "denoise"), "only with `denoise_of`: the dataset whose images to denoise"
            own = _resolve(blocks[chosen]["$ref"], schema) if "$ref" in blocks[chosen] else blocks[chosen]
            own = own.get("properties", {})
            for key in spec:
                if key not in common["properties"] and key not in own:
                    takes = ", ".join([*common["properties"], *own])
                    yield (section, name, key), f"{kind} {chosen!r} takes no key {key!r}; it takes: {takes}"


def _one_file(where: Mapping[KeyPath, Location] | None, section: str, name: str) -> bool:
    """Whether one config file gives both `generator` and `source` of an entry (always, without `where`): an
    overlay that gives `source` to a generated stand-in of an earlier file (config/kitchen-boards-real.yaml)
    turns it into real data, and the generator keys it inherits are ignored. A key merged from a YAML anchor
    has no place of its own and counts as the overlay's."""
    if where is None:
        return True
    places = [where.get((section, name, key)) for key in ("generator", "source")]
    return None not in places and len({place.rpartition(":")[0] for place in places}) == 1


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


def own_patches(datasets: Mapping[str, Mapping], dataset: str) -> dict:
    """A dataset's own `patches` block: a twin inherits its source's block (as every key), and a denoised
    dataset its source's, its own keys over them (a denoised training set keeps its source's training grid)."""
    blocks = [resolve_spec(name, dict(datasets)).get("patches", {}) for name in denoise_chain(dataset, datasets)]
    return {key: value for block in reversed(blocks) for key, value in block.items()}


def patch_settings(config: Mapping, dataset: str) -> dict:
    """The patch stores' settings of a dataset: the top-level `patches`, its own `patches` block over them (a
    twin or a denoised dataset inherits its source's block, see `own_patches`)."""
    return {**config["patches"], **own_patches(config["datasets"], dataset)}
