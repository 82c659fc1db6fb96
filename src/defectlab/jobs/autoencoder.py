"""The autoencoders' jobs: one training job per distinct trained model, and its maps once per dataset.

Weights are keyed by what determines them (model, training datasets, settings, repeat), not by experiment:
experiments that differ only in how they are evaluated (a threshold on val or on test, another test
dataset) share the weights of the first experiment that trains them, as PatchCore experiments share
shard coresets, and so share its maps of a dataset too (`results/maps/{owner}/{dataset}/`).
"""

from defectlab.config.sections import experiment_settings, experiments_of
from defectlab.seeds import derive_seed

UNFINGERPRINTED = ("device",)  # settings that do not change the weights


def experiments(config: dict) -> list[str]:
    return experiments_of(config, "autoencoder")


def trained_by(config: dict, name: str) -> tuple:
    """What an experiment's weights depend on."""
    spec = config["experiments"][name]
    settings = {k: v for k, v in experiment_settings(config, name).items() if k not in UNFINGERPRINTED}
    return spec["model"], tuple(spec["train"]), repr(sorted(settings.items())), spec.get("repeat", 0)


def owner(config: dict, name: str) -> str:
    """The first experiment with the same weights: it names the training job and the weights folder."""
    key = trained_by(config, name)
    return next(n for n in experiments(config) if trained_by(config, n) == key)


def owners(config: dict) -> list[str]:
    return list(dict.fromkeys(owner(config, n) for n in experiments(config)))


def first_repeats(config: dict) -> list[str]:
    """The owners of the first training run of each model and training data (repeat 0): the figure of
    reconstructions over training shows these."""
    return [n for n in owners(config) if config["experiments"][n].get("repeat", 0) == 0]


def training_label(config: dict, name: str) -> str:
    spec = config["experiments"][name]
    return f"{spec['model'].upper()} on {' + '.join(spec['train'])}"


def weights(config: dict, name: str) -> str:
    return f"results/models/{owner(config, name)}/model.pt"


def seed(config: dict, name: str) -> int:
    """The training seed: from the config seed, the model, its training datasets and the repeat."""
    model, train, _, repeat = trained_by(config, name)
    return derive_seed(config["seed"], "autoencoder", model, *train, repeat)


def maps(config: dict, name: str, dataset: str) -> list[str]:
    """The maps of an experiment's weights on a dataset, under the experiment that trains them."""
    return [f"results/maps/{owner(config, name)}/{dataset}/maps.h5"]


def outputs(config: dict) -> list[str]:
    """What `all` asks for when autoencoder experiments are configured: their Table 1 and the figure of
    reconstructions over training."""
    return ["results/tables/autoencoders.md", "results/figures/autoencoder-training.png"]
