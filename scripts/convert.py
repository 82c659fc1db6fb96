"""Convert an extracted real dataset, or one category of it, into the common layout, all splits
(defectlab.data.converters)."""

from defectlab.data.converters import convert
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
options = {key: value for key, value in snakemake.params.options.items() if key != "root"}  # root: the input
with atomic_directory(snakemake.output[0]) as tmp:
    index = convert(snakemake.params.converter, snakemake.input[0], tmp, **options)
print(index.groupby(["split", "annotation"]).size().to_string())
