"""The kitchen-board study's tables: the memory model against the thesis's Table 5.2, Tables 6.1 and 6.2 rows from
tidy metric rows beside the thesis's, the best of each method per category (Tables 6.3 and 6.4), the transcribed
thesis rows against their own confusion matrices, the per-kind table, the t-SNE coordinates and the study's
outputs."""

import math

import h5py
import numpy as np
import pandas as pd
import pytest

from defectlab.jobs import kitchen as jobs_kitchen
from defectlab.metrics.patch import Patches, from_confusion
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
        {"experiment": "a", "label": "A", "model": "patchcore", "thesis_row": 3, "category": "white",
         "backbone": "resnet50", "weights": "none", "blur": False, "train_stride": 512, "threshold": "youden on test"},
        {"experiment": "b", "label": "B", "model": "patchcore", "thesis_row": None, "category": "edges",
         "backbone": "resnet18", "weights": "none", "blur": True, "train_stride": 448, "threshold": "youden on val"},
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


def info_row(experiment: str, model: str, thesis_row: int | None, category: str = "white") -> dict:
    return {
        "experiment": experiment,
        "label": experiment.upper(),
        "model": model,
        "thesis_row": thesis_row,
        "category": category,
        "backbone": "resnet18",
        "weights": "none",
        "blur": False,
        "train_stride": 512,
        "threshold": "youden on test",
    }


def test_table_62_takes_the_cutpaste_rows_and_table_61_the_others():
    metrics = pd.concat([metric_rows(name, {"patch_auroc": 0.7}) for name in ("pc", "cp", "cp-new")])
    info = [info_row("pc", "patchcore", 3), info_row("cp", "cutpaste", 6), info_row("cp-new", "cutpaste", None)]
    assert kitchen.table61(metrics, info)["experiment"].tolist() == ["pc"]
    table = kitchen.table62(metrics, info).set_index("experiment")
    assert table.index.tolist() == ["cp", "cp-new"]
    # row 6 of Table 6.2 (CutPaste R50 + blur, White), not row 6 of Table 6.1
    assert table.loc["cp", "thesis_auroc"] == pytest.approx(0.8482) and table.loc["cp", "thesis_recall"] == 0.6926
    assert table.loc["cp", "thesis_cm"] == "[[8319, 607], [75, 169]]"
    assert math.isnan(table.loc["cp-new", "thesis_auroc"])
    text = kitchen.markdown62(table.reset_index())
    assert text.startswith("# Table 6.2 analogue") and "| CP | white | resnet18 | none | without |" in text
    assert "| 6 | 0.8482 | 0.9256 | 0.2177 | 0.6926 |" in text


@pytest.mark.parametrize("row", range(1, 9))
def test_table_62_rows_carry_the_thesis_values_of_their_row(row):
    metrics = metric_rows("cp", {"patch_auroc": 0.7})
    table = kitchen.table62(metrics, [info_row("cp", "cutpaste", row)])
    _, _, _, roc, accuracy, precision, recall, cm = kitchen.THESIS_62[row]
    got = table.iloc[0]
    assert (got.thesis_auroc, got.thesis_accuracy) == (pytest.approx(roc / 100), accuracy)
    assert (got.thesis_precision, got.thesis_recall, got.thesis_cm) == (precision, recall, str([list(r) for r in cm]))


def test_without_cutpaste_experiments_table_62_says_none_is_configured():
    table = kitchen.table62(metric_rows("pc", {"patch_auroc": 0.7}), [info_row("pc", "patchcore", 3)])
    assert table.empty and "No CutPaste experiment" in kitchen.markdown62(table)


def transcribed_rows() -> list[tuple[str, tuple]]:
    """Every thesis row with a confusion matrix: (name, (accuracy, precision, recall, [[TN, FP], [FN, TP]]))."""
    rows = [(f"6.1 Exp. {k}", row[4:]) for k, row in kitchen.THESIS_61.items()]
    rows += [(f"6.2 Exp. {k}", row[4:]) for k, row in kitchen.THESIS_62.items()]
    return rows + [(f"6.3/6.4 {c} {m}", row[2:]) for c, by in kitchen.THESIS_6364.items() for m, row in by.items()]


