"""One 2-D reduction (ISOMAP, UMAP or PaCMAP) of one set of latent vectors, seeded, as (id, x, y)."""

import pandas as pd

from defectlab.latent.embedding import read_embeddings
from defectlab.latent.reduce import reduce
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
vectors = read_embeddings(snakemake.input[0])
xy = reduce(snakemake.wildcards.reducer, vectors.vectors, snakemake.params.seed, **snakemake.params.reduce)
with atomic_output(snakemake.output[0]) as tmp:
    pd.DataFrame({"id": vectors.ids, "x": xy[:, 0], "y": xy[:, 1]}).to_parquet(tmp, index=False)
print(f"{snakemake.wildcards.reducer} of {len(vectors.ids)} vectors of {vectors.vectors.shape[1]} dimensions")
