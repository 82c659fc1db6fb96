"""Training CutPaste through the pipeline's loop, on three tiny textured images (64-pixel patches, ResNet-18 from
random weights): the loss falls; a run that crashes mid-way resumes to the bytes of an uninterrupted run; with
early stopping the kept weights are those of the best validation; `freeze_steps` leaves the backbone alone while
the head learns; `epochs` caps the steps.

Crashes are simulated as in tests/unit/training: a step that raises at step k, in-process (the run's settings,
hence its fingerprint, stay the same, so the rerun resumes from the last checkpoint instead of refusing it)."""

import types

import numpy as np
import pytest
import torch

from defectlab.models.cutpaste import train as cutpaste_train
from defectlab.models.cutpaste.data import TrainingPatches, hold_out
from defectlab.models.cutpaste.predict import load_network, stored_settings
from defectlab.models.cutpaste.train import train_cutpaste, validation_loss
from defectlab.training.checkpoint import checkpoint_path, load

from .test_data import PATCHES, SMALL_AUGMENT, textured, write_boards, write_images

# Salient defects on a quiet background, so that a random-weight ResNet-18 tells them apart within 20 steps.
EASY_AUGMENT = {
    **SMALL_AUGMENT,
    "scar_width": [6, 12],
    "black_dot_diameter": [14, 20],
    "white_dot_diameter": [14, 20],
    "arc_thickness": [6, 8],
    "transparency": 0,
}


class Crash(Exception):
    """Raised from a step to end a run abruptly, in-process."""


def settings(**overrides) -> dict:
    """Tiny runs: 4 pairs a step, no early stopping, on the CPU. lr 0.01 rather than the thesis's 1e-4, which
    moves a randomly initialised ResNet too little in a few steps for any test to see it learn."""
    return {
        "steps": 6,
        "lr": 0.01,
        "batch_pairs": 4,
        "early_stopping": {"enabled": False},
        "checkpoint_every": 100,
        "augment": SMALL_AUGMENT,
        "device": "cpu",
        **overrides,
    }


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    """3 images of 128 x 160: 36 patches of 64 pixels at stride 32, 9 steps of 4 pairs an epoch."""
    return write_boards(tmp_path_factory.mktemp("cutpaste_train") / "boards")


@pytest.fixture(scope="module")
def quiet_boards(tmp_path_factory):
    return write_images(
        tmp_path_factory.mktemp("cutpaste_quiet") / "boards", [textured(i, low=110, high=140) for i in range(3)]
    )


@pytest.fixture(scope="module")
def two_boards(tmp_path_factory):
    """2 images: 24 patches, 6 steps of 4 pairs an epoch."""
    return write_boards(tmp_path_factory.mktemp("cutpaste_two") / "boards", count=2)


def crashing_at(monkeypatch, at: int) -> None:
    inner = cutpaste_train.cutpaste_step

    def crashing(freeze_steps):
        step = inner(freeze_steps)

        def run(batch, state):
            if state.step == at:
                raise Crash(f"step {at}")
            return step(batch, state)

        return run

    monkeypatch.setattr(cutpaste_train, "cutpaste_step", crashing)


def assert_same_weights(a, b) -> None:
    wa, wb = load(a)["models"]["cutpaste"], load(b)["models"]["cutpaste"]
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_the_training_loss_falls(quiet_boards, tmp_path):
    output = tmp_path / "model.pt"
    record = train_cutpaste(settings(steps=20, augment=EASY_AUGMENT), [quiet_boards], PATCHES, output, seed=0)
    losses = load(output)["losses"]["loss"]
    assert record["steps_done"] == 20 and len(losses) == 20
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    stored = stored_settings(output)
    assert stored["data"] == {
        "datasets": ["boards"],
        "patches": 36,
        "train_patches": 36,
        "validation_patches": 0,
        "steps_per_epoch": 9,
    }
    assert stored["head_widths"] == [512, *[512] * 6, 128] and stored["train_stride"] == 32


def test_a_crashed_run_resumes_to_the_bytes_of_an_uninterrupted_run(two_boards, tmp_path, monkeypatch):
    # train_stride 48 over 2 images: 18 patches, 3 steps of 6 pairs an epoch. With a 2-epoch cosine the schedule
    # steps once in 5 steps, after step 3, halving the lr; the checkpoint at 3 comes after it, and the crash at
    # step 4 makes the rerun start there: the weights, momentum, schedule and data position must all come back
    options = settings(steps=5, checkpoint_every=3, cosine_epochs=2, batch_pairs=6, train_stride=48)
    reference = tmp_path / "reference" / "model.pt"
    train_cutpaste(options, [two_boards], PATCHES, reference, seed=4)
    assert stored_settings(reference)["data"]["steps_per_epoch"] == 3

    output = tmp_path / "crashed" / "model.pt"
    with monkeypatch.context() as patch:
        crashing_at(patch, 4)
        with pytest.raises(Crash):
            train_cutpaste(options, [two_boards], PATCHES, output, seed=4)
    assert not output.exists()
    saved = load(checkpoint_path(output))
    assert saved["step"] == 3
    assert saved["schedulers"]["cosine"]["_last_lr"] == [pytest.approx(0.005)]
    assert saved["optimizers"]["sgd"]["state"]  # momentum buffers, to be restored

    record = train_cutpaste(options, [two_boards], PATCHES, output, seed=4)
    assert [(s["start"], s["end"]) for s in record["segments"]] == [(0, 3), (3, 5)]
    assert_same_weights(output, reference)
    assert load(output)["losses"] == load(reference)["losses"]
    assert record["fingerprint"] == load(reference)["record"]["fingerprint"]
    # and the comparison is not vacuous: the two steps after the checkpoint changed the weights
    final = load(output)["models"]["cutpaste"]
    assert not all(torch.equal(final[k], saved["models"]["cutpaste"][k]) for k in final)


