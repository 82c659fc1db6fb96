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


def shard_settings(settings: dict, statistics: list[str] | None = None) -> dict:
    """What a shard coreset depends on, of PatchCore settings: the backbone and the coreset settings but the
    meld size and whether to augment (the variant's kind says that), and the datasets whose patch statistics
    normalise the inputs (backbone.normalisation "train"; none otherwise)."""
    coreset = {k: v for k, v in settings["coreset"].items() if k != "meld_size"}
    coreset["augment"] = {k: v for k, v in coreset["augment"].items() if k != "enabled"}
    return {"backbone": settings["backbone"], "coreset": coreset, "statistics": list(statistics or [])}


def statistics_datasets(config: dict, name: str) -> list[str]:
    """The datasets whose pooled patch statistics normalise an experiment's inputs: its training datasets when
    backbone.normalisation is "train" (the kitchen-board thesis's per-category statistics), else none."""
    if experiment_settings(config, name)["backbone"].get("normalisation", "weights") != "train":
        return []
    return list(config["experiments"][name].get("train", []))


def statistics_files(datasets: list[str]) -> list[str]:
    """The patch statistics files of datasets (rule patch_statistics)."""
    return [f"results/patches/{dataset}/statistics.json" for dataset in datasets]


def _own_shard_settings(config: dict, name: str) -> dict:
    return shard_settings(experiment_settings(config, name), statistics_datasets(config, name))


def variant_of(config: dict, name: str) -> str:
    """The variant of the shard coresets an experiment melds (see the module's docstring)."""
    kind = "augmented" if augmented(config, name) else "plain"
    own = _own_shard_settings(config, name)
    if own == shard_settings(config["patchcore"]):
        return kind
    owner = next(n for n in experiments(config) if _own_shard_settings(config, n) == own)
    return f"{owner}-{kind}"


def variants(config: dict) -> dict[str, dict]:
    """Every shard-coreset variant the config's experiments train, with its settings."""
    return {
        variant_of(config, n): _own_shard_settings(config, n)
        for n in experiments(config)
        if "train" in config["experiments"][n]
    }


def meld_size(config: dict, name: str) -> int | None:
    """The size of an experiment's melded coreset: its `size`, else coreset.meld_size; None for a greedy coreset
    by fraction, which keeps every point its shard coresets chose."""
    coreset = experiment_settings(config, name)["coreset"]
    if coreset.get("fraction") is not None and coreset["method"] == "greedy":
        return None
    return config["experiments"][name].get("size", coreset["meld_size"])


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


def pixel_experiments(config: dict) -> list[str]:
    """The PatchCore experiments evaluated per pixel: those of the Sequential PatchCore study's tables."""
    return [n for n in experiments(config) if config["experiments"][n].get("unit", "pixel") == "pixel"]


def outputs(config: dict) -> list[str]:
    """What `all` asks for when PatchCore experiments are configured: the Sequential PatchCore study's tables
    and figures and each trained experiment's coreset figure, where experiments are evaluated per pixel (the
    kitchen-board study's, per patch, have their own: jobs.kitchen)."""
    pixel = pixel_experiments(config)
    if not pixel:
        return []
    return [
        "results/tables/table1.md",
        "results/tables/table2.md",
        "results/figures/coverage-sweep.png",
        *(f"results/figures/{name}-coreset.png" for name in trained(config) if name in pixel),
    ]
