"""PatchCore's jobs: its experiments, the shard-coreset variants they share, and the paths of their files.

Shard coresets (one per training dataset x patch shard) are shared by every experiment that builds them
the same way: `plain` or `augmented` with the `patchcore` section's settings; an experiment with its own
backbone or coreset settings gets variants named after the first experiment with those settings.
"""

from defectlab.config.sections import experiment_settings, experiments_of


def experiments(config: dict) -> list[str]:
    """The PatchCore experiments, in config order."""
    return experiments_of(config, "patchcore")


def augmented(config: dict, name: str) -> bool:
    """Whether an experiment trains with data augmentation: its `augment`, else coreset.augment.enabled."""
    spec = config["experiments"][name]
    return spec.get("augment", experiment_settings(config, name)["coreset"]["augment"]["enabled"])


def shard_settings(settings: dict) -> dict:
    """What a shard coreset depends on, of PatchCore settings: the backbone and the coreset settings but the
    meld size and whether to augment (the variant's kind says that)."""
    coreset = {k: v for k, v in settings["coreset"].items() if k != "meld_size"}
    coreset["augment"] = {k: v for k, v in coreset["augment"].items() if k != "enabled"}
    return {"backbone": settings["backbone"], "coreset": coreset}


def variant_of(config: dict, name: str) -> str:
    """The variant of the shard coresets an experiment melds (see the module's docstring)."""
    kind = "augmented" if augmented(config, name) else "plain"
    own = shard_settings(experiment_settings(config, name))
    if own == shard_settings(config["patchcore"]):
        return kind
    owner = next(n for n in experiments(config) if shard_settings(experiment_settings(config, n)) == own)
    return f"{owner}-{kind}"


def variants(config: dict) -> dict[str, dict]:
    """Every shard-coreset variant the config's experiments train, with its settings."""
    return {
        variant_of(config, n): shard_settings(experiment_settings(config, n))
        for n in experiments(config)
        if "train" in config["experiments"][n]
    }


def shards(config: dict) -> range:
    return range(config["patches"]["shards"])


def patch_stores(config: dict, dataset: str) -> list[str]:
    return [f"results/patches/{dataset}/shard-{shard}.h5" for shard in shards(config)]


def shard_coresets(config: dict, name: str) -> list[str]:
    """The per-shard coresets of every training dataset of an experiment, in config order."""
    variant = variant_of(config, name)
    return [
        f"results/coresets/{dataset}/{variant}/shard-{shard}.h5"
        for dataset in config["experiments"][name].get("train", [])
        for shard in shards(config)
    ]


def meld_inputs(config: dict, name: str) -> list[str]:
    """What an experiment's coreset is melded from: its training shard coresets, or other experiments' coresets."""
    spec = config["experiments"][name]
    if "meld" in spec:
        return [f"results/coresets/{other}.h5" for other in spec["meld"]]
    return shard_coresets(config, name)


def finetune_stores(config: dict, name: str) -> list[str]:
    return [store for dataset in config["experiments"][name]["train"] for store in patch_stores(config, dataset)]


def finetuned(config: dict, name: str) -> bool:
    return "pretrained" in config["experiments"][name]


def trained(config: dict) -> list[str]:
    """Experiments trained from their own datasets' shard coresets (each has a coreset-building figure)."""
    return [n for n in experiments(config) if "train" in config["experiments"][n] and not finetuned(config, n)]


def maps(config: dict, name: str, dataset: str) -> list[str]:
    """The maps files of an experiment on a dataset: one per patch-store shard."""
    return [f"results/maps/{name}/{dataset}/shard-{shard}.h5" for shard in shards(config)]


def outputs(config: dict) -> list[str]:
    """What `all` asks for when PatchCore experiments are configured: the Sequential PatchCore study's tables
    and figures, and each trained experiment's coreset figure."""
    return [
        "results/tables/table1.md",
        "results/tables/table2.md",
        "results/figures/coverage-sweep.png",
        *(f"results/figures/{name}-coreset.png" for name in trained(config)),
    ]
