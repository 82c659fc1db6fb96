"""The jobs a config asks of each model family: experiments, file names and what `all` collects.

Pure functions of the config, used by the family's rule file (rules/models/<family>.smk) and unit-tested
without Snakemake; no torch at import, since every job parses the workflow.
"""
