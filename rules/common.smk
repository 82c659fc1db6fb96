# Names shared by every stage: datasets, shards, experiments, and the checks that tie them.

# Jobs import the library `defectlab` (src/) installed in their environment: `make` installs it
# into .venv; with --software-deployment-method conda, envs/pipeline.post-deploy.sh does.
# The workflow itself imports it to check the datasets before any job starts.
from defectlab.synth.plan import plan_dataset, resolve_spec

ENV = "../envs/pipeline.yaml"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    experiment=r"[A-Za-z0-9_.-]+",
    shard=r"\d+",


def check_experiments():
    """Every dataset an experiment names must be configured: fail before any job starts."""
    for name, experiment in config["experiments"].items():
        for role in ("train", "val", "test"):
            names = experiment[role] if role == "train" else [experiment[role]]
            for dataset in names:
                if dataset not in config["datasets"]:
                    raise ValueError(
                        f"config: experiments.{name}.{role} names dataset {dataset!r}, "
                        f"which is not under datasets (known: {', '.join(config['datasets'])})"
                    )


check_experiments()


def dataset_spec(dataset):
    """A dataset's spec with a twin's source filled in (see defectlab.synth.plan.resolve_spec)."""
    return resolve_spec(dataset, config["datasets"])


def check_datasets():
    """Plan every dataset's samples now, so a bad twin, range or count fails before any job starts."""
    for name in config["datasets"]:
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


def shard_coresets(wildcards):
    """The per-shard coresets of every training dataset of an experiment, in config order."""
    return [
        path
        for dataset in config["experiments"][wildcards.experiment]["train"]
        for path in expand(
            "results/coresets/{dataset}/shard-{shard}.h5",
            dataset=dataset,
            shard=range(config["patches"]["shards"]),
        )
    ]


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
