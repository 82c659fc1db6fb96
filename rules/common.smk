# Names shared by every stage: datasets, shards, experiments, and the checks that tie them; the registries
# that model rule files fill (their maps files, their final outputs).

# Jobs import the library `defectlab` (src/) installed in their environment: `make` installs it
# into .venv; with --software-deployment-method conda, envs/pipeline.post-deploy.sh does.
# The workflow itself imports it to check the datasets before any job starts.
import os
import re
import sys
from pathlib import Path

from defectlab.config import check_config
from defectlab.config.checks import NAME_PATTERN
from defectlab.config.sections import experiment_settings, family_of, generator_of
from defectlab.data.converters import categories, check_dataset_sources, check_options, source_categories
from defectlab.data.registry import load_registry
from defectlab.synth.plan import resolve_spec

ENV = "../envs/pipeline.yaml"
MODEL_ENV = "../../envs/pipeline.yaml"  # the same, from rules/models/ (conda paths are relative to the rule file)


wildcard_constraints:
    dataset=NAME_PATTERN,
    experiment=NAME_PATTERN,
    shard=r"\d+",


def dataset_spec(dataset):
    """A dataset's spec with a twin's source filled in (see defectlab.synth.plan.resolve_spec)."""
    return resolve_spec(dataset, config["datasets"])


def converted(dataset):
    """A dataset converted from real data (`source`) rather than rendered."""
    return "source" in config["datasets"][dataset]


def denoised(dataset):
    """A dataset whose images are another dataset's, denoised (`denoise_of`, rule `denoise`)."""
    return "denoise_of" in config["datasets"][dataset]


def generated_by(generator):
    """The datasets a generator makes (real data, `source`, and denoised twins, `denoise_of`, have none)."""
    return [
        n
        for n, spec in config["datasets"].items()
        if not converted(n) and not denoised(n) and generator_of(spec) == generator
    ]


def names_pattern(names):
    """A wildcard regex matching exactly these names (nothing at all for none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


SETTINGS = {name: experiment_settings(config, name) for name in config["experiments"]}  # family section + overrides

# Filled by each rules/models/<family>.smk: the maps files of (experiment, dataset), and the outputs `all` asks
# for when the config has experiments of that family (study tables, figures).
MAPS_FILES = {}
FAMILY_OUTPUTS = {}


def maps_files(experiment, role):
    """The maps files an experiment's model writes for its `role` (val or test) dataset."""
    spec = config["experiments"][experiment]
    return MAPS_FILES[family_of(spec)](experiment, spec[role])


REGISTRY_PATH = config.get("registry", str(Path(workflow.basedir) / "config" / "registry.yaml"))


REGISTRY = load_registry(REGISTRY_PATH)  # read once: rule inputs and start-up checks ask it often
WEIGHTS_DIR = REGISTRY.weights_dir


def check_settings():
    """Every check across keys (defectlab.config.checks) before any job; the backbone once, in the main process."""
    known_weights = {a.file for e in REGISTRY if e.kind == "weights" for a in e.archives}
    for warning in check_config(
        config,
        CONFIG_KEYS,
        weights_dir=WEIGHTS_DIR,
        known_weights=known_weights,
        backbone=workflow.is_main_process,
    ):
        print(f"warning: config: {warning}", file=sys.stderr)


check_settings()


def registry_weights(backbone):
    """A backbone's weight file when it is a registry download (a job using it waits for it to be fetched):
    a path under the weights folder, or torchvision's `registry` weights (whose file torchvision names)."""
    weights = backbone["weights"]
    if weights.split(":")[0] == "registry":
        from defectlab.features.backbones import weights_path

        weights = str(weights_path(backbone["name"], weights, WEIGHTS_DIR))
    return [weights] if Path(weights).parent == WEIGHTS_DIR else []


def archives(entry):
    """The archive files of a registry entry, where the download rule puts them."""
    return [str(REGISTRY.destination(entry, archive.file)) for archive in REGISTRY[entry].archives]


def dataset_entries(with_categories):
    """A wildcard regex of the registry's convertible datasets with categories (or without)."""
    return names_pattern(
        e.name for e in REGISTRY if e.converter and bool(categories(e.name, REGISTRY)) == with_categories
    )


def options(entry):
    """The config's converter options of a registry entry (`sources.<entry>`, checked at start-up)."""
    return config["sources"].get(entry, {})


def extracted(wildcards):
    """The folder a convert job reads: its entry's extraction (the `root` option's folder in it), or one category
    there. Extraction is a checkpoint, so a category's job depends on that category's own folder, and an edit
    Snakemake sees there reconverts that category only."""
    extraction = checkpoints.extract.get(entry=wildcards.entry).output[0]
    folder = Path(extraction, options(wildcards.entry).get("root", ""))
    return str(folder / wildcards.category) if "category" in wildcards.keys() else str(folder)


def converted_folders(wildcards):
    """The conversions a dataset takes its images from: one per category it names (all when none), or the
    entry's one folder."""
    source = config["datasets"][wildcards.dataset]["source"]
    parts = source_categories(source, REGISTRY)
    return [f"resources/converted/{source['entry']}/{c}" for c in parts] or [f"resources/converted/{source['entry']}"]


