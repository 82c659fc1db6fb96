"""Table 1 of the clutch paper: experiments find their rows from the config, and fed the paper's own numbers the
builder gives them back in every cell."""

import pandas as pd

from defectlab.report.segmentation import experiment_rows, insignificant_share, markdown, paper_table, table1

DATASETS = {
    "synth": {"generator": "clutch"},
    "real": {"generator": "clutch", "domain": "real"},
    "dagm": {"source": {"entry": "dagm2007"}},
}


def config_and_settings() -> tuple[dict, dict]:
    experiments, settings = {}, {}
    for network in ("fcn", "deeplabv3", "unet"):
        for name, train, extra, ex in (
            ("real", "real", {}, False),
            ("synth", "synth", {}, False),
            ("synth-ft", "real", {"pretrained": f"{network}-synth"}, False),
            ("synth-ex", "synth", {}, True),
            ("synth-ex-ft", "real", {"pretrained": f"{network}-synth-ex"}, True),
            ("dagm", "dagm", {}, False),
        ):
            experiments[f"{network}-{name}"] = {"model": network, "train": [train], **extra}
            settings[f"{network}-{name}"] = {"exposure_stack": ex}
    return {"experiments": experiments, "datasets": DATASETS}, settings


def paper_metrics(places: pd.DataFrame) -> pd.DataFrame:
    """Metric rows of every experiment holding the paper's value of its cell (as fractions)."""
    paper = paper_table()
    prefix = {"fcn": "fcn", "deeplabv3": "dlv3", "unet": "unet"}
    rows = []
    for place in places.itertuples():
        row = paper[(paper["source"] == place.source) & (paper["ft"] == place.ft) & (paper["ex"] == place.ex)]
        for metric, short in (("pixel_precision", "p"), ("pixel_recall", "r"), ("pixel_f1", "f1")):
            value = row[f"{prefix[place.network]}_{short}"].iloc[0] / 100
            rows.append({"experiment": place.experiment, "metric": metric, "class": "defect", "value": value})
        rows.append({"experiment": place.experiment, "metric": "class_pixel_recall", "class": "insignificant_defect",
                     "value": 0.25})  # fmt: skip
    return pd.DataFrame(rows)


def test_experiments_find_their_rows_from_the_config():
    config, settings = config_and_settings()
    places = experiment_rows(config, settings).set_index("experiment")
    assert places.loc["unet-synth-ft"].tolist() == ["unet", "SynthClutch", True, False]
    assert places.loc["fcn-synth-ex-ft"].tolist() == ["fcn", "SynthClutch", True, True]
    assert places.loc["deeplabv3-real"].tolist() == ["deeplabv3", "RealClutch", False, False]
    assert places.loc["unet-dagm"].tolist() == ["unet", "DAGM", False, False]


def test_fed_the_papers_numbers_every_configured_cell_is_the_papers():
    config, settings = config_and_settings()
    places = experiment_rows(config, settings)
    table = table1(paper_metrics(places), places)
    filled = table.dropna(subset=["ours"])
    assert len(filled) == 6 * 3 * 3  # rows 1, 2, 12, 13, 15, 16 x networks x metrics
    assert (filled["ours"] - filled["paper"]).abs().max() < 1e-9
    assert sorted(filled["row"].unique()) == [1, 2, 12, 13, 15, 16]
    assert table["row"].nunique() == 16  # the other rows stay, with the paper's numbers only
    text = markdown(table, insignificant_share(paper_metrics(places), places), "note")
    assert "| 13 | SynthClutch (FT) | 69.6 (69.6) | 24.0 (24.0) | 35.7 (35.7) |" in text
    assert "| 3 | KSDD2 | – (1.5) |" in text
    assert "- unet-real: 25.0 % of insignificant-defect pixels predicted as defects" in text
