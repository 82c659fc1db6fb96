"""Aborts at exit of a Parquet job: the dataset job run many times as fresh processes under CPU load.

Each run executes scripts/assemble_dataset.py the way Snakemake's `script:` directive does: a
wrapper file that unpickles a `snakemake` object, then the script's source, in a new interpreter
(here with PYTHONFAULTHANDLER=1). Its inputs are two render shards of 8 plates each, so a run
that gets through prints "16 samples from 2 shards" to its log, as the pipeline's job does.
Runs go N at a time beside busy-looping load processes. A run that exits by SIGABRT counts as an
abort; the faulthandler report of the first ones is printed from their logs and, where the
kernel writes core files, the native stacks of their aborting threads (gdb on the core).

    .venv/bin/python benchmarks/exit_stress.py [--runs 500] [--parallel 4] [--load 1]
    .venv/bin/python benchmarks/exit_stress.py --without-fix     # the exit wait of log_to removed

--without-fix unregisters defectlab.arrow_exit's exit handler after the script body, so the
process exits as it did before that handler existed. --preload torch cv2 h5py imports those
first, as the heavier jobs do.
"""

import argparse
import multiprocessing
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from defectlab.data.layout import write_png

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "assemble_dataset.py"
DONE = "16 samples from 2 shards"
UNREGISTER = "import atexit, defectlab.arrow_exit\natexit.unregister(defectlab.arrow_exit.wait_for_arrow_pools)\n"


def write_shards(root: Path) -> list[Path]:
    """Two render shards in the common layout, 8 plates each (tiny PNGs, an index.parquet)."""
    shards = []
    for k in range(2):
        shard = root / f"shard-{k}"
        ids = [f"plate-{k}-{i}" for i in range(8)]
        for sample_id in ids:
            write_png(shard / "images" / f"{sample_id}.png", np.full((8, 8, 3), 128, np.uint8))
            write_png(shard / "masks" / f"{sample_id}.png", np.zeros((8, 8), np.uint8))
            write_png(shard / "instances" / f"{sample_id}.png", np.zeros((8, 8), np.uint16))
        index = {"id": ids, "split": "train", "object": "plate", "view": 0, "light": "hex", "seed": range(8)}
        pd.DataFrame(index).to_parquet(shard / "index.parquet", index=False)
        shards.append(shard)
    return shards


def write_wrapper(run: Path, shards: list[Path], preload: list[str], without_fix: bool) -> Path:
    """The file Snakemake would run for the job: preamble (the `snakemake` object), script source."""
    job = types.SimpleNamespace(
        input=[str(s) for s in shards], output=[str(run / "dataset")], log=[str(run / "dataset.log")]
    )
    preamble = (
        f"import sys; import pickle; snakemake = pickle.loads({pickle.dumps(job)!r}); "
        "from snakemake.logging import logger; from snakemake.iocontainers import Snakemake; "
        f"__file__ = {str(SCRIPT)!r};\n"
    )
    imports = "".join(f"import {module}\n" for module in preload)
    wrapper = run / "wrapper.py"
    wrapper.write_text(preamble + imports + SCRIPT.read_text() + (UNREGISTER if without_fix else ""))
    return wrapper


def allow_core() -> None:
    """In the child: let an abort leave a core file for gdb."""
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Cores:
    """Core files of the first `keep` aborts; later ones are deleted as they come (each is 100s of MB)."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.kept = 0
        self.lock = threading.Lock()

    def keep_or_delete(self, run: Path) -> None:
        """Keep or delete the core files an aborted run left."""
        with self.lock:
            files = sorted(run.glob("core*"))
            if files and self.kept < self.keep:
                self.kept += 1
                return
            for file in files:
                file.unlink()


def run_once(run: Path, wrapper: Path, cores: Cores | None) -> int:
    """Run one job to its end; its exit status (negative: the signal that ended it)."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run(
        [sys.executable, str(wrapper)],
        cwd=run,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=allow_core if cores is not None else None,
        timeout=600,
    )
    if cores is not None:
        cores.keep_or_delete(run)
    return done.returncode


def burn() -> None:
    """A load process: one core busy until terminated."""
    while True:
        pass


def aborting_threads(core: Path) -> str:
    """The native stack of each thread of a core file that was in abort(), from gdb."""
    out = subprocess.run(
        ["gdb", "-batch", "-nx", "-ex", "thread apply all bt 60", sys.executable, str(core)],
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    threads = re.split(r"\n(?=Thread \d+ )", out)
    return "\n".join(t.strip() for t in threads if t.startswith("Thread ") and "abort" in t)


def trimmed(text: str, width: int = 300) -> str:
    """Long lines (faulthandler's list of extension modules) cut to `width` characters."""
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in text.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=4, help="jobs running at a time")
    parser.add_argument("--load", type=int, default=1, help="busy-looping load processes beside them")
    parser.add_argument("--preload", nargs="*", default=[], help="modules the wrapper imports before the script")
    parser.add_argument("--without-fix", action="store_true", help="remove log_to's exit wait for Arrow")
    parser.add_argument("--show", type=int, default=2, help="failures whose log and native stack are printed")
    args = parser.parse_args()

    core_pattern = Path("/proc/sys/kernel/core_pattern")
    writes_cores = core_pattern.exists() and not core_pattern.read_text().startswith("|")
    cores = Cores(args.show) if writes_cores else None
    load = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.load)]
    for process in load:
        process.start()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="exit-stress-") as tmp:
        shards = write_shards(Path(tmp))
        runs = []
        for k in range(args.runs):
            run = Path(tmp) / f"run-{k}"
            run.mkdir()
            runs.append((run, write_wrapper(run, shards, args.preload, args.without_fix)))
        try:
            with ThreadPoolExecutor(args.parallel) as pool:
                codes = list(pool.map(lambda r: run_once(*r, cores), runs))
        finally:
            for process in load:
                process.terminate()
        seconds = time.monotonic() - start
        failed = [(run, code) for (run, _), code in zip(runs, codes, strict=True) if code != 0]
        with_core_first = sorted(failed, key=lambda failure: not any(failure[0].glob("core*")))
        for run, code in with_core_first[: args.show]:
            print(f"--- {run.name}: exit status {code}; its log:")
            print(trimmed((run / "dataset.log").read_text(errors="replace")))
            for core in sorted(run.glob("core*")):
                print(f"--- {run.name}: aborting thread in {core.name} (gdb)")
                print(aborting_threads(core))
        finished = sum(DONE in (run / "dataset.log").read_text(errors="replace") for run, _ in runs)
    aborts = sum(code == -signal.SIGABRT for code in codes)
    others = len(failed) - aborts
    fix = "without the fix" if args.without_fix else "with the fix"
    print(
        f"{aborts} aborts in {args.runs} runs ({others} other failures; {finished} printed {DONE!r}), {fix}; "
        f"{args.parallel} at a time, {args.load} load processes, preload {args.preload or 'none'}; "
        f"{seconds:.0f} s, load average now {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
