"""Meld the shard coresets of an experiment into its coreset (same sequential rule)."""

import numpy as np
import pandas as pd
import torch

from defectlab.patchcore import SequentialCoreset, meld
from defectlab.patchcore.coreset_file import CoresetFile, read_coreset, write_coreset
from defectlab.runtime import log_to

log_to(snakemake.log[0])
parts = [read_coreset(path) for path in snakemake.input]
origins = pd.concat([part.origin for part in parts], ignore_index=True)
sources, offset = [], 0
for part in parts:
    coreset = SequentialCoreset(size=len(part.features), device="cpu")
    coreset.update(torch.from_numpy(part.features), ids=torch.arange(offset, offset + len(part.features)))
    sources.append(coreset)
    offset += len(part.features)
melded = meld(sources, size=snakemake.params.size)
print(f"melded {len(parts)} coresets ({offset} points) into {len(melded.features)}, d_m = {melded.min_distance:.4f}")
first = parts[0].attrs
write_coreset(
    snakemake.output[0],
    CoresetFile(
        melded.features.numpy(),
        origins.iloc[melded.origin.numpy()].reset_index(drop=True),
        {
            **{key: first[key] for key in ("backbone", "layers", "weights", "pooling", "seed")},
            "size": snakemake.params.size,
            "sources": [str(path) for path in snakemake.input],
            "min_distance": [float(melded.min_distance)],
            "source_points": np.array([len(part.features) for part in parts]),
        },
    ),
)
