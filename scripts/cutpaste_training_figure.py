"""Training curves of every CutPaste network of the run."""

from defectlab.report.cutpaste_training import read_run, training_figure
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
runs = [read_run(path, label) for path, label in zip(snakemake.input, snakemake.params.labels, strict=True)]
figure = training_figure(runs)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png")
for run in runs:
    print(f"{run.label}: {len(run.loss)} steps, kept step {run.kept_step}")
