"""The density of a CutPaste scorer: fitted on the embeddings of its normal training patches."""

import torch

from defectlab.models.cutpaste.predict import fit_density
from defectlab.runtime import log_to

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
params = snakemake.params
fit_density(
    snakemake.input.weights,
    list(snakemake.input.datasets),
    params.density,
    snakemake.output[0],
    batch_size=params.batch_size,
    device=params.device,
)
