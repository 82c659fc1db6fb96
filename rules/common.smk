# Names shared by every stage: datasets, shards, experiments, and the checks that tie them.

# Jobs import the library `defectlab` (src/) installed in their environment: `make` installs it
# into .venv; with --software-deployment-method conda, envs/pipeline.post-deploy.sh does.
# The workflow itself imports it to check the datasets before any job starts.
import os
import re
import sys
from pathlib import Path

from defectlab.config import check_config
from defectlab.config.checks import NAME_PATTERN
from defectlab.data.converters import categories, check_dataset_sources, check_options, source_categories
from defectlab.data.registry import load_registry
from defectlab.synth.plan import resolve_spec

ENV = "../envs/pipeline.yaml"


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


def rendered_datasets():
    return [name for name in config["datasets"] if not converted(name)]


def names_pattern(names):
    """A wildcard regex matching exactly these names (nothing at all for none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def datasets_pattern(converted_ones):
    """A wildcard regex matching exactly the converted datasets (or exactly the rendered ones)."""
    return names_pattern(n for n in config["datasets"] if converted(n) == converted_ones)


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


def backbone_weights(wildcards):
    """The backbone's weight file when it is a registry download (it is fetched and verified first)."""
    weights = config["backbone"]["weights"]
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


def patch_stores(dataset):
    return expand(
        "results/patches/{dataset}/shard-{shard}.h5",
        dataset=dataset,
        shard=range(config["patches"]["shards"]),
    )


def variant(experiment):
    """Shard coresets with or without data augmentation: an experiment's `augment`, else coreset.augment.enabled."""
    spec = config["experiments"][experiment]
    return "augmented" if spec.get("augment", config["coreset"]["augment"]["enabled"]) else "plain"


def shard_coresets(wildcards):
    """The per-shard coresets of every training dataset of an experiment, in config order."""
    return [
        path
        for dataset in config["experiments"][wildcards.experiment].get("train", [])
        for path in expand(
            "results/coresets/{dataset}/{variant}/shard-{shard}.h5",
            dataset=dataset,
            variant=variant(wildcards.experiment),
            shard=range(config["patches"]["shards"]),
        )
    ]


def meld_inputs(wildcards):
    """What an experiment's coreset is melded from: its training shard coresets, or other experiments' coresets."""
    spec = config["experiments"][wildcards.experiment]
    if "meld" in spec:
        return [f"results/coresets/{name}.h5" for name in spec["meld"]]
    return shard_coresets(wildcards)


def experiments_pattern(finetuned):
    """A wildcard regex matching exactly the fine-tuned experiments (or exactly the others)."""
    return names_pattern(n for n, e in config["experiments"].items() if ("pretrained" in e) == finetuned)


def finetune_stores(wildcards):
    spec = config["experiments"][wildcards.experiment]
    return [store for dataset in spec["train"] for store in patch_stores(dataset)]


def training_experiments():
    """Experiments trained from their own datasets' shard coresets (the ones with a coreset-building figure)."""
    return [n for n, e in config["experiments"].items() if "train" in e and "pretrained" not in e]


def anomaly_maps(experiment, role):
    dataset = config["experiments"][experiment][role]
    return expand(
        "results/anomaly_maps/{experiment}/{dataset}/shard-{shard}.h5",
        experiment=experiment,
        dataset=dataset,
        shard=range(config["patches"]["shards"]),
    )


def dataset_dir(experiment, role):
    """The dataset folder an experiment uses as its validation or test data."""
    return f"results/datasets/{config['experiments'][experiment][role]}"


def first_experiment():
    """The experiment whose datasets the gallery shows: the first in the config."""
    return next(iter(config["experiments"]))


def gallery_plate():
    """The dataset whose first plate the gallery renders: the first experiment's first rendered training
    dataset, else any rendered training dataset; None when the config renders no training plates."""
    spec = config["experiments"][first_experiment()]
    candidates = [*spec.get("train", []), *(n for n in config["datasets"] if config["datasets"][n]["split"] == "train")]
    return next((n for n in candidates if not converted(n)), None)
