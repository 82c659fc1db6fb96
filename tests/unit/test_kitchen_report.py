"""The kitchen-board study's tables: the memory model against the thesis's Table 5.2, Table 6.1 rows from tidy
metric rows beside the thesis's, the per-kind table."""

import math

import pandas as pd
import pytest

from defectlab.report import kitchen


@pytest.mark.parametrize(("key", "row"), list(kitchen.THESIS_52.items()))
def test_the_memory_model_predicts_every_result_of_table_52(key, row):
    patches, result = row
    assert kitchen.memory_model(patches)["predicted"] == ("fits" if result == "Worked" else "out of memory")


def test_the_memory_model_on_the_white_bank_of_the_thesis():
    # spec §4.3: 9,254 x 676 = 6,255,704 vectors, k = 386, two fp16 copies 9.0 GiB; ResNet-50 fp32 host bank 35.8 GiB
    model = kitchen.memory_model(9254)
    assert (model["vectors"], model["coreset"], model["jl_dim"]) == (6255704, 62557, 386)
    assert model["gpu_gib"] == pytest.approx(2 * 6255704 * 386 * 2 / 2**30) and round(model["gpu_gib"], 1) == 9.0
    assert round(model["bank_r50_gib"], 1) == 35.8
    assert kitchen.jl_dimension(6255704) == int(4 * math.log(6255704) / (0.9**2 / 2 - 0.9**3 / 3))


def metric_rows(experiment: str, values: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [{"experiment": experiment, "metric": m, "class": "defect", "value": v} for m, v in values.items()]
    )


def test_table_61_takes_each_experiments_patch_metrics_and_the_thesis_row_it_mirrors():
    ours = {"patch_auroc": 0.81, "patch_accuracy": 0.9, "patch_precision": 0.5, "patch_recall": 0.7, "patch_f1": 0.58}
    ours |= {"patch_tn": 90, "patch_fp": 7, "patch_fn": 3, "patch_tp": 7}
    metrics = pd.concat([metric_rows("a", ours), metric_rows("b", {**ours, "patch_auroc": 0.6})])
    info = [
        {"experiment": "a", "label": "A", "thesis_row": 3, "category": "white", "backbone": "resnet50",
         "weights": "none", "blur": False, "train_stride": 512, "threshold": "youden on test"},
        {"experiment": "b", "label": "B", "thesis_row": None, "category": "edges", "backbone": "resnet18",
         "weights": "none", "blur": True, "train_stride": 448, "threshold": "youden on val"},
    ]  # fmt: skip
    table = kitchen.table61(metrics, info).set_index("experiment")
    assert table.loc["a", "auroc"] == 0.81 and table.loc["b", "auroc"] == 0.6
    assert table.loc["a", "thesis_auroc"] == pytest.approx(0.8906) and table.loc["a", "thesis_recall"] == 0.7909
    assert math.isnan(table.loc["b", "thesis_auroc"])
    text = kitchen.markdown61(table.reset_index())
    assert "| A | white | resnet50 | none | without | 512 | youden on test | 0.8100 |" in text
    assert "[[90, 7], [3, 7]] | 3 | 0.8906 | 0.9608 | 0.3852 | 0.7909 |" in text
    assert "| B | edges | resnet18 | none | with | 448 | youden on val | 0.6000 |" in text


def test_the_kinds_table_follows_the_experiments_order():
    rows = pd.concat(
        [
            metric_rows("z", {"patch_kind_recall": 0.5, "patch_kind_detected": 1.0}).assign(**{"class": "dirt"}),
            metric_rows("a", {"patch_kind_recall": 0.25, "patch_kind_detected": 0.5}).assign(**{"class": "splash"}),
        ]
    )
    table = kitchen.kinds_table(rows, {"z": "Z first", "a": "A second"})
    assert table[["label", "kind", "patch_recall", "instances_detected"]].values.tolist() == [
        ["Z first", "dirt", 0.5, 1.0],
        ["A second", "splash", 0.25, 0.5],
    ]
