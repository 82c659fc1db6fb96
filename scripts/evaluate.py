"""Fit the threshold of one experiment (on val, or on test as an oracle) and compute its test metrics."""

from defectlab.metrics.evaluation import evaluate_split, fit_split_threshold, load_split
from defectlab.metrics.patch import PatchGrid
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
params, inputs = snakemake.params, snakemake.input
grid = PatchGrid(**params.patch) if params.unit == "patch" else None
test = load_split(inputs.test_maps, inputs.test_dataset, grid)
oracle = params.fit_on == "test"
fit = test if oracle else load_split(inputs.val_maps, inputs.val_dataset, grid)
threshold = fit_split_threshold(fit, params.rule, params.unit, role="test" if oracle else "validation")
fitted_on = f"{params.test} (oracle)" if oracle else params.val
print(f"{params.rule} {params.unit} threshold {threshold:.4f} fitted on {fitted_on} ({len(fit.ids)} images)")
metrics = evaluate_split(test, threshold, params.unit)
metrics.insert(0, "experiment", snakemake.wildcards.experiment)
metrics.insert(1, "dataset", params.test)
metrics.insert(2, "split", "test")
metrics["threshold"] = threshold
metrics["threshold_fitted_on"] = fitted_on
metrics["threshold_rule"] = params.rule
metrics["unit"] = params.unit
metrics["model"] = test.model
with atomic_output(snakemake.output[0]) as tmp:
    metrics.to_parquet(tmp, index=False)
print(metrics.to_string())
