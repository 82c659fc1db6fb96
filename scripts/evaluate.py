"""Fit the pixel threshold on validation and compute the test metrics of one experiment."""

from defectlab.metrics.evaluation import evaluate_split, fit_split_threshold, load_split
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
val = load_split(snakemake.input.val_maps, snakemake.input.val_dataset)
threshold = fit_split_threshold(val)
print(f"threshold {threshold:.4f} fitted on {snakemake.params.val} ({len(val.ids)} images)")
metrics = evaluate_split(load_split(snakemake.input.test_maps, snakemake.input.test_dataset), threshold)
metrics.insert(0, "experiment", snakemake.wildcards.experiment)
metrics.insert(1, "dataset", snakemake.params.test)
metrics.insert(2, "split", "test")
metrics["threshold"] = threshold
metrics["threshold_fitted_on"] = snakemake.params.val
with atomic_output(snakemake.output[0]) as tmp:
    metrics.to_parquet(tmp, index=False)
print(metrics.to_string())
