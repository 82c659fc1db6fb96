"""Reconstructions over training: the steps they are kept at, what they hold (the network's output for the probe
at that step), the probe of a patch-trained model, and the figure's row read back from the weights."""

import numpy as np
import pytest
import torch

from defectlab.models.autoencoders import train_autoencoder
from defectlab.models.autoencoders.history import training_row
from defectlab.models.autoencoders.images import probe
from defectlab.models.autoencoders.predict import load_autoencoder
from defectlab.models.autoencoders.settings import resolve
from defectlab.models.autoencoders.train import snapshot_steps
from defectlab.report.training_figure import training_figure
from defectlab.training import read_snapshots

from .conftest import SMALL, chess, chess_dataset


@pytest.mark.parametrize(
    ("steps", "count", "expected"),
    [
        (150, 6, [0, 1, 3, 12, 43, 150]),  # geometric: 150^(k/4), rounded
        (2000, 6, [0, 1, 7, 45, 299, 2000]),
        (3, 6, [0, 1, 2, 3]),  # fewer where they coincide
        (10, 2, [0, 10]),
        (10, 1, [10]),
        (10, 0, []),
    ],
)
def test_snapshot_steps_start_at_the_untrained_network_and_end_at_the_last_step(steps, count, expected):
    assert snapshot_steps(steps, count) == expected


def test_the_probe_is_the_centre_crop_of_the_first_image():
    images = [torch.arange(2 * 6 * 8, dtype=torch.float32).reshape(2, 6, 8), torch.zeros(2, 6, 8)]
    assert torch.equal(probe(images, 4), images[0][None, :, 1:5, 2:6])
    assert torch.equal(probe(images[:1], 6)[0], images[0][:, :, 1:7])


def test_each_snapshot_is_the_reconstruction_of_the_probe_at_its_step(boards, tmp_path):
    settings = {**SMALL, "steps": 4, "snapshots": 3}
    train_autoencoder("vae", settings, [boards], tmp_path / "w.pt", 5, "cpu")
    steps, snapshots = read_snapshots(tmp_path / "w.pt")
    assert steps == [0, 1, 4]
    assert all(s.dtype == torch.uint8 and s.shape == (1, 32, 32) for s in snapshots)
    autoencoder, _, _ = load_autoencoder(tmp_path / "w.pt", "cpu")  # the final weights: the last snapshot
    x = torch.from_numpy(chess(32, 32)[..., 0].astype(np.float32) / 255)[None, None]
    with torch.no_grad():
        assert torch.equal(snapshots[-1], (autoencoder(x)[0].clamp(0, 1) * 255).round().to(torch.uint8))
    train_autoencoder("vae", {**settings, "snapshots": 0}, [boards], tmp_path / "none.pt", 5, "cpu")
    assert read_snapshots(tmp_path / "none.pt") == ([], [])
    assert resolve({"snapshots": 0})["snapshots"] == 0
    with pytest.raises(ValueError, match=r"autoencoder.snapshots must be an integer >= 0, got -1"):
        resolve({"snapshots": -1})


def test_the_figure_row_of_a_patch_trained_model(tmp_path):
    wide = chess_dataset(tmp_path / "wide", ["a", "b"], 48, 80)
    settings = {**SMALL, "size": 32, "steps": 5, "snapshots": 4}
    train_autoencoder("cae", settings, [wide], tmp_path / "w.pt", 0, "cpu")
    row = training_row(tmp_path / "w.pt", [wide], "CAE on wide")
    assert np.array_equal(row.probe, chess(48, 80)[8:40, 24:56, 0])  # the centre 32² of image a
    assert list(row.steps) == [0, 1, 2, 5] and len(row.snapshots) == 4 and len(row.loss) == 5
    figure = training_figure([row, row], "title")
    assert len(figure.axes) == 2 * 6 and figure.axes[-1].get_yscale() == "log"
