"""Convert an extracted real dataset into the common layout (defectlab.data.converters), all splits."""

import os
import shutil
from pathlib import Path

from defectlab.data.converters import convert
from defectlab.runtime import log_to

log_to(snakemake.log[0])
options = dict(snakemake.params.options)
source = Path(snakemake.input[0]) / options.pop("root", "")
out = Path(snakemake.output[0])
tmp = out.with_name(f".{out.name}.tmp")
shutil.rmtree(tmp, ignore_errors=True)
index = convert(snakemake.params.converter, source, tmp, **options)
print(index.groupby(["split", "annotation"]).size().to_string())
shutil.rmtree(out, ignore_errors=True)
os.replace(tmp, out)
