"""The per-channel patch statistics of one dataset (defectlab.data.statistics), for `normalisation: train`."""

from defectlab.data.layout import read_index
from defectlab.data.statistics import patch_sums, write_statistics
from defectlab.runtime import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.patches
root = snakemake.input[0]
ids = sorted(read_index(root)["id"])
sums = patch_sums(root, ids, cfg["size"], cfg["stride"], cfg["min_mean_intensity"])
settings = {"size": cfg["size"], "stride": cfg["stride"], "min_mean_intensity": cfg["min_mean_intensity"]}
write_statistics(snakemake.output[0], sums, {**settings, "images": len(ids)})
print(f"{len(ids)} images, {sums.patches} patches kept: mean {sums.mean_std()[0]}, std {sums.mean_std()[1]}")
