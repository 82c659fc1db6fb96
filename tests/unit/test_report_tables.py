import pandas as pd

from defectlab.report.tables import concat_metrics, summary_markdown


def _metrics(experiment: str, f1: float) -> pd.DataFrame:
    rows = [
        ("pixel_precision", "defect", "defect", 0.5),
        ("pixel_recall", "defect", "defect", 0.25),
        ("pixel_f1", "defect", "defect", f1),
        ("image_auroc", "defect", "defect", 0.9),
        ("pixel_auroc", "defect", "defect", 0.95),
        ("defect_wise_recall", "dent", "defect", 1.0),
        ("defect_wise_recall", "mean", "defect", 0.75),
        ("class_pixel_recall", "water_stain", "impurity", 0.125),
    ]
    table = pd.DataFrame(rows, columns=["metric", "class", "category", "value"])
    table.insert(0, "experiment", experiment)
    table.insert(1, "dataset", "plates-test")
    table.insert(2, "split", "test")
    table["threshold"] = 0.42
    table["threshold_fitted_on"] = "plates-val"
    return table


def test_tables_concatenate_and_summarise_in_percent(tmp_path):
    paths = []
    for name, f1 in (("b", 0.2), ("a", 1 / 3)):
        paths.append(tmp_path / f"{name}.parquet")
        _metrics(name, f1).to_parquet(paths[-1])
    table = concat_metrics(paths)
    assert len(table) == 16 and table["experiment"].iloc[0] == "a"
    text = summary_markdown(table)
    assert "33.3" in text and "75" in text and "12.5" in text
    assert "water_stain (impurity)" in text
    assert "0.4200" in text


def test_an_undefined_metric_shows_as_nan_instead_of_breaking_the_summary():
    table = _metrics("a", 0.5)
    table.loc[table["metric"] == "image_auroc", "value"] = float("nan")  # e.g. every test image has a defect
    lines = summary_markdown(table).splitlines()
    assert "image_auroc" in lines[2] and "nan" in lines[4] and "50" in lines[4]


def test_rows_are_labelled_experiment_slash_dataset():
    text = summary_markdown(_metrics("plates", 0.5))
    assert "| plates / plates-test |" in text and "| plates / class_pixel_recall |" in text
    assert "('" not in text
