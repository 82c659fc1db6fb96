"""Build the Sequential PatchCore coreset of one training shard."""

from pathlib import Path

import torch

from defectlab.patchcore.coreset_file import CoresetFile, write_coreset
from defectlab.patchcore.settings import backbone_attrs, extractor_from_config
from defectlab.patchcore.training import fit_coreset, stream_origins
from defectlab.runtime import log_to, resolve_device

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.coreset
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device)
stores = [Path(snakemake.input[0])]
coreset, history = fit_coreset(extractor, stores, cfg["size"], cfg["max_epochs"], cfg["batch_size"], device)
origin = stream_origins(coreset.origin.cpu().numpy(), stores, [snakemake.wildcards.dataset], extractor)
write_coreset(
    snakemake.output[0],
    CoresetFile(
        coreset.features.cpu().numpy(),
        origin,
        {
            **backbone_attrs(snakemake.params.backbone),
            "size": cfg["size"],
            "epochs": len(history.replacements),
            "replacements": history.replacements,
            "min_distance": history.min_distance,
            "seed": snakemake.params.seed,
        },
    ),
)
print(f"coreset of {len(origin)} points written")
