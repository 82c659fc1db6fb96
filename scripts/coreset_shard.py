"""Build the coreset of one training shard: Sequential PatchCore, or the greedy baseline when configured."""

from pathlib import Path

import torch

from defectlab.patchcore.augment import Augmentation
from defectlab.patchcore.coreset_file import CoresetFile, write_coreset
from defectlab.patchcore.greedy import GreedySize, fit_greedy
from defectlab.patchcore.settings import backbone_attrs, extractor_from_config
from defectlab.patchcore.training import fit_coreset, stream_origins
from defectlab.runtime import log_to, resolve_device
from defectlab.seeds import derive_seed

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.coreset
device = resolve_device(cfg["device"])
statistics = list(snakemake.input.statistics)
extractor = extractor_from_config(snakemake.params.backbone, device, snakemake.params.weights_dir, statistics)
stores = [Path(snakemake.input.stores)]
seed = derive_seed(
    snakemake.params.seed, "coreset", snakemake.wildcards.dataset, snakemake.wildcards.shard
)  # same stream both variants
augmentation = Augmentation.from_config({**cfg["augment"], "enabled": snakemake.params.augment})
if cfg["method"] == "greedy":
    features, ids = fit_greedy(extractor, stores, GreedySize.from_config(cfg), cfg["batch_size"], device, seed=seed)
    history = {"epochs": 0, "replacements": [], "min_distance": []}
else:
    coreset, log = fit_coreset(
        extractor, stores, cfg["size"], cfg["max_epochs"], cfg["batch_size"], device, augmentation, seed
    )
    features, ids = coreset.features, coreset.origin
    history = {"epochs": len(log.replacements), "replacements": log.replacements, "min_distance": log.min_distance}
origin = stream_origins(ids.cpu().numpy(), stores, [snakemake.wildcards.dataset], extractor)
write_coreset(
    snakemake.output[0],
    CoresetFile(
        features.cpu().numpy(),
        origin,
        {
            **backbone_attrs(snakemake.params.backbone, statistics),
            "method": cfg["method"],
            "projection": cfg["projection"] if cfg["method"] == "greedy" else 0,
            "eps": cfg.get("eps") or 0.0,
            "fraction": cfg.get("fraction") or 0.0,
            "augment": augmentation is not None and cfg["method"] == "sequential",
            "size": len(features),
            **history,
            "seed": seed,
        },
    ),
)
print(f"{cfg['method']} coreset of {len(origin)} points written")
