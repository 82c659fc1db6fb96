"""Extract every archive of a registry entry into one folder, refusing unsafe members (defectlab.data.extract)."""

import os
import shutil
from pathlib import Path

from defectlab.data.extract import safe_extract
from defectlab.runtime import log_to

log_to(snakemake.log[0])
out = Path(snakemake.output[0])
tmp = out.with_name(f".{out.name}.tmp")
shutil.rmtree(tmp, ignore_errors=True)
tmp.mkdir(parents=True)
for k, archive in enumerate(map(Path, snakemake.input)):
    part = tmp / f".part-{k}"
    files = safe_extract(archive, part)
    for child in sorted(part.iterdir()):  # archives of one entry share the dataset's root
        if (tmp / child.name).exists():
            raise FileExistsError(f"{archive.name}: {child.name} is also in an earlier archive of this entry")
        child.rename(tmp / child.name)
    part.rmdir()
    print(f"{archive.name}: {len(files)} files")
shutil.rmtree(out, ignore_errors=True)
os.replace(tmp, out)
