"""Verify every archive of a registry entry (size, SHA-256: downloaded or placed by hand), then extract them
into one folder, refusing unsafe members (defectlab.data.download, defectlab.data.extract)."""

from pathlib import Path

from defectlab.data.download import verify_archive
from defectlab.data.extract import safe_extract
from defectlab.data.registry import load_registry
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
entry = load_registry(snakemake.params.registry)[snakemake.wildcards.entry]
archives = [Path(path) for path in snakemake.input]
for archive in archives:  # all of them before any is extracted
    print(f"{archive.name}: sha256 {verify_archive(entry, archive)}")
with atomic_directory(snakemake.output[0]) as tmp:
    tmp.mkdir(parents=True)
    for k, archive in enumerate(archives):
        part = tmp / f".part-{k}"
        files = safe_extract(archive, part)
        for child in sorted(part.iterdir()):  # archives of one entry share the dataset's root
            if (tmp / child.name).exists():
                raise FileExistsError(f"{archive.name}: {child.name} is also in an earlier archive of this entry")
            child.rename(tmp / child.name)
        part.rmdir()
        print(f"{archive.name}: {len(files)} files")
