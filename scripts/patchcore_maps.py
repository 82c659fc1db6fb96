"""Anomaly maps of one patch-store shard against an experiment's coreset."""

import torch

from defectlab.patchcore.anomaly_map import write_maps
from defectlab.patchcore.coreset_file import read_coreset
from defectlab.patchcore.inference import score_store
from defectlab.patchcore.settings import extractor_from_config
from defectlab.runtime import log_to, resolve_device

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.scoring
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device)
coreset = torch.from_numpy(read_coreset(snakemake.input.coreset).features).to(device)
images, maps = score_store(
    extractor, snakemake.input.patches, coreset, cfg["chunk_size"], cfg["batch_size"], cfg["sigma"], progress=True
)
write_maps(
    snakemake.output[0],
    images,
    maps,
    {"sigma": cfg["sigma"]},
    made_from=f"coreset {snakemake.input.coreset} and patch store {snakemake.input.patches}",
)
