"""Gallery of the synthetic plates: one plate under the three lights with and without water stains,
test plates with their masks, and a close-up of each class (the paper's Figs. 2-3, from this run)."""

import dataclasses
import tempfile

import numpy as np
import pandas as pd

from defectlab.classes import class_index
from defectlab.data.layout import load_sample
from defectlab.report.figures import gallery_figure, largest_instances, pick_examples
from defectlab.runtime import atomic_output, log_to
from defectlab.synth.plan import LIGHTS, plan_sample, resolve_spec, stain_model

log_to(snakemake.log[0])
datasets = snakemake.params.datasets
plate = plan_sample(snakemake.params.plate, resolve_spec(snakemake.params.plate, datasets), snakemake.params.seed, 0)
stained_spec = next((s["water_stains"] for s in datasets.values() if s.get("water_stains")), True)
plate = dataclasses.replace(
    plate,
    defects=(),
    fingerprints=(),
    stickers=(),
    sensor_noise=0.0,
    views=((0.0, 0.0),),
    stain_model=stain_model(stained_spec),
)

from defectlab.synth.plates import PlateScene  # noqa: E402 - bpy loads only once work is planned

scene = PlateScene({**snakemake.params.render, "threads": snakemake.threads})
lights = {}
with tempfile.TemporaryDirectory(prefix="gallery-") as tmp:
    for light in LIGHTS:
        pictures = []
        for stains in (False, True):
            sample = dataclasses.replace(plate, id=f"{light}-{int(stains)}", light=light, water_stains=stains)
            scene.render(sample, tmp)
            pictures.append(load_sample(tmp, sample.id))
        lights[light] = (pictures[0].image, pictures[1].image, pictures[1].mask == class_index("water_stain"))
        print(f"rendered plate {plate.id} under light {light}", flush=True)

index = pd.read_parquet(f"{snakemake.input.test}/index.parquet")
samples = [load_sample(snakemake.input.test, i) for i in index["id"]]
masks, instances = np.stack([s.mask for s in samples]), np.stack([s.instances for s in samples])
shown = pick_examples([s.id for s in samples], masks, 3)
details = {
    name: (samples[k].image[rows, cols], samples[k].mask[rows, cols])
    for name, (k, rows, cols) in largest_instances(masks, instances).items()
}
figure = gallery_figure(lights, [(samples[k].id, samples[k].image, samples[k].mask) for k in shown], details)
with atomic_output(snakemake.output[0]) as tmp:
    figure.savefig(tmp, format="png", dpi=110)
