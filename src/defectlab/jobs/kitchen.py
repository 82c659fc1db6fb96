"""The kitchen-board study's jobs (seed 002): its experiments are those evaluated per test patch (unit `patch`),
whatever their model; what each row of its tables says about an experiment (category, backbone, weights,
denoising, training stride), read from the config; the CutPaste experiments its t-SNE figure shows; and the paths
of its tables and figures.
"""

from collections.abc import Mapping

from defectlab.config.sections import experiment_settings, family_of, patch_settings
from defectlab.jobs import cutpaste
from defectlab.seeds import derive_seed
from defectlab.synth.plan import resolve_spec

TABLES = (
    "results/tables/kitchen-table61.md",
    "results/tables/kitchen-table62.md",
    "results/tables/kitchen-table6364.md",
    "results/tables/kitchen-table52.md",
    "results/tables/kitchen-kinds.md",
)
FIGURE = "results/figures/kitchen-roc.png"
TSNE_FIGURE = "results/figures/kitchen-tsne.png"
TSNE_MAX_POINTS = 2000  # negatives per t-SNE panel (every positive is kept)
STRIDES = (112, 224, 448, 512)  # the training strides of the thesis's Table 5.2


def experiments(config: Mapping) -> list[str]:
    """The experiments evaluated per test patch, in config order."""
    return [name for name, spec in config["experiments"].items() if spec.get("unit") == "patch"]


def cutpaste_experiments(config: Mapping) -> list[str]:
    """The study's CutPaste experiments (Table 6.2's rows), in config order."""
    return [name for name in experiments(config) if config["experiments"][name].get("model") == "cutpaste"]


def tsne_experiments(config: Mapping) -> list[str]:
    """The panels of the t-SNE figure: the CutPaste experiments mirroring a thesis row (report.kitchen_rows),
    else every CutPaste experiment."""
    rows = config["report"].get("kitchen_rows", {})
    names = cutpaste_experiments(config)
    return [name for name in names if name in rows] or names


def embeddings_files(config: Mapping, name: str) -> list[str]:
    """The test-patch embeddings a CutPaste experiment's maps jobs write beside its test maps, one per maps file
    (where jobs.cutpaste puts them)."""
    return cutpaste.embeddings(config, name, config["experiments"][name]["test"])


def tsne_seed(config: Mapping) -> int:
    """The t-SNE figure's seed (its negatives' sample and scikit-learn's random_state, which takes 32 bits)."""
    return derive_seed(config["seed"], "kitchen-tsne")


def outputs(config: Mapping) -> list[str]:
    """What `all` asks for when patch-unit experiments are configured: the study's tables and ROC figure, and the
    t-SNE figure when some are CutPaste's."""
    if not experiments(config):
        return []
    return [*TABLES, FIGURE, *([TSNE_FIGURE] if cutpaste_experiments(config) else [])]


def example_grid(config: Mapping, name: str) -> dict | None:
    """The patch grid an experiment's example figure draws its flagged test patches on (patch unit), else None."""
    spec = config["experiments"][name]
    return dict(spec["patch"]) if spec.get("unit") == "patch" else None


def source_spec(config: Mapping, dataset: str) -> dict:
    """A dataset's spec with twins resolved, through any denoised twin to the dataset it denoises; `denoised` is
    the denoising parameters met on the way (None when there are none)."""
    datasets = dict(config["datasets"])
    denoise = None
    while "denoise_of" in datasets[dataset]:
        denoise = datasets[dataset].get("denoise", {})
        dataset = datasets[dataset]["denoise_of"]
    return {**resolve_spec(dataset, datasets), "denoised": denoise}


def category(config: Mapping, dataset: str) -> str:
    """The board category of a dataset: the generator's (white, edges), a real dataset's `objects`, or "-"."""
    spec = source_spec(config, dataset)
    if "source" in spec:
        return ", ".join(spec["source"].get("objects", [])) or "-"
    return spec.get("category", "white") if spec.get("generator") == "boards" else "-"


def training_datasets(config: Mapping) -> list[str]:
    """The datasets the study's experiments train on, in first-use order."""
    names = (dataset for name in experiments(config) for dataset in config["experiments"][name].get("train", []))
    return list(dict.fromkeys(names))


def training_stride(config: Mapping, name: str) -> int | None:
    """The stride of an experiment's training patches: CutPaste's own grid (`train_stride`, auto = the top-level
    patches stride), else its first training dataset's patch store's."""
    train = config["experiments"][name].get("train", [])
    if not train:
        return None
    if family_of(config["experiments"][name]) == "cutpaste":
        stride = experiment_settings(config, name)["train_stride"]
        return config["patches"]["stride"] if stride == "auto" else stride
    return patch_settings(config, train[0])["stride"]


def row_info(config: Mapping, name: str) -> dict:
    """What the study's tables say about an experiment: label, model, category, backbone, weights, whether its
    test images are denoised ("blur" in the thesis), training stride, threshold rule and where it was fitted."""
    spec = config["experiments"][name]
    settings = experiment_settings(config, name) if family_of(spec) != "baseline" else {}
    backbone = settings.get("backbone", {})
    threshold = spec.get("threshold", {})
    return {
        "experiment": name,
        "label": spec.get("label", name),
        "model": spec.get("model", "patchcore"),
        "category": category(config, spec["test"]),
        "backbone": backbone.get("name", "-"),
        "weights": backbone.get("weights", "-"),
        "blur": source_spec(config, spec["test"])["denoised"] is not None,
        "train_stride": training_stride(config, name),
        "coreset": settings.get("coreset", {}).get("method", "-"),
        "threshold": f"{threshold.get('rule', 'f1')} on {threshold.get('fit_on', 'val')}",
        "thesis_row": config["report"].get("kitchen_rows", {}).get(name),
    }