def test_early_stopping_keeps_the_weights_of_the_best_validation(boards, tmp_path):
    stopping = {"enabled": True, "val_fraction": 0.25, "every": 2, "patience": 1}
    output = tmp_path / "model.pt"
    record = train_cutpaste(settings(steps=12, early_stopping=stopping), [boards], PATCHES, output, seed=1)
    validation = load(output)["validation"]
    steps, values = validation["step"], validation["value"]
    assert steps == list(range(2, 2 * len(steps) + 1, 2))
    # patience 1: the run stops at the first evaluation that does not improve on the best
    assert record["stopped_early"] and record["steps_done"] == record["stopped_at"] == steps[-1] < 12
    assert all(b < a for a, b in zip(values[:-2], values[1:-1], strict=True)) and values[-1] >= values[-2]
    best = int(np.argmin(values))
    assert record["best_validation"] == values[best] and record["best_step"] == steps[best] == steps[-2]
    assert len(load(output)["losses"]["loss"]) == record["steps_done"]

    # the kept weights score the best validation loss again, and are not the weights of the last step
    network, stored, _ = load_network(output, "cpu")
    assert stored["data"]["validation_patches"] == 9 and stored["data"]["train_patches"] == 27
    tiles = TrainingPatches([boards], 64, 32, "flush", 31)
    held = hold_out(len(tiles), 0.25, 1)[1]
    state = types.SimpleNamespace(model=network, device=torch.device("cpu"))
    with torch.no_grad():
        again = validation_loss(tiles, held, stored, 1)(state)
    assert again == pytest.approx(record["best_validation"], rel=1e-6, abs=0)
    last = load(checkpoint_path(output))["models"]["cutpaste"]
    kept = load(output)["models"]["cutpaste"]
    assert not all(torch.equal(kept[k], last[k]) for k in kept)


def test_freeze_steps_leave_the_backbone_unchanged_while_the_head_learns(two_boards, tmp_path, monkeypatch):
    seen: dict[int, dict[str, dict[str, torch.Tensor]]] = {}
    inner = cutpaste_train.cutpaste_step

    def parameters(network) -> dict[str, dict[str, torch.Tensor]]:
        return {
            part: {k: p.detach().clone() for k, p in getattr(network, part).named_parameters()}
            for part in ("backbone", "head", "classifier")
        }

    def recording(freeze_steps):
        step = inner(freeze_steps)

        def run(batch, state):
            if state.step == 1:
                seen[0] = parameters(state.model)
            losses = step(batch, state)
            seen[state.step] = parameters(state.model)
            return losses

        return run

    monkeypatch.setattr(cutpaste_train, "cutpaste_step", recording)
    train_cutpaste(settings(steps=3, freeze_steps=2), [two_boards], PATCHES, tmp_path / "model.pt", seed=2)

    def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
        return all(torch.equal(a[k], b[k]) for k in a)

    assert sorted(seen) == [0, 1, 2, 3]
    assert same(seen[1]["backbone"], seen[0]["backbone"]) and same(seen[2]["backbone"], seen[0]["backbone"])
    assert not same(seen[3]["backbone"], seen[2]["backbone"])  # step 3 is past the freeze
    for part in ("head", "classifier"):
        assert not same(seen[1][part], seen[0][part]) and not same(seen[2][part], seen[1][part])


def test_epochs_cap_the_steps(two_boards, tmp_path):
    # train_stride 96 over 2 images of 128 x 160: 2 x 2 patches each, 8 in all; 4 pairs: 2 steps an epoch
    options = settings(steps=50, epochs=1, train_stride=96)
    record = train_cutpaste(options, [two_boards], PATCHES, tmp_path / "model.pt", seed=0)
    assert record["steps"] == 2 and record["steps_done"] == 2
    assert stored_settings(tmp_path / "model.pt")["data"] == {
        "datasets": ["boards"],
        "patches": 8,
        "train_patches": 8,
        "validation_patches": 0,
        "steps_per_epoch": 2,
    }
