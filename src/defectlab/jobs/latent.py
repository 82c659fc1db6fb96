"""The latent study's jobs (seed 000): items per split, embeddings per backbone, state (pre-trained or fine-tuned)
and split, one job per reduction (PaCMAP's process-wide seed stays in its own process), the screen of the
training latent, a classifier per backbone (the GPU job), the evaluation and the report.

Everything lives under results/latent/; the section `latent` of the config holds every setting.
"""

from defectlab.seeds import derive_seed

SPLITS = ("train", "val", "test")
STATES = ("pretrained", "finetuned")
REDUCERS = ("isomap", "umap", "pacmap")  # defectlab.latent.reduce.REDUCERS, without importing scikit-learn
ROOT = "results/latent"


def enabled(config: dict) -> bool:
    return "latent" in config


def settings(config: dict) -> dict:
    return config["latent"]


def backbones(config: dict) -> list[str]:
    """The backbones fine-tuned for Table 2: `compare`, else every one; the analysed one always."""
    chosen = settings(config).get("compare") or list(settings(config)["backbones"])
    return list(dict.fromkeys([analysed(config), *chosen]))


def analysed(config: dict) -> str:
    """The backbone of Tables 1, 3 and 4: the configured one, else the first."""
    return settings(config).get("backbone") or next(iter(settings(config)["backbones"]))


def source_dataset(config: dict, split: str) -> str:
    return settings(config)["items"][split]["dataset"]


def items(split: str) -> str:
    return f"{ROOT}/items/{split}"


def features(backbone: str, state: str, split: str) -> str:
    return f"{ROOT}/features/{backbone}/{state}/{split}.h5"


def embedding(backbone: str, state: str, split: str, reducer: str) -> str:
    return f"{ROOT}/embeddings/{backbone}/{state}/{split}/{reducer}.parquet"


def screen(name: str) -> str:
    """The screen's tables: items, silhouette, anomalies."""
    return f"{ROOT}/screen/{name}.parquet"


def classifier(backbone: str) -> str:
    return f"{ROOT}/models/{backbone}/classifier.pt"


def evaluation(name: str) -> str:
    """The evaluation's tables: metrics, clusters, review, automatic, predictions."""
    return f"{ROOT}/evaluation/{name}.parquet"


def seed(config: dict, *parts: object) -> int:
    return derive_seed(config["seed"], "latent", *parts)


TABLES = {"table1": "latent-table1.md", "table2": "latent-table2.md", "summary": "latent-summary.md"}
FIGURES = {
    "table3": "latent-table3-train-pretrained.png",
    "table4": "latent-table4-val-finetuned.png",
    "sheet": "latent-review-sheet.png",
    "gallery": "latent-items.png",
}


def report_files() -> dict[str, str]:
    """The report's outputs by name: tables beside the paper's under results/tables, figures under results/figures."""
    return {
        **{name: f"results/tables/{file}" for name, file in TABLES.items()},
        **{name: f"results/figures/{file}" for name, file in FIGURES.items()},
    }


def outputs(config: dict) -> list[str]:
    """What `all` asks for when the config has a latent section: the tables and figures of the report."""
    return list(report_files().values()) if enabled(config) else []
