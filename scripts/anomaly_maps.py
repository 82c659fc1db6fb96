"""Anomaly maps of one patch-store shard against an experiment's coreset."""

import h5py
import numpy as np
import torch

from defectlab.patchcore.coreset_file import read_coreset
from defectlab.patchcore.inference import score_store
from defectlab.patchcore.settings import extractor_from_config
from defectlab.runtime import atomic_output, log_to, resolve_device

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.scoring
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device)
coreset = torch.from_numpy(read_coreset(snakemake.input.coreset).features).to(device)
images, maps = score_store(
    extractor, snakemake.input.patches, coreset, cfg["chunk_size"], cfg["batch_size"], cfg["sigma"], progress=True
)
with atomic_output(snakemake.output[0]) as tmp, h5py.File(tmp, "w") as h5:
    h5.create_dataset("ids", data=np.array(images, dtype=h5py.string_dtype()), track_times=False)
    h5.create_dataset("maps", data=maps, compression="gzip", track_times=False)
    h5.attrs["sigma"] = cfg["sigma"]
