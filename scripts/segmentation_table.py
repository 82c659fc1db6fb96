"""Table 1 of the clutch paper beside the metrics of this run's segmentation experiments."""

from defectlab.models.segmentation.train import stored_settings
from defectlab.report.segmentation import experiment_rows, insignificant_share, markdown, table1
from defectlab.report.tables import concat_metrics
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
params = snakemake.params
metrics = concat_metrics(snakemake.input.metrics)
places = experiment_rows(params.config, params.settings)
table = table1(metrics, places)
starts = sorted({stored_settings(weights)["initialisation"] for weights in params.weights.values()})
starts = [start for start in starts if not start.startswith("fine-tuned")]
epochs = sorted({s["epochs"] for s in params.settings.values()})
note = (
    f"This run: {len(places)} experiments; networks start from {' or '.join(starts)} (as the paper's), "
    f"fine-tuning runs from their pretrained experiment's selected weights; at most {', '.join(map(str, epochs))} "
    "epochs (the paper: 1000, with early stopping). RealClutch rows are the rendered stand-in unless the config "
    "converts the real data."
)
with atomic_output(snakemake.output.table) as tmp:
    table.to_parquet(tmp, index=False)
text = markdown(table, insignificant_share(metrics, places), note)
with atomic_output(snakemake.output.markdown) as tmp:
    tmp.write_text(text)
print(text)
