"""Anomaly maps of one patch-store shard against an experiment's coreset."""

import h5py
import numpy as np
import torch

from defectlab.data.patch_store import iter_patches, store_attrs, store_images
from defectlab.patchcore import nearest_distances
from defectlab.patchcore.anomaly_map import MapAccumulator
from defectlab.patchcore.coreset_file import read_coreset
from defectlab.patchcore.settings import extractor_from_config
from defectlab.patchcore.training import cell_features
from defectlab.runtime import atomic_output, log_to, resolve_device

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.scoring
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device)
coreset = torch.from_numpy(read_coreset(snakemake.input.coreset).features).to(device)
attrs = store_attrs(snakemake.input.patches)
images = store_images(snakemake.input.patches)
maps = MapAccumulator(images, int(attrs["image_height"]), int(attrs["image_width"]))
for batch in iter_patches(snakemake.input.patches, cfg["batch_size"]):
    cells = cell_features(extractor, batch.patches)
    b, h, w, d = cells.shape
    scores = nearest_distances(cells.reshape(-1, d), coreset, cfg["chunk_size"]).reshape(b, h, w).cpu().numpy()
    for image, x, y, grid in zip(batch.images, batch.xs, batch.ys, scores, strict=True):
        maps.add(image, int(x), int(y), grid, int(attrs["patch_size"]))
    print(f"scored patches {batch.start}..{batch.start + b}", flush=True)
with atomic_output(snakemake.output[0]) as tmp, h5py.File(tmp, "w") as h5:
    h5.create_dataset("ids", data=np.array(images, dtype=h5py.string_dtype()), track_times=False)
    h5.create_dataset("maps", data=maps.maps(cfg["sigma"]), compression="gzip", track_times=False)
    h5.attrs["sigma"] = cfg["sigma"]
