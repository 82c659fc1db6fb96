"""Render one object of a synthetic clutch dataset (every view of its plan) in one Blender process."""

from defectlab.runtime import atomic_directory, log_to
from defectlab.synth.clutch_plan import plan_object

log_to(snakemake.log[0])
clutch = plan_object(
    snakemake.wildcards.dataset, snakemake.params.spec, snakemake.params.seed, int(snakemake.wildcards.object)
)
defects = f"{len(clutch.defects)} defects, {len(clutch.insignificant)} insignificant"
print(f"rendering {clutch.id}: {len(clutch.views)} views, {defects}")

from defectlab.synth.clutch import render_object  # noqa: E402 - bpy loads only once work is planned

with atomic_directory(snakemake.output[0]) as tmp:
    index = render_object(clutch, snakemake.params.spec, {**snakemake.params.render, "threads": snakemake.threads}, tmp)
    index.to_parquet(tmp / "index.parquet", index=False)
