"""Concatenate every metric file into results/tables/ and write the readable summary."""

from pathlib import Path

from defectlab.report.tables import concat_metrics, summary_markdown
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
table = concat_metrics(snakemake.input)
with atomic_output(snakemake.output.table) as tmp:
    table.to_parquet(tmp, index=False)
summary = summary_markdown(table)
with atomic_output(snakemake.output.summary) as tmp:
    Path(tmp).write_text(summary)
print(summary)
