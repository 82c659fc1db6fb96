"""Generate one chess or noise dataset (defectlab.synth.procedural) into the image layout."""

from defectlab.data.layout import check_dataset
from defectlab.runtime import atomic_directory, log_to
from defectlab.synth.procedural import plan_dataset, write_samples

log_to(snakemake.log[0])
dataset, spec = snakemake.wildcards.dataset, snakemake.params.spec
samples = plan_dataset(dataset, spec, snakemake.params.seed)
with atomic_directory(snakemake.output[0]) as tmp:
    index = write_samples(samples, tmp)
    check_dataset(tmp)
anomalous = index[index["label"] != "normal"]
empty = anomalous["id"][anomalous["anomalous_pixels"] == 0].tolist()
if empty:
    print(f"warning: anomalous images without an anomalous pixel (mask {spec['anomaly'].get('mask')}): {empty}")
print(f"{len(index)} {spec['generator']} images of {dataset}, {len(anomalous)} anomalous")
