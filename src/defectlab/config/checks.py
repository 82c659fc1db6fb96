"""Checks across config keys that the schema cannot express, run at start-up before any job.

Each check returns problems as `(key path, message)`; `check_config` (in `__init__`) prefixes them
with the file and line the key came from. What these refuse would otherwise fail minutes into a
run, or finish with numbers that are silently wrong.
"""

import re
from collections.abc import Iterator
from pathlib import Path

from defectlab.classes import BY_NAME
from defectlab.config.sections import (
    UNTRAINED,
    denoise_chain,
    denoised,
    experiment_settings,
    experiments_of,
    generator_of,
    model_of,
    own_patches,
)
from defectlab.config.yaml_files import KeyPath
from defectlab.models.segmentation.settings import in_channels, resolve
from defectlab.synth.generators import GENERATORS, can_hold_defects
from defectlab.synth.plan import resolve_spec

Problem = tuple[KeyPath, str]

# Dataset and experiment names become folder names and wildcard values: a safe path component.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
NAME_MAX = 100
NAME_RULE = "a letter or digit, then letters, digits, '_', '-' or '.', at most 100 characters"
# Labels are table text (markdown cells): printable, one line, no cell separator.
LABEL_PATTERN = r"[^\s|][^|\n\r\t]*"
MAX_CORESET = 1 << 16  # defectlab.patchcore.sequential.MAX_SIZE, without importing torch at start-up
PLAN_CHECKED = 256  # samples per dataset planned at start-up: every per-sample check, in bounded time


def name_problems(config: dict) -> Iterator[Problem]:
    """Names of datasets and experiments that are not safe path components (`..`, `a/b`, ' ', '')."""
    for section in ("datasets", "experiments"):
        for name in config.get(section) or {}:
            if not isinstance(name, str) or len(name) > NAME_MAX or not re.fullmatch(NAME_PATTERN, name):
                yield (
                    (section, str(name)),
                    f"name {name!r} is not allowed: a name is {NAME_RULE} (it becomes a folder name)",
                )


def label_problems(experiments: dict) -> Iterator[Problem]:
    """Labels are what the study tables key rows by: each must be printable and unique."""
    used: dict[str, str] = {}
    for name, spec in experiments.items():
        label = spec.get("label", name)
        if not re.fullmatch(LABEL_PATTERN, label):
            yield ("experiments", name, "label"), f"label {label!r}: one line of printable text without '|'"
        elif label in used:
            yield ("experiments", name, "label"), f"label {label!r} is taken by experiment {used[label]!r}"
        used.setdefault(label, name)


def experiment_refs(spec: dict) -> list[str]:
    """The experiments an experiment builds on: the one it fine-tunes, or those it melds."""
    return [*spec.get("meld", []), *([spec["pretrained"]] if "pretrained" in spec else [])]


def evaluated_on(spec: dict) -> list[str]:
    """The roles of the datasets an experiment is evaluated on: test, and val unless the threshold is
    fitted on test."""
    return ["val", "test"] if spec["threshold"]["fit_on"] == "val" else ["test"]


def experiment_problems(config: dict) -> Iterator[Problem]:
    """Each experiment trains (a PatchCore one trains, fine-tunes or melds), names configured datasets and
    experiments, has a val dataset when its threshold is fitted there, and no cycles."""
    datasets, experiments = config["datasets"], config["experiments"]
    for name, spec in experiments.items():
        key = ("experiments", name)
        if model_of(spec) == "patchcore":
            yield from _patchcore_sources(key, spec)
        elif model_of(spec) in UNTRAINED and "train" in spec:
            yield (*key, "train"), f"model {model_of(spec)!r} takes no training data"
        elif model_of(spec) not in UNTRAINED and "train" not in spec:
            yield key, "needs `train`: the datasets the model trains on"
        if "val" not in spec and spec["threshold"]["fit_on"] == "val":
            yield key, "needs `val` (the dataset the threshold is fitted on), or threshold.fit_on: test (an oracle)"
        if spec["threshold"]["rule"] == "iou" and spec["unit"] != "pixel":
            yield (*key, "threshold", "rule"), f"iou is a pixel measure; unit {spec['unit']!r} takes f1 or youden"
        for role in ("train", "val", "test"):
            for dataset in spec.get(role, []) if role == "train" else [spec[role]] if role in spec else []:
                if dataset not in datasets:
                    yield (*key, role), f"names dataset {dataset!r}, which is not under datasets"
        for ref in experiment_refs(spec):
            if ref not in experiments:
                yield key, f"builds on experiment {ref!r}, which is not configured"
            elif ref == name:
                yield key, "builds on itself"
            elif model_of(experiments[ref]) != model_of(spec):
                yield key, f"builds on experiment {ref!r}, whose model is {model_of(experiments[ref])!r}"
    yield from _cycles(
        experiments,
        lambda n: [r for r in experiment_refs(experiments[n]) if r in experiments],
        "experiments build on each other in a cycle",
        ("experiments",),
    )


