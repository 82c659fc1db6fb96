"""The baselines' jobs: one maps file per experiment and dataset, no training job."""

from defectlab.config.sections import experiments_of


def experiments(config: dict) -> list[str]:
    return experiments_of(config, "baseline")


def maps(config: dict, name: str, dataset: str) -> list[str]:
    return [f"results/maps/{name}/{dataset}/maps.h5"]


def train_datasets(config: dict, name: str) -> list[str]:
    return [f"results/datasets/{dataset}" for dataset in config["experiments"][name].get("train", [])]