@pytest.mark.parametrize(("name", "row"), transcribed_rows())
def test_the_transcribed_confusion_matrices_give_the_printed_ratios(name, row):
    # spec §8.6: every printed metric follows from its confusion matrix to 1e-4; a typo in either breaks this
    accuracy, precision, recall, ((tn, fp), (fn, tp)) = row
    derived = from_confusion(tn, fp, fn, tp)
    assert derived["accuracy"] == pytest.approx(accuracy, abs=1e-4), name
    assert derived["precision"] == pytest.approx(precision, abs=1e-4), name
    assert derived["recall"] == pytest.approx(recall, abs=1e-4), name


@pytest.mark.parametrize(
    ("category", "model", "table", "row"),
    [("white", "patchcore", 61, 3), ("white", "cutpaste", 62, 6), ("edges", "patchcore", 61, 2),
     ("edges", "cutpaste", 62, 2)],
)  # fmt: skip
def test_tables_63_and_64_repeat_the_rows_they_select(category, model, table, row):
    source, *values = kitchen.THESIS_6364[category][model]
    assert source == f"6.{table - 60} Exp. {row}"
    assert tuple(values) == {61: kitchen.THESIS_61, 62: kitchen.THESIS_62}[table][row][3:]


def test_best_by_method_takes_the_highest_roc_auc_per_category_and_method():
    rows = [
        ("pc-low", "patchcore", "white", 0.70),
        ("pc-high", "patchcore", "white", 0.90),
        ("pc-unscored", "patchcore", "white", float("nan")),
        ("cp-white", "cutpaste", "white", 0.80),
        ("pc-edges", "patchcore", "edges", 0.60),
        ("cp-white-low", "cutpaste", "white", 0.75),
    ]
    table = pd.DataFrame(rows, columns=["experiment", "model", "category", "auroc"]).assign(thesis_row=None)
    best = kitchen.best_by_method(table.assign(label=table["experiment"].str.upper()))
    assert best[["category", "method", "experiment"]].values.tolist() == [
        ["white", "PatchCore", "pc-high"],
        ["white", "CutPaste", "cp-white"],
        ["edges", "PatchCore", "pc-edges"],
        ["edges", "CutPaste", None],
    ]
    text = kitchen.markdown6364(best.assign(accuracy=0.5, precision=0.5, recall=0.5, tn=1, fp=2, fn=3, tp=4))
    assert "## Table 6.3: White" in text and "## Table 6.4: White with edges" in text
    assert "| PC-HIGH |  | 0.9000 | 0.5000 | 0.5000 | 0.5000 | [[1, 2], [3, 4]] | 6.1 Exp. 3 | 0.8906 |" in text
    assert "| CutPaste | no CutPaste experiment in this category |" in text


def four_patches() -> Patches:
    corners = np.array([[0, 0], [112, 0], [0, 0], [0, 112]])
    return Patches(np.array([0, 0, 1, 1]), corners, np.zeros(4), np.array([False, True, False, False]))


def test_embedding_rows_line_up_with_the_test_patches(tmp_path):
    path = tmp_path / "shard-0.embeddings.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("image", data=np.array(["b", "a", "extra", "a", "b"], dtype=h5py.string_dtype()))
        h5.create_dataset("x", data=np.array([0, 112, 0, 0, 0], np.int64))
        h5.create_dataset("y", data=np.array([112, 0, 0, 0, 0], np.int64))
        h5.create_dataset("embedding", data=np.arange(10, dtype=np.float32).reshape(5, 2))
    keys, embeddings = kitchen.read_embeddings([str(path)])
    assert embeddings.shape == (5, 2) and keys["image"].tolist() == ["b", "a", "extra", "a", "b"]
    patches = four_patches()
    assert kitchen.embedding_rows(keys, ["a", "b"], patches).tolist() == [3, 1, 4, 0]
    with pytest.raises(ValueError, match="1 of the 4 test patches have none"):
        kitchen.embedding_rows(keys.drop(index=4), ["a", "b"], patches)