def _patchcore_sources(key: KeyPath, spec: dict) -> Iterator[Problem]:
    if "train" in spec and "meld" in spec:
        yield key, "give `train` (datasets to train on) or `meld` (experiments to meld), not both"
    elif "train" not in spec and "meld" not in spec:
        yield key, "needs `train` (datasets to train on) or `meld` (experiments whose coresets to meld)"
    if "pretrained" in spec and "train" not in spec:
        yield key, "`pretrained` needs `train`: the datasets the pretrained coreset is fine-tuned on"


def _cycles(graph: dict, edges, what: str, key: KeyPath) -> Iterator[Problem]:
    """One problem per cycle of `edges` over the names of `graph` (depth-first, each cycle once), at
    `key` + the first name of the cycle."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> Iterator[Problem]:
        if name in path:
            yield (key[0], name, *key[1:]), f"{what}: {' -> '.join([*path[path.index(name) :], name])}"
            return
        if name in done:
            return
        for ref in edges(name):
            yield from visit(ref, [*path, name])
        done.add(name)

    for name in graph:
        yield from visit(name, [])


def generated(config: dict) -> list[str]:
    """The datasets a generator makes (the others are real data, converted, or denoised from another dataset)."""
    return [name for name, spec in config["datasets"].items() if "source" not in spec and not denoised(spec)]


def dataset_problems(config: dict) -> Iterator[Problem]:
    """Twins that exist, share their source's generator and form no cycle, denoised datasets likewise (and of
    their source's split), and the first PLAN_CHECKED samples of each generated dataset planned by its
    generator."""
    datasets = config["datasets"]
    twins_of_denoised = False  # resolve_spec would merge a denoised dataset's keys: plan nothing then
    for name, spec in datasets.items():
        if denoised(spec):
            yield from _denoise_problems(datasets, name)
            continue
        if "count" not in spec and "source" not in spec:
            yield (
                ("datasets", name),
                "needs `count` (objects to generate) or `source` (real data from the registry), or is a denoised "
                "dataset (`denoise_of`: another dataset's images, denoised)",
            )
        if "twin_of" in spec and spec["twin_of"] in datasets and denoised(datasets[spec["twin_of"]]):
            origin = datasets[spec["twin_of"]]["denoise_of"]
            yield (
                ("datasets", name, "twin_of"),
                f"names {spec['twin_of']!r}, a denoised dataset: make the twin of {origin!r} and give it a "
                f"denoised dataset of its own",
            )
            twins_of_denoised = True
            continue
        if "twin_of" in spec and spec["twin_of"] not in datasets:
            yield ("datasets", name, "twin_of"), f"names {spec['twin_of']!r}, which is not under datasets"
        elif "twin_of" in spec and generator_of(datasets[spec["twin_of"]]) != generator_of(spec):
            yield (
                ("datasets", name, "twin_of"),
                f"names {spec['twin_of']!r} of generator {generator_of(datasets[spec['twin_of']])!r}, "
                f"not {generator_of(spec)!r}",
            )
    twins = {n: [s["twin_of"]] if s.get("twin_of") in datasets else [] for n, s in datasets.items()}
    cycles = list(_cycles(datasets, twins.__getitem__, "twin_of forms a cycle", ("datasets", "twin_of")))
    sources = {n: [s["denoise_of"]] if s.get("denoise_of") in set(datasets) - {n} else [] for n, s in datasets.items()}
    cycles += _cycles(datasets, sources.__getitem__, "denoise_of forms a cycle", ("datasets", "denoise_of"))
    yield from cycles
    if cycles or twins_of_denoised:
        return
    for name in generated(config):
        if "count" not in datasets[name]:
            continue
        try:
            spec = resolve_spec(name, datasets)
            for i in range(min(spec["count"], PLAN_CHECKED)):
                GENERATORS[generator_of(spec)].plan(name, spec, config["seed"], i)
        except (ValueError, RuntimeError) as error:
            yield ("datasets", name), str(error)


def _denoise_problems(datasets: dict, name: str) -> Iterator[Problem]:
    """A denoised dataset names another dataset of the config, and keeps its split (the index is its source's,
    copied: a dataset whose `split` said otherwise would hold images of another split)."""
    source = datasets[name]["denoise_of"]
    if source == name:
        yield ("datasets", name, "denoise_of"), "names the dataset itself"
    elif source not in datasets:
        yield ("datasets", name, "denoise_of"), f"names {source!r}, which is not under datasets"
    elif datasets[source].get("split") != datasets[name]["split"]:
        split = datasets[source].get("split")
        yield (
            ("datasets", name, "split"),
            f"{datasets[name]['split']!r} differs from the split {split!r} of {source!r}: a denoised dataset keeps "
            f"its source's images, index and split (give split: {split})",
        )


def images_source(config: dict, name: str) -> str:
    """The dataset whose generator or source made a dataset's images: the dataset itself, or the end of its
    denoise_of chain."""
    return denoise_chain(name, config["datasets"])[-1]


def images_of(config: dict, name: str) -> int | None:
    """Images of a generated (or denoised generated) dataset; None for real data, unknown before conversion."""
    name = images_source(config, name)
    spec = config["datasets"][name]
    if "source" in spec:
        return None
    return GENERATORS[generator_of(spec)].images(resolve_spec(name, config["datasets"]))


def has_defects(config: dict, name: str) -> bool | None:
    """Whether a generated (or denoised generated) dataset can hold a defect (its planned samples do); None for
    real data."""
    name = images_source(config, name)
    spec = config["datasets"][name]
    if "source" in spec:
        return None
    resolved = resolve_spec(name, config["datasets"])
    return can_hold_defects(GENERATORS[generator_of(spec)], name, resolved, config["seed"], PLAN_CHECKED)


def evaluation_problems(config: dict) -> Iterator[Problem]:
    """Validation data must hold defects (the F1 threshold is fitted on them); test data too (AUROC, AUPRO)."""
    why = {
        "val": "the threshold is fitted on its defects",
        "test": "AUROC, AUPRO and recall need defect pixels",
    }
    for name, spec in config["experiments"].items():
        for role in evaluated_on(spec):
            dataset = spec[role]
            if dataset in config["datasets"] and has_defects(config, dataset) is False:
                source = images_source(config, dataset)
                how = {"plates": "set its `defects`", "boards": "set its `anomalies`"}.get(
                    generator_of(config["datasets"][source]), "give it an `anomaly`"
                )
                if source != dataset:
                    how = f"{how} in {source!r}, whose images it denoises"
                yield (
                    ("experiments", name, role),
                    f"dataset {dataset!r} renders no defect ({why[role]}): {how}",
                )


def dataset_patches(config: dict, name: str) -> dict:
    """A dataset's own `patches` block (a twin's or a denoised dataset's inherited), empty for real data and none
    given."""
    if name not in config["datasets"]:
        return {}
    return own_patches(config["datasets"], name)


def patch_problems(config: dict, strides: dict[str, int]) -> Iterator[Problem]:
    """Tiles that fit the rendered images and the backbone grid of each PatchCore experiment (`strides`: the
    feature stride of each experiment's backbone, where it was checked), shards that each get an image."""
    patches, size = config["patches"], config["patches"]["size"]
    scored = {
        spec[role]
        for name in experiments_of(config, "patchcore")
        for spec in [config["experiments"][name]]
        for role in evaluated_on(spec)
    }
    if patches["stride"] > size and scored - {n for n in scored if "stride" in dataset_patches(config, n)}:
        yield (
            ("patches", "stride"),
            f"{patches['stride']} exceeds patches.size {size}: pixels between tiles are never scored (a larger "
            f"stride is for training datasets: give it in their own `patches` block)",
        )
    if patches["edges"] == "none" and scored - {n for n in scored if "edges" in dataset_patches(config, n)}:
        yield ("patches", "edges"), "none leaves the right and bottom edges of scored (val, test) images in no tile"
    for name in sorted(scored & set(config["datasets"])):
        own = dataset_patches(config, name)
        if own.get("stride", 0) > size:
            yield (
                ("datasets", name, "patches", "stride"),
                f"{own['stride']} exceeds patches.size {size}, and {name!r} is scored (val or test of a PatchCore "
                f"experiment): pixels between its tiles would never be scored",
            )
        if own.get("edges") == "none":
            yield (
                ("datasets", name, "patches", "edges"),
                f"none leaves the right and bottom edges of {name!r} in no tile, and it is scored (val or test)",
            )
    for name, stride in strides.items():
        if size % stride:
            backbone = experiment_settings(config, name)["backbone"]["name"]
            yield (
                ("patches", "size"),
                f"{size} is not a multiple of the feature stride {stride} of {backbone} (experiment {name})",
            )
            break
    if patches["min_mean_intensity"] >= 255:
        yield ("patches", "min_mean_intensity"), "255 drops every tile (a tile is kept when its mean is above it)"
    resolution = config["render"]["resolution"]
    if size > resolution and any(generator_of(config["datasets"][n]) == "plates" for n in generated(config)):
        yield ("patches", "size"), f"{size} exceeds the rendered images ({resolution} px, render.resolution)"
    used = {
        d
        for name in experiments_of(config, "patchcore")
        for spec in [config["experiments"][name]]
        for d in [*spec.get("train", []), *(spec[role] for role in evaluated_on(spec))]
    }
    for name in sorted(used & set(config["datasets"])):
        images = images_of(config, name)
        if images is not None and images < patches["shards"]:
            yield (
                ("patches", "shards"),
                f"{patches['shards']} patch shards for the {images} images of dataset {name!r}: a shard would be empty",
            )


def report_problems(config: dict) -> Iterator[Problem]:
    """Report settings name configured experiments."""
    experiments, report = config["experiments"], config["report"]
    for name in report.get("table1", []):
        if name not in experiments:
            yield ("report", "table1"), f"names experiment {name!r}, which is not configured"
    if "sweep" in report and report["sweep"] not in experiments:
        yield ("report", "sweep"), f"names experiment {report['sweep']!r}, which is not configured"


def thesis_problems(config: dict) -> Iterator[Problem]:
    """PatchCore's kitchen-board options where they apply: the reweighted patch score on patch-unit experiments
    whose scored datasets are cut on the evaluation's grid (else test patches would have no score), per-dataset
    statistics from an experiment's own training datasets, Table 6.1 rows of patch-unit experiments."""
    size = config["patches"]["size"]
    for name in experiments_of(config, "patchcore"):
        spec, settings = config["experiments"][name], experiment_settings(config, name)
        if settings["scoring"]["patch_score"] == "reweighted":
            key = settings_key(config, name, "scoring", "patch_score")
            if spec["unit"] != "patch":
                yield key, f"reweighted scores test patches: experiment {name!r} needs unit: patch"
            else:
                yield from _patch_grid_problems(config, name, key, size)
        if settings["backbone"]["normalisation"] == "train" and ("train" not in spec or "pretrained" in spec):
            yield (
                settings_key(config, name, "backbone", "normalisation"),
                f"train: statistics of the experiment's own training datasets, and {name!r} "
                f"{'fine-tunes another experiment' if 'pretrained' in spec else 'has no train datasets'}",
            )
    for name in config["report"].get("kitchen_rows", {}):
        if config["experiments"].get(name, {}).get("unit") != "patch":
            yield ("report", "kitchen_rows"), f"names {name!r}, which is not a configured patch-unit experiment"


def _patch_grid_problems(config: dict, name: str, key: KeyPath, size: int) -> Iterator[Problem]:
    spec = config["experiments"][name]
    roles = ["test"] + (["val"] if spec["threshold"].get("fit_on", "val") == "val" and "val" in spec else [])
    for dataset in (spec[role] for role in roles):
        own = {**config["patches"], **dataset_patches(config, dataset)}
        if own.get("grid") != "exclusions":
            yield (
                ("datasets", dataset, "patches"),
                f"needs grid: exclusions: experiment {name!r} scores its test patches on their own ({key[-1]} "
                f"reweighted), so the patch store must hold exactly the patch unit's patches",
            )
        elif (spec["patch"]["size"], spec["patch"]["stride"]) != (size, own["stride"]):
            yield (
                ("experiments", name, "patch"),
                f"size {spec['patch']['size']}, stride {spec['patch']['stride']}: the patch store of {dataset!r} "
                f"has size {size}, stride {own['stride']}, and the reweighted scores are of its patches",
            )


def segmentation_problems(config: dict) -> Iterator[Problem]:
    """Segmentation settings the schema cannot judge (defectlab.models.segmentation.settings), deeplabv3's batch of
    at least 2, and a fine-tuning run whose input channels differ from its pretrained run's or that names local
    weights as well (it would start from one and record the other)."""
    resolved = {}
    for name in experiments_of(config, "segmentation"):
        try:
            resolved[name] = resolve(experiment_settings(config, name))
        except ValueError as error:
            yield ("experiments", name), str(error)
    for name, settings in resolved.items():
        spec = config["experiments"][name]
        if spec["model"] == "deeplabv3" and settings["batch_size"] < 2:
            key = settings_key(config, name, "batch_size", family="segmentation")
            yield key, "deeplabv3 needs batch_size >= 2: its image pooling cannot train on a batch of one"
        unknown = sorted(set(settings["geometry"]) - set(config.get("datasets", {})))
        if unknown:
            yield (
                settings_key(config, name, "geometry", family="segmentation"),
                f"names no dataset of the config: {', '.join(unknown)}",
            )
        if "pretrained" in spec and settings["weights"] is not None:
            yield (
                settings_key(config, name, "weights", family="segmentation"),
                f"{name!r} fine-tunes {spec['pretrained']!r}: it cannot also start from weights {settings['weights']}",
            )
        before = resolved.get(spec.get("pretrained", ""))
        if before is not None and in_channels(before) != in_channels(settings):
            yield (
                settings_key(config, name, "exposure_stack", family="segmentation"),
                f"{name!r} fine-tunes {spec['pretrained']!r}, whose exposure_stack is {before['exposure_stack']}: "
                "the input channels must match",
            )


def latent_problems(config: dict) -> Iterator[Problem]:
    """The latent section names datasets and backbones of the config, class names the class map knows (crops
    mode), and counts of its curated classes or of the ambiguous pool."""
    latent = config.get("latent")
    if latent is None:
        return
    items = latent["items"]
    for split in ("train", "val", "test"):
        if items[split]["dataset"] not in config["datasets"]:
            named = items[split]["dataset"]
            yield ("latent", "items", split, "dataset"), f"names {named!r}, which is not under datasets"
        unknown = sorted(set(items[split]["counts"]) - {*items["curated"], "ambiguous"})
        if unknown:
            yield (
                ("latent", "items", split, "counts"),
                f"counts {', '.join(unknown)}: neither a curated class ({', '.join(items['curated'])}) nor ambiguous",
            )
    if items["mode"] == "crops":
        for key in ("curated", "ambiguous"):
            unknown = sorted(set(items[key]) - set(BY_NAME))
            if unknown:
                yield ("latent", "items", key), f"{', '.join(unknown)}: not a class of the class map"
    names = set(latent["backbones"])
    for key in ("backbone", "compare"):
        given = latent.get(key)
        unknown = sorted(set([given] if isinstance(given, str) else given or []) - names)
        if unknown:
            yield ("latent", key), f"{', '.join(unknown)}: not under latent.backbones ({', '.join(sorted(names))})"


def settings_key(config: dict, name: str, *keys: str, family: str = "patchcore") -> KeyPath:
    """Where an experiment's setting was given: its own override, else the family section."""
    spec = config["experiments"][name]
    if keys[0] in spec:
        return ("experiments", name, *keys)
    return (family, *keys)


def coreset_problems(config: dict) -> Iterator[Problem]:
    """Coreset sizes whose M x M distance matrix (the sequential rule keeps one) the coreset refuses."""
    sizes = {}
    for name in experiments_of(config, "patchcore"):
        coreset = experiment_settings(config, name)["coreset"]
        for key in ("size", "meld_size"):
            sizes[settings_key(config, name, "coreset", key)] = coreset[key]
        if "size" in config["experiments"][name]:
            sizes[("experiments", name, "size")] = config["experiments"][name]["size"]
    for key, m in sizes.items():
        if m > MAX_CORESET:
            yield (
                key,
                f"{m} is above {MAX_CORESET}: its {m}x{m} float64 distance matrix would take"
                f" {8 * m * m / 2**30:,.0f} GiB",
            )


def backbones(config: dict) -> dict[KeyPath, tuple[dict, list[str]]]:
    """Each distinct backbone of the PatchCore experiments, by where it was set: (settings, experiments)."""
    found: dict[KeyPath, tuple[dict, list[str]]] = {}
    for name in experiments_of(config, "patchcore"):
        key = settings_key(config, name, "backbone")
        found.setdefault(key, (experiment_settings(config, name)["backbone"], []))[1].append(name)
    return found


def weights_problems(backbone: dict, key: KeyPath, weights_dir: Path, known_weights: set[str]) -> Iterator[Problem]:
    """Weights that are a known registry file, or a local state-dict file that exists (torchvision's `registry`
    weights are checked with the backbone)."""
    weights = backbone["weights"]
    if weights.split(":")[0] == "registry":
        return
    if weights == "package" and backbone["name"] != "tf_efficientnet_lite0":
        yield (
            (*key, "weights"),
            f"'package' weights exist only for tf_efficientnet_lite0, not {backbone['name']!r}",
        )
    if weights in ("package", "none"):
        return
    path = Path(weights)
    if path.parent == weights_dir:
        if path.name not in known_weights:
            yield (
                (*key, "weights"),
                f"{weights}: not a weights file of the registry (known: {', '.join(sorted(known_weights))})",
            )
    elif not path.is_file():
        yield (
            (*key, "weights"),
            f"{weights}: no such file ('package', 'none', a registry weights file or a state-dict file)",
        )


def warnings(config: dict) -> Iterator[str]:
    """Legal but odd settings, said in the log and run anyway."""
    datasets = config["datasets"]
    for name, spec in datasets.items():
        source = datasets.get(spec.get("denoise_of"), {})
        if denoised(spec) and "domain" in source and source["domain"] != spec["domain"]:
            yield (
                f"datasets.{name}: domain {spec['domain']!r}, but it denoises {spec['denoise_of']!r} of domain "
                f"{source['domain']!r} (coreset provenance counts its points as {spec['domain']}: give domain: "
                f"{source['domain']})"
            )
    for name, spec in config["experiments"].items():
        if spec.get("val") == spec["test"] and spec["threshold"]["fit_on"] == "val":
            yield f"experiments.{name}: val and test are one dataset {spec['val']!r}: the threshold is fitted on test"
        if spec["test"] in spec.get("train", []):
            yield f"experiments.{name}: trains on its test dataset {spec['test']!r}"
