"""Atomic outputs: a job's folder output appears whole or not at all. Clean exits: a job that touched
Parquet exits 0 once its work is done, and a job that fails still fails."""

import io
import pickle
import subprocess
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from layout_files import write_dataset

from defectlab.arrow_exit import arrow_task_counter, wait_for_arrow_pools
from defectlab.runtime import atomic_directory

REPO = Path(__file__).resolve().parents[2]
ASSEMBLE = REPO / "scripts" / "assemble_dataset.py"


def test_a_finished_block_replaces_the_folder(tmp_path):
    out = tmp_path / "dataset"
    (out / "old").mkdir(parents=True)
    with atomic_directory(out) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        (tmp / "images").mkdir(parents=True)
        (tmp / "images" / "a.png").write_bytes(b"png")
    assert sorted(p.name for p in out.iterdir()) == ["images"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_a_failed_block_leaves_no_folder_and_no_temporary(tmp_path):
    out = tmp_path / "dataset"
    with pytest.raises(RuntimeError, match="killed"), atomic_directory(out) as tmp:
        tmp.mkdir()
        (tmp / "half.png").write_bytes(b"png")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def run_as_snakemake(run: Path, source: str, **job) -> int:
    """Run `source` as Snakemake's `script:` directive does: in a new interpreter, after a preamble that
    unpickles the `snakemake` object; the exit status (negative: the signal that ended it)."""
    run.mkdir(parents=True, exist_ok=True)
    wrapper = run / "wrapper.py"
    preamble = f"import pickle; snakemake = pickle.loads({pickle.dumps(types.SimpleNamespace(**job))!r})\n"
    wrapper.write_text(preamble + source)
    return subprocess.run([sys.executable, str(wrapper)], cwd=run, stdin=subprocess.DEVNULL, timeout=120).returncode


def render_shards(root: Path, ids: list[list[str]]) -> list[str]:
    """Render shards in the common layout with the given sample ids (8 x 8 plates)."""
    plate = (np.full((8, 8, 3), 128, np.uint8), np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint16))
    return [str(write_dataset(root / f"shard-{k}", dict.fromkeys(s, plate), "train")) for k, s in enumerate(ids)]


def test_the_dataset_job_exits_cleanly_run_after_run(tmp_path):
    shards = render_shards(tmp_path, [[f"s-{k}-{i}" for i in range(8)] for k in range(2)])
    source = ASSEMBLE.read_text()

    def run(k: int) -> int:
        job = tmp_path / f"run-{k}"
        return run_as_snakemake(job, source, input=shards, output=[str(job / "ds")], log=[str(job / "log")])

    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(run, range(40)))
    failed = {k: code for k, code in enumerate(codes) if code}
    assert not failed, [(tmp_path / f"run-{k}" / "log").read_text() for k in failed]
    assert all("16 samples from 2 shards" in (tmp_path / f"run-{k}" / "log").read_text() for k in range(40))


def test_a_failing_job_still_exits_non_zero_with_its_traceback(tmp_path):
    shards = render_shards(tmp_path, [["s-0", "s-1"], ["s-1"]])
    job = tmp_path / "run"
    code = run_as_snakemake(job, ASSEMBLE.read_text(), input=shards, output=[str(job / "ds")], log=[str(job / "log")])
    log = (job / "log").read_text()
    assert code == 1
    assert "Traceback" in log and "ValueError" in log and "'s-1'" in log
    assert not (job / "ds").exists()


LATE_ARROW_READ = '''
import io, sys, time
import pyarrow.csv
from defectlab.runtime import log_to

log_to(snakemake.log[0])
data = ("x\\n" + "".join(f"{i}\\n" for i in range(20_000))).encode()

class SlowFile(io.RawIOBase):
    """Arrow reads ahead through it on its I/O threads; the third read takes a while, then says so."""
    def __init__(self):
        self.pos, self.reads = 0, 0
    def readable(self):
        return True
    def readinto(self, buffer):
        self.reads += 1
        if self.reads == 3:
            time.sleep(0.5)
            print("late read done", flush=True)
        chunk = data[self.pos:self.pos + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)

options = pyarrow.csv.ReadOptions(block_size=4096)
reader = pyarrow.csv.open_csv(io.BufferedReader(SlowFile(), 4096), read_options=options)
print(reader.read_next_batch().num_rows, "rows; exiting with a read ahead still running", flush=True)
'''


def test_the_exit_waits_for_an_arrow_thread_still_in_python(tmp_path):
    # Without the wait, the interpreter tears down while an Arrow I/O thread sleeps in a Python read:
    # when the read returns, the thread needs the GIL and the process aborts (SIGABRT).
    code = run_as_snakemake(tmp_path, LATE_ARROW_READ, log=[str(tmp_path / "log")])
    log = (tmp_path / "log").read_text()
    assert code == 0, log
    assert "late read done" in log


def test_arrow_pools_are_found_in_the_installed_pyarrow():
    pd.read_parquet(io.BytesIO(pd.DataFrame({"x": [1]}).to_parquet()))
    wait_for_arrow_pools(limit_s=10)
    assert arrow_task_counter()() == 0
