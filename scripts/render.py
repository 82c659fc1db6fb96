"""Render one shard of a synthetic plate dataset in one Blender process."""

import os
import shutil
from pathlib import Path

from defectlab.data.shards import shard_slice
from defectlab.runtime import log_to
from defectlab.synth.plan import plan_dataset

log_to(snakemake.log[0])
out = Path(snakemake.output[0])
tmp = out.with_name(f".{out.name}.tmp")
shutil.rmtree(tmp, ignore_errors=True)
spec = snakemake.params.spec
samples = shard_slice(
    plan_dataset(snakemake.wildcards.dataset, spec, snakemake.params.seed),
    int(snakemake.wildcards.shard),
    spec["shards"],
)
print(f"rendering {len(samples)} samples of {snakemake.wildcards.dataset}, shard {snakemake.wildcards.shard}")

from defectlab.synth.plates import render_samples  # noqa: E402 - bpy loads only once work is planned

index = render_samples(samples, {**snakemake.params.render, "threads": snakemake.threads}, tmp)
index.to_parquet(tmp / "index.parquet", index=False)
shutil.rmtree(out, ignore_errors=True)
os.replace(tmp, out)
