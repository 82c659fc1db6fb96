"""Extract every archive of a registry entry into one folder, refusing unsafe members (defectlab.data.extract)."""

from pathlib import Path

from defectlab.data.extract import safe_extract
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
with atomic_directory(snakemake.output[0]) as tmp:
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
