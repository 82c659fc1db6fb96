"""Training through `train_autoencoder` and the steps it builds: the loss goes down, the critic stays clipped after
every update, the same seed gives the same bytes, a crashed run resumes to the same weights, settings are checked
and stored with the weights."""

import pytest
import torch

from defectlab.models.autoencoders import losses, train_autoencoder
from defectlab.models.autoencoders.predict import stored_settings
from defectlab.models.autoencoders.settings import resolve
from defectlab.models.autoencoders.train import build_networks, build_optimizers, build_step
from defectlab.training import TrainState
from defectlab.training.checkpoint import checkpoint_path, load

from .conftest import SMALL, chess_dataset


def settings_for(model: str, size: int = 32, **overrides) -> dict:
    settings = resolve({**SMALL, "size": size, **overrides})
    return {**settings, "model": model, "kl_weight": 1 / size**2}


def state_of(model: str, settings: dict) -> TrainState:
    torch.manual_seed(0)
    networks = build_networks(model, settings)
    return TrainState(networks, build_optimizers(model, networks, settings), {}, torch.device("cpu"), steps=10)


def images(seed: int = 0) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    return torch.stack([(((y + k) // 8 + (x + k) // 8) % 2).float()[None] for k in range(4)])


def saved_bytes(path) -> dict[str, bytes]:
    return {
        f"{name}.{key}": t.contiguous().flatten().view(torch.uint8).numpy().tobytes()
        for name, weights in load(path)["models"].items()
        for key, t in weights.items()
    }


def test_one_cae_step_lowers_the_loss_on_its_batch():
    settings = settings_for("cae")
    state = state_of("cae", settings)
    x = images()
    with torch.no_grad():
        before = losses.reconstruction(x, state.models["autoencoder"](x)).item()
    build_step("cae", settings)(x, state)
    with torch.no_grad():
        assert losses.reconstruction(x, state.models["autoencoder"](x)).item() < before


def test_critic_weights_lie_in_the_box_after_every_critic_update():
    clip, n_critic, steps = 0.01, 5, 4
    settings = settings_for("aae", lr=0.05, clip=clip, n_critic=n_critic)  # a big lr: unclipped, they would leave
    state = state_of("aae", settings)
    critic, optimizer = state.models["critic"], state.optimizers["critic"]
    checked = []

    def in_the_box(*_):
        checked.append(all(p.abs().max().item() <= clip for p in critic.parameters()))

    updates = []
    inner = optimizer.step
    optimizer.step = lambda *a, **k: (updates.append(1), inner(*a, **k))[1]
    critic.register_forward_pre_hook(in_the_box)  # every use of the critic sees the weights of the last update
    step = build_step("aae", settings)
    for _ in range(steps):
        step(images(), state)
    in_the_box()
    assert len(updates) == n_critic * steps
    assert len(checked) == 2 * n_critic * steps + steps + 1 and all(checked)
    assert any((p.abs() == clip).any() for p in critic.parameters())  # the box was reached, so it bounded them


@pytest.mark.parametrize("model", ["cae", "vae", "aae"])
def test_the_reconstruction_loss_decreases_on_four_boards(model, boards, tmp_path):
    settings = {**SMALL, "steps": 20, "checkpoint_every": 20, "lr": 3e-3}
    record = train_autoencoder(model, settings, [boards], tmp_path / "w.pt", 0, "cpu")
    mse = load(tmp_path / "w.pt")["losses"]["mse"]
    assert len(mse) == 20 and record["steps_done"] == 20
    assert mse[-1] < 0.9 * mse[0]
    assert record["device"] == "cpu" and record["wall_s"] > 0


@pytest.mark.parametrize("model", ["vae", "aae"])
def test_the_same_seed_gives_the_same_weight_bytes(model, boards, tmp_path):
    runs = [train_autoencoder(model, SMALL, [boards], tmp_path / f"{k}.pt", 3, "cpu") for k in range(2)]
    assert runs[0]["fingerprint"] == runs[1]["fingerprint"]
    assert saved_bytes(tmp_path / "0.pt") == saved_bytes(tmp_path / "1.pt")
    train_autoencoder(model, SMALL, [boards], tmp_path / "other.pt", 4, "cpu")
    assert saved_bytes(tmp_path / "other.pt") != saved_bytes(tmp_path / "0.pt")


class Crash(Exception):
    pass


def test_a_crashed_aae_run_resumes_to_the_same_weights(boards, tmp_path, monkeypatch):
    settings = {**SMALL, "steps": 4}
    train_autoencoder("aae", settings, [boards], tmp_path / "whole.pt", 5, "cpu")
    calls = []
    real = losses.reconstruction

    def crash_at_step_3(x, x_tilde):
        calls.append(1)
        if len(calls) == 3:  # one reconstruction per AAE step: step 3, after the checkpoint of step 2
            raise Crash
        return real(x, x_tilde)

    monkeypatch.setattr(losses, "reconstruction", crash_at_step_3)
    with pytest.raises(Crash):
        train_autoencoder("aae", settings, [boards], tmp_path / "resumed.pt", 5, "cpu")
    assert load(checkpoint_path(tmp_path / "resumed.pt"))["step"] == 2
    assert not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(losses, "reconstruction", real)
    record = train_autoencoder("aae", settings, [boards], tmp_path / "resumed.pt", 5, "cpu")
    assert [(s["start"], s["end"]) for s in record["segments"]] == [(0, 2), (2, 4)]
    assert saved_bytes(tmp_path / "resumed.pt") == saved_bytes(tmp_path / "whole.pt")


def test_settings_are_resolved_and_stored_with_the_weights(boards, tmp_path):
    train_autoencoder("vae", SMALL, [boards], tmp_path / "w.pt", 0, "cpu")
    stored = stored_settings(tmp_path / "w.pt")
    assert stored["model"] == "vae" and stored["size"] == 32 and stored["sampling"] == "whole"
    assert stored["kl_weight"] == 1 / (32 * 32) and stored["tile_stride"] == 32
    assert stored["data"] == {"datasets": [boards.name], "images": 4}
    assert "device" not in stored  # a run may resume on another device


def test_bad_settings_are_refused_by_name(boards, tmp_path):
    for bad, match in (
        ({"stepz": 3}, "unknown setting"),
        ({"clip": -1}, "autoencoder.clip"),
        ({"architecture": "vgg"}, "autoencoder.architecture"),
        ({"size": 40}, "multiple of 16"),
        ({"size": 64}, "smaller than the input size 64"),
    ):
        with pytest.raises(ValueError, match=match):
            train_autoencoder("cae", {**SMALL, **bad}, [boards], tmp_path / "w.pt", 0, "cpu")
    with pytest.raises(ValueError, match="model must be one of"):
        train_autoencoder("gan", SMALL, [boards], tmp_path / "w.pt", 0, "cpu")


def test_images_larger_than_the_input_train_on_random_patches(tmp_path):
    wide = chess_dataset(tmp_path / "wide", ["a", "b"], 48, 80)
    with pytest.raises(ValueError, match="differ in size or are not square"):
        train_autoencoder("cae", SMALL, [wide], tmp_path / "w.pt", 0, "cpu")
    with pytest.raises(ValueError, match="sampling is 'whole'"):
        train_autoencoder("cae", {**SMALL, "size": 32, "sampling": "whole"}, [wide], tmp_path / "w.pt", 0, "cpu")
    record = train_autoencoder("cae", {**SMALL, "size": 32, "batch_size": 6}, [wide], tmp_path / "w.pt", 0, "cpu")
    assert record["steps_done"] == 3 and stored_settings(tmp_path / "w.pt")["sampling"] == "patches"
