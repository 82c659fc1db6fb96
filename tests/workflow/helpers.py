"""Running the workflow from tests: the repository's Snakefile in a scratch working directory."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def command(workdir: Path, *args: str) -> list[str]:
    """The snakemake command line for the repository's workflow with `workdir` as its working directory."""
    return [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]


def snakemake(
    workdir: Path, *args: str, timeout: int = 1800, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake on the repository's workflow with `workdir` as its working directory."""
    return subprocess.run(
        command(workdir, *args), capture_output=True, text=True, timeout=timeout, cwd=workdir, env=env
    )


def jobs(said: str) -> dict[str, int]:
    """The job counts of a Snakemake run's "Job stats" table, by rule."""
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", said, flags=re.M)}
