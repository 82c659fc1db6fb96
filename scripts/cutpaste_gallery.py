"""Gallery of the CutPaste augmentations on training patches of this run (the thesis's Fig. 5.3)."""

import numpy as np

from defectlab.models.cutpaste.augment import CUSTOM_KINDS, VARIANTS, AugmentSettings
from defectlab.models.cutpaste.data import TrainingPatches
from defectlab.report.cutpaste_gallery import cutpaste_gallery_figure
from defectlab.runtime import atomic_output, log_to
from defectlab.seeds import derive_seed

SHOWN = 4  # patches, one row each

log_to(snakemake.log[0])
settings, patches = snakemake.params.settings, snakemake.params.patches
stride = patches["stride"] if settings["train_stride"] == "auto" else settings["train_stride"]
tiles = TrainingPatches(
    list(snakemake.input), patches["size"], stride, patches.get("edges", "flush"), patches["min_mean_intensity"]
)
rng = np.random.default_rng(derive_seed(snakemake.params.seed, "cutpaste gallery"))
rows = np.sort(rng.choice(len(tiles), size=min(SHOWN, len(tiles)), replace=False))
kinds = CUSTOM_KINDS if settings["variant"] == "binary-custom" else VARIANTS[settings["variant"]]
figure = cutpaste_gallery_figure(
    tiles.cut(rows), kinds, seed=snakemake.params.seed, settings=AugmentSettings.from_config(settings["augment"])
)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png")
print(f"gallery of {len(rows)} of {len(tiles)} training patches, kinds {list(kinds)}")
