"""Probability maps of one dataset from a segmentation experiment's selected weights."""

import torch

from defectlab.models.segmentation.predict import segment
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
segment(
    snakemake.input.weights,
    snakemake.input.dataset,
    snakemake.output[0],
    device=snakemake.params.device,
    geometry=snakemake.params.geometry,
)
print(f"maps of {snakemake.input.dataset} written")
