"""Segmentation training on the shared loop: the lr schedule, fine-tuning from a run's weights, the grid's choice,
resume after a kill, and maps through the contract; tiny images, a tiny U-Net input, few steps."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from layout_files import write_dataset

from defectlab.classes import class_index
from defectlab.maps import read_maps
from defectlab.models.segmentation import train as train_module
from defectlab.models.segmentation.cache import write_cache
from defectlab.models.segmentation.predict import load_segmentation, segment
from defectlab.models.segmentation.select import select_grid_point
from defectlab.models.segmentation.train import train_segmentation
from defectlab.training import checkpoint as files

TINY = {
    "batch_size": 2,
    "crop": 32,
    "epochs": 3,
    "lr_halving_epochs": 1,
    "scale": 1.0,
    "tile": [32, 32],
    "pad_multiple": 32,
    "checkpoint_every": 1,
    "early_stopping": {"patience": 50},
}


def images(count: int, seed: int) -> dict:
    """Grey 48 x 40 images, bright on the left, a dent (class dent) of 6 x 6 on the bright part of odd ones."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(count):
        grey = rng.integers(0, 8, (40, 48), dtype=np.uint8)
        grey[:, :24] += 100
        mask = np.zeros((40, 48), np.uint8)
        if i % 2:
            grey[10:16, 8:14] = 230
            mask[10:16, 8:14] = class_index("dent")
        out[f"s-{i}"] = (np.repeat(grey[..., None], 3, axis=2), mask, (mask > 0).astype(np.uint16))
    return out


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("seg")
    made = {}
    for name, count, seed in (("train", 4, 0), ("val", 2, 1)):
        dataset = write_dataset(root / name, images(count, seed), name)
        write_cache(dataset, root / f"{name}.h5")
        made[name], made[f"{name}-dataset"] = root / f"{name}.h5", dataset
    return made


def run(caches, output: Path, **extra) -> dict:
    torch.set_num_threads(1)
    arguments = {"lr": 1e-3, "weight_decay": 1e-4, "seed": 3, "progress": False, **extra}
    settings = {**TINY, **arguments.pop("settings", {})}
    return train_segmentation("unet", settings, [caches["train"]], caches["val"], output, **arguments)


def test_the_lr_halves_every_lr_halving_epochs_and_the_record_counts_epochs(caches, tmp_path):
    record = run(caches, tmp_path / "model.pt")
    assert record["steps_done"] == 3 * 2  # 4 images, batch 2: 2 steps an epoch
    scheduler = files.load(files.checkpoint_path(tmp_path / "model.pt"))["schedulers"]["scheduler"]
    assert scheduler["last_epoch"] == 3 and scheduler["_last_lr"] == pytest.approx([1e-3 / 8])
    validation = files.load(tmp_path / "model.pt")["validation"]
    assert validation["step"] == [2, 4, 6]  # once an epoch


def test_fine_tuning_starts_from_the_pretrained_weights(caches, tmp_path):
    run(caches, tmp_path / "pre.pt")
    pretrained, _, _ = load_segmentation(tmp_path / "pre.pt")
    captured = {}
    original = train_module.train

    def capture(network, *args, **kwargs):
        captured.update({k: v.clone() for k, v in network.state_dict().items()})
        return original(network, *args, **kwargs)

    train_module.train = capture
    try:
        run(caches, tmp_path / "ft.pt", lr=1e-4, pretrained=tmp_path / "pre.pt")
    finally:
        train_module.train = original
    for key, value in pretrained.state_dict().items():
        assert torch.equal(captured[key], value), key
    _, settings, _ = load_segmentation(tmp_path / "ft.pt")
    assert "fine-tuned from" in settings["initialisation"]
    assert settings["pretrained"] == files.read_record(tmp_path / "pre.pt")["fingerprint"]


def test_a_pretrained_run_and_local_weights_together_are_refused(caches, tmp_path):
    run(caches, tmp_path / "pre.pt", settings={"epochs": 1})
    local = tmp_path / "local.pt"
    torch.save(load_segmentation(tmp_path / "pre.pt")[0].state_dict(), local)
    with pytest.raises(ValueError, match="not both"):
        run(caches, tmp_path / "ft.pt", pretrained=tmp_path / "pre.pt", settings={"weights": str(local)})


def test_a_pretrained_run_of_other_channels_is_refused(caches, tmp_path):
    run(caches, tmp_path / "pre.pt", settings={"epochs": 1})
    with pytest.raises(ValueError, match="a unet on 1 channel\\(s\\) cannot start a unet on 3"):
        run(caches, tmp_path / "ft.pt", pretrained=tmp_path / "pre.pt", settings={"exposure_stack": True})


def test_a_killed_run_resumes_to_the_same_bytes(caches, tmp_path, monkeypatch):
    run(caches, tmp_path / "whole.pt")
    original = train_module.CropBatches.__call__

    def dies_at_step_4(self, step):
        if step == 4:
            raise KeyboardInterrupt("killed")
        return original(self, step)

    monkeypatch.setattr(train_module.CropBatches, "__call__", dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        run(caches, tmp_path / "resumed.pt")
    assert not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(train_module.CropBatches, "__call__", original)
    run(caches, tmp_path / "resumed.pt")
    whole, resumed = files.load(tmp_path / "whole.pt"), files.load(tmp_path / "resumed.pt")
    for key, value in whole["models"]["model"].items():
        assert torch.equal(value, resumed["models"]["model"][key]), key
    assert whole["losses"] == resumed["losses"]


def test_the_grid_keeps_the_best_validation_f1_and_maps_follow_the_contract(caches, tmp_path):
    runs = [tmp_path / "a.pt", tmp_path / "b.pt"]
    run(caches, runs[0], lr=1e-2)
    run(caches, runs[1], lr=1e-3)
    best = select_grid_point(runs, caches["val"], tmp_path / "model.pt", tmp_path / "grid.parquet")
    grid = pd.read_parquet(tmp_path / "grid.parquet")
    assert grid["selected"].sum() == 1 and best["val_f1"] == grid["val_f1"].max()
    assert (tmp_path / "model.pt").read_bytes() == runs[int(best["point"])].read_bytes()
    segment(tmp_path / "model.pt", caches["val-dataset"], tmp_path / "maps.h5")
    maps = read_maps([tmp_path / "maps.h5"])
    assert maps.ids == ["s-0", "s-1"] and maps.maps.shape == (2, 40, 48) and maps.model == "unet"
    assert ((maps.maps >= 0) & (maps.maps <= 1)).all()


def test_a_dataset_of_two_image_sizes_is_refused_before_any_prediction(caches, tmp_path, monkeypatch):
    run(caches, tmp_path / "model.pt", settings={"epochs": 1})
    samples = images(2, 4)
    image, mask, instances = samples["s-1"]
    samples["s-1"] = (image[:32], mask[:32], instances[:32])
    dataset = write_dataset(tmp_path / "mixed", samples, "val")

    def predicted(*args, **kwargs):
        raise AssertionError("predicted before the sizes were checked")

    monkeypatch.setattr("defectlab.models.segmentation.predict.probability_maps", predicted)
    with pytest.raises(ValueError, match=r"sizes \[\(32, 48\), \(40, 48\)\] .* cannot share one maps file"):
        segment(tmp_path / "model.pt", dataset, tmp_path / "maps.h5")


def test_settings_still_holding_the_per_dataset_table_are_refused(caches, tmp_path):
    with pytest.raises(ValueError, match=r"not the per-dataset table \['val'\]"):
        run(caches, tmp_path / "model.pt", settings={"geometry": {"val": {"scale": 0.5}}})
