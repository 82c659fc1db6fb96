"""The training loop on tiny real torch models: it learns; the same seed gives the same bytes; a run killed with
SIGKILL (or crashing) resumes to the bytes of an uninterrupted run, early-stopping state included; two optimisers
fit one step; bad settings, mismatching checkpoints and NaN losses are refused with messages naming the cause."""

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from defectlab.training import EarlyStopping, SeededBatchSampler, load_weights, read_record, read_snapshots, train
from defectlab.training.checkpoint import checkpoint_path, load

from .problems import PROBLEMS, conv, critic, mlp

CHILD = Path(__file__).with_name("child.py")


class Crash(Exception):
    """Raised from a step to end a run abruptly, in-process."""


def crash_at(job: dict, at: int) -> dict:
    inner = job["step"]

    def step(batch, state):
        if state.step == at:
            raise Crash(f"step {at}")
        return inner(batch, state)

    return {**job, "step": step}


def state_bytes(models: dict[str, nn.Module] | nn.Module) -> dict[str, bytes]:
    models = {"model": models} if isinstance(models, nn.Module) else models
    return {
        f"{name}.{key}": t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes()
        for name, m in models.items()
        for key, t in m.state_dict().items()
    }


def saved_weights(output: Path) -> dict[str, dict[str, torch.Tensor]]:
    return load(output)["models"]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = saved_weights(a), saved_weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert wa[name].keys() == wb[name].keys()
        for key in wa[name]:
            assert torch.equal(wa[name][key], wb[name][key]), f"{name}.{key} differs"


def run(job: dict, output: Path, **kwargs) -> dict:
    return train(**job, output=output, **{"steps": 20, "seed": 7, "checkpoint_every": 5, "device": "cpu", **kwargs})


def test_the_loss_decreases(tmp_path):
    record = run(mlp(seed=7), tmp_path / "model.pt", steps=80, checkpoint_every=40)
    losses = load(tmp_path / "model.pt")["losses"]["loss"]
    assert len(losses) == 80 and record["steps_done"] == 80
    assert sum(losses[-10:]) / 10 < 0.1 * sum(losses[:10]) / 10


def test_the_same_seed_gives_the_same_bytes_and_another_seed_others(tmp_path):
    weights = []
    for k, seed in enumerate((7, 7, 8)):
        job = mlp(seed=seed)
        run(job, tmp_path / f"run{k}" / "model.pt", seed=seed)
        weights.append(state_bytes(job["model"]))
    assert weights[0] == weights[1]
    assert weights[0] != weights[2]


def child(problem: str, output: Path, steps: int, every: int, kill_at: int = 0) -> int:
    command = [sys.executable, str(CHILD), problem, str(output), str(steps), str(every), "--kill-at", str(kill_at)]
    return subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=120).returncode


@pytest.mark.parametrize("problem", ["mlp", "critic"])
def test_a_killed_job_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path, problem):
    steps, every = 24, 5
    reference = tmp_path / "reference" / "model.pt"
    train(**PROBLEMS[problem](seed=7), steps=steps, seed=7, output=reference, checkpoint_every=every, device="cpu")

    output = tmp_path / "killed" / "model.pt"
    assert child(problem, output, steps, every, kill_at=13) == -signal.SIGKILL
    assert not output.exists()
    assert load(checkpoint_path(output))["step"] == 10
    assert child(problem, output, steps, every) == 0
    assert_same_weights(output, reference)
    resumed, uninterrupted = load(output), load(reference)
    assert resumed["losses"] == uninterrupted["losses"]
    record = resumed["record"]
    assert [(s["start"], s["end"]) for s in record["segments"]] == [(0, 10), (10, 24)]
    assert record["wall_s"] == pytest.approx(sum(s["wall_s"] for s in record["segments"]))
    assert record["steps_done"] == steps and not record["stopped_early"]


