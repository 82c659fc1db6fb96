import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))

from cluster import SlurmCluster, missing  # noqa: E402


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> SlurmCluster:
    reason = missing()
    if reason:
        pytest.skip(reason)
    slurm = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()
