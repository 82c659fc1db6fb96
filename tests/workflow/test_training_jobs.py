"""A training job killed mid-run (SIGKILL, as an out-of-memory kill or a preemption does it) resumes from its
checkpoint when Snakemake runs it again, and ends with the weights of a run that was never interrupted; a job
rerun because its settings changed starts over instead of refusing the old checkpoint."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import torch
import yaml
from helpers import REPO, command, snakemake

from defectlab.training.checkpoint import checkpoint_path, load

MODEL = "results/models/chess-cae/model.pt"
SETTINGS = {"hidden": 16, "latent": 8, "steps": 4000, "checkpoint_every": 100, "snapshots": 3}


def write_config(workdir: Path, settings: dict) -> Path:
    config = {
        "seed": 3,
        "datasets": {
            "chess-train": {"generator": "chess", "split": "train", "count": 2, "size": 32, "square": 4},
            "chess-test": {"generator": "chess", "split": "test", "count": 2, "twin_of": "chess-train", "anomaly": {}},
        },
        "experiments": {
            "chess-cae": {
                "model": "cae",
                "train": ["chess-train"],
                "test": "chess-test",
                "threshold": {"fit_on": "test"},
            }
        },
        "autoencoder": settings,
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def args(workdir: Path, settings: dict = SETTINGS) -> list[str]:
    profile = ["--profile", str(REPO / "profiles/local"), "--cores", "2"]
    return [MODEL, *profile, "--configfile", str(write_config(workdir, settings))]


def children(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        below = [p for p, pp in parents.items() if pp == parent]
        found += below
        frontier += below
    return found


def training_process(pid: int) -> int | None:
    for child in children(pid):
        try:
            if "train_autoencoder" in Path(f"/proc/{child}/cmdline").read_text():
                return child
        except OSError:
            continue
    return None


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load(path)["models"]["autoencoder"]


def test_a_killed_training_job_resumes_when_snakemake_runs_it_again(tmp_path: Path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir(), whole.mkdir()
    run = subprocess.Popen(command(killed, *args(killed)), cwd=killed, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    checkpoint = killed / checkpoint_path(MODEL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job = training_process(run.pid)
    assert checkpoint.exists() and job is not None, run.communicate()[0].decode()[-3000:]
    os.kill(job, signal.SIGKILL)  # the job only: Snakemake sees it fail
    output = run.communicate(timeout=120)[0].decode()
    assert run.returncode != 0 and not (killed / MODEL).exists(), output[-3000:]
    saved = load(checkpoint)["step"]
    assert 0 < saved < SETTINGS["steps"]

    again = snakemake(killed, *args(killed))
    assert again.returncode == 0, again.stderr[-3000:]
    log = (killed / "logs/train_autoencoder/chess-cae.log").read_text()
    assert f"resuming from {checkpoint_path(MODEL)} at step {saved} of 4000" in log
    record = load(killed / MODEL)["record"]
    assert [(s["start"], s["end"]) for s in record["segments"]] == [(0, saved), (saved, 4000)]

    uninterrupted = snakemake(whole, *args(whole))
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    resumed, reference = weights(killed / MODEL), weights(whole / MODEL)
    assert all(torch.equal(resumed[key], reference[key]) for key in reference)
    assert load(killed / MODEL)["losses"] == load(whole / MODEL)["losses"]


def test_a_job_rerun_with_other_settings_starts_over_from_a_stale_checkpoint(tmp_path: Path):
    quick = {**SETTINGS, "steps": 30, "checkpoint_every": 10}
    first = snakemake(tmp_path, *args(tmp_path, quick))
    assert first.returncode == 0, first.stderr[-3000:]
    changed = {**quick, "lr": 0.002}
    second = snakemake(tmp_path, *args(tmp_path, changed))
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.search(r"localrule train_autoencoder:", second.stderr)  # rerun: its params changed
    log = (tmp_path / "logs/train_autoencoder/chess-cae.log").read_text()
    assert "written by another training configuration" in log and "settings.lr: 0.001 -> 0.002; starting over" in log
    assert load(tmp_path / MODEL)["record"]["segments"][0]["start"] == 0
