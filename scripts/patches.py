"""Cut one shard of a dataset into an HDF5 patch store: over the whole image, or (`grid: exclusions`) inside the
borders and off the labels of the dataset's exclusions.json, where the patch unit places its test patches."""

from pathlib import Path

from defectlab.data.exclusions import EXCLUSIONS, read_exclusions
from defectlab.data.layout import load_sample, read_index
from defectlab.data.patch_store import PatchGrid, shard_images, write_patch_store
from defectlab.runtime import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.patches
root = snakemake.input[0]
index = read_index(root)
ids = shard_images(index, int(snakemake.wildcards.shard), cfg["shards"], root)
training = bool((index["split"] == "train").all())
areas = None
if cfg.get("grid", "image") == "exclusions":
    size = load_sample(root, ids[0]).mask.shape[::-1]  # one size per dataset (the store refuses another)
    by_file = read_exclusions(Path(root) / EXCLUSIONS, {f"{i}.png": size for i in index["id"]})
    areas = {i: by_file[f"{i}.png"] for i in ids}
kept = write_patch_store(
    snakemake.output[0],
    root,
    ids,
    PatchGrid(cfg["size"], cfg["stride"], cfg["edges"], scored=not training),
    cfg["min_mean_intensity"],
    training=training,
    areas=areas,
)
grid = cfg.get("grid", "image")
print(f"{len(ids)} images -> {kept} patches kept (mean intensity > {cfg['min_mean_intensity']}, grid {grid})")
