"""CutPaste's jobs: one training job per distinct trained network, one density per distinct scorer, and the maps
of each patch-store shard of the datasets its experiments are evaluated on.

Weights are keyed by what determines them (training datasets, the settings that change the weights, repeat),
the density also by its settings, the maps by every scoring setting (density, maps, map_sigma, gradcam):
experiments that differ only in how they are evaluated share all three, those that differ only in scoring (a KDE
ablation, Grad-CAM maps) share the weights, and the density where only the maps differ.
"""

import json

from defectlab.config.sections import experiment_settings, experiments_of
from defectlab.jobs.patchcore import shards
from defectlab.seeds import derive_seed

UNFINGERPRINTED = ("device", "batch_size")  # settings that change neither weights nor scores
SCORING = ("density", "maps", "map_sigma", "gradcam")  # settings of the density and maps, not of the weights


def experiments(config: dict) -> list[str]:
    return experiments_of(config, "cutpaste")


def _settings(config: dict, name: str, scoring: tuple[str, ...]) -> str:
    """The experiment's settings that change its weights, and those of `scoring`."""
    settings = experiment_settings(config, name)
    kept = {k: v for k, v in settings.items() if k not in UNFINGERPRINTED and (k not in SCORING or k in scoring)}
    return json.dumps(kept, sort_keys=True)  # nested blocks in any key order give one key


def trained_by(config: dict, name: str) -> tuple:
    spec = config["experiments"][name]
    return tuple(spec["train"]), _settings(config, name, ()), spec.get("repeat", 0)


def fitted_by(config: dict, name: str) -> tuple:
    return (*trained_by(config, name), _settings(config, name, ("density",)))


def scored_by(config: dict, name: str) -> tuple:
    return (*trained_by(config, name), _settings(config, name, SCORING))


def owner(config: dict, name: str) -> str:
    """The first experiment with the same weights: it names the training job and the weights folder."""
    key = trained_by(config, name)
    return next(n for n in experiments(config) if trained_by(config, n) == key)


def fitter(config: dict, name: str) -> str:
    """The first experiment with the same weights and density settings: it names the density's folder."""
    key = fitted_by(config, name)
    return next(n for n in experiments(config) if fitted_by(config, n) == key)


def scorer(config: dict, name: str) -> str:
    """The first experiment with the same weights and scoring: it names the density and the maps folder."""
    key = scored_by(config, name)
    return next(n for n in experiments(config) if scored_by(config, n) == key)


def owners(config: dict) -> list[str]:
    return list(dict.fromkeys(owner(config, n) for n in experiments(config)))


def fitters(config: dict) -> list[str]:
    return list(dict.fromkeys(fitter(config, n) for n in experiments(config)))


def scorers(config: dict) -> list[str]:
    return list(dict.fromkeys(scorer(config, n) for n in experiments(config)))


def training_datasets(config: dict, name: str) -> list[str]:
    return [f"results/datasets/{dataset}" for dataset in config["experiments"][name]["train"]]


def weights(config: dict, name: str) -> str:
    return f"results/models/{owner(config, name)}/model.pt"


def density(config: dict, name: str) -> str:
    return f"results/models/{fitter(config, name)}/density.npz"


def seed(config: dict, name: str) -> int:
    """The training seed: from the config seed, the training datasets and the repeat."""
    train, _, repeat = trained_by(config, name)
    return derive_seed(config["seed"], "cutpaste", *train, repeat)


def maps(config: dict, name: str, dataset: str) -> list[str]:
    """The maps of an experiment on a dataset, one per patch-store shard, under the experiment that scores them."""
    return [f"results/maps/{scorer(config, name)}/{dataset}/shard-{shard}.h5" for shard in shards(config)]


def embeddings(config: dict, name: str, dataset: str) -> list[str]:
    """The test patches' embeddings beside each maps file (the t-SNE figure reads them)."""
    return [path.removesuffix(".h5") + ".embeddings.h5" for path in maps(config, name, dataset)]
