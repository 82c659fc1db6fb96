"""Fine-tuning a classifier on the curated items: labels through the classes, seeded flips in training only, a loss
that falls, a head of C outputs, full accuracy on a separable toy set, the per-epoch table, bit-identical reruns and
a killed run that resumes to the same bytes."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from defectlab.latent import classifier as classifier_module
from defectlab.latent.classifier import (
    TrainingItems,
    accuracy,
    epochs_path,
    flipped,
    item_labels,
    load_classifier,
    predict,
    train_classifier,
)
from defectlab.latent.embedding import embed, load_images
from defectlab.training import checkpoint as files

CLASSES = ["black", "white", "striped"]
COLUMNS = ["epoch", "step", "loss", "train_accuracy", "val_accuracy", "seconds", "device"]
RUN = {"epochs": 3, "seed": 0, "lr": 1e-2, "input_size": 32, "device": "cpu", "threads": 1, "progress": False}


def toy(root: Path, per_class: int, seed: int) -> list[str]:
    """32-px items: dark noise, bright noise, and dark noise with bright horizontal stripes; plus one ambiguous."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for cls in (*CLASSES, "ambiguous"):
        for k in range(per_class if cls != "ambiguous" else 1):
            image = rng.integers(0, 30, (32, 32, 3))
            if cls == "white":
                image += 220
            elif cls in ("striped", "ambiguous"):
                image[::4] += 200
                image[1::4] += 200
            Image.fromarray(image.astype(np.uint8)).save(root / "images" / f"{cls}-{k}.png")
            rows.append({"id": f"{cls}-{k}", "split": "train", "label": cls, "role": "curated"})
    pd.DataFrame(rows).to_parquet(root / "index.parquet", index=False)
    return [r["id"] for r in rows if r["label"] != "ambiguous"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("toy")
    train_ids = toy(root / "train", 4, seed=0)  # 12 items: batches of 8 and 4
    val_ids = toy(root / "val", 2, seed=1)
    return {"train": root / "train", "ids": train_ids, "val": root / "val", "val_ids": val_ids}


def run(data: dict, output: Path, **changes) -> dict:
    settings = {**RUN, **changes}
    ids = settings.pop("ids", data["ids"])
    return train_classifier(
        "test_resnet", "none", None, data["train"], ids, CLASSES, output, val=(data["val"], data["val_ids"]), **settings
    )


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("run") / "classifier.pt"
    run(data, output)
    return output


def test_labels_are_positions_among_the_classes_and_other_labels_are_refused(data):
    assert item_labels(data["train"], ["white-1", "black-0", "striped-3"], CLASSES).tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match=r"ambiguous-0 \(ambiguous\).*not among the classes"):
        item_labels(data["train"], ["black-0", "ambiguous-0"], CLASSES)
    with pytest.raises(ValueError, match="nope.*not in index.parquet"):
        item_labels(data["train"], ["nope"], CLASSES)
    with pytest.raises(ValueError, match="distinct"):
        item_labels(data["train"], ["black-0"], ["black", "black"])


def test_flips_are_drawn_per_seed_epoch_and_index():
    draws = [flipped(0, 0, i, 0.5) for i in range(200)]
    assert draws == [flipped(0, 0, i, 0.5) for i in range(200)] and 70 < sum(draws) < 130
    assert draws != [flipped(0, 1, i, 0.5) for i in range(200)] != [flipped(1, 0, i, 0.5) for i in range(200)]
    assert not any(flipped(0, 0, i, 0.0) for i in range(50)) and all(flipped(0, 0, i, 1.0) for i in range(50))


def test_a_batch_flips_the_items_its_draws_say_and_an_epoch_sees_every_item_once(data):
    images = load_images(data["train"], data["ids"], 32)
    labels = item_labels(data["train"], data["ids"], CLASSES)
    items = TrainingItems(images, labels, batch_size=8, hflip=0.5, seed=3)
    assert items.steps_per_epoch == 2
    kinds = set()
    for step in range(1, 5):
        epoch = (step - 1) // 2
        batch, batch_labels = items(step)
        chosen = items.indices(step)
        assert len(chosen) == (8 if step % 2 else 4)  # drop_last False: the last batch is shorter
        for image, label, i in zip(batch, batch_labels, chosen, strict=True):
            flip = flipped(3, epoch, int(i), 0.5)
            kinds.add(flip)
            assert torch.equal(image, images[i].flip(-1) if flip else images[i]) and label == labels[i]
        assert torch.equal(batch, items(step)[0])
    assert kinds == {True, False}
    assert sorted(np.concatenate([items.indices(1), items.indices(2)])) == list(range(12))