def test_a_crashed_run_with_a_dataloader_and_a_schedule_resumes_exactly(tmp_path):
    reference_job = conv(seed=7)
    run(reference_job, tmp_path / "reference.pt", steps=22, scheduler_every=reference_job.pop("scheduler_every"))
    first = conv(seed=7)
    every = first.pop("scheduler_every")
    with pytest.raises(Crash):
        run(crash_at(first, 13), tmp_path / "model.pt", steps=22, scheduler_every=every)
    second = conv(seed=7)
    second.pop("scheduler_every")
    run(second, tmp_path / "model.pt", steps=22, scheduler_every=every)
    assert_same_weights(tmp_path / "model.pt", tmp_path / "reference.pt")
    seen = reference_job["step"].seen
    assert first["step"].seen[:10] + second["step"].seen == seen[:22]
    assert sorted(sum(seen[:4], [])) == list(range(20))  # an epoch (4 batches of 6, 6, 6, 2) covers the dataset
    assert seen[:4] != seen[4:8]  # and each epoch is shuffled anew
    # StepLR(step_size=2, gamma=0.5) stepped once per epoch: 22 steps = 5 epochs -> halved twice
    assert second["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-2 * 0.25)


class GeneratorData:
    """A batch source that draws from one generator, step after step: its state must travel in the checkpoint."""

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(16, 4, generator=self.generator)
        return x, x.sum(1, keepdim=True)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def test_a_batch_source_with_a_state_resumes_from_its_saved_state(tmp_path):
    run({**mlp(seed=7), "data": GeneratorData(3)}, tmp_path / "reference.pt")
    with pytest.raises(Crash):
        run(crash_at({**mlp(seed=7), "data": GeneratorData(3)}, 8), tmp_path / "model.pt")
    run({**mlp(seed=7), "data": GeneratorData(3)}, tmp_path / "model.pt")
    assert_same_weights(tmp_path / "model.pt", tmp_path / "reference.pt")


def sequence_validation(values: list[float], every: int):
    """A validation 'loss' read from a hand-made sequence: the k-th evaluation (step k * every) gives values[k-1]."""
    return lambda state: values[state.step // every - 1]


# Evaluations at steps 2, 4, 6, ...; min_delta 0.05, patience 3: 1.0 best, 0.8 best (step 4), 0.79 not better by
# more than 0.05, 0.85 and 0.9 worse: third evaluation in a row without improvement at step 10 -> stop there.
VALUES = [1.0, 0.8, 0.79, 0.85, 0.9, 0.1, 0.1, 0.1]


def test_early_stopping_stops_at_the_step_the_sequence_says(tmp_path):
    job = mlp(seed=7)
    calls = []
    inner = job["step"]
    job["step"] = lambda batch, state: calls.append(state.step) or inner(batch, state)
    snapshots = {}

    def validate(state):
        snapshots[state.step] = {k: t.clone() for k, t in state.model.state_dict().items()}
        assert not state.model.training and not torch.is_grad_enabled()
        return sequence_validation(VALUES, 2)(state)

    stopping = EarlyStopping(patience=3, min_delta=0.05)
    record = run(
        job, tmp_path / "model.pt", validate=validate, validate_every=2, early_stopping=stopping, keep_best=True
    )
    assert calls == list(range(1, 11))
    assert record["stopped_early"] and record["stopped_at"] == 10 and record["steps_done"] == 10
    assert record["best_validation"] == 0.8 and record["best_step"] == 4
    assert job["model"].training  # modes restored after validation
    best = load(tmp_path / "model.pt")["models"]["model"]
    assert all(torch.equal(best[k], snapshots[4][k]) for k in best)  # keep_best: the weights of step 4


def test_a_crash_mid_patience_resumes_the_early_stopping_state(tmp_path):
    settings = {"validate_every": 2, "checkpoint_every": 4, "steps": 40}

    def stopping_run(job, output):
        stop = EarlyStopping(patience=3, min_delta=0.05)
        return run(job, output, validate=sequence_validation(VALUES, 2), early_stopping=stop, **settings)

    reference = stopping_run(mlp(seed=7), tmp_path / "reference.pt")
    with pytest.raises(Crash):  # checkpoint at step 8: best 0.8 at step 4, two evaluations without improvement
        stopping_run(crash_at(mlp(seed=7), 9), tmp_path / "model.pt")
    saved = load(checkpoint_path(tmp_path / "model.pt"))
    assert saved["step"] == 8 and saved["early_stopping"]["bad_evaluations"] == 2
    record = stopping_run(mlp(seed=7), tmp_path / "model.pt")
    assert record["stopped_at"] == reference["stopped_at"] == 10
    assert_same_weights(tmp_path / "model.pt", tmp_path / "reference.pt")
    # and a run started again after it stopped does no more steps
    again = stopping_run(crash_at(mlp(seed=7), 11), tmp_path / "model.pt")
    assert again["steps_done"] == 10 and again["wall_s"] == record["wall_s"]


def test_two_optimisers_in_one_step(tmp_path):
    job = critic(seed=7, clip=0.05)
    record = run(job, tmp_path / "model.pt", steps=30, checkpoint_every=10)
    saved = load(checkpoint_path(tmp_path / "model.pt"))
    assert set(saved["optimizers"]) == {"generator", "critic"}
    assert all(saved["optimizers"][name]["state"] for name in ("generator", "critic"))
    assert all(p.abs().max() <= 0.05 for p in job["model"]["critic"].parameters())
    assert set(record["final_losses"]) == {"critic", "generator"}
    generator, judge = critic(seed=0)["model"].values()
    load_weights(tmp_path / "model.pt", {"generator": generator, "critic": judge})
    assert state_bytes({"generator": generator, "critic": judge}) == state_bytes(job["model"])


def test_the_record_of_a_run_on_an_explicit_cpu(tmp_path):
    job = mlp(seed=7)
    record = run(job, tmp_path / "model.pt", seed=7, device="cpu", validate=lambda state: 1.0, validate_every=5)
    assert record == read_record(tmp_path / "model.pt")
    assert record["device"] == "cpu" and record["seed"] == 7 and record["final"]
    assert record["device_name"].endswith(f"CPU, {torch.get_num_threads()} threads")
    assert record["steps_done"] == 20 and not record["stopped_early"] and record["stopped_at"] is None
    assert record["best_validation"] == 1.0 and record["best_step"] == 5
    assert record["wall_s"] > 0 and record["steps_per_s"] == pytest.approx(20 / record["wall_s"])
    assert all(p.device.type == "cpu" for p in job["model"].parameters())


def test_final_weights_load_back_for_prediction_and_a_checkpoint_is_refused(tmp_path):
    job = mlp(seed=7)
    run(job, tmp_path / "model.pt")
    fresh = mlp(seed=1)["model"]
    record = load_weights(tmp_path / "model.pt", fresh)
    assert record["steps_done"] == 20 and not fresh.training
    assert state_bytes(fresh) == state_bytes(job["model"])
    with pytest.raises(ValueError, match=r"is a training checkpoint \(step 20 of 20\), not the final weights"):
        load_weights(checkpoint_path(tmp_path / "model.pt"), fresh)
    with pytest.raises(ValueError, match=r"holds the weights of \['model'\], not of \['decoder', 'encoder'\]"):
        load_weights(tmp_path / "model.pt", {"encoder": fresh, "decoder": fresh})


def test_a_checkpoint_of_other_settings_is_refused_naming_both(tmp_path):
    with pytest.raises(Crash):
        run(crash_at(mlp(seed=7, lr=0.01), 7), tmp_path / "model.pt", settings={"lr": 0.01})
    with pytest.raises(
        ValueError,
        match=r"another training configuration \(fingerprint [0-9a-f]{16}, this run "
        r"[0-9a-f]{16}\):.*settings\.lr: 0\.01 -> 0\.02",
    ) as error:
        run(mlp(seed=7, lr=0.02), tmp_path / "model.pt", settings={"lr": 0.02})
    assert str(checkpoint_path(tmp_path / "model.pt")) in str(error.value)
    with pytest.raises(ValueError, match=r"steps: 20 -> 30"):
        run(mlp(seed=7, lr=0.01), tmp_path / "model.pt", settings={"lr": 0.01}, steps=30)
    with pytest.raises(ValueError, match=r"initial_weights"):  # a model built without the same seed
        run(mlp(seed=3, lr=0.01), tmp_path / "model.pt", settings={"lr": 0.01})
    run(mlp(seed=7, lr=0.01), tmp_path / "model.pt", settings={"lr": 0.01})  # the same settings resume


def test_a_checkpoint_of_another_schedule_is_refused(tmp_path):
    job = conv(seed=7)
    every = job.pop("scheduler_every")
    with pytest.raises(Crash):
        run(crash_at(job, 7), tmp_path / "model.pt", scheduler_every=every)
    job = conv(seed=7)
    job["scheduler"] = torch.optim.lr_scheduler.StepLR(job["optimizer"], step_size=2, gamma=0.3)
    with pytest.raises(ValueError, match=r"schedulers\.scheduler\.gamma: 0\.5 -> 0\.3"):
        run(job, tmp_path / "model.pt", scheduler_every=job.pop("scheduler_every"))


def test_a_nan_loss_stops_naming_the_step(tmp_path):
    job = mlp(seed=7)
    inner = job["step"]
    job["step"] = lambda batch, state: {"loss": math.nan} if state.step == 7 else inner(batch, state)
    with pytest.raises(FloatingPointError, match=r"loss 'loss' is nan at step 7 of 20.*holds step 5"):
        run(job, tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists() and load(checkpoint_path(tmp_path / "model.pt"))["step"] == 5
    bad = mlp(seed=7)
    with pytest.raises(FloatingPointError, match=r"validation loss is inf at step 5 of 20"):
        run(bad, tmp_path / "other.pt", validate=lambda state: math.inf, validate_every=5)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"steps": 0}, r"steps must be an integer >= 1, got 0"),
        ({"steps": -3}, r"steps must be an integer >= 1, got -3"),
        ({"steps": 2.5}, r"steps must be an integer >= 1, got 2.5"),
        ({"checkpoint_every": 0}, r"checkpoint_every must be an integer >= 1"),
        ({"early_stopping": EarlyStopping(patience=2)}, r"early_stopping needs a validate callable"),
    ],
)
def test_bad_settings_are_refused(tmp_path, setting, message):
    with pytest.raises(ValueError, match=message):
        run(mlp(seed=7), tmp_path / "model.pt", **setting)
    assert list(tmp_path.iterdir()) == []


