# Names shared by every stage: datasets, shards, experiments, and the checks that tie them.

# Jobs import the library `defectlab` (src/) installed in their environment: `make` installs it
# into .venv; with --software-deployment-method conda, envs/pipeline.post-deploy.sh does.
# The workflow itself imports it to check the datasets before any job starts.
import os
import re
from pathlib import Path

from defectlab.data.registry import load_registry
from defectlab.synth.plan import plan_dataset, resolve_spec

ENV = "../envs/pipeline.yaml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    experiment=r"[A-Za-z0-9_.-]+",
    shard=r"\d+",


def experiment_refs(name):
    """The experiments an experiment builds on: the one it fine-tunes, or those it melds."""
    spec = config["experiments"][name]
    return [*spec.get("meld", []), *([spec["pretrained"]] if "pretrained" in spec else [])]


def check_experiments():
    """Every dataset and experiment an experiment names must be configured, without cycles: fail before any job."""
    experiments = config["experiments"]
    for name, experiment in experiments.items():
        for role in ("train", "val", "test"):
            names = experiment.get(role, []) if role == "train" else [experiment[role]]
            for dataset in names:
                if dataset not in config["datasets"]:
                    raise ValueError(
                        f"config: experiments.{name}.{role} names dataset {dataset!r}, "
                        f"which is not under datasets (known: {', '.join(config['datasets'])})"
                    )
        for ref in experiment_refs(name):
            if ref not in experiments:
                raise ValueError(f"config: experiments.{name} builds on experiment {ref!r}, which is not configured")

    def visit(name, path):
        if name in path:
            raise ValueError(f"config: experiments build on each other in a cycle: {' -> '.join([*path, name])}")
        for ref in experiment_refs(name):
            visit(ref, [*path, name])

    for name in experiments:
        visit(name, [])


check_experiments()


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


def backbone_weights(wildcards):
    """The backbone's weight file when it is a registry download (it is fetched and verified first)."""
    weights = config["backbone"]["weights"]
    return [weights] if Path(weights).parent == WEIGHTS_DIR else []


def archives(entry):
    """The archive files of a registry entry, where the download rule puts them."""
    return [str(REGISTRY.destination(entry, archive.file)) for archive in REGISTRY[entry].archives]


def check_sources():
    """Real data that cannot be fetched here (manual, or credentials not set) and is not in place: one message."""
    if not any(converted(name) for name in config["datasets"]):
        return
    missing = []
    for entry in sorted({config["datasets"][n]["source"]["entry"] for n in config["datasets"] if converted(n)}):
        item = REGISTRY[entry]
        if Path(f"resources/converted/{entry}").exists() or Path(f"resources/extracted/{entry}").exists():
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


check_sources()


def check_datasets():
    """Plan every rendered dataset's samples now, so a bad twin, range or count fails before any job starts."""
    for name in rendered_datasets():
        try:
            plan_dataset(name, dataset_spec(name), config["seed"])
        except (ValueError, RuntimeError) as error:
            raise ValueError(f"config: datasets.{name}: {error}") from None


check_datasets()


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
