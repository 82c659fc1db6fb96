"""The screen of the pre-trained training latent (K-means, silhouette over Table 1's metrics, DBSCAN, Isolation
Forest, the items kept for fine-tuning) and K-means on its PaCMAP embedding against the labels."""

import pandas as pd

from defectlab.data.layout import read_index
from defectlab.latent.analysis import pacmap_contingency, screen_training_latent
from defectlab.latent.embedding import read_embeddings
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
settings, seed = snakemake.params.latent, snakemake.params.seed
vectors = read_embeddings(snakemake.input.features)
index = read_index(snakemake.input.dataset).set_index("id").loc[vectors.ids].reset_index()
screen = screen_training_latent(vectors.vectors, index, settings, seed)
pacmap = pd.read_parquet(snakemake.input.pacmap).set_index("id").loc[vectors.ids]
k = settings["kmeans"]["pacmap_k"]
clusters = pacmap_contingency(pacmap[["x", "y"]].to_numpy(), index["label"].to_numpy(), k, seed)
tables = {
    "table": screen.items,
    "silhouette": screen.silhouette,
    "anomalies": screen.anomalies,
    "pacmap": clusters.reset_index().melt(id_vars="cluster", var_name="label", value_name="items"),
}
for name, table in tables.items():
    with atomic_output(getattr(snakemake.output, name)) as tmp:
        table.to_parquet(tmp, index=False)
flagged = screen.anomalies.set_index("screen")["flagged"].to_dict()
print(f"anomalies {flagged}; {int(screen.items['fine_tune'].sum())} items to fine-tune on")
