"""Assemble render shards into one dataset in the common layout."""

import shutil
from pathlib import Path

import pandas as pd

from defectlab.data.layout import check_dataset
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
with atomic_directory(snakemake.output[0]) as tmp:
    indices = []
    for shard in map(Path, snakemake.input):
        for folder in ("images", "masks", "instances"):
            shutil.copytree(shard / folder, tmp / folder, dirs_exist_ok=True)
        indices.append(pd.read_parquet(shard / "index.parquet"))
    index = pd.concat(indices, ignore_index=True).sort_values("id", ignore_index=True)
    if index["id"].duplicated().any():
        repeated = index["id"][index["id"].duplicated()].tolist()
        raise ValueError(f"sample ids {repeated} occur in more than one of the render shards {list(snakemake.input)}")
    index.to_parquet(tmp / "index.parquet", index=False)
    check_dataset(tmp)
print(f"{len(index)} samples from {len(snakemake.input)} shards")
