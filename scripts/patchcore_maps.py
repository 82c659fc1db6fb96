"""PatchCore's maps of one patch-store shard: nearest-coreset distances of the patch features."""

import torch

from defectlab.maps import write_maps
from defectlab.patchcore.coreset_file import read_coreset
from defectlab.patchcore.inference import score_store
from defectlab.patchcore.settings import extractor_from_config
from defectlab.runtime import log_to, resolve_device

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.scoring
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device, snakemake.params.weights_dir)
coreset = torch.from_numpy(read_coreset(snakemake.input.coreset).features).to(device)
images, maps = score_store(
    extractor, snakemake.input.patches, coreset, cfg["chunk_size"], cfg["batch_size"], cfg["sigma"], progress=True
)
write_maps(
    snakemake.output[0],
    images,
    maps,
    model="patchcore",
    score="distance of the patch feature to its nearest coreset point, Gaussian-smoothed",
    settings={"sigma": cfg["sigma"], "backbone": snakemake.params.backbone["name"]},
    made_from=f"coreset {snakemake.input.coreset} and patch store {snakemake.input.patches}",
)
