"""A dataset of the config from a converted real dataset: the images of one split (and some objects)."""

import shutil
from pathlib import Path

from defectlab.data.layout import read_index
from defectlab.runtime import atomic_directory, log_to

log_to(snakemake.log[0])
source = Path(snakemake.input[0])
index = read_index(source)
chosen = index[index["split"] == snakemake.params.split]
objects = snakemake.params.source.get("objects")
if objects:
    unknown = sorted(set(objects) - set(index["object"]))
    if unknown:
        raise ValueError(f"{source}: no object {unknown}; it has {sorted(set(index['object']))}")
    chosen = chosen[chosen["object"].isin(objects)]
if chosen.empty:
    raise ValueError(f"{source}: no image of split {snakemake.params.split!r} and objects {objects}")
with atomic_directory(snakemake.output[0]) as tmp:
    for folder in ("images", "masks", "instances"):
        (tmp / folder).mkdir(parents=True)
        for image_id in chosen["id"]:
            shutil.copy2(source / folder / f"{image_id}.png", tmp / folder / f"{image_id}.png")
    chosen.reset_index(drop=True).to_parquet(tmp / "index.parquet", index=False)
print(f"{len(chosen)} images of split {snakemake.params.split} from {source}")
