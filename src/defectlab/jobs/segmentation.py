"""The segmentation family's jobs (fcn, deeplabv3, unet of seed 004): an image cache per dataset and working
scale, one training job per point of the lr x weight-decay grid, a selection of the best point by validation F1,
and the selected weights' maps of each dataset the experiment is evaluated on.

A fine-tuning experiment (`pretrained: <experiment>`) starts from that experiment's selected weights at
`finetune_lr`, with the weight decay that experiment chose: a grid of one point (the paper only lowers the lr).
"""

from defectlab.config.sections import experiment_settings, experiments_of
from defectlab.models.segmentation.settings import at, geometry, resolve
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


def training_settings(config: dict, name: str) -> dict:
    """The settings a training run takes: at the geometry of its validation dataset, which it predicts."""
    return at(settings(config, name), config["experiments"][name]["val"])


def dataset_geometry(config: dict, name: str, dataset: str) -> dict:
    """The scale, tile and pad multiple the experiment reads and predicts `dataset` at."""
    return geometry(settings(config, name), dataset)


def cache(config: dict, name: str, dataset: str) -> str:
    """The image cache of `dataset` at the working scale the experiment reads it at (0.5 -> "x0.5")."""
    return f"results/cache/{dataset}/segmentation-x{dataset_geometry(config, name, dataset)['scale']:g}.h5"


def training_caches(config: dict, name: str) -> list[str]:
    return [cache(config, name, dataset) for dataset in config["experiments"][name]["train"]]


def validation_cache(config: dict, name: str) -> str:
    return cache(config, name, config["experiments"][name]["val"])


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
