"""Residual maps of one dataset from an autoencoder's weights."""

import torch

from defectlab.models.autoencoders import reconstruct
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
reconstruct(snakemake.input.weights, snakemake.input.dataset, snakemake.output[0], device=snakemake.params.device)
print(f"maps of {snakemake.input.dataset} written")