def clusters(negatives: int, positives: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    embeddings = np.concatenate([rng.normal(0, 1, (negatives, 8)), rng.normal(4, 1, (positives, 8))])
    labels = np.r_[np.zeros(negatives, bool), np.ones(positives, bool)]
    return embeddings.astype(np.float32), labels


def test_tsne_keeps_every_positive_caps_the_negatives_and_is_deterministic():
    embeddings, labels = clusters(60, 7)
    coordinates, kept = kitchen.tsne_coordinates(embeddings, labels, max_points=20, seed=5)
    assert coordinates.shape == (27, 2) and np.all(np.diff(kept) > 0)
    assert labels[kept].sum() == 7 and (~labels[kept]).sum() == 20
    again, kept_again = kitchen.tsne_coordinates(embeddings, labels, max_points=20, seed=5)
    np.testing.assert_array_equal(kept, kept_again)
    np.testing.assert_array_equal(coordinates, again)


def test_tsne_of_few_patches_clamps_the_perplexity():
    embeddings, labels = clusters(5, 2)
    coordinates, kept = kitchen.tsne_coordinates(embeddings, labels, max_points=100)
    assert coordinates.shape == (7, 2) and kept.tolist() == list(range(7))


def test_the_tsne_figure_is_written_the_same_twice(tmp_path):
    panels = {"CutPaste A": clusters(30, 4), "CutPaste B": clusters(10, 3)}
    kitchen.tsne_figure(panels, str(tmp_path / "one.png"), max_points=15)
    kitchen.tsne_figure(panels, str(tmp_path / "two.png"), max_points=15)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def kitchen_config(cutpaste_rows: dict) -> dict:
    experiments = {
        "pc": {"unit": "patch", "test": "t"},
        "cp-a": {"unit": "patch", "model": "cutpaste", "test": "t"},
        "cp-b": {"unit": "patch", "model": "cutpaste", "test": "t"},
        "cp-pixel": {"unit": "pixel", "model": "cutpaste", "test": "t"},
    }
    return {"experiments": experiments, "report": {"kitchen_rows": {"pc": 3, **cutpaste_rows}}}


def test_the_tsne_figure_shows_the_cutpaste_rows_of_the_thesis_else_every_cutpaste_experiment():
    assert jobs_kitchen.cutpaste_experiments(kitchen_config({})) == ["cp-a", "cp-b"]
    assert jobs_kitchen.tsne_experiments(kitchen_config({"cp-b": 2})) == ["cp-b"]
    assert jobs_kitchen.tsne_experiments(kitchen_config({})) == ["cp-a", "cp-b"]
    outputs = jobs_kitchen.outputs(kitchen_config({}))
    assert {"results/tables/kitchen-table62.md", "results/tables/kitchen-table6364.md"} <= set(outputs)
    assert jobs_kitchen.TSNE_FIGURE in outputs
    patchcore_only = {"experiments": {"pc": {"unit": "patch"}}, "report": {}}
    assert "results/tables/kitchen-table62.md" in jobs_kitchen.outputs(patchcore_only)
    assert jobs_kitchen.TSNE_FIGURE not in jobs_kitchen.outputs(patchcore_only)


def test_the_training_stride_of_a_row_is_its_models_own_grid(tmp_path):
    """PatchCore rows train on their dataset's patch store (512 for White), CutPaste rows on their own grid
    (train_stride 112 in the study config; `auto` = the top-level patches stride)."""
    from config_files import REPO, checked

    from defectlab.jobs.kitchen import row_info

    study = REPO / "config/kitchen-boards.yaml"
    config, _ = checked(tmp_path, {"experiments": {"cp-white-r18": {"train_stride": "auto"}}}, study, backbone=False)
    assert row_info(config, "pc-white-r50")["train_stride"] == 512
    assert row_info(config, "cp-white-r50")["train_stride"] == 112
    config["patches"]["stride"] = 96
    assert row_info(config, "cp-white-r18")["train_stride"] == 96
