"""Figure of a few test images: input, ground truth and anomaly map with the fitted threshold (for the patch unit:
the test patches at or above it, and the excluded pixels shaded)."""

import numpy as np
import pandas as pd

from defectlab.data.layout import load_sample
from defectlab.metrics.evaluation import load_split
from defectlab.metrics.patch import PatchGrid
from defectlab.report.figures import example_figure, pick_examples
from defectlab.runtime import atomic_output, log_to

log_to(snakemake.log[0])
patch = snakemake.params.patch
grid = PatchGrid(**patch) if patch else None
split = load_split(snakemake.input.maps, snakemake.input.dataset, grid)
threshold = float(pd.read_parquet(snakemake.input.metrics)["threshold"].iloc[0])
chosen = pick_examples(split.ids, split.masks, snakemake.params.examples)
ids = [split.ids[i] for i in chosen]
images = np.stack([load_sample(snakemake.input.dataset, i).image for i in ids])
flagged = None
if grid is not None:
    patches = split.patches
    hits = patches.scores >= threshold
    flagged = [[tuple(map(int, c)) for c in patches.corners[(patches.image == k) & hits]] for k in chosen]
figure = example_figure(
    ids,
    images,
    split.masks[chosen],
    split.maps[chosen],
    threshold,
    f"{snakemake.wildcards.experiment}: test examples (threshold {threshold:.3f})",
    score=f"{split.model}: {split.score}",
    flagged=flagged,
    patch_size=grid.size if grid else 0,
    excluded=None if split.valid_pixels is None else ~split.valid_pixels[chosen],
)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
