#!/usr/bin/env bash
# Install the project's library into the freshly created conda environment
# (run by Snakemake from the workflow's working directory, the repository root).
set -euo pipefail
python -m pip install --no-deps -e .
