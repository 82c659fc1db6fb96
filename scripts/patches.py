"""Cut one shard of a dataset into an HDF5 patch store."""

from defectlab.data.layout import read_index
from defectlab.data.patch_store import PatchGrid, write_patch_store
from defectlab.data.shards import shard_slice
from defectlab.runtime import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.patches
ids = shard_slice(sorted(read_index(snakemake.input[0])["id"]), int(snakemake.wildcards.shard), cfg["shards"])
kept = write_patch_store(
    snakemake.output[0], snakemake.input[0], ids, PatchGrid(cfg["size"], cfg["stride"]), cfg["min_mean_intensity"]
)
print(f"{len(ids)} images -> {kept} patches kept (mean intensity > {cfg['min_mean_intensity']})")
