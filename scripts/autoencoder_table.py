"""Table 1 of the autoencoder study from the metrics of its experiments and the records of their weights."""

import pandas as pd

from defectlab.report.autoencoders import markdown, table1, time_ratios
from defectlab.report.tables import concat_metrics
from defectlab.runtime import atomic_output, log_to
from defectlab.training import read_record

log_to(snakemake.log[0])
runs = []
for experiment, weights in snakemake.params.weights.items():
    record = read_record(weights)
    runs.append({"experiment": experiment, "seconds": record["wall_s"], "steps": record["steps_done"],
                 "device": record["device"]})  # fmt: skip
runs = pd.DataFrame(runs, columns=["experiment", "seconds", "steps", "device"])
table = table1(concat_metrics(snakemake.input.metrics), runs, snakemake.params.generators)
with atomic_output(snakemake.output.table) as tmp:
    table.to_parquet(tmp, index=False)
with atomic_output(snakemake.output.markdown) as tmp:
    tmp.write_text(markdown(table, time_ratios(table)))
print(markdown(table, time_ratios(table)))