def check_sources():
    """Real data, before any job: converter options and dataset sources (defectlab.data.converters), then
    data that cannot be fetched here (manual, or credentials not set) and is not in place, and the
    categories that a copy placed under resources/extracted/ lacks: one message."""
    check_options(config["sources"], REGISTRY)
    check_dataset_sources(config["datasets"], REGISTRY)
    missing = []
    for entry in sorted({config["datasets"][n]["source"]["entry"] for n in config["datasets"] if converted(n)}):
        item = REGISTRY[entry]
        if Path(f"resources/extracted/{entry}").exists():
            missing += absent_categories(entry)
            continue
        if Path(f"resources/converted/{entry}").exists():
            continue
        absent = [path for path in archives(entry) if not Path(path).exists()]
        unset = [v for v in (item.credentials.variables if item.credentials else ()) if v not in os.environ]
        if absent and (item.manual or unset):
            what = f"set {' and '.join(unset)}" if unset and not item.manual else "download it by hand"
            where = item.homepage or "see config/registry.yaml"
            how = (item.how_to_fetch or "").strip()
            places = " ".join(absent)
            licence = item.licence.name or "not stated"
            missing.append(f"- {entry} ({where}; licence: {licence}): {what}, then place {places}")
            missing.append(f"  {how}")
    if missing:
        raise ValueError(os.linesep.join(["config needs real data that is not here yet:", *missing]))


def absent_categories(entry):
    """The categories the config's datasets take from `entry` that are neither converted nor in the copy under
    resources/extracted/<entry>/ (extracted, or placed there by hand): a message line, or none."""
    sources = [config["datasets"][n]["source"] for n in config["datasets"] if converted(n)]
    needed = {c for s in sources if s["entry"] == entry for c in source_categories(s, REGISTRY)}
    root = Path("resources/extracted", entry, options(entry).get("root", ""))
    absent = sorted(c for c in needed if not (root / c).is_dir() and not Path("resources/converted", entry, c).is_dir())
    if not absent:
        return []
    return [
        f"- {entry}: no folder {', '.join(absent)} in {root}: place the categories there, name only those it has "
        f"in the datasets' source.objects, or move resources/extracted/{entry} away to download the archive"
    ]


check_sources()


def render_shards(dataset):
    return range(config["datasets"][dataset]["shards"])


def dataset_dir(experiment, role):
    """The dataset folder an experiment uses as its validation or test data."""
    return f"results/datasets/{config['experiments'][experiment][role]}"


def first_experiment():
    """The experiment whose datasets the gallery shows: the first in the config."""
    return next(iter(config["experiments"]))


def gallery_plate():
    """The dataset whose first plate the gallery renders: the first experiment's first rendered training
    dataset, else any rendered training dataset; None when the config renders no training plates or has no
    experiment (whose test data the gallery shows beside it)."""
    if not config["experiments"]:
        return None
    spec = config["experiments"][first_experiment()]
    candidates = [*spec.get("train", []), *(n for n in config["datasets"] if config["datasets"][n]["split"] == "train")]
    return next((n for n in candidates if n in generated_by("plates")), None)


def evaluation_inputs(wildcards):
    """The test maps and dataset of an experiment, and the val ones when its threshold is fitted there."""
    spec = config["experiments"][wildcards.experiment]
    inputs = {}
    for role in ["test"] + (["val"] if spec["threshold"]["fit_on"] == "val" else []):
        inputs[f"{role}_maps"] = maps_files(wildcards.experiment, role)
        inputs[f"{role}_dataset"] = dataset_dir(wildcards.experiment, role)
    return inputs


def final_outputs():
    """Every dataset, the metrics of every experiment in one table with a figure each, the plates gallery when
    plates are rendered for training, the chess, noise and boards galleries when those are generated with an
    anomaly, the clutch gallery when a clutch dataset has defects,
    what each model family present adds (its study tables, figures) and the kitchen-board study's tables."""
    families = dict.fromkeys(family_of(spec) for spec in config["experiments"].values())
    metrics = ["results/tables/metrics.parquet", "results/tables/summary.md"] if config["experiments"] else []
    return [
        *metrics,
        *(["results/figures/plates-gallery.png"] if gallery_plate() else []),
        *(["results/figures/procedural-gallery.png"] if PROCEDURAL_GALLERY else []),
        *(["results/figures/boards-gallery.png"] if BOARDS_GALLERY else []),
        *(["results/figures/clutch-gallery.png"] if CLUTCH_GALLERY else []),
        *(output for family in families for output in FAMILY_OUTPUTS[family]()),
        *jobs_kitchen.outputs(config),  # the kitchen-board study's tables, of patch-unit experiments (report.smk)
        *jobs_latent.outputs(config),  # the latent-space study's tables and figures (latent.smk)
        *expand("results/datasets/{dataset}", dataset=config["datasets"]),
        *expand("results/figures/{experiment}-examples.png", experiment=config["experiments"]),
    ]
