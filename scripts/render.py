"""Render one shard of a synthetic plate dataset in one Blender process."""

from defectlab.data.shards import shard_slice
from defectlab.runtime import atomic_directory, log_to
from defectlab.synth.plan import plan_dataset

log_to(snakemake.log[0])
spec = snakemake.params.spec
samples = shard_slice(
    plan_dataset(snakemake.wildcards.dataset, spec, snakemake.params.seed),
    int(snakemake.wildcards.shard),
    spec["shards"],
)
print(f"rendering {len(samples)} samples of {snakemake.wildcards.dataset}, shard {snakemake.wildcards.shard}")

from defectlab.synth.plates import render_samples  # noqa: E402 - bpy loads only once work is planned

with atomic_directory(snakemake.output[0]) as tmp:
    index = render_samples(samples, {**snakemake.params.render, "threads": snakemake.threads}, tmp)
    index.to_parquet(tmp / "index.parquet", index=False)