def test_early_stopping_settings_are_checked():
    with pytest.raises(ValueError, match="patience must be an integer >= 1, got 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta must be a finite number >= 0, got -0.1"):
        EarlyStopping(patience=1, min_delta=-0.1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="device 'cuda' asked for, but this machine has no visible CUDA GPU"):
        run(mlp(seed=7), tmp_path / "model.pt", device="cuda")


def test_progress_goes_to_the_log_with_rate_and_losses(tmp_path, capsys):
    run(mlp(seed=7), tmp_path / "model.pt", desc="mlp")
    log = capsys.readouterr().err
    assert "\r" not in log  # not a terminal: whole lines, as a log file wants them
    bar = [line for line in log.splitlines() if line.startswith("mlp:") and "20/20" in line]
    assert bar and "step/s" in bar[-1] and "loss=" in bar[-1]
    assert "mlp: 20 steps on cpu in" in log


def test_the_seeded_batch_sampler_gives_each_step_its_batch_wherever_it_starts():
    whole = list(SeededBatchSampler(10, 4, seed=1, first=1, last=9))
    assert [len(b) for b in whole[:3]] == [4, 4, 2]
    assert sorted(sum(whole[:3], [])) == list(range(10))
    assert list(SeededBatchSampler(10, 4, seed=1, first=5, last=9)) == whole[4:]
    assert list(SeededBatchSampler(10, 4, seed=1, first=1, last=9, shuffle=False))[:3] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    with pytest.raises(ValueError, match="a dataset of 3 samples gives no batch of 4 with drop_last"):
        SeededBatchSampler(3, 4, seed=1, first=1, last=2, drop_last=True)


