"""The maps of a baseline (no model) on one dataset."""

from defectlab.models.baselines import write_baseline_maps
from defectlab.runtime import log_to

log_to(snakemake.log[0])
write_baseline_maps(snakemake.params.model, snakemake.input.dataset, snakemake.input.train, snakemake.output[0])
print(f"{snakemake.params.model} maps of {snakemake.input.dataset} written")
