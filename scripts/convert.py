"""Convert an extracted real dataset into the common layout (defectlab.data.converters), all splits."""

from pathlib import Path

from defectlab.data.converters import convert
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
options = dict(snakemake.params.options)
source = Path(snakemake.input[0]) / options.pop("root", "")
with atomic_directory(snakemake.output[0]) as tmp:
    index = convert(snakemake.params.converter, source, tmp, **options)
print(index.groupby(["split", "annotation"]).size().to_string())
