"""Download one archive of a registry entry, resuming, retrying and verifying it (defectlab.data.download)."""

from defectlab.data.download import fetch_archive
from defectlab.data.registry import load_registry
from defectlab.runtime import log_to

log_to(snakemake.log[0])
registry = load_registry(snakemake.params.registry)
entry = registry[snakemake.wildcards.entry]
print(f"{entry.name}: {snakemake.wildcards.file}, licence {entry.licence.name} ({entry.licence.url})")
fetch_archive(entry, snakemake.wildcards.file, snakemake.output[0], registry=registry)
