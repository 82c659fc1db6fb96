"""The segmentation image cache of one dataset at one working scale: read every PNG once for all its trainings."""

from defectlab.models.segmentation.cache import write_cache
from defectlab.runtime import log_to

log_to(snakemake.log[0])
write_cache(snakemake.input[0], snakemake.output[0], scale=float(snakemake.wildcards.scale))
print(f"cache of {snakemake.input[0]} at scale {snakemake.wildcards.scale} written")
