"""Gallery of the procedural datasets, as Fig. 2 of the autoencoder paper: per generator a normal image, its
anomalous twin and the anomaly's mask (the first image of the first anomalous dataset of this run)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from defectlab.data.layout import load_sample, read_index  # noqa: E402
from defectlab.runtime import atomic_output, log_to  # noqa: E402
from defectlab.synth.procedural import PLANNERS, make  # noqa: E402

log_to(snakemake.log[0])
shown = snakemake.params.datasets  # generator -> dataset
figure, axes = plt.subplots(len(shown), 3, figsize=(9, 3.1 * len(shown)), squeeze=False)
for row, (generator, dataset) in zip(axes, shown.items(), strict=True):
    spec = snakemake.params.specs[generator]
    first = read_index(snakemake.input[generator]).iloc[0]
    sample = load_sample(snakemake.input[generator], first["id"])
    planned = PLANNERS[generator](dataset, spec, snakemake.params.seed, 0)  # the index lists images in order
    assert planned.id == first["id"], (planned.id, first["id"])
    normal = make(planned).normal
    pictures = (
        (normal, f"{generator}: normal ({first['base_id']})"),
        (sample.image[:, :, 0], f"anomalous ({first['id']})"),
        (sample.mask > 0, f"mask ({first['mask_rule']}, {int(first['anomalous_pixels'])} px)"),
    )
    for ax, (picture, title) in zip(row, pictures, strict=True):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1 if picture.dtype == bool else 255, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    print(f"{generator}: {first['id']} of {dataset}")
figure.tight_layout()
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
