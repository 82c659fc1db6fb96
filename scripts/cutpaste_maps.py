"""CutPaste's maps of one patch-store shard: each stored patch's density score (the patch scores; image scores
their maximum), painted over its footprint or its Grad-CAM stitched, and its embedding beside the maps."""

import torch

from defectlab.maps import write_maps
from defectlab.models.cutpaste.density import GaussianDensity
from defectlab.models.cutpaste.predict import image_scores, load_network, score_store, write_embeddings
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
settings = snakemake.params.settings
network, stored, record = load_network(snakemake.input.weights, settings["device"])
density = GaussianDensity.load(snakemake.input.density)
images, maps, patches, embeddings = score_store(
    network,
    density,
    snakemake.input.patches,
    settings["maps"],
    settings["map_sigma"],
    settings["gradcam"],
    settings["batch_size"],
)
how = "patch scores painted over their footprints" if settings["maps"] == "gde" else "Grad-CAM per patch, stitched"
write_maps(
    snakemake.output.maps,
    images,
    maps,
    model="cutpaste",
    score=f"{density.density} score of the patch embedding; map: {how}, Gaussian-smoothed; image scores the maximum",
    settings={
        "backbone": stored["backbone"]["name"],
        "maps": settings["maps"],
        "map_sigma": settings["map_sigma"],
        "density": density.config(),
        "fingerprint": record["fingerprint"],
    },
    made_from=f"{snakemake.input.weights}, {snakemake.input.density} and patch store {snakemake.input.patches}",
    scores=image_scores(images, patches),
    patch_scores=patches,
)
write_embeddings(snakemake.output.embeddings, patches, embeddings)
