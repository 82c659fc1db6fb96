"""Cut one shard of a dataset into an HDF5 patch store."""

from defectlab.data.layout import read_index
from defectlab.data.patch_store import PatchGrid, shard_images, write_patch_store
from defectlab.runtime import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.patches
root = snakemake.input[0]
index = read_index(root)
ids = shard_images(index, int(snakemake.wildcards.shard), cfg["shards"], root)
training = bool((index["split"] == "train").all())
kept = write_patch_store(
    snakemake.output[0],
    root,
    ids,
    PatchGrid(cfg["size"], cfg["stride"], cfg["edges"], scored=not training),
    cfg["min_mean_intensity"],
    training=training,
)
print(f"{len(ids)} images -> {kept} patches kept (mean intensity > {cfg['min_mean_intensity']})")
