"""PatchCore's maps of one patch-store shard: nearest-coreset distances of the patch features, and with
`patch_score: reweighted` each stored patch's own score (the kitchen-board thesis's) and image scores the
maximum of them."""

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
statistics = list(snakemake.input.statistics)
extractor = extractor_from_config(snakemake.params.backbone, device, snakemake.params.weights_dir, statistics)
coreset = torch.from_numpy(read_coreset(snakemake.input.coreset).features).to(device)
images, maps, patches = score_store(
    extractor,
    snakemake.input.patches,
    coreset,
    cfg["chunk_size"],
    cfg["batch_size"],
    cfg["sigma"],
    progress=True,
    patch_score=cfg["patch_score"],
    upsample=cfg["upsample"],
    reweight_k=cfg["reweight_k"],
)
scores = None
if patches is not None:  # an image without a scored patch (all dark) scores the lowest patch score
    best = patches.groupby("image")["score"].max()
    scores = [float(best.get(image, patches["score"].min() if len(patches) else 0.0)) for image in images]
score = "distance of the patch feature to its nearest coreset point, Gaussian-smoothed"
if patches is not None:
    score += "; patch scores: the largest cell distance, 3-NN reweighted (ind_knn_ad); image scores their maximum"
write_maps(
    snakemake.output[0],
    images,
    maps,
    model="patchcore",
    score=score,
    settings={
        "sigma": cfg["sigma"],
        "backbone": snakemake.params.backbone["name"],
        "patch_score": cfg["patch_score"],
        "upsample": cfg["upsample"],
    },
    made_from=f"coreset {snakemake.input.coreset} and patch store {snakemake.input.patches}",
    scores=scores,
    patch_scores=patches,
)
