"""Download backbone weights named in the registry into its weights folder, verified (torch hub layout)."""

from defectlab.data.download import fetch_archive
from defectlab.data.registry import load_registry
from defectlab.runtime import log_to

log_to(snakemake.log[0])
registry = load_registry(snakemake.params.registry)
file = snakemake.wildcards.file
entries = [e for e in registry if e.kind == "weights" and file in {a.file for a in e.archives}]
if not entries:
    known = sorted(a.file for e in registry if e.kind == "weights" for a in e.archives)
    raise ValueError(f"no registry entry holds the weights {file!r}; known: {', '.join(known)}")
fetch_archive(entries[0], file, snakemake.output[0], registry=registry)
print(f"{file}: {entries[0].licence.name}")