def noisy_snapshot(state) -> torch.Tensor:
    """What the generator makes of a fixed input, after drawing from the global generator (which the loop must
    restore, or the training would go on differently)."""
    torch.rand(5)
    return state.models["generator"](torch.ones(1, 2))


def test_snapshots_are_kept_at_their_steps_and_leave_the_training_as_without_them(tmp_path):
    plain = run(critic(seed=7), tmp_path / "plain.pt", steps=12)
    job = critic(seed=7)
    run(job, tmp_path / "model.pt", steps=12, snapshot=noisy_snapshot, snapshot_steps=[0, 3, 12])
    assert_same_weights(tmp_path / "model.pt", tmp_path / "plain.pt")
    assert load(tmp_path / "model.pt")["losses"] == load(tmp_path / "plain.pt")["losses"] and plain["final"]
    steps, values = read_snapshots(tmp_path / "model.pt")
    assert steps == [0, 3, 12] and all(v.shape == (1, 2) for v in values)
    assert job["model"]["generator"].training  # eval mode only while the snapshot was taken
    with torch.no_grad():
        assert torch.equal(values[-1], job["model"]["generator"](torch.ones(1, 2)))
    assert not torch.equal(values[0], values[-1])
    assert read_snapshots(tmp_path / "plain.pt") == ([], [])


