"""The kitchen-board study's tables and ROC figure (defectlab.report.kitchen): Tables 6.1 (PatchCore), 6.2
(CutPaste), 6.3 and 6.4 (the best of each per category) and the per-kind recall from the experiments' metrics, the
ROC curves from their test patches (through the maps contract), Table 5.2 from the training datasets' patch counts
per stride."""

import pandas as pd
from sklearn.metrics import roc_curve

from defectlab.data.layout import read_index
from defectlab.data.statistics import patch_counts
from defectlab.metrics.evaluation import load_split
from defectlab.metrics.patch import PatchGrid
from defectlab.report import kitchen
from defectlab.runtime import log_to

log_to(snakemake.log[0])
params = snakemake.params
metrics = pd.concat([pd.read_parquet(path) for path in snakemake.input.metrics], ignore_index=True)
table = kitchen.table61(metrics, params.info)
table.to_parquet(snakemake.output.table61_parquet, index=False)
with open(snakemake.output.table61, "w") as out:
    out.write(kitchen.markdown61(table))
table62 = kitchen.table62(metrics, params.info)
table62.to_parquet(snakemake.output.table62_parquet, index=False)
with open(snakemake.output.table62, "w") as out:
    out.write(kitchen.markdown62(table62))
best = kitchen.best_by_method(pd.concat([table, table62], ignore_index=True))
with open(snakemake.output.table6364, "w") as out:
    out.write(kitchen.markdown6364(best))

labels = {item["experiment"]: item["label"] for item in params.info}
kinds = kitchen.kinds_table(metrics, labels)
with open(snakemake.output.kinds, "w") as out:
    out.write(kitchen.markdown_kinds(kinds))

curves = {}
for item in params.info:
    name = item["experiment"]
    split = load_split(params.maps[name], params.test[name], PatchGrid(**params.patch[name]))
    fpr, tpr, _ = roc_curve(split.patches.labels, split.patches.scores)
    area = float(metrics.loc[(metrics.experiment == name) & (metrics.metric == "patch_auroc"), "value"].iloc[0])
    curves[item["label"]] = (item["category"], fpr, tpr, area)
kitchen.roc_figure(curves, snakemake.output.roc)

rows = []
size, minimum = params.patches["size"], params.patches["min_mean_intensity"]
for dataset, category in params.training.items():
    root = f"results/datasets/{dataset}"
    ids = sorted(read_index(root)["id"])
    for stride in params.strides:
        positions, kept = patch_counts(root, ids, size, stride, minimum)
        rows.append(
            {
                "dataset": dataset,
                "category": category,
                "stride": stride,
                "images": len(ids),
                "positions": positions,
                "patches": kept,
            }
        )
counts = pd.DataFrame(rows, columns=["dataset", "category", "stride", "images", "positions", "patches"])
table52 = kitchen.table52(counts, params.budget_gib)
with open(snakemake.output.table52, "w") as out:
    out.write(kitchen.markdown52(table52, params.budget_gib))
print(table.to_string(), "\n", table62.to_string(), "\n", table52.to_string())
