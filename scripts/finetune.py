"""Fine-tune an experiment's coreset: start from the pretrained experiment's points and continue the
Sequential PatchCore rule on this experiment's training stores (the paper's "(ft)" scenarios)."""

from pathlib import Path

import numpy as np
import torch

from defectlab.patchcore.augment import Augmentation
from defectlab.patchcore.coreset_file import CoresetFile, read_coreset, write_coreset
from defectlab.patchcore.settings import backbone_attrs, extractor_from_config
from defectlab.patchcore.training import fit_coreset, stream_origins
from defectlab.runtime import log_to, resolve_device
from defectlab.seeds import derive_seed

log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.coreset
attrs = backbone_attrs(snakemake.params.backbone)
pretrained = read_coreset(snakemake.input.pretrained)
for key in ("backbone", "layers", "weights", "pooling"):
    if np.asarray(pretrained.attrs[key]).tolist() != np.asarray(attrs[key]).tolist():
        raise ValueError(f"{snakemake.input.pretrained}: {key} {pretrained.attrs[key]!r}, config says {attrs[key]!r}")
device = resolve_device(cfg["device"])
extractor = extractor_from_config(snakemake.params.backbone, device, snakemake.params.weights_dir)
stores = [Path(path) for path in snakemake.input.stores]
seed = derive_seed(snakemake.params.seed, "finetune", snakemake.wildcards.experiment)
augmentation = Augmentation.from_config({**cfg["augment"], "enabled": snakemake.params.augment})
size = len(pretrained.features)
print(f"fine-tuning {size} points of {snakemake.input.pretrained} on {len(stores)} patch stores")
coreset, log = fit_coreset(
    extractor,
    stores,
    size,
    cfg["max_epochs"],
    cfg["batch_size"],
    device,
    augmentation,
    seed,
    pretrained=torch.from_numpy(pretrained.features),
)
origin = stream_origins(
    coreset.origin.cpu().numpy(), stores, snakemake.params.datasets, extractor, pretrained=pretrained.origin
)
kept = int((coreset.origin < 0).sum())
print(
    f"{kept} of {size} pretrained points kept, {size - kept} replaced by points of "
    f"{sorted(set(snakemake.params.datasets))}"
)
write_coreset(
    snakemake.output[0],
    CoresetFile(
        coreset.features.cpu().numpy(),
        origin,
        {
            **attrs,
            "method": "sequential",
            "size": size,
            "pretrained": snakemake.input.pretrained,
            "augment": augmentation is not None,
            "epochs": len(log.replacements),
            "replacements": log.replacements,
            "min_distance": log.min_distance,
            "seed": seed,
        },
    ),
)
