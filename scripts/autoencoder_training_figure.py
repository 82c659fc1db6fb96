"""Reconstructions over training of the first repeat of each trained autoencoder (the paper's Fig. 8)."""

from defectlab.models.autoencoders.history import training_row
from defectlab.report.training_figure import training_figure
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
rows = [
    training_row(weights, snakemake.params.datasets[name], snakemake.params.labels[name])
    for name, weights in snakemake.params.weights.items()
]
figure = training_figure(rows, "reconstructions of the first training image over training (first repeat)")
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
for row in rows:
    print(f"{row.label}: snapshots at steps {list(row.steps)}, final mse {row.loss[-1]:.4g}")
