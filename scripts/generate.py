"""Generate one 2-D dataset into the image layout: chess or noise (defectlab.synth.procedural), or kitchen boards
(defectlab.synth.boards, with their exclusions.json)."""

from defectlab.data.layout import check_dataset
from defectlab.runtime import atomic_directory, log_to
from defectlab.synth import boards, procedural

log_to(snakemake.log[0])
dataset, spec = snakemake.wildcards.dataset, snakemake.params.spec
if spec["generator"] == "boards":
    with atomic_directory(snakemake.output[0]) as tmp:
        index = boards.write_samples(boards.plan_dataset(dataset, spec, snakemake.params.seed), tmp, spec["split"])
        check_dataset(tmp)
    kinds = sorted({k for value in index["kinds"] for k in value.split(",") if k})
    print(f"{len(index)} {spec.get('category', 'white')} boards of {dataset}: "
          f"{int(index['anomalies'].sum())} anomalies ({', '.join(kinds) or 'none'}), {int(index['stickers'].sum())} "
          f"stickers, {int(index['specks'].sum())} specks")  # fmt: skip
else:
    samples = procedural.plan_dataset(dataset, spec, snakemake.params.seed)
    with atomic_directory(snakemake.output[0]) as tmp:
        index = procedural.write_samples(samples, tmp)
        check_dataset(tmp)
    anomalous = index[index["label"] != "normal"]
    empty = anomalous["id"][anomalous["anomalous_pixels"] == 0].tolist()
    if empty:
        print(f"warning: anomalous images without an anomalous pixel (mask {spec['anomaly'].get('mask')}): {empty}")
    print(f"{len(index)} {spec['generator']} images of {dataset}, {len(anomalous)} anomalous")