def test_training_lowers_the_loss_and_classifies_the_separable_set_without_a_flip(data, trained):
    table = pd.read_parquet(epochs_path(trained))
    assert list(table.columns) == COLUMNS
    assert table["epoch"].tolist() == [1, 2, 3] and table["step"].tolist() == [2, 4, 6]
    assert table["loss"].iloc[-1] < table["loss"].iloc[0]
    network, settings, record = load_classifier(trained, "cpu")
    val_labels = item_labels(data["val"], data["val_ids"], CLASSES)
    predicted = predict(network, data["val"], data["val_ids"], input_size=32, device="cpu")
    assert accuracy(predicted, val_labels) == 1.0 == table["val_accuracy"].iloc[-1]
    train_predicted = predict(network, data["train"], data["ids"], input_size=32, device="cpu")
    assert accuracy(train_predicted, item_labels(data["train"], data["ids"], CLASSES)) == 1.0
    assert record["best_step"] is not None and record["threads"] == 1


def test_the_head_has_c_outputs_and_the_files_say_what_it_started_from(data, trained):
    network, settings, _ = load_classifier(trained, "cpu")
    assert network(load_images(data["val"], data["val_ids"], 32)).shape == (6, 3)
    assert settings["classes"] == CLASSES and settings["pretrained"] is False and settings["hflip"] == 0.5
    assert network.attrs["finetuned"] is True and network.attrs["pretrained"] is False
    assert embed(network, data["val"], data["val_ids"], input_size=32, device="cpu").shape == (6, network.dim)


def test_the_table_holds_each_epochs_item_weighted_loss_accuracy_and_time(trained):
    table = pd.read_parquet(epochs_path(trained))
    losses = files.load(trained)["losses"]
    sizes = np.array([8, 4])
    for epoch, row in table.iterrows():
        span = slice(2 * epoch, 2 * epoch + 2)
        assert row["loss"] == pytest.approx(np.dot(losses["loss"][span], sizes) / 12)
        correct = np.dot(losses["accuracy"][span], sizes)
        assert row["train_accuracy"] == pytest.approx(correct / 12) and correct == pytest.approx(round(correct))
    assert (table["seconds"] > 0).all() and table["device"].str.contains("CPU").all()
    assert table["val_accuracy"].between(0, 1).all()


def test_a_rerun_gives_the_same_bytes_and_restores_the_thread_count(data, trained, tmp_path):
    threads = torch.get_num_threads()
    run(data, tmp_path / "again.pt")
    assert torch.get_num_threads() == threads
    first, again = files.load(trained), files.load(tmp_path / "again.pt")
    for key, value in first["models"]["classifier"].items():
        assert torch.equal(value, again["models"]["classifier"][key]), key
    assert first["losses"] == again["losses"] and first["validation"] == again["validation"]


def test_a_killed_run_resumes_to_the_same_bytes(data, trained, tmp_path, monkeypatch):
    original = TrainingItems.__call__

    def dies_at_step_4(self, step):
        if step == 4:
            raise KeyboardInterrupt("killed")
        return original(self, step)

    monkeypatch.setattr(TrainingItems, "__call__", dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        run(data, tmp_path / "resumed.pt")
    assert not (tmp_path / "resumed.pt").exists() and files.load(files.checkpoint_path(tmp_path / "resumed.pt"))
    monkeypatch.setattr(TrainingItems, "__call__", original)
    run(data, tmp_path / "resumed.pt")
    whole, resumed = files.load(trained), files.load(tmp_path / "resumed.pt")
    for key, value in whole["models"]["classifier"].items():
        assert torch.equal(value, resumed["models"]["classifier"][key]), key
    assert whole["losses"] == resumed["losses"] and whole["validation"] == resumed["validation"]
    tables = [pd.read_parquet(epochs_path(path)) for path in (trained, tmp_path / "resumed.pt")]
    pd.testing.assert_frame_equal(tables[0].drop(columns="seconds"), tables[1].drop(columns="seconds"))
    assert tables[1]["seconds"].notna().all() and (tables[1]["seconds"] > 0).all()


def test_a_checkpoint_of_other_items_is_refused(data, trained, tmp_path):
    shutil.copy(files.checkpoint_path(trained), files.checkpoint_path(tmp_path / "other.pt"))
    with pytest.raises(ValueError, match="another training configuration"):
        run(data, tmp_path / "other.pt", ids=data["ids"][:-1])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"hflip": 1.5}, r"hflip must lie in \[0, 1\]"),
        ({"keep": "first"}, "keep must be one of"),
    ],
)
def test_bad_settings_are_refused(data, tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        run(data, tmp_path / "c.pt", **changes)
    with pytest.raises(ValueError, match="'best' needs val"):
        train_classifier("test_resnet", "none", None, data["train"], data["ids"], CLASSES, tmp_path / "c.pt",
                         epochs=1, seed=0, keep="best")  # fmt: skip


def test_accuracy_is_the_share_of_right_predictions():
    assert accuracy(np.array([0, 1, 2]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="must be equal"):
        accuracy(np.array([0, 1]), np.array([0, 1, 2]))


def test_module_names_the_loops_output_beside_the_weights(tmp_path):
    assert classifier_module.epochs_path(tmp_path / "model.pt") == tmp_path / "model.epochs.parquet"
