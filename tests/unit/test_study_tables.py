"""The study tables, the coverage sweep and the coreset provenance, on hand-made metric rows."""

import numpy as np
import pandas as pd
import pytest

from defectlab.report.study import coverage_figure, coverage_sweep, labelled, markdown, provenance, table1, table2


def _rows(experiment: str, scale: float) -> list[tuple]:
    return [
        (experiment, "pixel_precision", "defect", 0.4 * scale, np.nan),
        (experiment, "pixel_recall", "defect", 0.5 * scale, np.nan),
        (experiment, "pixel_f1", "defect", 0.6 * scale, np.nan),
        (experiment, "defect_wise_recall", "mean", 0.9 * scale, np.nan),
        (experiment, "defect_wise_recall", "scratch", 0.8 * scale, np.nan),
        (experiment, "class_pixel_recall", "scratch", 0.3 * scale, np.nan),
        (experiment, "defect_wise_recall", "water_stain", 0.25, np.nan),
        (experiment, "pixel_auroc", "defect", 0.95, np.nan),
        (experiment, "aupro", "defect", 0.7, np.nan),
        (experiment, "image_auroc", "defect", np.nan, np.nan),
        *[(experiment, "defect_wise_recall_sweep", "mean", 1 - c, c) for c in (0.0, 0.5, 1.0)],
    ]


@pytest.fixture
def metrics() -> pd.DataFrame:
    rows = _rows("real", 1.0) + _rows("synth", 0.5)
    return pd.DataFrame(rows, columns=["experiment", "metric", "class", "value", "min_coverage"])


def test_table2_has_a_row_per_scenario_in_config_order_in_percent(metrics):
    table = table2(metrics, {"synth": "Synth", "real": "Real"})
    assert table.index.tolist() == ["Synth", "Real"]
    assert table.loc["Real", ["P_PX", "R_PX", "F1_PX", "mR_DW"]].tolist() == pytest.approx([40, 50, 60, 90])
    assert table.loc["Synth", "P_PX"] == pytest.approx(20) and table.loc["Synth", "AUPRO_0.3"] == pytest.approx(70)
    assert np.isnan(table.loc["Real", "AUROC_image"])  # undefined metrics stay visible as NaN


def test_table1_pairs_pixel_and_defect_wise_recall_per_class(metrics):
    table = table1(metrics, {"real": "Real"})
    assert table.loc["Real", ("scratch", "R_PX")] == pytest.approx(30)
    assert table.loc["Real", ("scratch", "R_DW")] == pytest.approx(80)
    assert table.loc["Real", ("water_stain", "R_DW")] == pytest.approx(25)
    assert np.isnan(table.loc["Real", ("water_stain", "R_PX")])  # a class with instances but no pixel row
    text = markdown(table, "Table I")
    assert text.startswith("Table I\n") and "scratch R_PX" in text and "80.0" in text


def test_table1_columns_are_the_classes_of_the_test_data(metrics):
    # the test data have scratches and water stains only: no column of the plates' other classes
    assert table1(metrics, {"real": "Real"}).columns.get_level_values(0).unique().tolist() == ["scratch", "water_stain"]
    # a real dataset's classes (MVTec: other_defect beside scratch), defects first, the paper's ones in its order
    other = [
        ("mvtec", metric, cls, 0.5, np.nan)
        for metric in ("class_pixel_recall", "defect_wise_recall")
        for cls in ("sticker", "other_defect", "dent", "scratch")
    ]
    rows = pd.concat([metrics, pd.DataFrame(other, columns=metrics.columns)], ignore_index=True)
    table = table1(rows, {"mvtec": "MVTec", "real": "Real"})
    classes = table.columns.get_level_values(0).unique().tolist()
    assert classes == ["scratch", "dent", "other_defect", "water_stain", "sticker"]
    assert table.loc["MVTec", ("other_defect", "R_DW")] == pytest.approx(50)
    assert np.isnan(table.loc["Real", ("other_defect", "R_PX")])


def test_experiments_sharing_a_label_keep_a_row_each(metrics):
    labels = {"real": "Same", "synth": "Same"}
    second, first = table2(metrics, labels), table1(metrics, labels)
    assert second.index.tolist() == first.index.tolist() == ["Same", "Same"]
    assert second["P_PX"].tolist() == pytest.approx([40, 20])
    assert first[("scratch", "R_PX")].tolist() == pytest.approx([30, 15])


def test_the_figure_refuses_an_experiment_without_sweep_rows(metrics):
    message = (
        r"report.sweep: experiment 'nothing' has no coverage-sweep rows; experiments with rows: \['real', 'synth'\]"
    )
    with pytest.raises(ValueError, match=message):
        coverage_figure(coverage_sweep(metrics), "nothing", {"real": "Real"})


def test_sweep_rows_are_in_percent_and_the_figure_draws(metrics):
    sweep = coverage_sweep(metrics)
    real = sweep[sweep["experiment"] == "real"]
    assert real["coverage"].tolist() == [0, 50, 100] and real["recall"].tolist() == pytest.approx([100, 50, 0])
    figure = coverage_figure(sweep, "real", {"real": "Real", "synth": "Synth"})
    assert len(figure.axes[1].lines) == 2


def test_provenance_counts_the_synthetic_share_of_each_coreset():
    origins = {
        "ft": pd.DataFrame({"dataset": ["synth"] * 3 + ["real-train"]}),
        "real": pd.DataFrame({"dataset": ["real-train"] * 2}),
    }
    table = provenance(origins, {"synth": "synthetic", "real-train": "real"}).set_index("experiment")
    assert table.loc["ft", "points"] == 4 and table.loc["ft", "synthetic_share"] == pytest.approx(75)
    assert table.loc["ft", "share:real-train"] == pytest.approx(25) and table.loc["real", "share:synth"] == 0
    assert table.loc["real", "synthetic_share"] == 0


def test_labels_default_to_the_experiment_name():
    experiments = {"a": {"label": "A (ft)"}, "b": {}}
    assert labelled(experiments) == {"a": "A (ft)", "b": "b"}
    assert labelled(experiments, ["b"]) == {"b": "b"}
