"""Meld the shard coresets of an experiment into its coreset: the sequential rule over their points.

With the greedy baseline, the shard coresets are melded by greedy k-center over their points; a greedy coreset
by fraction (`coreset.fraction`, the kitchen-board thesis's 1 %) keeps every point of its shard coresets.
"""

import numpy as np
import pandas as pd
import torch

from defectlab.patchcore import SequentialCoreset, greedy_coreset, meld
from defectlab.patchcore.coreset_file import CoresetFile, read_coreset, write_coreset
from defectlab.runtime import log_to
from defectlab.seeds import derive_seed

log_to(snakemake.log[0])
parts = [read_coreset(path) for path in snakemake.input]
origins = pd.concat([part.origin for part in parts], ignore_index=True)
size = snakemake.params.size
if size is None:  # a coreset by fraction (coreset.fraction): the shard coresets already hold their share
    features, chosen = np.concatenate([part.features for part in parts]), torch.arange(len(origins))
    history, min_distance, size = [], [], len(origins)
    print(f"kept every point of {len(parts)} coresets ({size} points): a coreset by fraction")
elif snakemake.params.method == "greedy":
    points = torch.from_numpy(np.concatenate([part.features for part in parts]))
    seed = derive_seed(snakemake.params.seed, "meld", snakemake.wildcards.experiment)
    chosen = greedy_coreset(points, size, seed=seed)
    features, history, min_distance = points[chosen].numpy(), [], []
    print(f"greedy k-center over {len(parts)} coresets ({len(points)} points) into {size}")
else:
    sources, offset = [], 0
    for part in parts:
        coreset = SequentialCoreset(size=len(part.features), device="cpu")
        coreset.update(torch.from_numpy(part.features), ids=torch.arange(offset, offset + len(part.features)))
        sources.append(coreset)
        offset += len(part.features)
    history = []
    melded = meld(sources, size=size, max_epochs=snakemake.params.max_epochs, history=history)
    features, chosen, min_distance = melded.features.numpy(), melded.origin, [float(melded.min_distance)]
    print(
        f"melded {len(parts)} coresets ({offset} points) into {len(features)} in {len(history)} passes "
        f"(replacements {history}), d_m = {melded.min_distance:.4f}"
    )
first = parts[0].attrs
write_coreset(
    snakemake.output[0],
    CoresetFile(
        features,
        origins.iloc[chosen.numpy()].reset_index(drop=True),
        {
            **{
                key: first[key]
                for key in ("backbone", "layers", "weights", "pooling", "aggregation", "normalisation", "method")
                if key in first
            },
            "size": size,
            "sources": [str(path) for path in snakemake.input],
            "epochs": len(history),
            "replacements": history,
            "min_distance": min_distance,
            "source_points": np.array([len(part.features) for part in parts]),
            "seed": snakemake.params.seed,
        },
    ),
)
