"""Tables I and II, the coverage sweep (Fig. 5) and the coreset provenance of the run's experiments."""

from defectlab.patchcore.coreset_file import read_coreset
from defectlab.report.study import (
    coverage_figure,
    coverage_sweep,
    labelled,
    markdown,
    provenance,
    table1,
    table2,
)
from defectlab.report.tables import concat_metrics
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
experiments = snakemake.params.experiments
metrics = concat_metrics(snakemake.input.metrics)
labels = labelled(experiments)
first = table1(metrics, labelled(experiments, snakemake.params.table1))
second = table2(metrics, labels)
sweep = coverage_sweep(metrics)
origins = {name: read_coreset(path).origin for name, path in zip(experiments, snakemake.input.coresets, strict=True)}
sources = provenance(origins, {name: spec["domain"] for name, spec in snakemake.params.datasets.items()})
sources.insert(1, "label", sources["experiment"].map(labels))
with atomic_output(snakemake.output.table1) as tmp:
    tmp.write_text(markdown(first, "Table I: per-class pixel-wise and defect-wise recall [%] on the test split"))
with atomic_output(snakemake.output.table2) as tmp:
    tmp.write_text(markdown(second, "Table II: training scenarios [%] on the test split"))
with atomic_output(snakemake.output.sweep) as tmp:
    sweep.to_parquet(tmp, index=False)
with atomic_output(snakemake.output.provenance) as tmp:
    sources.to_parquet(tmp, index=False)
with atomic_output(snakemake.output.provenance_md) as tmp:
    tmp.write_text(f"Coreset provenance [%]\n\n{sources.round(1).to_markdown(index=False, floatfmt='.1f')}\n")
figure = coverage_figure(sweep, snakemake.params.sweep, labels)
with atomic_output(snakemake.output.figure) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
print(second.round(1).to_string())
