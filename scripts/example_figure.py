"""Figure of a few test images: input, ground truth and anomaly map with the fitted threshold."""

import numpy as np
import pandas as pd

from defectlab.data.layout import load_sample
from defectlab.metrics.evaluation import load_split
from defectlab.report.figures import example_figure, pick_examples
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
split = load_split(snakemake.input.maps, snakemake.input.dataset)
threshold = float(pd.read_parquet(snakemake.input.metrics)["threshold"].iloc[0])
chosen = pick_examples(split.ids, split.masks, snakemake.params.examples)
ids = [split.ids[i] for i in chosen]
images = np.stack([load_sample(snakemake.input.dataset, i).image for i in ids])
figure = example_figure(
    ids,
    images,
    split.masks[chosen],
    split.maps[chosen],
    threshold,
    f"{snakemake.wildcards.experiment}: test examples (threshold {threshold:.3f})",
    score=f"{split.model}: {split.score}",
)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
