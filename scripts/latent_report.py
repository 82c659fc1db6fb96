"""The latent study's report: Tables 1 and 2 beside the paper's, the summary of its other numbers, the figure grids
of its Tables 3 and 4 and the review sheet (its Fig. A1)."""

from pathlib import Path

import pandas as pd

from defectlab.latent.classifier import epochs_path
from defectlab.report.latent import (
    grid_figure,
    review_sheet,
    summary_markdown,
    table1_markdown,
    table2,
    table2_markdown,
)
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
settings, out = snakemake.params.latent, snakemake.output
screen = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input.screen}
evaluation = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input.evaluation}


def write(path: str, text: str) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def save(path: str, figure) -> None:
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)


write(out.table1, table1_markdown(screen["silhouette"]))
runs = {}
for name, path in zip(snakemake.params.backbones, snakemake.input.classifiers, strict=True):
    epochs = pd.read_parquet(epochs_path(path))
    backbone = settings["backbones"][name]
    last = epochs.iloc[-1]
    runs[name] = {**backbone, "epochs": len(epochs), "accuracy": last["val_accuracy"],
                  "seconds_per_epoch": float(epochs["seconds"].median()), "device": last["device"]}  # fmt: skip
table = table2(runs)
with atomic_output(Path(out.table2).with_suffix(".parquet")) as tmp:
    table.to_parquet(tmp, index=False)
write(out.table2, table2_markdown(table))
analysed = snakemake.params.analysed
write(out.summary, summary_markdown(screen["anomalies"], evaluation["metrics"], screen["pacmap-clusters"], analysed))

train = screen["items"].set_index("id")
embeddings = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input.train_embeddings}
figure = grid_figure(embeddings, train["label"], train["kmeans"], f"training items, pre-trained latent ({analysed})")
save(out.table3, figure)
val = evaluation["clusters"].set_index("id")
embeddings = {Path(p).stem: pd.read_parquet(p) for p in snakemake.input.val_embeddings}
clusters = val["cluster"].astype(str) + " " + val["cluster_class"]
save(out.table4, grid_figure(embeddings, val["label"], clusters, f"validation items, fine-tuned latent ({analysed})"))
rule = settings["review"]["rule"]
ambiguous = val.loc[val[f"ambiguous_by_{rule}"]].reset_index()[["id", "label"]]
sections = [
    (f"validation items of the ambiguous cluster ({rule})", snakemake.input.val_items, ambiguous),
    ("test items routed to the operator", snakemake.input.test_items, evaluation["review"][["id", "label"]]),
]
save(out.sheet, review_sheet(sections))
train_items = screen["items"]
shown = [
    (label, snakemake.input.train_items, train_items[train_items["label"] == label].head(8)[["id", "label"]])
    for label in [*settings["items"]["curated"], "ambiguous"]
]
save(out.gallery, review_sheet(shown))
print(f"latent report of {analysed}: {len(ambiguous)} validation and {len(evaluation['review'])} test items to review")
