"""profiles/slurm on a real single-node Slurm with the real executor plugin: the tiny run, GPU requests, a kill."""

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, command, snakemake

pytestmark = pytest.mark.slow

TINY = ("--configfile", str(REPO / "config/tiny.yaml"))
# the test cluster has no accounting database and answers at once: no account, quick status checks
SLURM = (
    "--profile", str(REPO / "profiles/slurm"), *TINY, "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2",
)  # fmt: skip
LOCAL = ("--profile", str(REPO / "profiles/local"), "--cores", "2", *TINY)


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> dict[str, Path]:
    dirs = {name: tmp_path_factory.mktemp(name) for name in ("slurm", "local")}
    started = time.monotonic()
    result = snakemake(dirs["slurm"], *SLURM, env=cluster.env)
    slurm_seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-6000:]
    started = time.monotonic()
    assert snakemake(dirs["local"], *LOCAL).returncode == 0
    print(
        f"\ntiny run: {slurm_seconds:.0f} s on the test Slurm, {time.monotonic() - started:.0f} s with profiles/local"
    )
    return dirs


def submitted(workdir: Path) -> dict[str, str]:
    """Slurm job id -> rule, from Snakemake's own logs of the run(s) in `workdir`."""
    pattern = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(?:rule|group)_(\w+)/")
    return {
        job: rule
        for log in sorted((workdir / ".snakemake/log").glob("*.snakemake.log"))
        for job, rule in pattern.findall(log.read_text())
    }


def test_every_job_ran_as_a_slurm_job_and_results_equal_the_local_run(cluster, runs):
    jobs = {job["JobId"]: job for job in cluster.jobs()}
    rules = submitted(runs["slurm"])
    assert rules and set(rules) == set(jobs)  # every job Snakemake ran is a Slurm job, and nothing else ran
    assert all(job["JobState"] == "COMPLETED" for job in jobs.values())
    print(f"{len(jobs)} Slurm jobs: {dict(Counter(rules.values()))}")
    # the six patch-store jobs of the tiny run go to Slurm as two jobs of the group `patch_stores`
    # (profile: groups, group-components); Snakemake names their logs group_<group>_<rules>
    assert Counter(rules.values())["patch_stores_patches"] == 2 and "patches" not in rules.values()
    slurm = pd.read_parquet(runs["slurm"] / "results/tables/metrics.parquet")
    local = pd.read_parquet(runs["local"] / "results/tables/metrics.parquet")
    pd.testing.assert_frame_equal(slurm, local)


def test_gpu_rules_asked_slurm_for_a_gpu_on_the_gpu_partition(cluster, runs):
    jobs = {job["JobId"]: job for job in cluster.jobs()}
    rules = submitted(runs["slurm"])
    for job_id, rule in rules.items():
        job = jobs[job_id]
        if rule in ("coreset_shard", "patchcore_maps"):
            # sbatch --partition=gpu --gpus=1 --cpus-per-gpu=4, as the profile's set-resources intend
            assert (job["Partition"], job["TresPerJob"], job["CpusPerTres"]) == ("gpu", "gres:gpu:1", "gres:gpu:4")
        else:
            assert job["Partition"] == "cpu" and "TresPerJob" not in job, job
    assert {"coreset_shard", "patchcore_maps", "meld", "render"} <= set(rules.values())


def test_a_killed_job_leaves_no_complete_output_and_a_rerun_finishes(cluster, runs):
    workdir = runs["slurm"]
    shard = workdir / "results/coresets/plates-train/plain/shard-0.h5"
    melded = workdir / "results/coresets/plates.h5"
    before = shard.read_bytes()
    for path in (shard, melded):
        path.unlink()
    no_retry = command(workdir, *SLURM, "--retries", "0", "results/coresets/plates.h5")
    console = workdir / "killed-run.txt"
    with console.open("w") as out:
        process = subprocess.Popen(no_retry, cwd=workdir, env=cluster.env, stdout=out, stderr=subprocess.STDOUT)
    job = wait_for_running(cluster, workdir, "coreset_shard", known=set(submitted(workdir)))
    subprocess.run(["scancel", job], check=True, env=cluster.env)
    assert process.wait(timeout=600) != 0, console.read_text()[-3000:]
    assert "CANCELLED" in console.read_text() or "FAILED" in console.read_text()
    assert not shard.exists() and not melded.exists()  # at most a hidden .tmp file, never the output name
    result = snakemake(workdir, *SLURM, "results/coresets/plates.h5", env=cluster.env)  # the same command again
    assert result.returncode == 0, result.stderr[-6000:]
    assert shard.read_bytes() == before and melded.exists()  # redone, the same bytes


def wait_for_running(cluster, workdir: Path, rule: str, known: set[str], timeout: float = 300) -> str:
    """The id of a new Slurm job of `rule` once it runs (and its script has had time to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = {job for job, name in submitted(workdir).items() if name == rule and job not in known}
        running = [job["JobId"] for job in cluster.jobs() if job["JobId"] in new and job["JobState"] == "RUNNING"]
        if running:
            time.sleep(5)  # into the job's script
            return running[0]
        time.sleep(0.5)
    raise AssertionError(f"no {rule} job ran within {timeout} s")
