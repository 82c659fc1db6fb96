"""Table 1 of the autoencoder study from hand-made metrics and training records."""

import re

import numpy as np
import pandas as pd
import pytest

from defectlab.report.autoencoders import markdown, table1, time_ratios


def _rows(experiment: str, model: str, dataset: str, fitted_on: str, recall: float, iou: float) -> list[dict]:
    base = {"experiment": experiment, "model": model, "dataset": dataset, "threshold_fitted_on": fitted_on}
    return [
        {**base, "metric": metric, "value": value, "min_coverage": np.nan, "class": "defect"}
        for metric, value in (("pixel_recall", recall), ("pixel_iou", iou), ("pixel_f1", 0.5), ("pixel_auroc", 0.9))
    ]


def test_repeats_are_averaged_baselines_have_no_time_and_the_papers_values_stand_beside():
    metrics = pd.DataFrame(
        _rows("c1", "cae", "chess-test", "chess-test (oracle)", 0.9, 0.7)
        + _rows("c2", "cae", "chess-test", "chess-test (oracle)", 0.8, 0.5)
        + _rows("a1", "aae", "chess-test", "chess-test (oracle)", 0.95, 0.8)
        + _rows("i", "intensity", "chess-test", "chess-test (oracle)", 0.1, 0.05)
        + _rows("h", "cae", "chess-test", "chess-val", 0.7, 0.4)
    )
    runs = pd.DataFrame(
        {"experiment": ["c1", "c2", "a1", "h"], "seconds": [10.0, 14.0, 60.0, 10.0], "steps": [300] * 4,
         "device": ["cpu"] * 4}
    )  # fmt: skip
    table = table1(metrics, runs, {"chess-test": "chess"})
    assert table[["model", "threshold_fitted_on"]].values.tolist() == [
        ["intensity", "chess-test (oracle)"],
        ["cae", "chess-test (oracle)"],
        ["aae", "chess-test (oracle)"],
        ["cae", "chess-val"],
    ]
    cae = table.iloc[1]
    assert (cae.pixel_recall, cae.pixel_iou, cae.repeats, cae.seconds) == pytest.approx((0.85, 0.6, 2, 12.0))
    assert np.isclose(cae.pixel_iou_sd, np.std([0.7, 0.5], ddof=1))
    assert (cae.paper_recall, cae.paper_iou, cae.paper_seconds) == (0.9487, 0.7975, 212)
    assert np.isnan(table.iloc[0].seconds) and np.isnan(table.iloc[0].paper_iou)
    ratios = time_ratios(table)
    assert ratios.loc["chess-test", "aae"] == 5.0 and ratios.loc["chess-test", "cae"] == 1.0
    text = markdown(table, ratios)
    assert re.search(
        r"\| chess-test +\| CAE +\| chess-test \(oracle\) +\| 0\.8500 ± 0\.0707 +\| 0\.6000 ± 0\.1414", text
    )
    assert "0.9487 / 0.7975 / 212" in text
