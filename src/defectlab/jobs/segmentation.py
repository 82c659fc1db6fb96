"""The segmentation family's jobs (fcn, deeplabv3, unet of seed 004): an image cache per dataset and working
scale, one training job per point of the lr x weight-decay grid, a selection of the best point by validation F1,
and the selected weights' maps of each dataset the experiment is evaluated on.

A fine-tuning experiment (`pretrained: <experiment>`) starts from that experiment's selected weights at
`finetune_lr`, with the weight decay that experiment chose: a grid of one point (the paper only lowers the lr).
"""

from defectlab.config.sections import experiment_settings, experiments_of
from defectlab.models.segmentation.settings import resolve
from defectlab.seeds import derive_seed


def experiments(config: dict) -> list[str]:
    return experiments_of(config, "segmentation")


def settings(config: dict, name: str) -> dict:
    """The experiment's resolved settings (family section, its overrides, the library's defaults)."""
    return resolve(experiment_settings(config, name))


def pretrained(config: dict, name: str) -> str | None:
    return config["experiments"][name].get("pretrained")


def grid_size(config: dict, name: str) -> int:
    """Points of the experiment's grid: lr x weight decay, or 1 when it fine-tunes."""
    if pretrained(config, name) is not None:
        return 1
    resolved = settings(config, name)
    return len(resolved["lr"]) * len(resolved["weight_decay"])


def scale_name(config: dict, name: str) -> str:
    """The working scale as it appears in cache file names (0.5 -> "0.5")."""
    return f"{settings(config, name)['scale']:g}"


def cache(dataset: str, scale: str) -> str:
    return f"results/cache/{dataset}/segmentation-x{scale}.h5"


def training_caches(config: dict, name: str) -> list[str]:
    spec, scale = config["experiments"][name], scale_name(config, name)
    return [cache(dataset, scale) for dataset in spec["train"]]


def validation_cache(config: dict, name: str) -> str:
    return cache(config["experiments"][name]["val"], scale_name(config, name))


def run(name: str, point: int) -> str:
    return f"results/models/{name}/grid-{point}/model.pt"


def runs(config: dict, name: str) -> list[str]:
    return [run(name, point) for point in range(grid_size(config, name))]


def weights(name: str) -> str:
    """The selected weights of an experiment."""
    return f"results/models/{name}/model.pt"


def seed(config: dict, name: str, point: int) -> int:
    """A training run's seed: from the config seed, the experiment and its grid point."""
    return derive_seed(config["seed"], "segmentation", name, point)


def maps(config: dict, name: str, dataset: str) -> list[str]:
    return [f"results/maps/{name}/{dataset}/maps.h5"]


def outputs(config: dict) -> list[str]:
    """What `all` asks for when segmentation experiments are configured: each experiment's grid table and the
    clutch paper's Table 1 beside this run's numbers."""
    grids = [f"results/models/{name}/grid.parquet" for name in experiments(config)]
    return [*grids, "results/tables/clutch-table1.md"]