def test_snapshots_survive_a_crash_and_resume(tmp_path):
    options = {"steps": 12, "snapshot": noisy_snapshot, "snapshot_steps": [0, 2, 9, 12]}
    run(critic(seed=7), tmp_path / "reference.pt", **options)
    with pytest.raises(Crash):
        run(crash_at(critic(seed=7), 8), tmp_path / "model.pt", **options)  # checkpoint at step 5: snapshots 0, 2
    assert load(checkpoint_path(tmp_path / "model.pt"))["snapshots"]["step"] == [0, 2]
    run(critic(seed=7), tmp_path / "model.pt", **options)
    (steps, values), (reference_steps, reference_values) = map(
        read_snapshots, (tmp_path / "model.pt", tmp_path / "reference.pt")
    )
    assert steps == reference_steps == [0, 2, 9, 12]
    assert all(torch.equal(a, b) for a, b in zip(values, reference_values, strict=True))
    assert_same_weights(tmp_path / "model.pt", tmp_path / "reference.pt")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"snapshot_steps": [3]}, "snapshot_steps needs a snapshot callable"),
        ({"snapshot": noisy_snapshot, "snapshot_steps": [0, 21]}, r"integers in \[0, steps=20\], got \[21\]"),
        ({"snapshot": noisy_snapshot, "snapshot_steps": [-1, 2.5]}, r"got \[-1, 2.5\]"),
        ({"stale_checkpoint": "delete"}, r"stale_checkpoint must be one of \['refuse', 'restart'\]"),
    ],
)
def test_bad_snapshot_and_stale_checkpoint_options_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        run(critic(seed=7), tmp_path / "model.pt", **options)


def test_a_stale_checkpoint_restarts_when_asked_saying_so(tmp_path, capsys):
    with pytest.raises(Crash):
        run(crash_at(mlp(seed=7, lr=0.01), 7), tmp_path / "model.pt", settings={"lr": 0.01})
    capsys.readouterr()
    record = run(mlp(seed=7, lr=0.02), tmp_path / "model.pt", settings={"lr": 0.02}, stale_checkpoint="restart")
    err = capsys.readouterr().err
    assert "another training configuration" in err and "settings.lr: 0.01 -> 0.02; starting over" in err
    run(mlp(seed=7, lr=0.02), tmp_path / "fresh.pt", settings={"lr": 0.02})
    assert_same_weights(tmp_path / "model.pt", tmp_path / "fresh.pt")
    assert [(s["start"], s["end"]) for s in record["segments"]] == [(0, 20)]
