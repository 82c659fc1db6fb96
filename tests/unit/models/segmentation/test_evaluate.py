"""Validation F1 of the grid search: pooled over the val pixels at the F1-maximising threshold; a network that
outputs the ground truth scores 1; a hand-computed two-image case; and the settings' refusals by key."""

import numpy as np
import pytest
import torch
from torch import nn

from defectlab.models.segmentation.cache import Cache
from defectlab.models.segmentation.evaluate import probability_maps, validation_f1
from defectlab.models.segmentation.settings import at, geometry, grid_points, resolve

SETTINGS = resolve({"scale": 1.0, "tile": [16, 16], "pad_multiple": 16})


class Bright(nn.Module):
    """A 'network' whose logit is large where its input (in [-1, 1]) is bright: it outputs the images' truth."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, so the device is known

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 20 * x[:, :1] + self.anchor


def cache(greys: list[np.ndarray], targets: list[np.ndarray]) -> Cache:
    return Cache(["a", "b"][: len(greys)], greys, targets, [np.zeros_like(t) for t in targets], 1.0, "val", None)


def test_a_network_that_outputs_the_ground_truth_scores_f1_one():
    targets = [np.zeros((20, 30), bool), np.zeros((20, 30), bool)]
    targets[0][3:6, 4:9] = True
    targets[1][10:12, 20:29] = True
    greys = [np.where(t, 250, 5).astype(np.uint8) for t in targets]
    scores = validation_f1(Bright(), cache(greys, targets), SETTINGS)
    assert scores["f1"] == 1.0 and scores["precision"] == 1.0 and scores["recall"] == 1.0
    maps = probability_maps(Bright(), greys, SETTINGS)
    assert [m.shape for m in maps] == [(20, 30), (20, 30)]


def test_pooled_precision_recall_on_a_hand_computed_two_image_case():
    # image a: 4 defect pixels, 3 of them bright, plus 1 bright background pixel; image b: 2 defect pixels, both
    # dark, and 2 bright background pixels. Bright = predicted at any threshold between the two levels:
    # TP 3, FP 3, FN 3 -> P = R = F1 = 0.5 pooled (per image: F1 0.75 and 0; their mean would be 0.375).
    targets = [np.zeros((16, 16), bool), np.zeros((16, 16), bool)]
    greys = [np.full((16, 16), 5, np.uint8), np.full((16, 16), 5, np.uint8)]
    targets[0][0, :4] = True
    greys[0][0, :3] = 250
    greys[0][8, 8] = 250
    targets[1][5, 5:7] = True
    greys[1][9, 9:11] = 250
    scores = validation_f1(Bright(), cache(greys, targets), SETTINGS)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["f1"] == pytest.approx(0.5)


def test_no_defect_pixel_in_val_gives_f1_zero_not_an_error():
    greys = [np.full((16, 16), 200, np.uint8)]
    scores = validation_f1(Bright(), cache(greys, [np.zeros((16, 16), bool)]), SETTINGS)
    assert scores["f1"] == 0.0 and np.isnan(scores["threshold"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"dropout": 0.1}, r"unknown setting\(s\) \['dropout'\]"),
        ({"augment": {"gamma": 1}}, r"segmentation.augment: unknown key\(s\) \['gamma'\]"),
        ({"lr": []}, "segmentation.lr must be a number or a non-empty list"),
        ({"lr": [0.01, 0]}, "segmentation.lr must be a number > 0"),
        ({"scale": 2}, r"segmentation.scale must be in \(0, 1\]"),
        ({"augment": {"blur": [2]}}, "segmentation.augment.blur must be a list of odd kernel sizes"),
        ({"augment": {"exposure": [1, 0]}}, "segmentation.augment.exposure must be \\[low, high\\]"),
        ({"early_stopping": {"reference": "last"}}, "segmentation.early_stopping.reference must be one of"),
        ({"tile": [352]}, "segmentation.tile must be \\[height, width\\]"),
        ({"geometry": {"ksdd2": {"tile": [224]}}}, "segmentation.geometry.ksdd2.tile must be \\[height, width\\]"),
        ({"geometry": {"ksdd2": {"scale": 0}}}, "segmentation.geometry.ksdd2.scale must be a number > 0"),
        ({"geometry": {"ksdd2": {"crop": 64}}}, r"segmentation.geometry.ksdd2: unknown key\(s\) \['crop'\]"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(settings: dict, message: str):
    with pytest.raises(ValueError, match=message):
        resolve(settings)


def test_the_grid_is_lr_major_and_a_number_is_a_grid_of_one():
    assert grid_points(resolve({})) == [
        {"lr": 0.01, "weight_decay": 0.001},
        {"lr": 0.01, "weight_decay": 0.0001},
        {"lr": 0.001, "weight_decay": 0.001},
        {"lr": 0.001, "weight_decay": 0.0001},
    ]
    assert grid_points(resolve({"lr": 0.001, "weight_decay": 0})) == [{"lr": 0.001, "weight_decay": 0.0}]


def test_a_dataset_is_read_at_its_own_geometry_and_the_others_at_the_top_level_one():
    settings = resolve({"geometry": {"ksdd2-val": {"scale": 1.0, "pad_multiple": [224, 256]}}})
    assert geometry(settings, "ksdd2-val") == {"scale": 1.0, "tile": [352, 416], "pad_multiple": [224, 256]}
    assert geometry(settings, "clutch-test") == {"scale": 0.5, "tile": [352, 416], "pad_multiple": 96}
    applied = at(settings, "ksdd2-val")
    assert "geometry" not in applied and applied["scale"] == 1.0 and applied["batch_size"] == settings["batch_size"]
