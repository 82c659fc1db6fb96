"""The metrics table of a run and its readable summary."""

from collections.abc import Iterable

import pandas as pd

HEADLINE = ["pixel_precision", "pixel_recall", "pixel_f1", "image_auroc", "pixel_auroc"]


def concat_metrics(paths: Iterable[str]) -> pd.DataFrame:
    """All tidy metric files of a run in one table, in a stable row order."""
    table = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    return table.sort_values(["experiment", "dataset", "split", "metric", "class"], ignore_index=True)


def summary_markdown(table: pd.DataFrame) -> str:
    """Headline metrics per experiment, then per-class pixel and defect-wise recall, in percent."""
    headline = (
        table[table["metric"].isin(HEADLINE)]
        .pivot_table(index=["experiment", "dataset"], columns="metric", values="value", sort=False)
        .reindex(columns=[m for m in HEADLINE if m in set(table["metric"])])
    )  # an undefined (NaN) metric stays
    headline["mean_defect_wise_recall"] = table[
        (table["metric"] == "defect_wise_recall") & (table["class"] == "mean")
    ].set_index(["experiment", "dataset"])["value"]
    per_class = table[table["metric"].isin(["class_pixel_recall", "defect_wise_recall"]) & (table["class"] != "mean")]
    per_class = per_class.assign(column=per_class["class"] + " (" + per_class["category"] + ")").pivot_table(
        index=["experiment", "metric"], columns="column", values="value", sort=False
    )
    thresholds = table.groupby(["experiment", "threshold_fitted_on"])["threshold"].first().reset_index()
    return (
        "\n\n".join(
            [
                "# Metrics on the test split [%]",
                _slashed(100 * headline).round(1).to_markdown(),
                "## Per-class recall [%] (impurities: lower is better)",
                _slashed(100 * per_class).round(1).to_markdown(),
                "## Pixel thresholds (maximum F1 of defect pixels on validation)",
                thresholds.to_markdown(index=False, floatfmt=".4f"),
            ]
        )
        + "\n"
    )


def _slashed(table: pd.DataFrame) -> pd.DataFrame:
    """Two-level row labels printed as "experiment / dataset" (or "/ metric") instead of a Python tuple."""
    return table.set_axis([" / ".join(map(str, key)) for key in table.index], axis=0)
